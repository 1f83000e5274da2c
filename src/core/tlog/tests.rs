//! End-to-end tests: the real embedded entries (fixtures made by
//! `tests/data/fixtures/tlog/extract.py`) against the production Rekor key, and forgeries.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ecdsa::signature::Signer as _;
use p256::pkcs8::EncodePublicKey as _;

use super::merkle::tests::{path, root};
use super::*;
use crate::core::time::parse_rfc3339;
use crate::core::x509::keys::{PublicKey, sha256};

struct Fixture {
    tle: &'static [u8],
    attrs: &'static [u8],
    sig: &'static [u8],
    pem: &'static str,
}

macro_rules! fixture {
    ($name:literal) => {
        Fixture {
            tle: include_bytes!(concat!(
                "../../../tests/data/fixtures/tlog/",
                $name,
                ".tle.pb"
            )),
            attrs: include_bytes!(concat!(
                "../../../tests/data/fixtures/tlog/",
                $name,
                ".signed-attrs.der"
            )),
            sig: include_bytes!(concat!(
                "../../../tests/data/fixtures/tlog/",
                $name,
                ".sig.der"
            )),
            pem: include_str!(concat!(
                "../../../tests/data/fixtures/tlog/",
                $name,
                ".cert.pem"
            )),
        }
    };
}

fn fixtures() -> [Fixture; 3] {
    [
        fixture!("fe1e62346d3c346a343d089e8b4c3fb57716bc94.commit"),
        fixture!("529ee14c05ac4640c599d6b34298b940d8a977f3.commit"),
        fixture!("138f9d7cb3097a5f04192621a186e54f86390df0.tag"),
    ]
}

impl Fixture {
    fn entry(&self) -> LogEntry {
        decode_transparency_log_entry(self.tle).expect("real entry decodes")
    }
    fn body(&self) -> Vec<u8> {
        hashedrekord_body(&sha256(self.attrs), self.sig, self.pem)
    }
}

/// The production Rekor v1 log as `trust/production-trusted-root.json` lists it.
struct OwnedLog {
    log_id: Vec<u8>,
    key: PublicKey,
    der: Vec<u8>,
    from: Option<i64>,
    until: Option<i64>,
    url: String,
}

impl OwnedLog {
    fn production() -> Self {
        let root: serde_json::Value = serde_json::from_str(include_str!(
            "../sigstore/trust/production-trusted-root.json"
        ))
        .unwrap();
        let t = &root["tlogs"][0];
        let der = B64
            .decode(t["publicKey"]["rawBytes"].as_str().unwrap())
            .unwrap();
        OwnedLog {
            log_id: B64.decode(t["logId"]["keyId"].as_str().unwrap()).unwrap(),
            key: PublicKey::from_spki_der(&der).unwrap(),
            from: Some(
                parse_rfc3339(t["publicKey"]["validFor"]["start"].as_str().unwrap()).unwrap(),
            ),
            until: None,
            url: t["baseUrl"].as_str().unwrap().to_string(),
            der,
        }
    }
    fn key(&self) -> LogKey<'_> {
        LogKey {
            log_id: &self.log_id,
            key: &self.key,
            key_der: &self.der,
            valid_from: self.from,
            valid_until: self.until,
            base_url: &self.url,
        }
    }
}

/// A log we hold the private key of, to forge correctly signed but wrong checkpoints and SETs.
struct TestLog {
    sk: p256::ecdsa::SigningKey,
    log: OwnedLog,
}

impl TestLog {
    fn new(seed: u8) -> Self {
        let sk = p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap();
        let der = sk
            .verifying_key()
            .to_public_key_der()
            .unwrap()
            .as_bytes()
            .to_vec();
        TestLog {
            log: OwnedLog {
                log_id: sha256(&der).to_vec(),
                key: PublicKey::from_spki_der(&der).unwrap(),
                from: Some(0),
                until: None,
                url: "https://rekor.test".into(),
                der,
            },
            sk,
        }
    }
    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let sig: p256::ecdsa::DerSignature = self.sk.sign(msg);
        sig.as_bytes().to_vec()
    }
    fn hint(&self) -> [u8; 4] {
        let d = sha256(&self.log.der);
        [d[0], d[1], d[2], d[3]]
    }
    fn checkpoint(&self, origin: &str, size: u64, root: &[u8], name: &str) -> String {
        let text = format!("{origin}\n{size}\n{}\n", B64.encode(root));
        let mut raw = self.hint().to_vec();
        raw.extend(self.sign(text.as_bytes()));
        format!("{text}\n\u{2014} {name} {}\n", B64.encode(raw))
    }

    /// An entry for `body` at shard index 5 of 11 (global index 1005), fully signed.
    fn entry(&self, body: &[u8]) -> LogEntry {
        let mut leaves: Vec<[u8; 32]> = (0..11u8).map(|i| leaf_hash(&[i])).collect();
        leaves[5] = leaf_hash(body);
        let r = root(&leaves);
        let time = 1_700_000_000;
        let set = self.sign(&set_payload(body, time, &self.log.log_id, 1005).unwrap());
        LogEntry {
            log_index: 1005,
            log_id: self.log.log_id.clone(),
            kind: "hashedrekord".into(),
            version: "0.0.1".into(),
            integrated_time: time,
            signed_entry_timestamp: Some(set),
            inclusion_proof: Some(InclusionProof {
                log_index: 5,
                root_hash: r.to_vec(),
                tree_size: 11,
                hashes: path(5, &leaves),
                checkpoint: Some(self.checkpoint("rekor.test - 42", 11, &r, "rekor.test")),
            }),
            canonicalized_body: None,
        }
    }
}

fn proof_mut(e: &mut LogEntry) -> &mut InclusionProof {
    e.inclusion_proof.as_mut().unwrap()
}

fn checkpoint_mut(e: &mut LogEntry) -> &mut String {
    proof_mut(e).checkpoint.as_mut().unwrap()
}

/// Rewrites the signature line of a checkpoint through `f(hint || sig)`.
fn rewrite_note_signature(note: &str, f: impl FnOnce(&mut Vec<u8>)) -> String {
    let (text, sig_line) = note.split_once("\n\n").unwrap();
    let mut parts = sig_line.trim_end().splitn(3, ' ');
    let (dash, name, b64) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let mut raw = B64.decode(b64).unwrap();
    f(&mut raw);
    format!("{text}\n\n{dash} {name} {}\n", B64.encode(raw))
}

#[test]
fn real_embedded_entries_verify_end_to_end() {
    let prod = OwnedLog::production();
    for fx in fixtures() {
        let e = fx.entry();
        assert_eq!(
            (e.kind.as_str(), e.version.as_str()),
            ("hashedrekord", "0.0.1")
        );
        assert_eq!(e.canonicalized_body, None, "gitsign clears the body");
        let p = e.inclusion_proof.as_ref().unwrap();
        assert_ne!(
            p.log_index, e.log_index,
            "shard-local index differs from global"
        );
        let v = verify_entry(&e, &fx.body(), &[prod.key()]).unwrap();
        assert_eq!(
            v,
            VerifiedEntry {
                log_index: e.log_index,
                integrated_time: e.integrated_time,
                log_id: prod.log_id.clone(),
                base_url: "https://rekor.sigstore.dev".into(),
                set_verified: true,
                inclusion_verified: true,
                rekor_v2: false,
                log_valid_from: prod.key().valid_from,
                log_valid_until: prod.key().valid_until,
            }
        );
        let cp = verify_checkpoint(p.checkpoint.as_deref().unwrap(), &prod.key()).unwrap();
        assert_eq!(cp.tree_size, p.tree_size);
    }
}

#[test]
fn real_entry_values_are_the_expected_ones() {
    let e = fixtures()[2].entry();
    assert_eq!(e.log_index, 2_282_308_323);
    assert_eq!(e.inclusion_proof.as_ref().unwrap().log_index, 2_160_404_061);
    assert_eq!(e.log_index - 2_160_404_061, 121_904_262);
    assert_eq!(e.integrated_time, 1_785_354_295);
}

#[test]
fn reencoding_a_real_entry_gives_the_same_bytes() {
    for fx in fixtures() {
        assert_eq!(encode_transparency_log_entry(&fx.entry()).unwrap(), fx.tle);
    }
}

#[test]
fn hashedrekord_body_is_sorted_compact_json() {
    let fx = &fixtures()[0];
    let digest = sha256(fx.attrs);
    let independent = serde_json::json!({
        "kind": "hashedrekord",
        "apiVersion": "0.0.1",
        "spec": {
            "signature": {
                "publicKey": {"content": B64.encode(fx.pem)},
                "content": B64.encode(fx.sig),
            },
            "data": {"hash": {"value": hex(&digest), "algorithm": "sha256"}},
        }
    });
    // serde_json without preserve_order keeps keys sorted and prints no whitespace.
    assert_eq!(fx.body(), independent.to_string().into_bytes());
    assert!(fx.pem.ends_with("-----\n"));
}

#[test]
fn pem_without_its_trailing_newline_breaks_the_inclusion_proof() {
    let prod = OwnedLog::production();
    let fx = &fixtures()[0];
    let body = hashedrekord_body(&sha256(fx.attrs), fx.sig, fx.pem.trim_end());
    assert!(matches!(
        verify_entry(&fx.entry(), &body, &[prod.key()]),
        Err(TlogError::RootMismatch { .. })
    ));
}

#[test]
fn inclusion_proof_for_another_leaf_is_rejected() {
    let prod = OwnedLog::production();
    let [a, b, _] = fixtures();
    assert!(matches!(
        verify_entry(&a.entry(), &b.body(), &[prod.key()]),
        Err(TlogError::RootMismatch { .. })
    ));
    let mut e = a.entry();
    proof_mut(&mut e).hashes[3][0] ^= 1;
    assert!(matches!(
        verify_entry(&e, &a.body(), &[prod.key()]),
        Err(TlogError::RootMismatch { .. })
    ));
    let mut e = a.entry();
    proof_mut(&mut e).log_index += 1;
    assert!(verify_entry(&e, &a.body(), &[prod.key()]).is_err());
    let mut e = a.entry();
    e.inclusion_proof = None;
    assert_eq!(
        verify_entry(&e, &a.body(), &[prod.key()]),
        Err(TlogError::InclusionProofMissing)
    );
}

#[test]
fn body_that_differs_from_the_logged_one_is_rejected() {
    let prod = OwnedLog::production();
    let fx = &fixtures()[0];
    let mut e = fx.entry();
    e.canonicalized_body = Some(fixtures()[1].body());
    assert_eq!(
        verify_entry(&e, &fx.body(), &[prod.key()]),
        Err(TlogError::BodyMismatch)
    );
    e.canonicalized_body = Some(fx.body());
    assert!(verify_entry(&e, &fx.body(), &[prod.key()]).is_ok());
}

#[test]
fn unsupported_kind_is_rejected() {
    let prod = OwnedLog::production();
    let fx = &fixtures()[0];
    for (k, v) in [("hashedrekord", "0.0.2"), ("dsse", "0.0.1"), ("", "")] {
        let mut e = fx.entry();
        e.kind = k.into();
        e.version = v.into();
        assert!(matches!(
            verify_entry(&e, &fx.body(), &[prod.key()]),
            Err(TlogError::UnsupportedKind { .. })
        ));
    }
}

#[test]
fn unknown_log_id_is_rejected_even_with_the_right_key_elsewhere() {
    let prod = OwnedLog::production();
    let fx = &fixtures()[0];
    let mut e = fx.entry();
    e.log_id[0] ^= 1;
    assert!(matches!(
        verify_entry(&e, &fx.body(), &[prod.key()]),
        Err(TlogError::UnknownLog { .. })
    ));
    assert!(matches!(
        verify_entry(&fx.entry(), &fx.body(), &[]),
        Err(TlogError::UnknownLog { .. })
    ));
}

#[test]
fn log_key_outside_its_validity_is_rejected_and_bounds_are_inclusive() {
    let fx = &fixtures()[0];
    let e = fx.entry();
    let t = e.integrated_time;
    let mut log = OwnedLog::production();
    for (from, until) in [
        (Some(t + 1), None),
        (Some(0), Some(t - 1)),
        (None, None),
        (None, Some(t + 1)),
    ] {
        (log.from, log.until) = (from, until);
        assert_eq!(
            verify_entry(&e, &fx.body(), &[log.key()]),
            Err(TlogError::KeyNotValidAt {
                time: t,
                valid_from: from,
                valid_until: until
            })
        );
    }
    (log.from, log.until) = (Some(t), Some(t));
    assert!(verify_entry(&e, &fx.body(), &[log.key()]).is_ok());
}

#[test]
fn a_different_key_under_the_production_log_id_is_rejected() {
    let prod = OwnedLog::production();
    let test = TestLog::new(7);
    let fx = &fixtures()[0];
    let impostor = LogKey {
        log_id: &prod.log_id,
        ..test.log.key()
    };
    assert!(matches!(
        verify_entry(&fx.entry(), &fx.body(), &[impostor]),
        Err(TlogError::CheckpointKeyHint { .. })
    ));
}

#[test]
fn forged_set_is_rejected() {
    let prod = OwnedLog::production();
    let fx = &fixtures()[0];
    let body = fx.body();
    let check = |e: &LogEntry| verify_entry(e, &body, &[prod.key()]);

    let mut e = fx.entry();
    let set = e.signed_entry_timestamp.as_mut().unwrap();
    let last = set.len() - 1;
    set[last] ^= 1;
    assert!(matches!(check(&e), Err(TlogError::SetInvalid(_))));

    let mut e = fx.entry();
    e.signed_entry_timestamp = None;
    assert_eq!(check(&e), Err(TlogError::SetMissing));

    let mut e = fx.entry();
    e.integrated_time += 1;
    assert!(matches!(check(&e), Err(TlogError::SetInvalid(_))));

    // The SET covers the global index: the shard-local one must not pass.
    let mut e = fx.entry();
    e.log_index = e.inclusion_proof.as_ref().unwrap().log_index;
    assert!(matches!(check(&e), Err(TlogError::SetInvalid(_))));

    // A SET of another real entry.
    let mut e = fx.entry();
    e.signed_entry_timestamp = fixtures()[2].entry().signed_entry_timestamp;
    assert!(matches!(check(&e), Err(TlogError::SetInvalid(_))));
}

#[test]
fn forged_checkpoint_is_rejected() {
    let prod = OwnedLog::production();
    let fx = &fixtures()[0];
    let body = fx.body();
    let check = |e: &LogEntry| verify_entry(e, &body, &[prod.key()]);

    let mut e = fx.entry();
    proof_mut(&mut e).checkpoint = None;
    assert_eq!(check(&e), Err(TlogError::CheckpointMissing));

    // Changed root in the checkpoint text.
    let mut e = fx.entry();
    let (cp, _) = parse_checkpoint(checkpoint_mut(&mut e)).unwrap();
    let mut other_root = cp.root_hash.clone();
    other_root[0] ^= 1;
    let forged =
        checkpoint_mut(&mut e).replace(&B64.encode(&cp.root_hash), &B64.encode(&other_root));
    *checkpoint_mut(&mut e) = forged;
    assert!(matches!(
        check(&e),
        Err(TlogError::CheckpointRootMismatch { .. })
    ));

    // Changed root in both the proof and the checkpoint: the signature no longer covers it.
    proof_mut(&mut e).root_hash = other_root;
    assert!(matches!(check(&e), Err(TlogError::RootMismatch { .. })));

    // Changed tree size.
    let mut e = fx.entry();
    let size = cp.tree_size.to_string();
    let forged = checkpoint_mut(&mut e)
        .replace(&format!("\n{size}\n"), &format!("\n{}\n", cp.tree_size + 1));
    *checkpoint_mut(&mut e) = forged;
    assert!(matches!(
        check(&e),
        Err(TlogError::CheckpointTreeSizeMismatch { .. })
    ));

    // Bad signature.
    let mut e = fx.entry();
    let forged = rewrite_note_signature(checkpoint_mut(&mut e), |raw| {
        let n = raw.len();
        raw[n - 1] ^= 1;
    });
    *checkpoint_mut(&mut e) = forged;
    assert!(matches!(
        check(&e),
        Err(TlogError::CheckpointSignatureInvalid(_))
    ));

    // Wrong key hint.
    let mut e = fx.entry();
    let forged = rewrite_note_signature(checkpoint_mut(&mut e), |raw| raw[0] ^= 1);
    *checkpoint_mut(&mut e) = forged;
    assert!(matches!(
        check(&e),
        Err(TlogError::CheckpointKeyHint { .. })
    ));

    // Changed signer name (not signed, but bound to the origin).
    let mut e = fx.entry();
    let forged =
        checkpoint_mut(&mut e).replace("\u{2014} rekor.sigstore.dev ", "\u{2014} rekor.evil.dev ");
    *checkpoint_mut(&mut e) = forged;
    assert!(matches!(
        check(&e),
        Err(TlogError::CheckpointSignerName { .. })
    ));

    // A valid checkpoint of another tree (the 2023 shard).
    let mut e = fx.entry();
    proof_mut(&mut e).checkpoint = fixtures()[1].entry().inclusion_proof.unwrap().checkpoint;
    assert!(matches!(
        check(&e),
        Err(TlogError::CheckpointTreeSizeMismatch { .. })
    ));
}

#[test]
fn synthetic_log_entry_verifies_and_its_forgeries_do_not() {
    let log = TestLog::new(3);
    let body = b"{\"kind\":\"test\"}";
    let e = log.entry(body);
    let keys = [log.log.key()];
    let v = verify_entry(&e, body, &keys).unwrap();
    assert_eq!(
        (v.log_index, v.base_url.as_str()),
        (1005, "https://rekor.test")
    );

    // Correctly signed checkpoint over a different root.
    let mut f = e.clone();
    let r = proof_mut(&mut f).root_hash.clone();
    let mut other = r.clone();
    other[5] ^= 0x40;
    *checkpoint_mut(&mut f) = log.checkpoint("rekor.test - 42", 11, &other, "rekor.test");
    assert!(matches!(
        verify_entry(&f, body, &keys),
        Err(TlogError::CheckpointRootMismatch { .. })
    ));

    // Correctly signed checkpoint whose signer name is not the origin's host.
    let mut f = e.clone();
    *checkpoint_mut(&mut f) = log.checkpoint("rekor.test - 42", 11, &r, "witness.example");
    assert!(matches!(
        verify_entry(&f, body, &keys),
        Err(TlogError::CheckpointSignerName { .. })
    ));

    // A second signature line by another key: Rekor v1 requires every line to be the log's.
    let other_log = TestLog::new(4);
    let mut f = e.clone();
    let extra = other_log.checkpoint("rekor.test - 42", 11, &r, "rekor.test");
    let extra_line = extra.split_once("\n\n").unwrap().1;
    checkpoint_mut(&mut f).push_str(extra_line);
    assert!(matches!(
        verify_entry(&f, body, &keys),
        Err(TlogError::CheckpointKeyHint { .. })
    ));

    // The whole entry signed by a log that is not trusted, under the trusted log's id.
    let mut f = other_log.entry(body);
    f.log_id = log.log.log_id.clone();
    assert!(verify_entry(&f, body, &keys).is_err());

    // A SET over the shard-local index, correctly signed.
    let mut f = e.clone();
    f.signed_entry_timestamp =
        Some(log.sign(&set_payload(body, f.integrated_time, &f.log_id, 5).unwrap()));
    assert!(matches!(
        verify_entry(&f, body, &keys),
        Err(TlogError::SetInvalid(_))
    ));
}

/// Flips `bits` of every byte of the given real entries: each result must fail to decode or
/// fail to verify.
fn assert_flips_fail(fxs: &[Fixture], bits: &[u8]) {
    let prod = OwnedLog::production();
    for fx in fxs {
        let body = fx.body();
        for i in 0..fx.tle.len() {
            for &bit in bits {
                let mut pb = fx.tle.to_vec();
                pb[i] ^= 1 << bit;
                if let Ok(e) = decode_transparency_log_entry(&pb) {
                    assert!(
                        verify_entry(&e, &body, &[prod.key()]).is_err(),
                        "byte {i} bit {bit} flipped still verifies"
                    );
                }
            }
        }
    }
}

#[test]
fn flipped_low_and_high_bits_of_a_real_entry_fail_decoding_or_verification() {
    let [_, _, tag] = fixtures();
    assert_flips_fail(&[tag], &[0, 7]);
}

/// Every single-bit flip of all three real entries (about 20 s in a debug build).
#[test]
#[ignore = "slow; run with --ignored"]
fn every_flipped_bit_of_every_real_entry_fails_decoding_or_verification() {
    assert_flips_fail(&fixtures(), &[0, 1, 2, 3, 4, 5, 6, 7]);
}

#[test]
fn truncated_or_extended_real_entry_fails() {
    let prod = OwnedLog::production();
    let fx = &fixtures()[1];
    let body = fx.body();
    for n in 0..fx.tle.len() {
        if let Ok(e) = decode_transparency_log_entry(&fx.tle[..n]) {
            assert!(
                verify_entry(&e, &body, &[prod.key()]).is_err(),
                "prefix {n}"
            );
        }
    }
    let mut longer = fx.tle.to_vec();
    longer.push(0x08);
    assert!(decode_transparency_log_entry(&longer).is_err());
    assert!(decode_transparency_log_entry(b"garbage that is not protobuf").is_err());
}

/// The entry as `GET /api/v1/log/entries/{uuid}` returns it.
fn rekor_json(e: &LogEntry, body: &[u8]) -> serde_json::Value {
    entry_to_rekor_json(e, body)
}

#[test]
fn rekor_api_json_entry_verifies_like_the_embedded_one() {
    let prod = OwnedLog::production();
    for fx in fixtures() {
        let embedded = fx.entry();
        let body = fx.body();
        let from_json = entry_from_rekor_json(&rekor_json(&embedded, &body)).unwrap();
        assert_eq!(
            from_json,
            LogEntry {
                canonicalized_body: Some(body.clone()),
                ..embedded
            }
        );
        assert!(verify_entry(&from_json, &body, &[prod.key()]).is_ok());
    }
}

#[test]
fn malformed_rekor_api_json_is_rejected() {
    let fx = &fixtures()[0];
    let good = rekor_json(&fx.entry(), &fx.body());
    let mutations: Vec<fn(&mut serde_json::Value)> = vec![
        |v| v["body"] = "not base64!".into(),
        |v| v["body"] = B64.encode("not json").into(),
        |v| v["body"] = B64.encode("{\"kind\":\"hashedrekord\"}").into(),
        |v| v["integratedTime"] = (-1).into(),
        |v| v["integratedTime"] = "1".into(),
        |v| v["logIndex"] = 1.5.into(),
        |v| v["logID"] = "xyz".into(),
        |v| v["verification"]["inclusionProof"]["hashes"][0] = 1.into(),
        |v| v["verification"]["inclusionProof"]["rootHash"] = "0".into(),
        |v| v["verification"]["inclusionProof"]["treeSize"] = (-5).into(),
        |v| v["verification"]["signedEntryTimestamp"] = 5.into(),
        |v| *v = serde_json::json!([]),
    ];
    for (i, m) in mutations.iter().enumerate() {
        let mut v = good.clone();
        m(&mut v);
        assert!(entry_from_rekor_json(&v).is_err(), "mutation {i} accepted");
    }
}

#[test]
fn set_payload_refuses_numbers_go_would_round() {
    assert!(set_payload(b"", 0, &[], 1 << 53).is_ok());
    assert!(set_payload(b"", 0, &[], (1 << 53) + 1).is_err());
    assert!(set_payload(b"", i64::MIN, &[], 0).is_err());
    assert_eq!(
        set_payload(b"ab", 7, &[0xc0, 0xd2], 9).unwrap(),
        br#"{"body":"YWI=","integratedTime":7,"logID":"c0d2","logIndex":9}"#
    );
}

#[test]
fn errors_display_one_line() {
    let e = TlogError::RootMismatch {
        expected: vec![0xab; 2],
        computed: vec![0xcd; 2],
    };
    assert_eq!(
        e.to_string(),
        "inclusion proof leads to root cdcd, expected abab"
    );
    assert!(!TlogError::SetMissing.to_string().contains('\n'));
}
