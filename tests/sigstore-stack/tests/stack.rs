//! The real `sigstore-stack` binary on free loopback ports in a temporary directory, driven
//! over HTTP; everything it hands out is checked with gitsign-rs's own verifier (`core::x509::cert`,
//! `core::x509::sct`, `core::tlog`) against the `trusted_root.json` it wrote.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use gitsign::core::asn1::pem;
use gitsign::core::sigstore::trust::TrustedRoot;
use gitsign::core::tlog::{
    LogEntry, LogKey, LoggedContent, LoggedVerifier, TlogError, entry_from_rekor_json,
    hashedrekord_body, leaf_hash, node_hash, trusted_log_keys, verify_entry, verify_logged,
    verify_note,
};
use gitsign::core::x509::cert::{Certificate, verify_chain};
use gitsign::core::x509::keys::sha256;
use gitsign::core::x509::sct::verify_embedded_sct;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_sigstore-stack");

struct Stack {
    child: Child,
    dir: PathBuf,
    oidc: String,
    fulcio: String,
    rekor: String,
    rekor2: String,
    tsa: String,
}

impl Stack {
    fn start(dir: &Path, extra: &[&str]) -> Stack {
        let mut child = Command::new(BIN)
            .arg("--dir")
            .arg(dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the stack starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut url = |name: &str| {
            let line = lines.next().expect("a URL line").unwrap();
            line.strip_prefix(&format!("{name} "))
                .unwrap_or_else(|| panic!("expected {name} URL, got {line:?}"))
                .to_string()
        };
        let (oidc, fulcio, rekor) = (url("oidc"), url("fulcio"), url("rekor"));
        let rekor2 = url("rekor2");
        let tsa = url("tsa");
        Stack {
            child,
            dir: dir.to_path_buf(),
            oidc,
            fulcio,
            rekor,
            rekor2,
            tsa,
        }
    }

    /// SIGTERM, and the stack must exit 0.
    fn stop(mut self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "stack exited with {exit:?}");
        assert!(!self.dir.join("env").exists(), "env outlived the stack");
    }

    fn trusted_root(&self) -> TrustedRoot {
        TrustedRoot::from_json(&std::fs::read(self.dir.join("trusted_root.json")).unwrap())
            .expect("the stack's trusted root parses")
    }

    fn token(&self, claims: Value) -> String {
        let (status, v) = post(&format!("{}/test/token", self.oidc), &claims);
        assert_eq!(status, 200, "{v}");
        v["id_token"].as_str().unwrap().to_string()
    }

    fn stats(&self) -> Value {
        get(&format!("{}/stats", self.fulcio)).1
    }

    fn fault(&self, base: &str, mode: &str) {
        let (status, _) = post(&format!("{base}/admin/fault"), &json!({"mode": mode}));
        assert_eq!(status, 200);
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> reqwest::blocking::Client {
    gitsign::io::rekor::install_crypto_provider();
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// reqwest is built without its `json`/`form` features in this workspace.
trait Body {
    fn json_body(self, v: &Value) -> Self;
    fn form_body(self, form: &[(&str, &str)]) -> Self;
}

impl Body for reqwest::blocking::RequestBuilder {
    fn json_body(self, v: &Value) -> Self {
        self.header("content-type", "application/json")
            .body(v.to_string())
    }
    fn form_body(self, form: &[(&str, &str)]) -> Self {
        let enc = |s: &str| {
            s.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        char::from(b).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect::<String>()
        };
        let text: Vec<String> = form
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect();
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(text.join("&"))
    }
}

fn parse(status: u16, text: &str) -> (u16, Value) {
    (status, serde_json::from_str(text).unwrap_or(Value::Null))
}

fn post(url: &str, body: &Value) -> (u16, Value) {
    let r = client().post(url).json_body(body).send().unwrap();
    let status = r.status().as_u16();
    parse(status, &r.text().unwrap())
}

fn post_form(url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let r = client().post(url).form_body(form).send().unwrap();
    let status = r.status().as_u16();
    parse(status, &r.text().unwrap())
}

fn get(url: &str) -> (u16, Value) {
    let r = client().get(url).send().unwrap();
    let status = r.status().as_u16();
    parse(status, &r.text().unwrap())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// An ephemeral P-256 key as a signing client holds it.
struct Key {
    pair: EcdsaKeyPair,
}

impl Key {
    fn new() -> Key {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        Key {
            pair: EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
                .unwrap(),
        }
    }

    fn spki(&self) -> Vec<u8> {
        // SEQUENCE { {ecPublicKey, prime256v1}, BIT STRING point }: a fixed 26-byte prefix.
        let mut der = vec![
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
        ];
        der.extend_from_slice(self.pair.public_key().as_ref());
        der
    }

    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.pair
            .sign(&SystemRandom::new(), msg)
            .unwrap()
            .as_ref()
            .to_vec()
    }
}

fn cert_request(token: &str, key: &Key, proof: &[u8]) -> Value {
    json!({
        "credentials": {"oidcIdentityToken": token},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": pem::encode("PUBLIC KEY", &key.spki())},
            "proofOfPossession": B64.encode(proof),
        },
    })
}

/// Requests a certificate for `key` with a valid token and proof; returns the PEM chain.
fn certificate(stack: &Stack, key: &Key) -> Vec<String> {
    let token = stack.token(json!({}));
    let (status, v) = post(
        &format!("{}/api/v2/signingCert", stack.fulcio),
        &cert_request(&token, key, &key.sign(b"dev@gitsign-rs.test")),
    );
    assert_eq!(status, 201, "{v}");
    v["signedCertificateEmbeddedSct"]["chain"]["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect()
}

fn leaf_of(chain: &[String]) -> Certificate {
    Certificate::from_der(&pem::decode_one(chain[0].as_bytes(), "CERTIFICATE").unwrap()).unwrap()
}

/// A hashedrekord over `payload` signed by `key`, certificate `leaf_pem`; returns the request
/// and the canonical body the verifier rebuilds.
fn hashedrekord(key: &Key, leaf_pem: &str, payload: &[u8]) -> (Value, Vec<u8>) {
    let digest = sha256(payload);
    let sig = key.sign(payload);
    let request = json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex(&digest)}},
            "signature": {"content": B64.encode(&sig), "publicKey": {"content": B64.encode(leaf_pem)}},
        },
    });
    (request, hashedrekord_body(&digest, &sig, leaf_pem))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Verifies one `{uuid: entry}` answer with gitsign's verifier against the stack's root.
fn verify_answer(root: &TrustedRoot, answer: &Value, body: &[u8]) -> u64 {
    let (uuid, value) = answer.as_object().unwrap().iter().next().unwrap();
    assert_eq!(*uuid, hex(&gitsign::core::tlog::leaf_hash(body)));
    let entry = entry_from_rekor_json(value).unwrap();
    let keys: Vec<LogKey<'_>> = root
        .tlogs
        .iter()
        .map(|t| LogKey {
            log_id: &t.log_id,
            key: t.key.as_ref().unwrap(),
            key_der: &t.key_der,
            valid_from: Some(t.valid_for.start),
            valid_until: t.valid_for.end,
            base_url: &t.base_url,
        })
        .collect();
    verify_entry(&entry, body, &keys).unwrap();
    entry.log_index
}

#[test]
fn issues_certificates_that_chain_to_the_trusted_root_with_a_valid_sct() {
    let dir = tempfile::tempdir().unwrap();
    let stack = Stack::start(dir.path(), &[]);
    let identity = std::fs::read_to_string(dir.path().join("identity")).unwrap();
    assert_eq!(identity, "dev@gitsign-rs.test\n");

    let key = Key::new();
    let chain = certificate(&stack, &key);
    assert_eq!(chain.len(), 3, "leaf, intermediate, root");
    let leaf = leaf_of(&chain);
    assert_eq!(leaf.spki_der(), key.spki().as_slice());
    assert_eq!(leaf.subject_string(), "");
    assert_eq!(leaf.not_after() - leaf.not_before(), 600);
    let id = leaf.identity().unwrap();
    assert_eq!(id.san.to_string(), "dev@gitsign-rs.test");
    assert_eq!(id.issuer.as_deref(), Some(stack.oidc.as_str()));

    let root = stack.trusted_root();
    let verified = verify_chain(&leaf, &root.certificate_authorities, now()).unwrap();
    verify_embedded_sct(&leaf, &verified.issuer, &root.ctlogs).unwrap();
    for ca in &root.certificate_authorities {
        gitsign::core::x509::cert::verify_anchor_signatures(ca).unwrap();
    }

    // The trust bundle is the same chain.
    let (status, bundle) = get(&format!("{}/api/v2/trustBundle", stack.fulcio));
    assert_eq!(status, 200);
    assert_eq!(bundle["chains"][0]["certificates"], json!(chain[1..]));

    assert_eq!(
        stack.stats(),
        json!({"tokens": 1, "certificates": 1, "entries": 0})
    );
}

#[test]
fn refuses_bad_tokens_and_bad_proofs_of_possession_with_4xx() {
    let dir = tempfile::tempdir().unwrap();
    let stack = Stack::start(dir.path(), &[]);
    let key = Key::new();
    let url = format!("{}/api/v2/signingCert", stack.fulcio);
    let good_proof = key.sign(b"dev@gitsign-rs.test");

    let bad_tokens = [
        ("expired", stack.token(json!({"exp_in": -5}))),
        ("wrong audience", stack.token(json!({"aud": "other"}))),
        ("foreign key", stack.token(json!({"key": "foreign"}))),
        (
            "wrong issuer",
            stack.token(json!({"iss": "https://accounts.example"})),
        ),
        (
            "unverified email",
            stack.token(json!({"email_verified": false})),
        ),
        ("not a JWT", "abc.def".to_string()),
    ];
    for (what, token) in &bad_tokens {
        let (status, v) = post(&url, &cert_request(token, &key, &good_proof));
        assert!((400..500).contains(&status), "{what}: {status} {v}");
    }
    // A token whose signature was tampered with.
    let token = stack.token(json!({}));
    let (head, _) = token.rsplit_once('.').unwrap();
    let forged = format!("{head}.{}", B64URL.encode([7u8; 64]));
    let (status, _) = post(&url, &cert_request(&forged, &key, &good_proof));
    assert_eq!(status, 401);

    let other = Key::new();
    let bad_proofs = [
        (
            "over another identity",
            key.sign(b"mallory@gitsign-rs.test"),
        ),
        ("by another key", other.sign(b"dev@gitsign-rs.test")),
        ("garbage", vec![1, 2, 3]),
    ];
    for (what, proof) in &bad_proofs {
        let (status, v) = post(&url, &cert_request(&stack.token(json!({})), &key, proof));
        assert_eq!(status, 400, "{what}: {v}");
    }
    let (status, _) = post(&url, &json!({"credentials": {}}));
    assert_eq!(status, 400);
    assert_eq!(stack.stats()["certificates"], 0);

    // The legacy v1 endpoint gitsign (Go) uses, with a good request.
    let r = client()
        .post(format!("{}/api/v1/signingCert", stack.fulcio))
        .bearer_auth(stack.token(json!({})))
        .json_body(
            &json!({"publicKey": {"content": B64.encode(key.spki()), "algorithm": "ecdsa"},
                      "signedEmailAddress": B64.encode(&good_proof)}),
        )
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let text = r.text().unwrap();
    assert_eq!(
        pem::decode_all(text.as_bytes(), "CERTIFICATE")
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn logs_entries_that_verify_answers_lookups_and_refuses_duplicates_with_409() {
    let dir = tempfile::tempdir().unwrap();
    let stack = Stack::start(dir.path(), &[]);
    let root = stack.trusted_root();
    let key = Key::new();
    let chain = certificate(&stack, &key);
    let entries_url = format!("{}/api/v1/log/entries", stack.rekor);

    let mut bodies = Vec::new();
    for i in 0..5 {
        let (request, body) = hashedrekord(&key, &chain[0], format!("payload {i}").as_bytes());
        let (status, answer) = post(&entries_url, &request);
        assert_eq!(status, 201, "{answer}");
        assert_eq!(verify_answer(&root, &answer, &body), i);
        bodies.push((request, body, answer));
    }

    // A duplicate: 409 naming the existing entry.
    let r = client()
        .post(&entries_url)
        .json_body(&bodies[2].0)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 409);
    let uuid = hex(&gitsign::core::tlog::leaf_hash(&bodies[2].1));
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        format!("/api/v1/log/entries/{uuid}")
    );

    // Lookups, each with a fresh proof against the current tree.
    let (status, by_uuid) = get(&format!("{entries_url}/{uuid}"));
    assert_eq!(status, 200);
    assert_eq!(verify_answer(&root, &by_uuid, &bodies[2].1), 2);
    let (_, by_index) = get(&format!("{entries_url}?logIndex=0"));
    verify_answer(&root, &by_index, &bodies[0].1);
    assert_eq!(get(&format!("{entries_url}?logIndex=5")).0, 404);
    assert_eq!(get(&format!("{entries_url}/{}", "0".repeat(64))).0, 404);
    let (_, list) = post(
        &format!("{entries_url}/retrieve"),
        &json!({"entryUUIDs": [uuid], "logIndexes": [4]}),
    );
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    verify_answer(&root, &list[0], &bodies[2].1);
    verify_answer(&root, &list[1], &bodies[4].1);

    // Search by certificate and by hash.
    let search = format!("{}/api/v1/index/retrieve", stack.rekor);
    let (_, found) = post(
        &search,
        &json!({"publicKey": {"format": "x509", "content": B64.encode(&chain[0])}}),
    );
    assert_eq!(found.as_array().unwrap().len(), 5);
    let digest = hex(&sha256(b"payload 3"));
    let (_, found) = post(&search, &json!({"hash": format!("sha256:{digest}")}));
    assert_eq!(
        found,
        json!([hex(&gitsign::core::tlog::leaf_hash(&bodies[3].1))])
    );
    assert_eq!(post(&search, &json!({"hash": "md5:00"})).0, 400);

    let (_, info) = get(&format!("{}/api/v1/log", stack.rekor));
    assert_eq!(info["treeSize"], 5);
    let r = client()
        .get(format!("{}/api/v1/log/publicKey", stack.rekor))
        .send()
        .unwrap();
    let key_der = pem::decode_one(r.text().unwrap().as_bytes(), "PUBLIC KEY").unwrap();
    assert_eq!(key_der, root.tlogs[0].key_der);

    // Refusals: a signature that does not verify, another kind, a missing key.
    let (mut bad, _) = hashedrekord(&key, &chain[0], b"x");
    bad["spec"]["data"]["hash"]["value"] = json!(hex(&sha256(b"y")));
    assert_eq!(post(&entries_url, &bad).0, 400);
    let (mut bad, _) = hashedrekord(&key, &chain[0], b"x");
    bad["kind"] = json!("rekord");
    assert_eq!(post(&entries_url, &bad).0, 400);
    let (mut bad, _) = hashedrekord(&key, &chain[0], b"x");
    bad["spec"]["signature"]["publicKey"]["content"] = json!(B64.encode("not pem"));
    assert_eq!(post(&entries_url, &bad).0, 400);
    assert_eq!(
        client()
            .post(&entries_url)
            .body("{")
            .send()
            .unwrap()
            .status(),
        400
    );

    assert_eq!(
        stack.stats(),
        json!({"tokens": 1, "certificates": 1, "entries": 5})
    );
}

#[test]
fn a_restart_keeps_keys_and_log_and_new_entries_still_verify() {
    let dir = tempfile::tempdir().unwrap();
    let key = Key::new();
    let stack = Stack::start(dir.path(), &[]);
    let chain = certificate(&stack, &key);
    let mut bodies = Vec::new();
    for i in 0..3 {
        let (request, body) = hashedrekord(&key, &chain[0], format!("before {i}").as_bytes());
        assert_eq!(
            post(&format!("{}/api/v1/log/entries", stack.rekor), &request).0,
            201
        );
        bodies.push(body);
    }
    let (_, before) = get(&format!("{}/api/v1/log", stack.rekor));
    let root_before = std::fs::read(dir.path().join("trusted_root.json")).unwrap();
    stack.stop();

    let stack = Stack::start(dir.path(), &[]);
    let (_, after) = get(&format!("{}/api/v1/log", stack.rekor));
    assert_eq!(after["treeSize"], 3);
    assert_eq!(after["rootHash"], before["rootHash"]);
    assert_eq!(after["treeID"], before["treeID"]);
    let root = stack.trusted_root();
    let old = TrustedRoot::from_json(&root_before).unwrap();
    assert_eq!(root.tlogs[0].key_der, old.tlogs[0].key_der);
    assert_eq!(
        root.certificate_authorities[0].certs,
        old.certificate_authorities[0].certs
    );
    assert_eq!(stack.stats()["entries"], 0, "counts are since start");

    // The old certificate still chains; old and new entries verify in the grown tree.
    let leaf = leaf_of(&chain);
    verify_chain(&leaf, &root.certificate_authorities, now()).unwrap();
    let (request, body) = hashedrekord(&key, &chain[0], b"after");
    let (status, answer) = post(&format!("{}/api/v1/log/entries", stack.rekor), &request);
    assert_eq!(status, 201);
    assert_eq!(verify_answer(&root, &answer, &body), 3);
    let (_, old_entry) = get(&format!("{}/api/v1/log/entries?logIndex=1", stack.rekor));
    verify_answer(&root, &old_entry, &bodies[1]);
    // Re-signing a payload makes a new entry (ECDSA is randomized); re-sending an entry
    // logged before the restart is still a 409.
    let (request, _) = hashedrekord(&key, &chain[0], b"before 0");
    let r = client()
        .post(format!("{}/api/v1/log/entries", stack.rekor))
        .json_body(&request)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let (_, first) = get(&format!("{}/api/v1/log/entries?logIndex=0", stack.rekor));
    let stored = first.as_object().unwrap().values().next().unwrap()["body"].clone();
    let stored: Value =
        serde_json::from_slice(&B64.decode(stored.as_str().unwrap()).unwrap()).unwrap();
    let (status, _) = post(&format!("{}/api/v1/log/entries", stack.rekor), &stored);
    assert_eq!(status, 409);

    // Consistency proof from the old tree to the new one.
    let (status, proof) = get(&format!(
        "{}/api/v1/log/proof?firstSize=3&lastSize=5",
        stack.rekor
    ));
    assert_eq!(status, 200);
    assert!(!proof["hashes"].as_array().unwrap().is_empty());
    stack.stop();
}

/// A loopback listener standing in for gitsign's: answers one request and returns its target.
fn one_shot_listener() -> (String, std::thread::JoinHandle<String>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/auth/callback", l.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).unwrap();
        let head = String::from_utf8_lossy(&buf[..n]).to_string();
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            .unwrap();
        head.split(' ').nth(1).unwrap_or_default().to_string()
    });
    (url, handle)
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&B64URL.decode(payload).unwrap()).unwrap()
}

#[test]
fn browser_flow_with_pkce_completes_through_the_open_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let stack = Stack::start(dir.path(), &[]);
    let (_, discovery) = get(&format!("{}/.well-known/openid-configuration", stack.oidc));
    assert_eq!(discovery["issuer"], stack.oidc.as_str());
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        json!(["S256"])
    );
    let (_, jwks) = get(discovery["jwks_uri"].as_str().unwrap());
    assert_eq!(jwks["keys"][0]["crv"], "P-256");

    let verifier = B64URL.encode([42u8; 32]);
    let challenge = B64URL.encode(sha256(verifier.as_bytes()));
    let (redirect, listener) = one_shot_listener();
    let authorize = format!(
        "{}?response_type=code&client_id=sigstore&scope=openid%20email&redirect_uri={}&state=st8&nonce=n0nce&code_challenge={challenge}&code_challenge_method=S256",
        discovery["authorization_endpoint"].as_str().unwrap(),
        redirect
    );
    // The env file's opener is `<this binary> open`.
    let env = std::fs::read_to_string(dir.path().join("env")).unwrap();
    assert!(
        env.contains(&format!("GITSIGN_URL_OPENER='{BIN} open'")),
        "{env}"
    );
    let status = Command::new(BIN)
        .arg("open")
        .arg(&authorize)
        .status()
        .unwrap();
    assert!(status.success());
    let target = listener.join().unwrap();
    let params: Vec<(String, String)> = target
        .split_once('?')
        .unwrap()
        .1
        .split('&')
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect();
    let param = |k: &str| params.iter().find(|(n, _)| n == k).unwrap().1.clone();
    assert_eq!(param("state"), "st8");
    let code = param("code");

    let token_url = discovery["token_endpoint"].as_str().unwrap();
    let exchange = |verifier: &str| {
        post_form(
            token_url,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", "sigstore"),
                ("code", &code),
                ("redirect_uri", &redirect),
                ("code_verifier", verifier),
            ],
        )
    };
    let (status, v) = exchange("wrong-verifier");
    assert_eq!((status, v["error"].as_str()), (400, Some("invalid_grant")));
    // The code was spent by the failed attempt: PKCE failures burn it.
    let (status, _) = exchange(&verifier);
    assert_eq!(status, 400);

    // Again, properly.
    let (redirect2, listener) = one_shot_listener();
    let authorize = authorize.replace(&redirect, &redirect2);
    assert!(
        Command::new(BIN)
            .arg("open")
            .arg(&authorize)
            .status()
            .unwrap()
            .success()
    );
    let target = listener.join().unwrap();
    let code = target
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    let (status, v) = post_form(
        token_url,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "sigstore"),
            ("code", &code),
            ("redirect_uri", &redirect2),
            ("code_verifier", &verifier),
        ],
    );
    assert_eq!(status, 200, "{v}");
    let id_token = v["id_token"].as_str().unwrap();
    let claims = claims_of(id_token);
    assert_eq!(claims["nonce"], "n0nce");
    assert_eq!(claims["aud"], "sigstore");
    assert_eq!(claims["email"], "dev@gitsign-rs.test");
    assert_eq!(claims["email_verified"], true);
    // Fulcio accepts it.
    let key = Key::new();
    let (status, _) = post(
        &format!("{}/api/v2/signingCert", stack.fulcio),
        &cert_request(id_token, &key, &key.sign(b"dev@gitsign-rs.test")),
    );
    assert_eq!(status, 201);

    // Without PKCE the issuer refuses (by redirecting with an error); a non-loopback
    // redirect is refused outright.
    let no_pkce = authorize
        .split("&code_challenge=")
        .next()
        .unwrap()
        .to_string();
    let r = client().get(&no_pkce).send().unwrap();
    assert_eq!(r.status().as_u16(), 302);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .contains("error=invalid_request")
    );
    let evil = authorize.replace(&redirect2, "http://evil.example/cb");
    assert_eq!(client().get(&evil).send().unwrap().status().as_u16(), 400);
}

#[test]
fn device_flow_is_approved_when_the_verification_uri_is_fetched() {
    let dir = tempfile::tempdir().unwrap();
    let stack = Stack::start(dir.path(), &[]);
    let (status, d) = post_form(
        &format!("{}/device/code", stack.oidc),
        &[("client_id", "sigstore"), ("scope", "openid email")],
    );
    assert_eq!(status, 200, "{d}");
    let poll = || {
        post_form(
            &format!("{}/token", stack.oidc),
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("client_id", "sigstore"),
                ("device_code", d["device_code"].as_str().unwrap()),
            ],
        )
    };
    let (status, v) = poll();
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("authorization_pending"))
    );
    let (status, v) = poll();
    assert_eq!((status, v["error"].as_str()), (400, Some("slow_down")));
    let complete = d["verification_uri_complete"].as_str().unwrap();
    assert!(
        Command::new(BIN)
            .arg("open")
            .arg(complete)
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(Duration::from_millis(1100));
    let (status, v) = poll();
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        claims_of(v["id_token"].as_str().unwrap())["email"],
        "dev@gitsign-rs.test"
    );
    // A device code is good for one token.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(poll().1["error"], "invalid_grant");
}

#[test]
fn injected_faults_break_each_service_the_documented_way() {
    let dir = tempfile::tempdir().unwrap();
    let stack = Stack::start(dir.path(), &["--identity", "ci@example.test"]);
    let root = stack.trusted_root();
    let key = Key::new();
    let token = stack.token(json!({}));
    assert_eq!(claims_of(&token)["email"], "ci@example.test");
    let req = cert_request(&token, &key, &key.sign(b"ci@example.test"));
    let url = format!("{}/api/v2/signingCert", stack.fulcio);

    stack.fault(&stack.fulcio, "status500");
    assert_eq!(post(&url, &req).0, 500);
    stack.fault(&stack.fulcio, "garbage");
    let r = client().post(&url).json_body(&req).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(serde_json::from_slice::<Value>(&r.bytes().unwrap()).is_err());

    stack.fault(&stack.fulcio, "wrong-chain");
    let (status, v) = post(&url, &req);
    assert_eq!(status, 201);
    let pems: Vec<String> =
        serde_json::from_value(v["signedCertificateEmbeddedSct"]["chain"]["certificates"].clone())
            .unwrap();
    assert!(verify_chain(&leaf_of(&pems), &root.certificate_authorities, now()).is_err());

    stack.fault(&stack.fulcio, "slow");
    gitsign::io::rekor::install_crypto_provider();
    let quick = reqwest::blocking::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    assert!(
        quick
            .post(&url)
            .json_body(&req)
            .send()
            .unwrap_err()
            .is_timeout()
    );

    stack.fault(&stack.fulcio, "none");
    let (status, v) = post(&url, &req);
    assert_eq!(status, 201, "{v}");
    let pems: Vec<String> =
        serde_json::from_value(v["signedCertificateEmbeddedSct"]["chain"]["certificates"].clone())
            .unwrap();
    verify_chain(&leaf_of(&pems), &root.certificate_authorities, now()).unwrap();

    // Rekor's wrong chain: the entry is logged, but its SET and checkpoint do not verify.
    stack.fault(&stack.rekor, "wrong-chain");
    let (request, body) = hashedrekord(&key, &pems[0], b"payload");
    let (status, answer) = post(&format!("{}/api/v1/log/entries", stack.rekor), &request);
    assert_eq!(status, 201);
    let entry =
        entry_from_rekor_json(answer.as_object().unwrap().values().next().unwrap()).unwrap();
    let t = &root.tlogs[0];
    let keys = [LogKey {
        log_id: &t.log_id,
        key: t.key.as_ref().unwrap(),
        key_der: &t.key_der,
        valid_from: Some(t.valid_for.start),
        valid_until: None,
        base_url: "",
    }];
    assert!(verify_entry(&entry, &body, &keys).is_err());
    stack.fault(&stack.rekor, "none");
    let (_, answer) = get(&format!("{}/api/v1/log/entries?logIndex=0", stack.rekor));
    verify_answer(&root, &answer, &body);

    // Trusted answers that certify or log something else than was asked.
    stack.fault(&stack.fulcio, "wrong-key");
    let (_, v) = post(&url, &req);
    let pems: Vec<String> =
        serde_json::from_value(v["signedCertificateEmbeddedSct"]["chain"]["certificates"].clone())
            .unwrap();
    let leaf = leaf_of(&pems);
    verify_chain(&leaf, &root.certificate_authorities, now()).unwrap();
    assert_ne!(leaf.spki_der(), key.spki().as_slice());
    stack.fault(&stack.fulcio, "wrong-identity");
    let (_, v) = post(&url, &req);
    let pems: Vec<String> =
        serde_json::from_value(v["signedCertificateEmbeddedSct"]["chain"]["certificates"].clone())
            .unwrap();
    let leaf = leaf_of(&pems);
    verify_chain(&leaf, &root.certificate_authorities, now()).unwrap();
    assert_eq!(leaf.spki_der(), key.spki().as_slice());
    assert_ne!(leaf.identity().unwrap().san.to_string(), "ci@example.test");
    stack.fault(&stack.fulcio, "none");

    stack.fault(&stack.rekor, "wrong-entry");
    let (request, body) = hashedrekord(&key, &pems[0], b"another payload");
    let (status, answer) = post(&format!("{}/api/v1/log/entries", stack.rekor), &request);
    assert_eq!(status, 201);
    let entry =
        entry_from_rekor_json(answer.as_object().unwrap().values().next().unwrap()).unwrap();
    assert_eq!(
        verify_entry(&entry, &body, &keys).unwrap_err(),
        gitsign::core::tlog::TlogError::BodyMismatch
    );
    let logged = entry.canonicalized_body.clone().unwrap();
    verify_entry(&entry, &logged, &keys).unwrap();
    stack.fault(&stack.rekor, "none");

    // The OIDC issuer's wrong chain: tokens Fulcio refuses.
    stack.fault(&stack.oidc, "wrong-chain");
    let (status, d) = post_form(
        &format!("{}/device/code", stack.oidc),
        &[("client_id", "sigstore")],
    );
    assert_eq!(status, 200);
    assert!(
        Command::new(BIN)
            .arg("open")
            .arg(d["verification_uri_complete"].as_str().unwrap())
            .status()
            .unwrap()
            .success()
    );
    let (status, v) = post_form(
        &format!("{}/token", stack.oidc),
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", "sigstore"),
            ("device_code", d["device_code"].as_str().unwrap()),
        ],
    );
    assert_eq!(status, 200, "{v}");
    let bad = cert_request(
        v["id_token"].as_str().unwrap(),
        &key,
        &key.sign(b"ci@example.test"),
    );
    assert_eq!(post(&url, &bad).0, 401);

    assert_eq!(
        post(
            &format!("{}/admin/fault", stack.rekor),
            &json!({"mode": "x"})
        )
        .0,
        400
    );
}

/// OpenSSL as an independent X.509 parser: the chain the stack issues verifies there too.
/// `.ci/run` installs openssl where it is missing; the test does not skip.
#[test]
fn openssl_accepts_the_issued_chain() {
    assert!(
        Command::new("openssl").arg("version").output().is_ok(),
        "openssl is needed as an independent X.509 parser"
    );
    let dir = tempfile::tempdir().unwrap();
    let stack = Stack::start(dir.path(), &[]);
    let chain = certificate(&stack, &Key::new());
    let write = |name: &str, pem: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, pem).unwrap();
        p
    };
    let (leaf, inter, root) = (
        write("leaf.pem", &chain[0]),
        write("inter.pem", &chain[1]),
        write("root.pem", &chain[2]),
    );
    let out = Command::new("openssl")
        .args(["verify", "-purpose", "any", "-CAfile"])
        .arg(&root)
        .arg("-untrusted")
        .arg(&inter)
        .arg(&leaf)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(&leaf)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Signed Certificate Timestamp"), "{text}");
    assert!(text.contains("Code Signing"), "{text}");
    assert!(text.contains("email:dev@gitsign-rs.test"), "{text}");
    // A leaf from the wrong-chain fault does not verify against the real root.
    stack.fault(&stack.fulcio, "wrong-chain");
    let rogue = certificate(&stack, &Key::new());
    let rogue_leaf = write("rogue.pem", &rogue[0]);
    let out = Command::new("openssl")
        .args(["verify", "-purpose", "any", "-CAfile"])
        .arg(&root)
        .arg("-untrusted")
        .arg(&inter)
        .arg(&rogue_leaf)
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn one_stack_per_directory() {
    let dir = tempfile::tempdir().unwrap();
    let stack = Stack::start(dir.path(), &[]);
    let out = Command::new(BIN)
        .arg("--dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another sigstore-stack"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    stack.stop();
}

#[test]
fn device_codes_can_be_approved_at_once_and_the_oob_redirect_shows_the_code() {
    let dir = tempfile::tempdir().unwrap();
    let stack = Stack::start(dir.path(), &["--device-auto-approve"]);
    let (_, d) = post_form(
        &format!("{}/device/code", stack.oidc),
        &[("client_id", "sigstore")],
    );
    let (status, v) = post_form(
        &format!("{}/token", stack.oidc),
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", "sigstore"),
            ("device_code", d["device_code"].as_str().unwrap()),
        ],
    );
    assert_eq!(status, 200, "{v}");

    let verifier = B64URL.encode([9u8; 32]);
    let challenge = B64URL.encode(sha256(verifier.as_bytes()));
    let r = client()
        .get(format!(
            "{}/authorize?response_type=code&client_id=sigstore&scope=openid&redirect_uri=urn:ietf:wg:oauth:2.0:oob&state=s&code_challenge={challenge}&code_challenge_method=S256",
            stack.oidc
        ))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let page = r.text().unwrap();
    let code = page.rsplit(' ').next().unwrap().trim();
    let (status, v) = post_form(
        &format!("{}/token", stack.oidc),
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "sigstore"),
            ("code", code),
            ("redirect_uri", "urn:ietf:wg:oauth:2.0:oob"),
            ("code_verifier", &verifier),
        ],
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(stack.stats()["tokens"], 2);
}

/// sigstore-python (`sigstore` from PyPI) as an independent verifier of the whole stack: a
/// Sigstore bundle v0.3 made of a leaf from this Fulcio and an entry from this Rekor must pass
/// `sigstore verify identity` offline with the `trust_config.json` the stack wrote. Runs when
/// `SIGSTORE_CLI` names the `sigstore` program (scripts/test installs it); it does not skip.
#[test]
fn sigstore_python_verifies_a_bundle_made_from_the_stacks_certificate_and_entry() {
    let cli = std::env::var_os("SIGSTORE_CLI")
        .expect("SIGSTORE_CLI must name the sigstore program: run the tests with scripts/test, which installs sigstore==4.5.1");
    let dir = tempfile::tempdir().unwrap();
    let stack = Stack::start(dir.path(), &[]);
    let key = Key::new();
    let chain = certificate(&stack, &key);
    let payload = b"an artifact signed against the local stack\n";
    let (request, body) = hashedrekord(&key, &chain[0], payload);
    let (status, answer) = post(&format!("{}/api/v1/log/entries", stack.rekor), &request);
    assert_eq!(status, 201);
    let e = answer.as_object().unwrap().values().next().unwrap();
    let v = &e["verification"];
    let p = &v["inclusionProof"];
    let unhex = |s: &str| -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    };
    let hashes: Vec<String> = p["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| B64.encode(unhex(h.as_str().unwrap())))
        .collect();
    let bundle = json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "certificate": {"rawBytes": B64.encode(leaf_of(&chain).der())},
            "tlogEntries": [{
                "logIndex": e["logIndex"].to_string(),
                "logId": {"keyId": B64.encode(unhex(e["logID"].as_str().unwrap()))},
                "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
                "integratedTime": e["integratedTime"].to_string(),
                "inclusionPromise": {"signedEntryTimestamp": v["signedEntryTimestamp"]},
                "inclusionProof": {
                    "logIndex": p["logIndex"].to_string(),
                    "rootHash": B64.encode(unhex(p["rootHash"].as_str().unwrap())),
                    "treeSize": p["treeSize"].to_string(),
                    "hashes": hashes,
                    "checkpoint": {"envelope": p["checkpoint"]},
                },
                "canonicalizedBody": B64.encode(&body),
            }],
        },
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": B64.encode(sha256(payload))},
            "signature": request["spec"]["signature"]["content"],
        },
    });
    let artifact = dir.path().join("artifact.txt");
    std::fs::write(&artifact, payload).unwrap();
    let bundle_path = dir.path().join("artifact.sigstore.json");
    std::fs::write(&bundle_path, bundle.to_string()).unwrap();
    let verify = |identity: &str| {
        Command::new(&cli)
            .arg("--trust-config")
            .arg(dir.path().join("trust_config.json"))
            .args(["verify", "identity", "--bundle"])
            .arg(&bundle_path)
            .args([
                "--cert-identity",
                identity,
                "--cert-oidc-issuer",
                &stack.oidc,
            ])
            .arg(&artifact)
            .output()
            .unwrap()
    };
    let out = verify("dev@gitsign-rs.test");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!verify("someone@else.test").status.success());
}

/// Sends raw bytes and returns the status line of the answer.
fn raw_status(base: &str, request: &[u8]) -> String {
    let addr = base.strip_prefix("http://").unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    s.write_all(request).unwrap();
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.lines().next().unwrap_or_default().to_string()
}

#[test]
fn malformed_requests_get_a_4xx_and_the_stack_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let stack = Stack::start(dir.path(), &[]);
    let cases: [(&[u8], &str); 6] = [
        (b"GARBAGE\r\n\r\n", "400"),
        (b"GET / HTTP/2.0\r\n\r\n", "400"),
        (b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", "400"),
        (
            b"POST /api/v1/log/entries HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",
            "413",
        ),
        (
            b"POST /api/v1/log/entries HTTP/1.1\r\nContent-Length: 10\r\n\r\n{}",
            "400",
        ),
        (
            b"POST /api/v1/log/entries HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "411",
        ),
    ];
    for (request, status) in cases {
        let line = raw_status(&stack.rekor, request);
        assert!(
            line.starts_with(&format!("HTTP/1.1 {status} ")),
            "{:?}: {line}",
            String::from_utf8_lossy(request)
        );
    }
    // 80 bytes of UUID that are not 80 ASCII characters.
    let odd = format!(
        "GET /api/v1/log/entries/{} HTTP/1.1\r\n\r\n",
        "é".repeat(40)
    );
    assert!(raw_status(&stack.rekor, odd.as_bytes()).starts_with("HTTP/1.1 404 "));
    let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 70_000));
    big.extend(b"\r\n\r\n");
    assert!(raw_status(&stack.oidc, &big).starts_with("HTTP/1.1 400 "));

    // Entries by UUID with the tree id in front, as sharded Rekor names them.
    let key = Key::new();
    let chain = certificate(&stack, &key);
    let (request, body) = hashedrekord(&key, &chain[0], b"still serving");
    let (status, _) = post(&format!("{}/api/v1/log/entries", stack.rekor), &request);
    assert_eq!(status, 201);
    let (_, info) = get(&format!("{}/api/v1/log", stack.rekor));
    let tree_id: u64 = info["treeID"].as_str().unwrap().parse().unwrap();
    let uuid = format!(
        "{tree_id:016x}{}",
        hex(&gitsign::core::tlog::leaf_hash(&body))
    );
    let (status, answer) = get(&format!("{}/api/v1/log/entries/{uuid}", stack.rekor));
    assert_eq!(status, 200);
    verify_answer(&stack.trusted_root(), &answer, &body);
}

// ---------------------------------------------------------------------------------------
// Rekor v2

/// A Rekor v2 request for `payload` signed by `key`, with the certificate `leaf_der`.
fn hashedrekord_v2(key: &Key, leaf_der: &[u8], payload: &[u8]) -> Value {
    json!({"hashedRekordRequestV002": {
        "digest": B64.encode(sha256(payload)),
        "signature": {
            "content": B64.encode(key.sign(payload)),
            "verifier": {
                "x509Certificate": {"rawBytes": B64.encode(leaf_der)},
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
            },
        },
    }})
}

/// The entry of a Rekor v2 answer as gitsign reads it from a bundle: the answer goes into a
/// v0.3 bundle's `tlogEntries` unchanged.
fn v2_entry(answer: &Value, leaf_der: &[u8], request: &Value) -> LogEntry {
    let r = &request["hashedRekordRequestV002"];
    let bundle = json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "certificate": {"rawBytes": B64.encode(leaf_der)},
            "tlogEntries": [answer],
        },
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": r["digest"]},
            "signature": r["signature"]["content"],
        },
    });
    let mut parsed = gitsign::core::sigstore::bundle::parse(bundle.to_string().as_bytes())
        .expect("the answer is a bundle tlog entry");
    parsed.tlog_entries.remove(0)
}

/// GET: the status and the body bytes.
fn get_bytes(url: &str) -> (u16, Vec<u8>) {
    let r = client().get(url).send().unwrap();
    let status = r.status().as_u16();
    (status, r.bytes().unwrap().to_vec())
}

fn checkpoint_v2(stack: &Stack) -> String {
    let (status, note) = get_bytes(&format!("{}/api/v2/checkpoint", stack.rekor2));
    assert_eq!(status, 200);
    String::from_utf8(note).unwrap()
}

fn post_v2(stack: &Stack, request: &Value) -> reqwest::blocking::Response {
    client()
        .post(format!("{}/api/v2/log/entries", stack.rekor2))
        .json_body(request)
        .send()
        .unwrap()
}

fn v2_log<'a>(logs: &'a [LogKey<'a>], stack: &Stack) -> &'a LogKey<'a> {
    logs.iter().find(|l| l.base_url == stack.rekor2).unwrap()
}

/// The entry bundle format of tlog-tiles: big-endian u16 lengths.
fn entry_bundle(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let len = u16::from_be_bytes([bytes[0], bytes[1]]) as usize;
        out.push(bytes[2..2 + len].to_vec());
        bytes = &bytes[2 + len..];
    }
    out
}

/// RFC 6962 root over leaf hashes.
fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => sha256(b""),
        1 => leaves[0],
        n => {
            let mut k = 1;
            while k << 1 < n {
                k <<= 1;
            }
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

/// The level-0 tile of a log of `size` < 256 entries, as leaf hashes.
fn leaf_tile(stack: &Stack, size: usize) -> Vec<[u8; 32]> {
    let (status, tile) = get_bytes(&format!("{}/api/v2/tile/0/000.p/{size}", stack.rekor2));
    assert_eq!(status, 200);
    assert_eq!(tile.len(), 32 * size);
    tile.chunks(32).map(|c| c.try_into().unwrap()).collect()
}

#[test]
fn rekor_v2_logs_entries_that_verify_serves_checkpoint_and_tiles_and_refuses_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let stack = Stack::start(dir.path(), &[]);
    let key = Key::new();
    let leaf = leaf_of(&certificate(&stack, &key));
    let root = stack.trusted_root();
    let v2 = root
        .tlogs
        .iter()
        .find(|t| t.key_details == "PKIX_ED25519")
        .expect("the v2 log is in the trusted root");
    assert_eq!(v2.base_url, stack.rekor2);
    assert_eq!(root.tlogs.len(), 2);
    let logs = trusted_log_keys(&root);

    let mut answers = Vec::new();
    for i in 0..3u64 {
        let payload = format!("artifact {i}");
        let request = hashedrekord_v2(&key, leaf.der(), payload.as_bytes());
        let r = post_v2(&stack, &request);
        assert_eq!(r.status().as_u16(), 201);
        let answer: Value = serde_json::from_str(&r.text().unwrap()).unwrap();
        assert_eq!(answer["logIndex"], i.to_string());
        assert_eq!(answer["integratedTime"], "0");
        assert_eq!(
            answer["kindVersion"],
            json!({"kind": "hashedrekord", "version": "0.0.2"})
        );
        assert_eq!(answer["inclusionProof"]["treeSize"], (i + 1).to_string());
        assert!(answer.get("inclusionPromise").is_none());
        let entry = v2_entry(&answer, leaf.der(), &request);
        let logged = verify_logged(&entry, &logs).unwrap();
        assert!(logged.rekor_v2);
        assert_eq!(logged.log_index, i);
        assert_eq!(logged.base_url, stack.rekor2);
        assert_eq!(logged.integrated_time, None);
        match logged.content {
            LoggedContent::Digest {
                sha256: d,
                signature,
            } => {
                assert_eq!(d, sha256(payload.as_bytes()));
                assert_eq!(
                    signature.verifier,
                    LoggedVerifier::Certificate(leaf.der().to_vec())
                );
            }
            other => panic!("{other:?}"),
        }
        answers.push((request, answer, entry));
    }

    // The checkpoint: signed by the log key under the URL's host, the last answer's.
    let note = checkpoint_v2(&stack);
    let cp = verify_note(&note, v2_log(&logs, &stack)).unwrap();
    assert_eq!((cp.origin.as_str(), cp.tree_size), ("127.0.0.1", 3));
    let last = &answers[2].1["inclusionProof"];
    assert_eq!(last["checkpoint"]["envelope"], note.as_str());
    assert_eq!(last["rootHash"], B64.encode(&cp.root_hash));

    // The tiles and entry bundle give the same log.
    let leaves = leaf_tile(&stack, 3);
    assert_eq!(mth(&leaves).as_slice(), cp.root_hash.as_slice());
    let (status, bundle) = get_bytes(&format!("{}/api/v2/tile/entries/000.p/3", stack.rekor2));
    assert_eq!(status, 200);
    let bodies = entry_bundle(&bundle);
    for (i, body) in bodies.iter().enumerate() {
        assert_eq!(leaf_hash(body), leaves[i]);
        assert_eq!(
            answers[i].2.canonicalized_body.as_deref(),
            Some(body.as_slice())
        );
    }
    for path in [
        "tile/0/000",
        "tile/0/000.p/2",
        "tile/entries/000",
        "tile/0/../checkpoint",
        "tile/1/000.p/1",
        "log",
    ] {
        let (status, _) = get_bytes(&format!("{}/api/v2/{path}", stack.rekor2));
        assert_eq!(status, 404, "{path}");
    }

    // A resubmission is a 409 naming the entry's index.
    let r = post_v2(&stack, &answers[1].0);
    assert_eq!(r.status().as_u16(), 409);
    assert_eq!(r.headers()["x-log-index"], "1");
    let error: Value = serde_json::from_str(&r.text().unwrap()).unwrap();
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("already exists")
    );

    // Bad requests are 400 and log nothing.
    let good = hashedrekord_v2(&key, leaf.der(), b"x");
    let edited = |f: &dyn Fn(&mut Value)| {
        let mut r = good.clone();
        f(&mut r["hashedRekordRequestV002"]);
        r
    };
    for bad in [
        json!({"foo": "bar"}),
        edited(&|r| r["digest"] = B64.encode([1u8; 31]).into()),
        edited(&|r| r["digest"] = B64.encode(sha256(b"y")).into()),
        edited(&|r| r["signature"]["verifier"]["keyDetails"] = "PKIX_ED25519".into()),
        edited(&|r| r["signature"]["verifier"]["x509Certificate"]["rawBytes"] = "AAAA".into()),
        hashedrekord(&key, &certificate(&stack, &key)[0], b"v1").0,
    ] {
        let r = post_v2(&stack, &bad);
        assert_eq!(r.status().as_u16(), 400, "{bad}");
        let error: Value = serde_json::from_str(&r.text().unwrap()).unwrap();
        assert!(error["message"].is_string());
    }
    assert_eq!(checkpoint_v2(&stack), note);

    // The signing config lists v2 first.
    let config: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("signing_config.json")).unwrap())
            .unwrap();
    assert_eq!(config["rekorTlogUrls"][0]["url"], stack.rekor2.as_str());
    assert_eq!(config["rekorTlogUrls"][0]["majorApiVersion"], 2);
    assert_eq!(config["rekorTlogUrls"][1]["majorApiVersion"], 1);
    let env = std::fs::read_to_string(dir.path().join("env")).unwrap();
    assert!(env.contains(&format!(
        "export SIGSTORE_STACK_REKOR2_URL='{}'",
        stack.rekor2
    )));
    stack.stop();
}

#[test]
fn rekor_v2_keeps_its_key_and_log_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let key = Key::new();
    let stack = Stack::start(dir.path(), &[]);
    let leaf = leaf_of(&certificate(&stack, &key));
    let mut first = Vec::new();
    for i in 0..2 {
        let request = hashedrekord_v2(&key, leaf.der(), format!("before {i}").as_bytes());
        let r = post_v2(&stack, &request);
        assert_eq!(r.status().as_u16(), 201);
        let answer: Value = serde_json::from_str(&r.text().unwrap()).unwrap();
        first.push((request.clone(), v2_entry(&answer, leaf.der(), &request)));
    }
    let note = checkpoint_v2(&stack);
    let old_root = stack.trusted_root();
    stack.stop();

    let stack = Stack::start(dir.path(), &[]);
    // Same text, same key, and Ed25519 signatures are deterministic.
    assert_eq!(checkpoint_v2(&stack), note);
    let root = stack.trusted_root();
    let v2 = |r: &TrustedRoot| {
        let t = r
            .tlogs
            .iter()
            .find(|t| t.key_details == "PKIX_ED25519")
            .unwrap();
        (t.key_der.clone(), t.log_id.clone())
    };
    assert_eq!(v2(&root), v2(&old_root));
    let logs = trusted_log_keys(&root);
    // Entries from before still verify (their checkpoints name the same host and key).
    for (_, entry) in &first {
        verify_logged(entry, &logs).unwrap();
    }
    let r = post_v2(&stack, &first[0].0);
    assert_eq!(r.status().as_u16(), 409);
    assert_eq!(r.headers()["x-log-index"], "0");
    let request = hashedrekord_v2(&key, leaf.der(), b"after");
    let r = post_v2(&stack, &request);
    assert_eq!(r.status().as_u16(), 201);
    let answer: Value = serde_json::from_str(&r.text().unwrap()).unwrap();
    let logged = verify_logged(&v2_entry(&answer, leaf.der(), &request), &logs).unwrap();
    assert_eq!(logged.log_index, 2);
    let cp = verify_note(&checkpoint_v2(&stack), v2_log(&logs, &stack)).unwrap();
    assert_eq!(cp.tree_size, 3);
    assert_eq!(
        mth(&leaf_tile(&stack, 3)).as_slice(),
        cp.root_hash.as_slice()
    );
    stack.stop();
}

#[test]
fn rekor_v2_faults_give_entries_gitsign_refuses_while_the_log_stays_correct() {
    let dir = tempfile::tempdir().unwrap();
    let stack = Stack::start(dir.path(), &[]);
    let key = Key::new();
    let leaf = leaf_of(&certificate(&stack, &key));
    let root = stack.trusted_root();
    let logs = trusted_log_keys(&root);
    let mut bodies = Vec::new();
    for (i, mode) in ["wrong-key", "wrong-entry"].iter().enumerate() {
        stack.fault(&stack.rekor2, mode);
        let request = hashedrekord_v2(&key, leaf.der(), format!("fault {i}").as_bytes());
        let r = post_v2(&stack, &request);
        assert_eq!(r.status().as_u16(), 201, "{mode}");
        let answer: Value = serde_json::from_str(&r.text().unwrap()).unwrap();
        let entry = v2_entry(&answer, leaf.der(), &request);
        let err = verify_logged(&entry, &logs).expect_err(mode);
        match *mode {
            "wrong-key" => {
                assert!(
                    matches!(err, TlogError::CheckpointSignatureInvalid(_)),
                    "{err:?}"
                );
                let note = checkpoint_v2(&stack);
                assert!(verify_note(&note, v2_log(&logs, &stack)).is_err());
            }
            _ => {
                // The checkpoint is the log's, but over a tree with another leaf there.
                let note = answer["inclusionProof"]["checkpoint"]["envelope"]
                    .as_str()
                    .unwrap();
                verify_note(note, v2_log(&logs, &stack)).unwrap();
                assert!(matches!(err, TlogError::RootMismatch { .. }), "{err:?}");
            }
        }
        bodies.push(entry.canonicalized_body.unwrap());
    }
    stack.fault(&stack.rekor2, "none");
    // Both entries are in the log, whose own checkpoint is sound.
    let cp = verify_note(&checkpoint_v2(&stack), v2_log(&logs, &stack)).unwrap();
    assert_eq!(cp.tree_size, 2);
    let leaves = leaf_tile(&stack, 2);
    assert_eq!(mth(&leaves).as_slice(), cp.root_hash.as_slice());
    assert_eq!(leaves[0], leaf_hash(&bodies[0]));
    assert_eq!(leaves[1], leaf_hash(&bodies[1]));

    stack.fault(&stack.rekor2, "status500");
    assert_eq!(
        post_v2(&stack, &hashedrekord_v2(&key, leaf.der(), b"z"))
            .status()
            .as_u16(),
        500
    );
    stack.fault(&stack.rekor2, "garbage");
    let (status, text) = get_bytes(&format!("{}/api/v2/checkpoint", stack.rekor2));
    assert_eq!(status, 200);
    assert!(serde_json::from_slice::<Value>(&text).is_err());
    stack.fault(&stack.rekor2, "none");
    assert_eq!(
        verify_note(&checkpoint_v2(&stack), v2_log(&logs, &stack))
            .unwrap()
            .tree_size,
        2
    );
    stack.stop();
}

// ---------------------------------------------------------------------------------------
// The timestamp authority

fn post_tsq(stack: &Stack, content_type: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let r = client()
        .post(format!("{}/api/v1/timestamp", stack.tsa))
        .header("content-type", content_type)
        .body(body.to_vec())
        .send()
        .unwrap();
    let status = r.status().as_u16();
    (status, r.bytes().unwrap().to_vec())
}

#[test]
fn the_tsa_answers_requests_with_tokens_openssl_and_gitsign_accept_across_a_restart() {
    use gitsign::core::sigstore::tsa::request::{check_response, timestamp_request};
    use gitsign::core::sigstore::tsa::verify_timestamp;
    let dir = tempfile::tempdir().unwrap();
    let stack = Stack::start(dir.path(), &[]);
    let root = stack.trusted_root();
    assert_eq!(root.timestamp_authorities.len(), 1);
    let signed = b"a CMS signature value";
    let nonce = [0x5a; 16];
    let request = timestamp_request(signed, &nonce);
    let (status, reply) = post_tsq(&stack, "application/timestamp-query", &request);
    assert_eq!(status, 200);
    let (token, verified) =
        check_response(&reply, signed, &nonce, &root.timestamp_authorities).unwrap();
    assert!((verified.time - now()).abs() < 60);

    // OpenSSL verifies the token (ESS signingCertificateV2, the critical timeStamping EKU)
    // with the chain the stack wrote, and the chain the service serves is that file.
    let chain = dir.path().join("tsa/chain.pem");
    let (status, served) = get_bytes(&format!("{}/api/v1/timestamp/certchain", stack.tsa));
    assert_eq!(status, 200);
    assert_eq!(served, std::fs::read(&chain).unwrap());
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("token.der"), &token).unwrap();
    std::fs::write(work.path().join("data"), signed).unwrap();
    let openssl = |data: &str| {
        Command::new("openssl")
            .args([
                "ts",
                "-verify",
                "-token_in",
                "-in",
                "token.der",
                "-data",
                data,
                "-CAfile",
            ])
            .arg(&chain)
            .current_dir(work.path())
            .output()
            .unwrap()
    };
    let out = openssl("data");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(work.path().join("other"), b"other bytes").unwrap();
    assert!(!openssl("other").status.success());

    // Faults: a lying nonce or imprint, a key the leaf does not certify.
    for (mode, want) in [
        ("wrong-nonce", "nonce"),
        ("wrong-imprint", "imprint"),
        ("wrong-key", "signature"),
    ] {
        stack.fault(&stack.tsa, mode);
        let (status, reply) = post_tsq(&stack, "application/timestamp-query", &request);
        assert_eq!(status, 200, "{mode}");
        let err = check_response(&reply, signed, &nonce, &root.timestamp_authorities)
            .expect_err(mode)
            .to_string();
        assert!(err.contains(want), "{mode}: {err}");
    }
    stack.fault(&stack.tsa, "none");

    // Not a TimeStampReq, or not sent as one.
    assert_eq!(
        post_tsq(&stack, "application/timestamp-query", b"junk").0,
        400
    );
    assert_eq!(post_tsq(&stack, "application/json", &request).0, 415);

    // The signing config and env name it.
    let config: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("signing_config.json")).unwrap())
            .unwrap();
    let url = format!("{}/api/v1/timestamp", stack.tsa);
    assert_eq!(config["tsaUrls"][0]["url"], url.as_str());
    let env = std::fs::read_to_string(dir.path().join("env")).unwrap();
    assert!(env.contains(&format!("export SIGSTORE_STACK_TSA_URL='{url}'")));
    stack.stop();

    // After a restart the same authority: old tokens still verify with the new root.
    let stack = Stack::start(dir.path(), &[]);
    let root = stack.trusted_root();
    verify_timestamp(&token, signed, &root.timestamp_authorities).unwrap();
    stack.stop();
}
