//! Signing failures that need no Sigstore stack: no token, Fulcio unreachable, failing or
//! talking garbage. Each must exit 1 with nothing on stdout and one line naming the step and
//! the server, and `git commit -S` must leave the repository as it was.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{BIN, Scratch, text};

/// An HTTP/1.1 server on 127.0.0.1 answering every request with `(status, body)`, or holding
/// the connection when `None`.
fn serve(answer: Option<(u16, &'static str)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || handle(stream, answer));
        }
    });
    format!("http://{addr}")
}

fn handle(stream: TcpStream, answer: Option<(u16, &'static str)>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut length = 0;
    let mut first = true;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || (line == "\r\n" && !first) {
            break;
        }
        first = false;
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    match answer {
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

/// An unsigned JWT with these claims (Fulcio would verify it; the fakes here do not get that far).
fn token(email: &str) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let claims = format!(
        r#"{{"iss":"https://issuer.example","sub":"s","aud":"sigstore","exp":{exp},"email":"{email}"}}"#
    );
    format!(
        "{}.{}.c2ln",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256"}"#),
        URL_SAFE_NO_PAD.encode(claims)
    )
}

struct Repo {
    s: Scratch,
}

impl Repo {
    fn new() -> Repo {
        let s = Scratch::new();
        std::fs::write(s.repo().join("f"), "x").unwrap();
        assert!(s.git(&["add", "f"], &s.repo()).status.success());
        assert!(
            s.git(&["commit", "-qm", "unsigned"], &s.repo())
                .status
                .success()
        );
        Repo { s }
    }

    fn state(&self) -> (String, String) {
        let head = text(&self.s.git(&["rev-parse", "HEAD"], &self.s.repo()).stdout);
        let objects = text(&self.s.git(&["count-objects", "-v"], &self.s.repo()).stdout);
        (head, objects)
    }

    /// `git commit -S` with gitsign-rs and these variables; returns git's stderr after
    /// checking that the commit failed and nothing changed.
    fn failed_commit(&self, env: &[(&str, &str)]) -> String {
        let before = self.state();
        let program = format!("gpg.x509.program={BIN}");
        let mut c = self.s.command("git", &self.s.repo());
        c.args([
            "-c",
            "gpg.format=x509",
            "-c",
            &program,
            "commit",
            "-S",
            "--allow-empty",
            "-m",
            "signed",
        ]);
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        assert!(!out.status.success(), "git commit -S succeeded");
        assert_eq!(self.state(), before, "the repository changed");
        text(&out.stderr)
    }
}

/// The sign mode run directly, as git runs it.
fn sign_direct(env: &[(&str, &str)]) -> (i32, Vec<u8>, String) {
    let s = Scratch::new();
    let mut c: Command = s.command(BIN, &s.repo());
    c.args(["--status-fd=2", "-bsau", "T <t@example.com>"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor T <t@example.com> 1 +0000\ncommitter T <t@example.com> 1 +0000\n\nm\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.code().unwrap(), out.stdout, text(&out.stderr))
}

fn failure_line(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|l| l.starts_with("gitsign: ") && !l.starts_with("gitsign: using"))
        .unwrap_or_else(|| panic!("no gitsign line in {stderr:?}"))
}

#[test]
fn signing_without_a_token_fails_and_git_creates_no_commit() {
    let r = Repo::new();
    let err = r.failed_commit(&[("GITSIGN_TOKEN_PROVIDER", "envvar")]);
    assert!(
        err.contains("gitsign: cannot get an identity token"),
        "{err}"
    );
    let (code, stdout, stderr) = sign_direct(&[("GITSIGN_TOKEN_PROVIDER", "envvar")]);
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    assert!(stderr.starts_with("[GNUPG:] BEGIN_SIGNING\n"), "{stderr}");
    assert!(!stderr.contains("SIG_CREATED"));
}

#[test]
fn an_unreachable_fulcio_is_named_in_one_line() {
    let t = token("t@example.com");
    let (code, stdout, stderr) = sign_direct(&[
        ("SIGSTORE_ID_TOKEN", &t),
        ("GITSIGN_FULCIO_URL", "http://127.0.0.1:9"),
    ]);
    assert_eq!((code, stdout.is_empty()), (1, true));
    assert!(
        failure_line(&stderr)
            .starts_with("gitsign: Fulcio at http://127.0.0.1:9 cannot be reached"),
        "{stderr}"
    );
}

#[test]
fn fulcio_errors_and_garbage_fail_the_commit_naming_fulcio() {
    let t = token("t@example.com");
    let cases = [
        (
            Some((500, r#"{"code":13,"message":"internal"}"#)),
            "refused the certificate request: HTTP 500 (internal)",
        ),
        (Some((401, "")), "refused the certificate request: HTTP 401"),
        (
            Some((201, "<html>")),
            "sent an unreadable certificate response",
        ),
        (
            Some((201, r#"{"signedCertificateDetachedSct":{}}"#)),
            "detached SCT",
        ),
        (
            Some((
                201,
                r#"{"signedCertificateEmbeddedSct":{"chain":{"certificates":["-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"]}}}"#,
            )),
            "issued a certificate that does not check out",
        ),
    ];
    let r = Repo::new();
    for (answer, expected) in cases {
        let url = serve(answer);
        let err = r.failed_commit(&[("SIGSTORE_ID_TOKEN", &t), ("GITSIGN_FULCIO_URL", &url)]);
        let (code, stdout, stderr) =
            sign_direct(&[("SIGSTORE_ID_TOKEN", &t), ("GITSIGN_FULCIO_URL", &url)]);
        assert_eq!((code, stdout.is_empty()), (1, true));
        let line = failure_line(&stderr);
        assert!(
            line.starts_with(&format!("gitsign: Fulcio at {url} ")),
            "{line}"
        );
        assert!(line.contains(expected), "{line}");
        assert!(err.contains(expected), "{err}");
    }
}

#[test]
fn a_silent_fulcio_fails_within_the_timeout() {
    let t = token("t@example.com");
    let url = serve(None);
    let start = Instant::now();
    let (code, stdout, stderr) = sign_direct(&[
        ("SIGSTORE_ID_TOKEN", &t),
        ("GITSIGN_FULCIO_URL", &url),
        ("GITSIGN_REKOR_TIMEOUT", "1"),
    ]);
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!((code, stdout.is_empty()), (1, true));
    assert!(
        failure_line(&stderr).contains("did not answer the certificate request within 1s"),
        "{stderr}"
    );
}

#[test]
fn match_committer_refuses_another_identity_before_any_request() {
    let t = token("someone@else.example");
    let r = Repo::new();
    // Fulcio is a closed port: the refusal must come first.
    let err = r.failed_commit(&[
        ("SIGSTORE_ID_TOKEN", &t),
        ("GITSIGN_FULCIO_URL", "http://127.0.0.1:9"),
        ("GITSIGN_MATCH_COMMITTER", "true"),
    ]);
    assert!(err.contains("gitsign.matchCommitter"), "{err}");
    assert!(err.contains("\"t@example.com\""), "{err}");
}

#[test]
fn unsupported_rekor_settings_are_refused_before_any_request() {
    let t = token("t@example.com");
    for (var, value, says) in [
        (
            "GITSIGN_REKOR_MODE",
            "sometimes",
            "gitsign.rekorMode must be online or offline",
        ),
        (
            "GITSIGN_REKOR_VERSION",
            "3",
            "gitsign.rekorVersion must be 1 or 2, not \"3\"",
        ),
    ] {
        // A Fulcio that would fail the test if asked.
        let url = serve(Some((500, "{}")));
        let (code, stdout, stderr) = sign_direct(&[
            ("SIGSTORE_ID_TOKEN", &t),
            ("GITSIGN_FULCIO_URL", &url),
            (var, value),
        ]);
        assert_eq!((code, stdout.is_empty()), (2, true), "{stderr}");
        let line = failure_line(&stderr);
        assert!(line.contains(says), "{line}");
    }
}

#[test]
fn the_log_file_gets_the_failure_line_and_never_the_token() {
    let t = token("t@example.com");
    let url = serve(Some((503, r#"{"message":"down"}"#)));
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("gitsign.log");
    let (code, _, stderr) = sign_direct(&[
        ("SIGSTORE_ID_TOKEN", &t),
        ("GITSIGN_FULCIO_URL", &url),
        ("GITSIGN_LOG", log.to_str().unwrap()),
    ]);
    assert_eq!(code, 1);
    let logged = std::fs::read_to_string(&log).unwrap();
    let line = failure_line(&stderr);
    assert!(logged.contains(line), "{logged}");
    assert!(line.contains("HTTP 503 (down)"), "{line}");
    let payload = t.split('.').nth(1).unwrap();
    assert!(!logged.contains(payload) && !stderr.contains(payload));
}
