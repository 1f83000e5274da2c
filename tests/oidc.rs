//! Identity end to end: the browser and device flows against a real, certified OpenID
//! provider (`oidc-provider` from npm, tests/oidc-provider/server.js) on loopback, its login
//! completed by a scripted user agent run as `gitsign.urlOpener`; the GitHub Actions
//! provider against a loopback server; the environment and token-file providers.
//!
//! Needs `npm ci --prefix tests/oidc-provider` (`.ci/run` does it).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gitsign::app::Reporter;
use gitsign::io::config::Settings;
use gitsign::io::oidc::{self, Ambient, IdToken, OidcError, PasteInput};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc-provider")
}

/// `node server.js`, stopped when dropped.
struct OidcProvider {
    child: Child,
    issuer: String,
}

impl OidcProvider {
    fn start(env: &[(&str, &str)]) -> OidcProvider {
        let dir = fixture_dir();
        assert!(
            dir.join("node_modules/oidc-provider/package.json")
                .is_file(),
            "tests/oidc-provider/node_modules is missing: run `npm ci --prefix tests/oidc-provider` \
             (the OIDC tests need the real provider; they do not skip)"
        );
        let mut child = Command::new("node")
            .arg("server.js")
            .current_dir(&dir)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node must be installed to run the OIDC tests");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Keep reading to the end: a closed pipe would kill node on its next write.
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(first)) = lines.next() {
                let _ = tx.send(first);
            }
            for _ in lines {}
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("oidc-provider did not start within 30 s");
        let v: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("oidc-provider printed {line:?}: {e}"));
        OidcProvider {
            child,
            issuer: v["issuer"].as_str().unwrap().to_string(),
        }
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The scripted user agent as a urlOpener, with its options in front.
fn agent(options: &str) -> String {
    format!(
        "env {options} node '{}'",
        fixture_dir().join("agent.js").display()
    )
}

fn settings(issuer: &str, client_id: &str, provider: &str) -> Settings {
    let mut s = Settings::resolve(&HashMap::new(), &|_| None).unwrap();
    s.issuer = issuer.to_string();
    s.client_id = client_id.to_string();
    s.token_provider = Some(provider.to_string());
    s.url_opener = Some(agent(""));
    s.oidc_timeout = Duration::from_secs(30);
    s
}

struct Run {
    result: Result<IdToken, OidcError>,
    said: String,
}

/// Runs `id_token_with` in an empty environment, capturing what it told the user.
fn run_with(settings: &Settings, env: &[(&str, &str)], paste: Option<PasteInput>) -> Run {
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut ui = Reporter::new(Some(log.path()));
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let lookup = move |k: &str| env.get(k).cloned();
    let ambient = Ambient {
        env: &lookup,
        exists: &|_: &Path| false,
        now: &oidc::unix_now,
        paste,
    };
    let result = oidc::id_token_with(settings, &mut ui, ambient);
    Run {
        result,
        said: std::fs::read_to_string(log.path()).unwrap(),
    }
}

fn run(settings: &Settings) -> Run {
    run_with(settings, &[], None)
}

fn claims_of(token: &IdToken) -> serde_json::Value {
    let part = token.raw().split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn header_of(token: &IdToken) -> serde_json::Value {
    let part = token.raw().split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[test]
fn browser_flow_gets_a_verified_es256_token_from_oidc_provider() {
    let op = OidcProvider::start(&[]);
    let r = run(&settings(&op.issuer, "sigstore", "interactive"));
    let token = r.result.unwrap_or_else(|e| panic!("{e}\n{}", r.said));
    assert_eq!(token.identity(), "alice@example.test");
    assert_eq!(token.issuer(), op.issuer);
    assert_eq!(header_of(&token)["alg"], "ES256");
    let claims = claims_of(&token);
    assert_eq!(claims["aud"], "sigstore");
    assert!(claims["nonce"].as_str().is_some_and(|n| n.len() >= 20));
    // The user was shown where to go: the authorize URL with PKCE S256, state and nonce.
    assert!(r.said.contains("code_challenge_method=S256"), "{}", r.said);
    assert!(r.said.contains("redirect_uri=http%3A%2F%2Flocalhost%3A"));
    assert!(!r.said.contains(token.raw()));
}

#[test]
fn browser_flow_verifies_rs256_tokens_and_uses_the_login_as_identity() {
    let op = OidcProvider::start(&[]);
    let mut s = settings(&op.issuer, "rs256-client", "interactive");
    s.url_opener = Some(agent("AGENT_LOGIN=bob@corp.example"));
    let token = run(&s).result.unwrap();
    assert_eq!(header_of(&token)["alg"], "RS256");
    assert_eq!(token.identity(), "bob@corp.example");
}

#[test]
fn browser_flow_authenticates_a_confidential_client_with_its_secret_file() {
    let op = OidcProvider::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "s3cret-for-tests\n").unwrap();
    let mut s = settings(&op.issuer, "confidential", "interactive");
    s.client_secret_file = Some(secret.clone());
    assert_eq!(run(&s).result.unwrap().identity(), "alice@example.test");

    std::fs::write(&secret, "wrong-secret").unwrap();
    let err = run(&s).result.unwrap_err();
    assert!(
        matches!(&err, OidcError::Denied { step: "token exchange", error, .. } if error == "invalid_client"),
        "{err}"
    );
}

#[test]
fn browser_flow_listens_on_a_configured_redirect_url() {
    let op = OidcProvider::start(&[]);
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut s = settings(&op.issuer, "sigstore", "interactive");
    s.redirect_url = Some(format!("http://127.0.0.1:{port}/callback"));
    let r = run(&s);
    assert!(r.result.is_ok(), "{:?}\n{}", r.result, r.said);
    assert!(r.said.contains(&format!("127.0.0.1%3A{port}%2Fcallback")));
}

#[test]
fn browser_flow_reports_a_cancelled_login_as_refused() {
    let op = OidcProvider::start(&[]);
    let mut s = settings(&op.issuer, "sigstore", "interactive");
    s.url_opener = Some(agent("AGENT_ACTION=deny"));
    let err = run(&s).result.unwrap_err();
    let line = err.to_string();
    assert!(
        matches!(&err, OidcError::Denied { step: "authorization", error, .. } if error == "access_denied"),
        "{line}"
    );
    assert!(line.contains(&op.issuer) && !line.contains('\n'), "{line}");
}

/// A paste source fed from the file the agent writes instead of following the redirect.
fn paste_from(file: PathBuf) -> PasteInput {
    let (reader, mut writer) = std::io::pipe().unwrap();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !file.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let url = std::fs::read_to_string(&file).unwrap_or_default();
        let _ = writeln!(writer, "{url}");
    });
    PasteInput::from_reader(reader)
}

#[test]
fn browser_flow_falls_back_to_a_pasted_url_after_the_timeout() {
    let op = OidcProvider::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let stop = dir.path().join("address-bar");
    let mut s = settings(&op.issuer, "sigstore", "interactive");
    // The "browser" never reaches our listener: the user copies the URL instead.
    s.url_opener = Some(agent(&format!(
        "AGENT_STOP_PREFIX=http://localhost: AGENT_STOP_FILE={}",
        stop.display()
    )));
    s.oidc_timeout = Duration::from_secs(3);
    let started = Instant::now();
    let r = run_with(&s, &[], Some(paste_from(stop)));
    let token = r.result.unwrap_or_else(|e| panic!("{e}\n{}", r.said));
    assert_eq!(token.identity(), "alice@example.test");
    assert!(started.elapsed() >= Duration::from_secs(3));
    assert!(
        r.said.contains("No redirect reached gitsign yet. Paste"),
        "{}",
        r.said
    );
}

#[test]
fn browser_flow_with_an_out_of_band_redirect_reads_the_pasted_code_at_once() {
    let op = OidcProvider::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let stop = dir.path().join("address-bar");
    let mut s = settings(&op.issuer, "sigstore", "interactive");
    s.redirect_url = Some("https://oob.example.test/callback".into());
    s.url_opener = Some(agent(&format!(
        "AGENT_STOP_PREFIX=https://oob.example.test/ AGENT_STOP_FILE={}",
        stop.display()
    )));
    s.oidc_timeout = Duration::from_secs(20);
    let started = Instant::now();
    let r = run_with(&s, &[], Some(paste_from(stop)));
    assert_eq!(r.result.unwrap().identity(), "alice@example.test");
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[test]
fn browser_flow_without_a_redirect_or_terminal_ends_after_the_timeout() {
    let op = OidcProvider::start(&[]);
    let mut s = settings(&op.issuer, "sigstore", "interactive");
    s.url_opener = Some("true".into());
    s.oidc_timeout = Duration::from_secs(1);
    let started = Instant::now();
    let err = run(&s).result.unwrap_err();
    assert!(matches!(err, OidcError::NoCode { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(
        err.to_string(),
        format!(
            "OIDC browser flow with {}: no authorization code within 1s",
            op.issuer
        )
    );
}

#[test]
fn browser_flow_refuses_an_issuer_whose_discovery_names_another() {
    let op = OidcProvider::start(&[]);
    // Same server, different spelling: the document says 127.0.0.1.
    let other = op.issuer.replace("127.0.0.1", "localhost");
    let err = run(&settings(&other, "sigstore", "interactive"))
        .result
        .unwrap_err();
    assert!(
        matches!(
            &err,
            OidcError::BadResponse {
                step: "discovery",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn device_flow_gets_a_verified_token_after_the_user_enters_the_code() {
    let op = OidcProvider::start(&[("SLOW_DOWN_FIRST_POLL", "1")]);
    let started = Instant::now();
    let r = run(&settings(&op.issuer, "sigstore", "device"));
    let token = r.result.unwrap_or_else(|e| panic!("{e}\n{}", r.said));
    assert_eq!(token.identity(), "alice@example.test");
    assert_eq!(token.issuer(), op.issuer);
    assert!(r.said.contains("and enter the code"), "{}", r.said);
    // The first poll was answered slow_down: the interval grew from 1 s to 6 s.
    assert!(
        started.elapsed() >= Duration::from_secs(7),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn device_flow_reports_an_aborted_confirmation_as_refused() {
    let op = OidcProvider::start(&[]);
    let mut s = settings(&op.issuer, "rs256-client", "device");
    s.url_opener = Some(agent("AGENT_ACTION=deny"));
    let err = run(&s).result.unwrap_err();
    assert!(
        matches!(&err, OidcError::Denied { step: "device token polling", error, .. } if error == "access_denied"),
        "{err}"
    );
}

// ---- ambient sources ----

fn unsigned_jwt(claims: serde_json::Value) -> String {
    let enc = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.{}",
        enc(serde_json::json!({"alg": "RS256", "kid": "k"})),
        enc(claims),
        URL_SAFE_NO_PAD.encode([7u8; 64])
    )
}

fn actions_claims(exp_from_now: i64) -> serde_json::Value {
    serde_json::json!({
        "iss": "https://token.actions.githubusercontent.com",
        "sub": "repo:octo/repo:ref:refs/heads/main",
        "aud": "sigstore",
        "exp": (oidc::unix_now() as i64 + exp_from_now),
    })
}

/// A one-route stand-in for the Actions token service; records the requests it got.
fn actions_server(status: u16, body: String) -> (String, mpsc::Receiver<String>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in l.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = tx.send(String::from_utf8_lossy(&head).into_owned());
            let _ = write!(
                s,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (
        format!("http://127.0.0.1:{port}/_apis/idtoken?api-version=2.0"),
        rx,
    )
}

#[test]
fn github_actions_token_is_requested_for_audience_sigstore_with_the_bearer() {
    let jwt = unsigned_jwt(actions_claims(300));
    let (url, requests) = actions_server(200, serde_json::json!({"value": jwt}).to_string());
    let s = settings("https://unused.example", "sigstore", "");
    let env = [
        ("ACTIONS_ID_TOKEN_REQUEST_URL", url.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "req-token-123"),
    ];
    // Detected, with no provider configured.
    let mut detect = s.clone();
    detect.token_provider = None;
    let token = run_with(&detect, &env, None).result.unwrap();
    assert_eq!(token.raw(), jwt);
    assert_eq!(token.identity(), "repo:octo/repo:ref:refs/heads/main");
    assert_eq!(
        token.issuer(),
        "https://token.actions.githubusercontent.com"
    );
    let req = requests.recv().unwrap();
    assert!(
        req.starts_with("GET /_apis/idtoken?api-version=2.0&audience=sigstore HTTP/1.1"),
        "{req}"
    );
    assert!(
        req.to_ascii_lowercase()
            .contains("authorization: bearer req-token-123"),
        "{req}"
    );
}

#[test]
fn github_actions_failures_name_the_step_and_server() {
    let (url, _r) = actions_server(401, "{\"message\":\"nope\"}".into());
    let mut s = settings("https://unused.example", "sigstore", "github-actions");
    let env = [
        ("ACTIONS_ID_TOKEN_REQUEST_URL", url.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "t"),
    ];
    let err = run_with(&s, &env, None).result.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("OIDC GitHub Actions token request: http://127.0.0.1:"),
        "{err}"
    );
    assert!(err.to_string().ends_with("answered HTTP 401"), "{err}");

    let expired = unsigned_jwt(actions_claims(-3600));
    let (url, _r) = actions_server(200, serde_json::json!({"value": expired}).to_string());
    let env = [
        ("ACTIONS_ID_TOKEN_REQUEST_URL", url.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "t"),
    ];
    let err = run_with(&s, &env, None).result.unwrap_err();
    assert!(matches!(err, OidcError::AmbientToken { .. }), "{err}");
    assert!(!err.to_string().contains(&expired));

    s.token_provider = Some("github-actions".into());
    let err = run_with(&s, &[], None).result.unwrap_err();
    assert!(matches!(err, OidcError::Unavailable { .. }), "{err}");
}

#[test]
fn sigstore_id_token_from_the_environment_is_used_first() {
    let jwt = unsigned_jwt(serde_json::json!({
        "iss": "https://issuer.example", "sub": "1", "email": "env@example.com",
        "exp": oidc::unix_now() + 600,
    }));
    let mut s = settings("https://unused.example", "sigstore", "");
    s.token_provider = None;
    let env = [
        ("SIGSTORE_ID_TOKEN", jwt.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_URL", "http://127.0.0.1:1/never"),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "t"),
    ];
    let token = run_with(&s, &env, None).result.unwrap();
    assert_eq!(token.identity(), "env@example.com");
    assert_eq!(token.issuer(), "https://issuer.example");

    let err = run_with(&s, &[("SIGSTORE_ID_TOKEN", "garbage")], None)
        .result
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("the ID token from SIGSTORE_ID_TOKEN is unusable: not a well-formed JWT"),
        "{err}"
    );
}

#[test]
fn token_file_is_read_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("oidc-token");
    let jwt = unsigned_jwt(serde_json::json!({
        "iss": "https://kubernetes.default.svc", "sub": "system:serviceaccount:ci:signer",
        "exp": oidc::unix_now() + 600,
    }));
    std::fs::write(&file, format!("{jwt}\n")).unwrap();
    let mut s = settings("https://unused.example", "sigstore", "");
    s.token_provider = None;
    s.token_file = Some(file.clone());
    let token = run_with(&s, &[], None).result.unwrap();
    assert_eq!(token.identity(), "system:serviceaccount:ci:signer");
    assert_eq!(token.raw(), jwt);

    s.token_file = Some(dir.path().join("missing"));
    let err = run_with(&s, &[], None).result.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot read the ID token file "),
        "{err}"
    );
}

// ---- a misbehaving issuer: the flows must check what it hands back ----

/// What the fake issuer gets wrong in the ID token it issues.
#[derive(Clone, Copy, Debug)]
enum Fault {
    None,
    Nonce,
    ForeignKey,
    Audience,
    Expired,
    Issuer,
    AlgNone,
}

struct FakeIssuer {
    issuer: String,
}

fn es256_pair() -> aws_lc_rs::signature::EcdsaKeyPair {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let alg = &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let pkcs8 = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
    aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref()).unwrap()
}

fn query_of(target: &str) -> HashMap<String, String> {
    let u = reqwest::Url::parse("http://x")
        .unwrap()
        .join(target)
        .unwrap();
    u.query_pairs().into_owned().collect()
}

/// Discovery, JWKS, an authorization endpoint that approves at once, a device endpoint, and
/// a token endpoint whose ID token carries `fault`.
fn fake_issuer(fault: Fault) -> FakeIssuer {
    use aws_lc_rs::signature::KeyPair;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://127.0.0.1:{}", l.local_addr().unwrap().port());
    let iss = issuer.clone();
    std::thread::spawn(move || {
        let key = es256_pair();
        let foreign = es256_pair();
        let p = key.public_key().as_ref().to_vec();
        let jwks = serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1",
            "x": URL_SAFE_NO_PAD.encode(&p[1..33]), "y": URL_SAFE_NO_PAD.encode(&p[33..])}]});
        let mut nonce = String::new();
        for stream in l.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut reader = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let mut len = 0;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) <= 2 {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let path = target.split('?').next().unwrap().to_string();
            let json = |v: serde_json::Value| (200, "application/json", v.to_string(), None);
            let (status, ctype, text, location) = match path.as_str() {
                "/.well-known/openid-configuration" => json(serde_json::json!({
                    "issuer": iss,
                    "authorization_endpoint": format!("{iss}/authorize"),
                    "token_endpoint": format!("{iss}/token"),
                    "jwks_uri": format!("{iss}/jwks"),
                    "device_authorization_endpoint": format!("{iss}/device"),
                })),
                "/jwks" => json(jwks.clone()),
                "/authorize" => {
                    let q = query_of(&target);
                    nonce = q.get("nonce").cloned().unwrap_or_default();
                    let to = format!(
                        "{}?code=the-code&state={}",
                        q["redirect_uri"],
                        q.get("state").cloned().unwrap_or_default()
                    );
                    (302, "text/plain", String::new(), Some(to))
                }
                "/device" => json(serde_json::json!({
                    "device_code": "dc", "user_code": "ABCD-EFGH",
                    "verification_uri": format!("{iss}/verify"), "expires_in": 60, "interval": 1,
                })),
                "/token" => {
                    let now = oidc::unix_now();
                    let mut claims = serde_json::json!({
                        "iss": iss, "aud": "sigstore", "sub": "s", "email": "fake@example.test",
                        "exp": now + 300, "iat": now, "nonce": nonce,
                    });
                    match fault {
                        Fault::Nonce => claims["nonce"] = "another".into(),
                        Fault::Audience => claims["aud"] = "someone-else".into(),
                        Fault::Expired => claims["exp"] = (now - 3600).into(),
                        Fault::Issuer => claims["iss"] = "https://evil.example".into(),
                        _ => {}
                    }
                    let alg = if matches!(fault, Fault::AlgNone) {
                        "none"
                    } else {
                        "ES256"
                    };
                    let input = format!(
                        "{}.{}",
                        URL_SAFE_NO_PAD
                            .encode(serde_json::json!({"alg": alg, "kid": "k1"}).to_string()),
                        URL_SAFE_NO_PAD.encode(claims.to_string())
                    );
                    let signer = if matches!(fault, Fault::ForeignKey) {
                        &foreign
                    } else {
                        &key
                    };
                    let sig = signer
                        .sign(&aws_lc_rs::rand::SystemRandom::new(), input.as_bytes())
                        .unwrap();
                    let id_token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()));
                    json(serde_json::json!({"id_token": id_token, "token_type": "Bearer"}))
                }
                _ => (404, "text/plain", "not found".into(), None),
            };
            let loc = location
                .map(|l| format!("Location: {l}\r\n"))
                .unwrap_or_default();
            let _ = write!(
                s,
                "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\n{loc}Content-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    FakeIssuer { issuer }
}

#[test]
fn browser_flow_accepts_a_well_behaved_fake_issuer() {
    // The control for the tests below: the same issuer without a fault passes.
    let op = fake_issuer(Fault::None);
    let r = run(&settings(&op.issuer, "sigstore", "interactive"));
    assert_eq!(
        r.result
            .unwrap_or_else(|e| panic!("{e}\n{}", r.said))
            .identity(),
        "fake@example.test"
    );
}

#[test]
fn browser_flow_rejects_id_tokens_that_do_not_check_out() {
    for (fault, expected) in [
        (Fault::Nonce, "nonce does not match"),
        (Fault::ForeignKey, "signature does not verify"),
        (
            Fault::Audience,
            "audience does not include the client id \"sigstore\"",
        ),
        (Fault::Expired, "expired at"),
        (Fault::Issuer, "issued by \"https://evil.example\""),
        (Fault::AlgNone, "unsupported signature algorithm \"none\""),
    ] {
        let op = fake_issuer(fault);
        let err = run(&settings(&op.issuer, "sigstore", "interactive"))
            .result
            .unwrap_err();
        let line = err.to_string();
        assert!(
            matches!(err, OidcError::InvalidIdToken { .. }) && line.contains(expected),
            "{fault:?}: {line}"
        );
        assert!(line.starts_with(&format!(
            "OIDC token verification: the ID token from {} is invalid",
            op.issuer
        )));
    }
}

#[test]
fn device_flow_rejects_an_id_token_signed_by_a_foreign_key() {
    let op = fake_issuer(Fault::ForeignKey);
    let mut s = settings(&op.issuer, "sigstore", "device");
    s.url_opener = None;
    let err = run(&s).result.unwrap_err();
    assert!(
        err.to_string().contains("signature does not verify"),
        "{err}"
    );
    let op = fake_issuer(Fault::None);
    let mut s = settings(&op.issuer, "sigstore", "device");
    s.url_opener = None;
    assert_eq!(run(&s).result.unwrap().identity(), "fake@example.test");
}
