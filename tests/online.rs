//! gitsign's online mode against Rekor servers on loopback that misbehave: unreachable,
//! without a search index, silent past the deadline, or answering with entries that do not
//! belong to the object. Verification must fail closed, in bounded time, naming the object
//! and the way out.

mod common;
#[path = "common/forge.rs"]
mod forge;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Scratch, Vector, text, vectors};

/// A one-route-table HTTP/1.1 server on 127.0.0.1 that answers each request with
/// `respond(method, path, body)`; `None` means: hold the connection and never answer.
fn serve(respond: fn(&str, &str, &str) -> Option<(u16, String)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || handle(stream, respond));
        }
    });
    format!("http://{addr}")
}

fn handle(stream: TcpStream, respond: fn(&str, &str, &str) -> Option<(u16, String)>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    match respond(method, path, &String::from_utf8_lossy(&body)) {
        Some((status, body)) => {
            let mut s = stream;
            let _ = write!(
                s,
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        None => std::thread::sleep(Duration::from_secs(30)),
    }
}

fn online_vector() -> Vector {
    vectors()
        .into_iter()
        .find(|v| !v.embedded && v.kind == "commit" && v.has_sct)
        .unwrap()
}

fn verify_with_rekor(url: &str, timeout: &str) -> (Option<i32>, String, Duration) {
    let s = Scratch::new();
    let v = online_vector();
    s.load(&v);
    let start = Instant::now();
    let out = s
        .command(common::BIN, &s.repo())
        .env("GITSIGN_REKOR_URL", url)
        .env("GITSIGN_REKOR_TIMEOUT", timeout)
        .args([
            "verify",
            &v.id,
            "--certificate-identity",
            &v.identity,
            "--certificate-oidc-issuer",
            &v.issuer,
        ])
        .output()
        .unwrap();
    let elapsed = start.elapsed();
    let err = text(&out.stderr);
    assert!(err.contains(&v.id), "names the object: {err}");
    assert!(
        err.contains("--insecure-ignore-tlog"),
        "names the way out: {err}"
    );
    (out.status.code(), err, elapsed)
}

#[test]
fn rekor_without_a_search_index_fails_closed_and_says_so() {
    let url = serve(|_, path, _| {
        Some(if path == "/api/v1/index/retrieve" {
            (404, "{}".into())
        } else {
            (500, "{}".into())
        })
    });
    let (code, err, _) = verify_with_rekor(&url, "10");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("has no search index (HTTP 404)"), "{err}");
}

#[test]
fn a_silent_rekor_fails_within_the_configured_time() {
    let url = serve(|_, _, _| None);
    let (code, err, elapsed) = verify_with_rekor(&url, "2");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("did not answer within 2s"), "{err}");
    assert!(elapsed < Duration::from_secs(8), "took {elapsed:?}");
}

#[test]
fn an_unreachable_rekor_fails_closed() {
    let (code, err, _) = verify_with_rekor("http://127.0.0.1:9", "10");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("cannot be reached"), "{err}");
}

#[test]
fn entries_that_are_not_for_this_object_are_not_accepted() {
    // The search finds an entry, but it is a real entry for another signature (the embedded
    // one of another commit, in Rekor's REST form): it must not vouch for this commit.
    let url = serve(|_, path, _| {
        match path {
        "/api/v1/index/retrieve" => Some((200, r#"["24296fb24b8ad77a0000000000000000000000000000000000000000000000000000000000000000"]"#.into())),
        "/api/v1/log/entries/retrieve" => Some((200, other_entry_json())),
        _ => Some((404, "{}".into())),
    }
    });
    let (code, err, _) = verify_with_rekor(&url, "10");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("no verifiable entry"), "{err}");
    assert!(err.contains("another object or certificate"), "{err}");
}

#[test]
fn garbage_from_rekor_is_an_error_not_a_verification() {
    let url = serve(|_, path, _| match path {
        "/api/v1/index/retrieve" => Some((200, "not json".into())),
        _ => Some((404, "{}".into())),
    });
    let (code, err, _) = verify_with_rekor(&url, "10");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("unreadable answer"), "{err}");
}

/// Requests the counting Rekor below has received.
static FORGERY_REKOR_REQUESTS: AtomicUsize = AtomicUsize::new(0);
static GENUINE_REKOR_REQUESTS: AtomicUsize = AtomicUsize::new(0);

#[test]
fn a_certificate_that_does_not_chain_is_refused_before_any_rekor_request() {
    // A forged online-mode commit: a self-signed certificate claiming a real signer's email,
    // a valid signature over the commit, no log entry. The chain fails first, offline.
    let forgery = serve(|_, _, _| {
        FORGERY_REKOR_REQUESTS.fetch_add(1, Ordering::SeqCst);
        Some((404, "{}".into()))
    });
    let s = Scratch::new();
    let v = online_vector();
    let raw = forge::Forger::self_signed(&v.identity).commit("forged", forge::T0 + 1);
    let path = s.dir.path().join("forged");
    std::fs::write(&path, &raw).unwrap();
    let out = s.git(
        &[
            "hash-object",
            "-t",
            "commit",
            "-w",
            "--literally",
            path.to_str().unwrap(),
        ],
        &s.repo(),
    );
    let id = text(&out.stdout).trim().to_string();
    let own = s
        .command(common::BIN, &s.repo())
        .env("GITSIGN_REKOR_URL", &forgery)
        .args([
            "verify",
            &id,
            "--certificate-identity",
            &v.identity,
            "--certificate-oidc-issuer",
            &v.issuer,
        ])
        .output()
        .unwrap();
    let err = text(&own.stderr);
    assert_eq!(own.status.code(), Some(1), "{err}");
    assert!(err.contains("certificate chain"), "{err}");
    let git = s
        .command("git", &s.repo())
        .env("GITSIGN_REKOR_URL", &forgery)
        .args(["-c", &format!("gpg.x509.program={}", common::BIN)])
        .args(["verify-commit", "--raw", &id])
        .output()
        .unwrap();
    assert!(!git.status.success());
    assert!(
        text(&git.stderr).contains("[GNUPG:] ERRSIG "),
        "{}",
        text(&git.stderr)
    );
    assert_eq!(FORGERY_REKOR_REQUESTS.load(Ordering::SeqCst), 0);

    // The same server is asked about a genuine online-mode commit: the counter counts.
    let genuine = serve(|_, _, _| {
        GENUINE_REKOR_REQUESTS.fetch_add(1, Ordering::SeqCst);
        Some((404, "{}".into()))
    });
    let (code, err, _) = verify_with_rekor(&genuine, "10");
    assert_eq!(code, Some(1), "{err}");
    assert!(GENUINE_REKOR_REQUESTS.load(Ordering::SeqCst) > 0);
}

/// A well-formed Rekor v1 REST answer carrying a real, verifiable entry that belongs to
/// another commit (the embedded entry of fe1e6234…, rebuilt in Rekor's REST form).
fn other_entry_json() -> String {
    static JSON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    JSON.get_or_init(|| {
        use gitsign::core::{tlog, x509::keys};
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/fixtures/tlog/fe1e62346d3c346a343d089e8b4c3fb57716bc94.commit"
        );
        let read = |ext: &str| std::fs::read(format!("{dir}.{ext}")).unwrap();
        let e = tlog::decode_transparency_log_entry(&read("tle.pb")).unwrap();
        let body = tlog::hashedrekord_body(
            &keys::sha256(&read("signed-attrs.der")),
            &read("sig.der"),
            &String::from_utf8(read("cert.pem")).unwrap(),
        );
        let entry = tlog::entry_to_rekor_json(&e, &body);
        serde_json::json!([{ "24296fb24b8ad77a": entry }]).to_string()
    })
    .clone()
}
