//! Every token source, driven by git: `git commit -S` / `git tag -s` run gitsign-rs against
//! the local Sigstore stack with the ID token from GitHub Actions' token service (a loopback
//! stand-in that hands out tokens the stack's issuer minted), from a token file, and from the
//! device flow; each source chosen explicitly (`GITSIGN_TOKEN_PROVIDER`, `git -c
//! gitsign.tokenProvider=...`) and, where gitsign detects it, implicitly. The results verify
//! with `git verify-commit` / `verify-tag` and `gitsign verify` as the stack's identity; a
//! failing source fails the signing with one line naming the step and leaves the repository
//! as it was.

mod common;
#[path = "common/signing.rs"]
mod signing;
#[path = "common/stack.rs"]
mod stack;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

use common::text;
use signing::Signing;
use stack::Stack;

/// The bearer our stand-in for GitHub's token service accepts.
const REQUEST_TOKEN: &str = "actions-request-token-1";

/// A stand-in for GitHub Actions' OIDC token service on 127.0.0.1: `GET` with
/// `Authorization: bearer REQUEST_TOKEN` and `audience=sigstore` answers `{"value": JWT}`,
/// the JWT freshly minted by the stack's issuer; a wrong bearer gets 401, a missing or other
/// audience 400. It records every request line.
struct ActionsService {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl ActionsService {
    fn start(issuer: &str) -> ActionsService {
        ActionsService::minting(issuer, serde_json::json!({}))
    }

    /// Handing out tokens with these claims (see the stack's `/test/token`).
    fn minting(issuer: &str, claims: serde_json::Value) -> ActionsService {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        let mint = format!("{issuer}/test/token");
        std::thread::spawn(move || {
            let client = reqwest::blocking::Client::new();
            for stream in listener.incoming().flatten() {
                answer_actions_request(stream, &client, &mint, &claims, &seen);
            }
        });
        ActionsService {
            url: format!("http://127.0.0.1:{port}/_apis/distributedtask/idtoken?api-version=2.0"),
            requests,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn answer_actions_request(
    mut stream: TcpStream,
    client: &reqwest::blocking::Client,
    mint: &str,
    claims: &serde_json::Value,
    seen: &Mutex<Vec<String>>,
) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let request_line = head.lines().next().unwrap_or_default().to_string();
    seen.lock().unwrap().push(request_line.clone());
    let target = request_line.split(' ').nth(1).unwrap_or_default();
    let url = reqwest::Url::parse("http://x")
        .unwrap()
        .join(target)
        .unwrap();
    let audiences: Vec<String> = url
        .query_pairs()
        .filter(|(k, _)| k == "audience")
        .map(|(_, v)| v.into_owned())
        .collect();
    let bearer_ok = head.lines().any(|l| {
        l.split_once(':').is_some_and(|(name, value)| {
            name.eq_ignore_ascii_case("authorization")
                && value.trim().split_once(' ').is_some_and(|(scheme, token)| {
                    scheme.eq_ignore_ascii_case("bearer") && token == REQUEST_TOKEN
                })
        })
    });
    let (status, body) = if !request_line.starts_with("GET ") {
        (405, r#"{"message":"GET only"}"#.to_string())
    } else if !bearer_ok {
        (401, r#"{"message":"Bad credentials"}"#.to_string())
    } else if audiences != ["sigstore"] {
        (
            400,
            r#"{"message":"audience must be sigstore"}"#.to_string(),
        )
    } else {
        let minted: serde_json::Value = client
            .post(mint)
            .header("content-type", "application/json")
            .body(claims.to_string())
            .send()
            .and_then(|r| r.bytes())
            .map(|b| serde_json::from_slice(&b).unwrap())
            .unwrap();
        let token = minted["id_token"].as_str().unwrap();
        (200, serde_json::json!({ "value": token }).to_string())
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// A repository signing against `stack` with no token in the environment: the source is up
/// to each test.
fn without_token(stack: Stack, extra: &[(&str, &str)]) -> Signing {
    let mut env = stack.services_env();
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Signing::on(stack, env)
}

fn commit_args(msg: &str) -> Vec<&str> {
    vec!["commit", "-S", "--allow-empty", "-q", "-m", msg]
}

/// `git commit -S` with `args` in front (e.g. `-c gitsign.tokenProvider=...`): the new HEAD.
fn signed_commit(r: &Signing, config: &[&str], extra: &[(&str, &str)], msg: &str) -> String {
    let mut args = config.to_vec();
    args.extend(commit_args(msg));
    r.ok(&args, extra);
    let head = text(&r.git(&["rev-parse", "HEAD"]).stdout);
    head.trim().to_string()
}

fn signed_tag(r: &Signing, config: &[&str], extra: &[(&str, &str)], name: &str) {
    let mut args = config.to_vec();
    args.extend(["tag", "-s", name, "-m", "release"]);
    r.ok(&args, extra);
}

/// git and gitsign (as the stack's identity and issuer) accept the commit.
fn commit_verifies(r: &Signing, id: &str) {
    let out = r.git(&["verify-commit", id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = r.verify_with_gitsign("verify", id);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = r.git(&["log", "-1", "--format=%G? %GS", id]);
    assert_eq!(text(&out.stdout), format!("G {}\n", r.stack.identity()));
}

fn tag_verifies(r: &Signing, name: &str) {
    let out = r.git(&["verify-tag", name]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = r.verify_with_gitsign("verify-tag", name);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// A signing that must fail before any certificate is asked for: the repository is as it
/// was ([`Signing::failed`]), and gitsign said exactly one line, which is returned.
fn fails_with_one_line(r: &Signing, args: &[&str], extra: &[(&str, &str)]) -> String {
    let certificates = r.stack.stats()["certificates"].clone();
    let stderr = r.failed(args, extra);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("gitsign: "))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert_eq!(r.stack.stats()["certificates"], certificates, "{stderr}");
    lines[0].to_string()
}

fn with_config<'a>(config: &[&'a str], args: &[&'a str]) -> Vec<&'a str> {
    let mut all = config.to_vec();
    all.extend_from_slice(args);
    all
}

/// An expired token from the stack: a `SIGSTORE_ID_TOKEN` that must not be the one used.
fn expired(stack: &Stack) -> String {
    stack.token_with(serde_json::json!({"exp_in": -120}))
}

#[test]
fn github_actions_tokens_sign_commits_and_tags_when_detected_and_when_chosen() {
    let stack = Stack::start();
    let actions = ActionsService::start(stack.issuer());
    let r = without_token(
        stack,
        &[
            ("ACTIONS_ID_TOKEN_REQUEST_URL", &actions.url),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN),
        ],
    );

    // Detected: nothing configured, the Actions variables set.
    let id = signed_commit(&r, &[], &[], "detected");
    commit_verifies(&r, &id);
    let requests = actions.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(
        requests[0].starts_with(
            "GET /_apis/distributedtask/idtoken?api-version=2.0&audience=sigstore HTTP/1.1"
        ),
        "{requests:?}"
    );

    // Chosen, over an (expired) SIGSTORE_ID_TOKEN that detection would have preferred.
    let old = expired(&r.stack);
    let env_token = [("SIGSTORE_ID_TOKEN", old.as_str())];
    let chosen = [
        ("SIGSTORE_ID_TOKEN", old.as_str()),
        ("GITSIGN_TOKEN_PROVIDER", "github-actions"),
    ];
    signed_tag(&r, &[], &chosen, "v-actions");
    tag_verifies(&r, "v-actions");
    let config = ["-c", "gitsign.tokenProvider=github-actions"];
    let id = signed_commit(&r, &config, &env_token, "chosen in git config");
    commit_verifies(&r, &id);
    assert_eq!(actions.requests().len(), 3);
    // Without the choice, the expired environment token wins and fails.
    let line = fails_with_one_line(&r, &commit_args("env"), &env_token);
    assert!(
        line.contains("the ID token from SIGSTORE_ID_TOKEN is unusable"),
        "{line}"
    );
    assert_eq!(actions.requests().len(), 3);
    assert_eq!(r.stack.stats()["certificates"], 3);
}

/// Real Actions tokens carry no email: the certificate names the workflow by a URI SAN, which
/// gitsign verify matches as the identity.
#[test]
fn a_github_actions_token_without_email_signs_as_its_uri_subject() {
    let stack = Stack::start();
    let workflow = "https://github.com/octo/repo/.github/workflows/release.yml@refs/heads/main";
    let actions = ActionsService::minting(
        stack.issuer(),
        serde_json::json!({"email": "", "sub": workflow}),
    );
    let r = without_token(
        stack,
        &[
            ("ACTIONS_ID_TOKEN_REQUEST_URL", &actions.url),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN),
            ("GITSIGN_TOKEN_PROVIDER", "github-actions"),
        ],
    );
    let id = signed_commit(&r, &[], &[], "from a workflow");
    let out = r.git(&["verify-commit", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let verify = |identity: &str| {
        r.gitsign(&[
            "verify",
            &id,
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            r.stack.issuer(),
        ])
    };
    let out = verify(workflow);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = verify(r.stack.identity());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(actions.requests().len(), 1);
}

#[test]
fn a_github_actions_token_service_that_refuses_fails_the_signing_and_changes_nothing() {
    let stack = Stack::start();
    let actions = ActionsService::start(stack.issuer());
    let r = without_token(
        stack,
        &[
            ("ACTIONS_ID_TOKEN_REQUEST_URL", &actions.url),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "not-the-request-token"),
        ],
    );
    // The server is named without the query (which may carry secrets).
    let step = format!(
        "gitsign: cannot get an identity token: OIDC GitHub Actions token request: {} answered HTTP 401",
        actions.url.split_once('?').unwrap().0
    );
    // Detected, chosen in the environment, chosen in git config; commit and tag.
    let chosen = [("GITSIGN_TOKEN_PROVIDER", "github-actions")];
    let config = ["-c", "gitsign.tokenProvider=github-actions"];
    let tag = ["tag", "-s", "v-refused", "-m", "t"];
    for (args, extra) in [
        (commit_args("detected"), &[][..]),
        (tag.to_vec(), &[][..]),
        (commit_args("chosen"), &chosen[..]),
        (with_config(&config, &commit_args("config")), &[][..]),
    ] {
        let line = fails_with_one_line(&r, &args, extra);
        assert_eq!(line, step, "{args:?}");
    }
    assert_eq!(actions.requests().len(), 4);

    // A service that hands out an expired token: refused before Fulcio sees it.
    let stale = ActionsService::minting(r.stack.issuer(), serde_json::json!({"exp_in": -120}));
    let origin = stale.url.split("/_apis").next().unwrap().to_string();
    let line = fails_with_one_line(
        &r,
        &commit_args("stale"),
        &[
            ("ACTIONS_ID_TOKEN_REQUEST_URL", &stale.url),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN),
        ],
    );
    assert!(
        line.starts_with(&format!(
            "gitsign: cannot get an identity token: the ID token from GitHub Actions ({origin}) is unusable: "
        )) && line.contains("expired"),
        "{line}"
    );
    assert_eq!(stale.requests().len(), 1);

    // Chosen, but the job has no Actions variables at all: no request is made.
    let r = without_token(Stack::start(), &[]);
    let line = fails_with_one_line(&r, &commit_args("none"), &chosen);
    assert!(
        line.starts_with(
            "gitsign: cannot get an identity token: OIDC token provider github-actions is not available"
        ),
        "{line}"
    );
}

#[test]
fn token_files_sign_when_named_in_git_config_or_the_environment() {
    let stack = Stack::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("oidc-token");
    std::fs::write(&file, format!("{}\n", stack.token())).unwrap();
    let path = file.to_str().unwrap();
    let r = without_token(stack, &[]);

    // Detected: GITSIGN_TOKEN_FILE alone, then gitsign.tokenFile in the repository's config.
    let id = signed_commit(&r, &[], &[("GITSIGN_TOKEN_FILE", path)], "detected env");
    commit_verifies(&r, &id);
    r.ok(&["config", "gitsign.tokenFile", path], &[]);
    signed_tag(&r, &[], &[], "v-file");
    tag_verifies(&r, "v-file");
    r.ok(&["config", "--unset", "gitsign.tokenFile"], &[]);

    // Chosen over an expired SIGSTORE_ID_TOKEN, in the environment and in git config.
    let old = expired(&r.stack);
    let chosen = [
        ("SIGSTORE_ID_TOKEN", old.as_str()),
        ("GITSIGN_TOKEN_PROVIDER", "filesystem"),
        ("GITSIGN_TOKEN_FILE", path),
    ];
    let id = signed_commit(&r, &[], &chosen, "chosen env");
    commit_verifies(&r, &id);
    let file_config = format!("gitsign.tokenFile={path}");
    let config = ["-c", "gitsign.tokenProvider=filesystem", "-c", &file_config];
    let id = signed_commit(
        &r,
        &config,
        &[("SIGSTORE_ID_TOKEN", old.as_str())],
        "chosen config",
    );
    commit_verifies(&r, &id);
    // The file's one token served all four (plus the expired one minted here).
    assert_eq!(r.stack.stats()["tokens"], 2);
    assert_eq!(r.stack.stats()["certificates"], 4);
}

#[test]
fn a_missing_empty_or_expired_token_file_fails_the_signing_and_changes_nothing() {
    let r = without_token(Stack::start(), &[]);
    let dir = r.s.dir.path().to_path_buf();
    let missing = dir.join("missing-token");
    let empty = dir.join("empty-token");
    std::fs::write(&empty, "").unwrap();
    let old = dir.join("expired-token");
    std::fs::write(&old, expired(&r.stack)).unwrap();
    let p = |f: &Path| f.to_str().unwrap().to_string();

    let cannot_read = format!(
        "gitsign: cannot get an identity token: cannot read the ID token file {}: ",
        p(&missing)
    );
    // Detected from the environment; chosen in git config.
    let line = fails_with_one_line(
        &r,
        &commit_args("missing"),
        &[("GITSIGN_TOKEN_FILE", &p(&missing))],
    );
    assert!(line.starts_with(&cannot_read), "{line}");
    let file_config = format!("gitsign.tokenFile={}", p(&missing));
    let config = ["-c", "gitsign.tokenProvider=filesystem", "-c", &file_config];
    let line = fails_with_one_line(
        &r,
        &with_config(&config, &["tag", "-s", "v-missing", "-m", "t"]),
        &[],
    );
    assert!(line.starts_with(&cannot_read), "{line}");

    for (file, says) in [(&empty, "not a well-formed JWT"), (&old, "expired")] {
        let unusable = format!(
            "gitsign: cannot get an identity token: the ID token from {} is unusable: ",
            p(file)
        );
        for extra in [
            &[("GITSIGN_TOKEN_FILE", p(file))][..],
            &[
                ("GITSIGN_TOKEN_PROVIDER", "filesystem".to_string()),
                ("GITSIGN_TOKEN_FILE", p(file)),
            ][..],
        ] {
            let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let line = fails_with_one_line(&r, &commit_args("bad file"), &extra);
            assert!(line.starts_with(&unusable), "{line}");
            assert!(line.contains(says), "{line}");
        }
    }
}

#[test]
fn the_device_flow_signs_once_the_verification_uri_is_fetched() {
    let stack = Stack::start();
    // The stack's scripted user agent fetches the verification URI gitsign opens.
    let opener = stack.var("GITSIGN_URL_OPENER").to_string();
    let r = without_token(stack, &[]);
    let chosen = [
        ("GITSIGN_TOKEN_PROVIDER", "device"),
        ("GITSIGN_URL_OPENER", opener.as_str()),
    ];
    let id = signed_commit(&r, &[], &chosen, "device env");
    commit_verifies(&r, &id);
    assert_eq!(r.stack.stats()["tokens"], 1);

    let opener_config = format!("gitsign.urlOpener={opener}");
    let config = [
        "-c",
        "gitsign.tokenProvider=device",
        "-c",
        opener_config.as_str(),
    ];
    signed_tag(&r, &config, &[], "v-device");
    tag_verifies(&r, "v-device");
    assert_eq!(r.stack.stats()["tokens"], 2);
    assert_eq!(r.stack.stats()["certificates"], 2);
}

#[test]
fn the_device_flow_signs_against_a_stack_that_approves_at_once() {
    let r = without_token(Stack::start_with(&["--device-auto-approve"]), &[]);
    let config = ["-c", "gitsign.tokenProvider=device"];
    let id = signed_commit(&r, &config, &[], "device config");
    commit_verifies(&r, &id);
    // Chosen over a usable SIGSTORE_ID_TOKEN: the device flow mints a token of its own.
    let token = r.stack.token();
    let chosen = [
        ("GITSIGN_TOKEN_PROVIDER", "device"),
        ("SIGSTORE_ID_TOKEN", token.as_str()),
    ];
    signed_tag(&r, &[], &chosen, "v-device");
    tag_verifies(&r, "v-device");
    assert_eq!(r.stack.stats()["tokens"], 3);
    assert_eq!(r.stack.stats()["certificates"], 2);
}

#[test]
fn a_failing_device_flow_fails_the_signing_and_changes_nothing() {
    let r = without_token(Stack::start_with(&["--device-auto-approve"]), &[]);
    let issuer = r.stack.issuer().to_string();
    let chosen = [("GITSIGN_TOKEN_PROVIDER", "device")];
    let config = ["-c", "gitsign.tokenProvider=device"];

    // The issuer signs the approved grant's ID token with a key not in its JWKS.
    r.stack.fault(&issuer, "wrong-chain");
    let says = format!(
        "gitsign: cannot get an identity token: OIDC token verification: the ID token from {issuer} is invalid: "
    );
    let line = fails_with_one_line(&r, &commit_args("foreign key"), &chosen);
    assert!(line.starts_with(&says), "{line}");
    let line = fails_with_one_line(
        &r,
        &with_config(&config, &["tag", "-s", "v-foreign", "-m", "t"]),
        &[],
    );
    assert!(line.starts_with(&says), "{line}");

    // The issuer fails outright: the first step of the flow says so.
    r.stack.fault(&issuer, "status500");
    let line = fails_with_one_line(&r, &with_config(&config, &commit_args("500")), &[]);
    assert!(
        line.starts_with("gitsign: cannot get an identity token: OIDC discovery: ")
            && line.ends_with("answered HTTP 500"),
        "{line}"
    );

    // Cleared, the same configuration signs.
    r.stack.fault(&issuer, "none");
    let id = signed_commit(&r, &config, &[], "after");
    commit_verifies(&r, &id);
}
