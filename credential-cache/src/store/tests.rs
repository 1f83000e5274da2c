use std::sync::atomic::AtomicI64;
use std::thread;

use super::*;

/// A leaf certificate for `spki` valid until `not_after` (Unix seconds). The agent reads
/// only the key and the lifetime (the client checks the chain), so the signature is filler.
pub fn leaf(spki: &[u8], not_after: i64) -> Vec<u8> {
    use x509_cert::der::asn1::UtcTime;
    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let n = body.len();
        if n < 0x80 {
            out.push(n as u8);
        } else if n < 0x100 {
            out.extend([0x81, n as u8]);
        } else {
            out.extend([0x82, (n >> 8) as u8, n as u8]);
        }
        out.extend_from_slice(body);
        out
    }
    let time = |t: i64| {
        UtcTime::from_unix_duration(Duration::from_secs(t as u64))
            .unwrap()
            .to_der()
            .unwrap()
    };
    // ecdsa-with-SHA256
    let alg = tlv(
        0x30,
        &tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]),
    );
    let tbs = tlv(
        0x30,
        &[
            tlv(0xa0, &tlv(0x02, &[2])),
            tlv(0x02, &[1]),
            alg.clone(),
            tlv(0x30, &[]),
            tlv(0x30, &[time(not_after - 600), time(not_after)].concat()),
            tlv(0x30, &[]),
            spki.to_vec(),
        ]
        .concat(),
    );
    tlv(0x30, &[tbs, alg, tlv(0x03, &[0, 0])].concat())
}

fn key(fulcio: &str) -> CacheKey {
    CacheKey {
        fulcio: fulcio.into(),
        issuer: "https://issuer.test".into(),
        client_id: "sigstore".into(),
        connector_id: None,
    }
}

struct Agent {
    store: Arc<Store>,
    now: Arc<AtomicI64>,
    logs: Arc<Mutex<Vec<String>>>,
}

fn agent() -> Agent {
    let now = Arc::new(AtomicI64::new(1_000_000));
    let logs = Arc::new(Mutex::new(Vec::new()));
    let (n, l) = (now.clone(), logs.clone());
    let store = Store::new(
        DEFAULT_MARGIN,
        Box::new(move || n.load(Ordering::SeqCst)),
        Box::new(move |m| l.lock().unwrap().push(m.to_string())),
    );
    Agent {
        store: Arc::new(store),
        now,
        logs,
    }
}

impl Agent {
    fn now(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }

    /// A miss, then a certificate for the agent's key valid for `life` seconds.
    fn sign_in(&self, conn: &mut Conn, k: &CacheKey, identity: &str, life: i64) -> u64 {
        let Response::Miss { handle, public_key } = self.store.get(conn, k, None, 0) else {
            panic!("expected a miss")
        };
        let r = self.store.store(
            conn,
            handle,
            vec![leaf(&public_key.0, self.now() + life)],
            identity.into(),
            "https://issuer.test".into(),
        );
        assert!(matches!(r, Response::Stored { .. }), "{r:?}");
        handle
    }
}

#[test]
fn a_stored_credential_is_served_to_the_next_client_with_its_key() {
    let a = agent();
    let k = key("https://f");
    let mut first = Conn::default();
    let h = a.sign_in(&mut first, &k, "dev@example.com", 600);
    let mut second = Conn::default();
    let Response::Cached {
        handle,
        identity,
        public_key,
        ..
    } = a.store.get(&mut second, &k, None, 0)
    else {
        panic!("expected a hit")
    };
    assert_eq!((handle, identity.as_str()), (h, "dev@example.com"));
    let Response::Signature { signature } = a.store.sign(&second, handle, b"attrs") else {
        panic!()
    };
    use p256::ecdsa::signature::Verifier as _;
    use p256::pkcs8::DecodePublicKey as _;
    let vk = p256::ecdsa::VerifyingKey::from_public_key_der(&public_key.0).unwrap();
    vk.verify(
        b"attrs",
        &p256::ecdsa::DerSignature::try_from(signature.0.as_slice()).unwrap(),
    )
    .unwrap();
    let Response::Entries { entries } = a.store.list() else {
        panic!()
    };
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].signatures, 1);
}

#[test]
fn credentials_are_keyed_by_service_and_identity_not_shared_across_them() {
    let a = agent();
    let mut c = Conn::default();
    a.sign_in(&mut c, &key("https://f"), "dev@example.com", 600);
    let mut d = Conn::default();
    assert!(matches!(
        a.store.get(&mut d, &key("https://other"), None, 0),
        Response::Miss { .. }
    ));
    let mut e = Conn::default();
    assert!(matches!(
        a.store
            .get(&mut e, &key("https://f"), Some("someone@else"), 0),
        Response::Miss { .. }
    ));
    let mut f = Conn::default();
    assert!(matches!(
        a.store
            .get(&mut f, &key("https://f"), Some("dev@example.com"), 0),
        Response::Cached { .. }
    ));
}

#[test]
fn storing_over_an_identity_replaces_it() {
    let a = agent();
    let k = key("https://f");
    let mut c = Conn::default();
    let first = a.sign_in(&mut c, &k, "dev@example.com", 600);
    // The next sign-in (say after `credentials clear` elsewhere) for the same identity.
    let mut d = Conn::default();
    let Response::Miss { handle, public_key } = a.store.get(&mut d, &k, Some("new@example.com"), 0)
    else {
        panic!()
    };
    a.store.store(
        &mut d,
        handle,
        vec![leaf(&public_key.0, a.now() + 600)],
        "dev@example.com".into(),
        "https://issuer.test".into(),
    );
    let Response::Entries { entries } = a.store.list() else {
        panic!()
    };
    assert_eq!(entries.len(), 1);
    let mut e = Conn::default();
    let Response::Cached { handle: got, .. } = a.store.get(&mut e, &k, None, 0) else {
        panic!()
    };
    assert_ne!(got, first);
    assert_eq!(got, handle);
}

#[test]
fn a_certificate_for_another_key_or_unreadable_is_refused() {
    let a = agent();
    let k = key("https://f");
    let mut c = Conn::default();
    let Response::Miss { handle, .. } = a.store.get(&mut c, &k, None, 0) else {
        panic!()
    };
    let other = crate::secret::Secret::generate().unwrap();
    for chain in [
        vec![leaf(other.public_key_der(), a.now() + 600)],
        vec![vec![0x30, 0x03, 1, 2, 3]],
        vec![],
    ] {
        let r = a.store.store(&mut c, handle, chain, "x".into(), "y".into());
        assert!(
            matches!(
                r,
                Response::Error {
                    code: ErrorCode::BadCertificate,
                    ..
                }
            ),
            "{r:?}"
        );
    }
    // The handle is still this connection's sign-in.
    assert!(matches!(
        a.store.sign(&c, handle, b"pop"),
        Response::Signature { .. }
    ));
    let mut stranger = Conn::default();
    assert!(matches!(
        a.store.sign(&stranger, handle, b"x"),
        Response::Error {
            code: ErrorCode::UnknownHandle,
            ..
        }
    ));
    assert!(matches!(
        a.store
            .store(&mut stranger, handle, vec![], "x".into(), "y".into()),
        Response::Error {
            code: ErrorCode::UnknownHandle,
            ..
        }
    ));
}

#[test]
fn credentials_are_not_handed_out_within_the_margin_and_keys_die_at_not_after() {
    let a = agent();
    let k = key("https://f");
    let mut owner = Conn::default();
    let h = a.sign_in(&mut owner, &k, "dev@example.com", 100);
    a.now
        .store(a.now() + 100 - DEFAULT_MARGIN, Ordering::SeqCst);
    let mut late = Conn::default();
    assert!(matches!(
        a.store.get(&mut late, &k, None, 0),
        Response::Miss { .. }
    ));
    // The expiry pass evicts it from the map and logs it, without a request.
    let next = a.store.expire(&mut a.store.lock(), a.now());
    assert!(next.is_some());
    assert!(
        a.logs
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.starts_with("evicted"))
    );
    let Response::Entries { entries } = a.store.list() else {
        panic!()
    };
    assert!(entries.is_empty());
    // The connection that holds it may still finish, until notAfter.
    assert!(matches!(
        a.store.sign(&owner, h, b"m"),
        Response::Signature { .. }
    ));
    a.now.store(a.now() + DEFAULT_MARGIN, Ordering::SeqCst);
    a.store.expire(&mut a.store.lock(), a.now());
    assert!(matches!(
        a.store.sign(&owner, h, b"m"),
        Response::Error {
            code: ErrorCode::Expired,
            ..
        }
    ));
}

#[test]
fn clear_zeroizes_keys_that_connections_still_hold() {
    let a = agent();
    let k = key("https://f");
    let mut c = Conn::default();
    let h = a.sign_in(&mut c, &k, "dev@example.com", 600);
    assert_eq!(a.store.clear(), Response::Cleared { count: 1 });
    assert!(matches!(
        a.store.sign(&c, h, b"m"),
        Response::Error {
            code: ErrorCode::Expired,
            ..
        }
    ));
}

#[test]
fn concurrent_misses_wait_for_one_sign_in() {
    let a = agent();
    let k = key("https://f");
    let mut owner = Conn::default();
    let Response::Miss { handle, public_key } = a.store.get(&mut owner, &k, None, 0) else {
        panic!()
    };
    let waiters: Vec<_> = (0..8)
        .map(|_| {
            let (store, k) = (a.store.clone(), k.clone());
            thread::spawn(move || {
                let mut c = Conn::default();
                store.get(&mut c, &k, None, 10_000)
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(100));
    a.store.store(
        &mut owner,
        handle,
        vec![leaf(&public_key.0, a.now() + 600)],
        "dev@example.com".into(),
        "https://issuer.test".into(),
    );
    for w in waiters {
        let r = w.join().unwrap();
        assert!(
            matches!(r, Response::Cached { handle: h, .. } if h == handle),
            "{r:?}"
        );
    }
}

#[test]
fn an_abandoned_sign_in_passes_to_exactly_one_waiter_and_waits_are_bounded() {
    let a = agent();
    let k = key("https://f");
    let mut owner = Conn::default();
    assert!(matches!(
        a.store.get(&mut owner, &k, None, 0),
        Response::Miss { .. }
    ));
    let mut impatient = Conn::default();
    let t = Instant::now();
    assert!(matches!(
        a.store.get(&mut impatient, &k, None, 50),
        Response::Error {
            code: ErrorCode::Busy,
            ..
        }
    ));
    assert!(t.elapsed() >= Duration::from_millis(50));
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let (store, k) = (a.store.clone(), k.clone());
            thread::spawn(move || {
                let mut c = Conn::default();
                let r = store.get(&mut c, &k, None, 500);
                // Keep the slot (if we got it) until every waiter has answered.
                thread::sleep(Duration::from_millis(600));
                r
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(50));
    a.store.release(&mut owner);
    let results: Vec<_> = waiters.into_iter().map(|w| w.join().unwrap()).collect();
    let misses = results
        .iter()
        .filter(|r| matches!(r, Response::Miss { .. }))
        .count();
    let busy = results
        .iter()
        .filter(|r| {
            matches!(
                r,
                Response::Error {
                    code: ErrorCode::Busy,
                    ..
                }
            )
        })
        .count();
    assert_eq!((misses, busy), (1, 3), "{results:?}");
}

#[test]
fn logged_names_cannot_forge_lines() {
    assert_eq!(printable("a\nb\u{202e}"), "a\\nb\\u{202e}");
}
