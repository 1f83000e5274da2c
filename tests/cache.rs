//! The credential cache end to end: a real `gitsign-credential-cache` agent on a Unix socket,
//! real `git commit -S` runs signing through it against the local Sigstore stack, the
//! stack's `/stats` counting sign-ins (tokens) and certificates.

mod common;

#[path = "common/stack.rs"]
mod stack;

#[path = "common/signing.rs"]
mod signing;

use std::io::{Read as _, Write as _};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, text};
use credential_cache::client::{Client, ClientError};
use credential_cache::protocol::{self, ErrorCode, Request, Response};
use signing::Signing;
use stack::Stack;

fn agent_binary() -> PathBuf {
    common::workspace_binary("gitsign-credential-cache", "gitsign-credential-cache")
}

/// A running agent; killed when dropped.
struct Agent {
    child: Child,
    socket: PathBuf,
    log: PathBuf,
    _logs: tempfile::TempDir,
}

impl Agent {
    /// `gitsign-credential-cache --socket SOCKET`, stderr to `SOCKET.log`.
    fn start(socket: &Path) -> Agent {
        let mut c = Command::new(agent_binary());
        c.arg("--socket").arg(socket);
        Agent::spawn(c, socket)
    }

    fn spawn(mut c: Command, socket: &Path) -> Agent {
        let logs = tempfile::tempdir().unwrap();
        let log = logs.path().join("agent.log");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = c
            .env_clear()
            .stdout(Stdio::null())
            .stderr(f)
            .spawn()
            .unwrap();
        let a = Agent {
            child,
            socket: socket.to_path_buf(),
            log,
            _logs: logs,
        };
        a.wait_until_serving();
        a
    }

    fn wait_until_serving(&self) {
        let t = Instant::now();
        // A socket handed over by a parent accepts before the agent runs: wait for its word.
        // (systemd-socket-activate starts the agent only on the first connection.)
        while Client::connect(&self.socket).is_err() || !self.log().contains("serving") {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "the agent did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A repository signing through the browser flow (each sign-in mints one token at the
/// stack's issuer), with an agent socket in a private directory of its own.
fn browser(flags: &[&str]) -> (Signing, PathBuf) {
    let stack = Stack::start_with(flags);
    let env: Vec<(String, String)> = stack
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let s = Signing::on(stack, env);
    let socket = s.s.dir.path().join("agent/cache.sock");
    (s, socket)
}

fn counts(s: &Signing) -> (u64, u64) {
    let st = s.stack.stats();
    (
        st["tokens"].as_u64().unwrap(),
        st["certificates"].as_u64().unwrap(),
    )
}

/// Commits with the agent (or with the cache off); returns the id and what gitsign said
/// (git shows none of it on success: it comes from `GITSIGN_LOG`).
fn commit_with(s: &Signing, agent: Option<&Agent>, msg: &str) -> (String, String) {
    let socket;
    let log = s.s.dir.path().join("gitsign.log");
    let _ = std::fs::remove_file(&log);
    let log_s = log.display().to_string();
    let mut extra: Vec<(&str, &str)> = vec![("GITSIGN_LOG", &log_s)];
    match agent {
        Some(a) => {
            socket = a.socket.display().to_string();
            extra.push(("GITSIGN_CREDENTIAL_CACHE", &socket));
        }
        None => extra.push(("GITSIGN_CREDENTIAL_CACHE_MODE", "off")),
    }
    s.ok(&["commit", "-S", "--allow-empty", "-q", "-m", msg], &extra);
    let id = text(&s.git(&["rev-parse", "HEAD"]).stdout)
        .trim()
        .to_string();
    (id, std::fs::read_to_string(&log).unwrap_or_default())
}

fn verify_json(s: &Signing, rev: &str) -> serde_json::Value {
    let out = s.gitsign(&[
        "verify",
        rev,
        "--certificate-identity",
        s.stack.identity(),
        "--certificate-oidc-issuer",
        s.stack.issuer(),
        "--output",
        "json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every commit in `range` is signed and verifies through git (`%G?` = G).
fn all_good(s: &Signing, range: &str, n: usize) {
    let out = s.ok(&["log", "--format=%G? %H", range], &[]);
    let lines: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), n, "{lines:?}");
    for l in &lines {
        assert!(l.starts_with("G "), "{l}: {}", text(&out.stderr));
    }
}

fn rfc3339(v: &serde_json::Value) -> i64 {
    gitsign::core::time::parse_rfc3339(v.as_str().unwrap()).unwrap()
}

#[test]
fn thirty_commits_sign_in_once_with_the_cache_and_thirty_times_without() {
    let (s, socket) = browser(&[]);
    let agent = Agent::start(&socket);
    let before = counts(&s);
    for i in 0..30 {
        commit_with(&s, Some(&agent), &format!("cached {i}"));
    }
    assert_eq!(
        counts(&s),
        (before.0 + 1, before.1 + 1),
        "one sign-in, one certificate"
    );
    all_good(&s, "HEAD~30..HEAD", 30);
    assert!(s.verify_with_gitsign("verify", "HEAD").status.success());
    let list = s
        .command(BIN, &[agent.env_ref()])
        .args(["credentials", "list"])
        .output()
        .unwrap();
    let listed = text(&list.stdout);
    assert!(listed.contains(s.stack.identity()), "{listed}");
    assert!(listed.contains("signatures 30"), "{listed}");

    let before = counts(&s);
    for i in 0..30 {
        commit_with(&s, None, &format!("uncached {i}"));
    }
    assert_eq!(counts(&s), (before.0 + 30, before.1 + 30));
    all_good(&s, "HEAD~30..HEAD", 30);
}

impl Agent {
    fn env_ref(&self) -> (&str, &str) {
        ("GITSIGN_CREDENTIAL_CACHE", self.socket.to_str().unwrap())
    }
}

#[test]
fn a_rebase_that_signs_twenty_commits_signs_in_once() {
    let (s, socket) = browser(&[]);
    let agent = Agent::start(&socket);
    for i in 0..20 {
        std::fs::write(s.s.repo().join("file"), format!("{i}\n")).unwrap();
        s.ok(&["add", "file"], &[]);
        s.ok(&["commit", "-q", "-m", &format!("c{i}")], &[]);
    }
    let before = counts(&s);
    s.ok(
        &[
            "rebase",
            "-q",
            "--exec",
            "git commit --amend --no-edit -q -S",
            "HEAD~20",
        ],
        &[agent.env_ref()],
    );
    assert_eq!(counts(&s), (before.0 + 1, before.1 + 1));
    all_good(&s, "HEAD~20..HEAD", 20);
}

#[test]
fn twenty_concurrent_signers_in_separate_repositories_share_one_certificate() {
    let (s, socket) = browser(&[]);
    let agent = Agent::start(&socket);
    let repos: Vec<common::Scratch> = (0..20).map(|_| common::Scratch::new()).collect();
    let program = format!("gpg.x509.program={BIN}");
    let before = counts(&s);
    let children: Vec<Child> = repos
        .iter()
        .map(|r| {
            let mut c = r.command("git", &r.repo());
            for (k, v) in &s.env {
                c.env(k, v);
            }
            c.env("GIT_COMMITTER_EMAIL", s.stack.identity())
                .env("GIT_AUTHOR_EMAIL", s.stack.identity())
                .env("GITSIGN_CREDENTIAL_CACHE", &agent.socket)
                .args(["-c", "gpg.format=x509", "-c", &program])
                .args(["commit", "-S", "--allow-empty", "-q", "-m", "parallel"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    assert_eq!(counts(&s), (before.0 + 1, before.1 + 1));
    for r in &repos {
        let out = r.git(&["log", "--format=%G?", "-1"], &r.repo());
        // Verification needs the stack's trust root: use the signing environment.
        let mut c = r.command("git", &r.repo());
        for (k, v) in &s.env {
            c.env(k, v);
        }
        let v = c
            .args(["-c", &program, "verify-commit", "HEAD"])
            .output()
            .unwrap();
        assert!(
            v.status.success(),
            "{}{}",
            text(&out.stdout),
            text(&v.stderr)
        );
    }
}

#[test]
fn online_mode_commits_sharing_a_certificate_resolve_to_their_own_entries() {
    let (s, socket) = browser(&[]);
    let agent = Agent::start(&socket);
    let online = [agent.env_ref(), ("GITSIGN_REKOR_MODE", "online")];
    let mut ids = Vec::new();
    for i in 0..4 {
        s.ok(
            &[
                "commit",
                "-S",
                "--allow-empty",
                "-q",
                "-m",
                &format!("online {i}"),
            ],
            &online,
        );
        ids.push(
            text(&s.git(&["rev-parse", "HEAD"]).stdout)
                .trim()
                .to_string(),
        );
    }
    let mut indexes = Vec::new();
    let mut certs = Vec::new();
    for id in &ids {
        let v = verify_json(&s, id);
        assert_eq!(v["tlog"]["source"], "online", "{v}");
        indexes.push(v["tlog"]["log_index"].as_u64().unwrap());
        certs.push(v["certificate"]["sha1_fingerprint"].clone());
    }
    assert!(certs.windows(2).all(|w| w[0] == w[1]), "one certificate");
    let mut unique = indexes.clone();
    unique.dedup();
    assert_eq!(
        unique.len(),
        4,
        "each commit has its own entry: {indexes:?}"
    );
}

#[test]
fn signing_across_an_expiry_signs_in_again_once_and_never_with_a_nearly_expired_certificate() {
    // Certificates live 70 s: usable for 10 s before the 60 s margin.
    let (s, socket) = browser(&["--cert-lifetime", "70"]);
    let agent = Agent::start(&socket);
    let t0 = counts(&s);
    let (a, _) = commit_with(&s, Some(&agent), "first");
    let (b, _) = commit_with(&s, Some(&agent), "second, same certificate");
    assert_eq!(counts(&s), (t0.0 + 1, t0.1 + 1));
    let va = verify_json(&s, &a);
    let not_after = rfc3339(&va["certificate"]["not_after"]);
    // The agent evicts the entry on time, before any request asks.
    let wait = not_after - 60 - gitsign::io::oidc::unix_now() as i64;
    std::thread::sleep(Duration::from_millis((wait.max(0) as u64) * 1000 + 1500));
    assert!(
        agent.log().contains("evicted the credential"),
        "{}",
        agent.log()
    );
    let (c, _) = commit_with(&s, Some(&agent), "third, after the margin");
    let (d, _) = commit_with(&s, Some(&agent), "fourth");
    assert_eq!(counts(&s), (t0.0 + 2, t0.1 + 2), "exactly one more sign-in");
    for id in [&a, &b, &c, &d] {
        let v = verify_json(&s, id);
        let left = rfc3339(&v["certificate"]["not_after"]) - rfc3339(&v["tlog"]["integrated_time"]);
        assert!(
            left >= 59,
            "{id} was logged {left} s before its certificate expired"
        );
    }
    assert_ne!(
        verify_json(&s, &b)["certificate"]["sha1_fingerprint"],
        verify_json(&s, &c)["certificate"]["sha1_fingerprint"]
    );
}

#[test]
fn a_killed_agent_costs_one_sign_in_and_a_restarted_one_replaces_its_socket() {
    let (s, socket) = browser(&[]);
    let mut agent = Agent::start(&socket);
    commit_with(&s, Some(&agent), "cached");
    let t0 = counts(&s);
    agent.child.kill().unwrap();
    agent.child.wait().unwrap();
    assert!(socket.exists(), "SIGKILL leaves the socket behind");
    let (_, stderr) = commit_with(&s, Some(&agent), "agent dead");
    assert!(
        stderr.contains("gitsign: credential cache not used (no credential cache at"),
        "{stderr}"
    );
    assert_eq!(counts(&s).0, t0.0 + 1);
    all_good(&s, "HEAD~1..HEAD", 1);

    // A new agent replaces the dead socket and serves.
    let restarted = Agent::start(&socket);
    commit_with(&s, Some(&restarted), "new agent: sign in once");
    commit_with(&s, Some(&restarted), "new agent: cached");
    assert_eq!(counts(&s).0, t0.0 + 2);

    // A second agent beside a live one refuses to start and leaves it alone.
    let second = Command::new(agent_binary())
        .arg("--socket")
        .arg(&socket)
        .env_clear()
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(
        text(&second.stderr).contains("already serving"),
        "{}",
        text(&second.stderr)
    );
    commit_with(&s, Some(&restarted), "still served");
    assert_eq!(counts(&s).0, t0.0 + 2);
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = (body.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(body);
    f
}

fn reply(stream: &mut UnixStream) -> Response {
    protocol::decode(&protocol::read_frame(stream).unwrap()).unwrap()
}

#[test]
fn thousands_of_bad_frames_then_signing_works() {
    let (s, socket) = browser(&[]);
    let agent = Agent::start(&socket);
    commit_with(&s, Some(&agent), "cached before the flood");
    let t0 = counts(&s);
    let mut stream = UnixStream::connect(&socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let bodies: [&[u8]; 6] = [
        b"not json at all",
        b"[]",
        br#"{"v":1}"#,
        br#"{"v":1,"op":"get"}"#,
        br#"{"v":1,"op":"sign","handle":1,"message":"***"}"#,
        br#"{"v":1,"op":"hello","private_key":"AAAA"}"#,
    ];
    for i in 0..3000 {
        stream.write_all(&frame(bodies[i % bodies.len()])).unwrap();
        match reply(&mut stream) {
            Response::Error { code, .. } => assert_eq!(code, ErrorCode::Malformed),
            r => panic!("{r:?}"),
        }
    }
    for v in [0, 2, 99] {
        let body = format!(r#"{{"v":{v},"op":"hello"}}"#);
        stream.write_all(&frame(body.as_bytes())).unwrap();
        assert!(matches!(
            reply(&mut stream),
            Response::Error {
                code: ErrorCode::UnsupportedVersion,
                ..
            }
        ));
    }
    // A handle nobody gave this connection signs nothing.
    stream
        .write_all(&protocol::encode(&Request::Sign {
            handle: 1,
            message: protocol::Bytes(b"x".to_vec()),
        }))
        .unwrap();
    assert!(matches!(
        reply(&mut stream),
        Response::Error {
            code: ErrorCode::UnknownHandle,
            ..
        }
    ));
    // The same connection still speaks the protocol.
    stream
        .write_all(&protocol::encode(&Request::Hello {}))
        .unwrap();
    assert!(matches!(
        reply(&mut stream),
        Response::Hello { version: 1, .. }
    ));
    // Oversize frames: an error, then the connection is closed.
    for _ in 0..50 {
        let mut c = UnixStream::connect(&socket).unwrap();
        c.write_all(&u32::MAX.to_be_bytes()).unwrap();
        assert!(matches!(
            reply(&mut c),
            Response::Error {
                code: ErrorCode::Oversize,
                ..
            }
        ));
        assert_eq!(c.read(&mut [0u8; 1]).unwrap(), 0);
    }
    // Truncated frames and abrupt hang-ups.
    for i in 0..200 {
        let mut c = UnixStream::connect(&socket).unwrap();
        let f = protocol::encode(&Request::Hello {});
        c.write_all(&f[..i % f.len()]).unwrap();
    }
    commit_with(&s, Some(&agent), "after the flood");
    assert_eq!(counts(&s), t0, "the cached credential still serves");
    all_good(&s, "HEAD~2..HEAD", 2);
}

#[test]
fn a_cache_that_answers_garbage_costs_one_line_and_never_the_signature() {
    let (s, socket) = browser(&[]);
    std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
    let listener = UnixListener::bind(&socket).unwrap();
    let server = std::thread::spawn(move || {
        for stream in listener.incoming().take(1) {
            let mut stream = stream.unwrap();
            let _ = protocol::read_frame(&mut stream);
            let _ = stream.write_all(&frame(br#"{"v":1,"re":"surprise"}"#));
        }
    });
    let log = s.s.dir.path().join("gitsign.log");
    s.ok(
        &[
            "commit",
            "-S",
            "--allow-empty",
            "-q",
            "-m",
            "despite the cache",
        ],
        &[
            ("GITSIGN_CREDENTIAL_CACHE", socket.to_str().unwrap()),
            ("GITSIGN_LOG", log.to_str().unwrap()),
        ],
    );
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(
        stderr.contains("gitsign: credential cache not used ("),
        "{stderr}"
    );
    server.join().unwrap();
    all_good(&s, "HEAD~1..HEAD", 1);
}

#[test]
fn the_directory_and_socket_are_private_from_their_first_instant_even_under_umask_000() {
    let d = tempfile::tempdir().unwrap();
    let socket = d.path().join("fresh/cache.sock");
    let dir = socket.parent().unwrap().to_path_buf();
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg("umask 000; exec \"$0\" --socket \"$1\"")
        .arg(agent_binary())
        .arg(&socket);
    // Watch for the first moment each appears, without sleeping.
    let watcher = {
        let (dir, socket) = (dir.clone(), socket.clone());
        std::thread::spawn(move || {
            let (mut dir_mode, mut sock_mode) = (None, None);
            let t = Instant::now();
            while sock_mode.is_none() && t.elapsed() < Duration::from_secs(20) {
                if dir_mode.is_none()
                    && let Ok(m) = std::fs::metadata(&dir)
                {
                    dir_mode = Some(m.mode() & 0o777);
                }
                if let Ok(m) = std::fs::symlink_metadata(&socket) {
                    sock_mode = Some(m.mode() & 0o777);
                    // Both may appear between two looks: the directory is then first seen now.
                    if dir_mode.is_none() {
                        dir_mode = std::fs::metadata(&dir).ok().map(|m| m.mode() & 0o777);
                    }
                }
            }
            (dir_mode, sock_mode)
        })
    };
    let agent = Agent::spawn(c, &socket);
    let (dir_mode, sock_mode) = watcher.join().unwrap();
    assert_eq!(dir_mode, Some(0o700), "directory when first seen");
    let sock_mode = sock_mode.expect("socket seen");
    assert_eq!(
        sock_mode & 0o077,
        0,
        "socket mode {sock_mode:o} when first seen"
    );
    drop(agent);

    // An existing directory others can write is refused.
    let open = d.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = Command::new(agent_binary())
        .arg("--socket")
        .arg(open.join("cache.sock"))
        .env_clear()
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("writable by group or others"));
    assert!(!open.join("cache.sock").exists());
}

#[test]
fn sigterm_zeroizes_and_removes_the_socket() {
    let d = tempfile::tempdir().unwrap();
    let socket = d.path().join("a/cache.sock");
    let agent = Agent::start(&socket);
    let ok = Command::new("kill")
        .args(["-TERM", &agent.child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let t = Instant::now();
    while socket.exists() && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!socket.exists(), "{}", agent.log());
    assert!(agent.log().contains("stopped by signal"), "{}", agent.log());
}

/// The listening socket as fd 3 with `LISTEN_PID`/`LISTEN_FDS`, as systemd passes it.
fn socket_activated(listener: UnixListener, socket: &Path, extra: &[&str]) -> Agent {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg("exec 3<&0 0</dev/null; export LISTEN_PID=$$ LISTEN_FDS=1; exec \"$0\" \"$@\"")
        .arg(agent_binary())
        .args(extra)
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(listener)));
    Agent::spawn(c, socket)
}

#[test]
fn a_socket_activated_agent_serves_and_strict_activation_refuses_foreign_variables() {
    let (s, socket) = browser(&[]);
    std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
    let listener = UnixListener::bind(&socket).unwrap();
    let agent = socket_activated(listener, &socket, &["--systemd-socket-activation"]);
    assert!(agent.log().contains("serving the socket systemd passed"));
    let t0 = counts(&s);
    commit_with(&s, Some(&agent), "one");
    commit_with(&s, Some(&agent), "two");
    assert_eq!(counts(&s).1, t0.1 + 1);

    // LISTEN_PID naming another process: not ours, and with the flag an error.
    let out = Command::new(agent_binary())
        .arg("--systemd-socket-activation")
        .env_clear()
        .env("LISTEN_PID", "1")
        .env("LISTEN_FDS", "1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("LISTEN_PID=1 is not this process"));
}

#[test]
fn systemds_own_socket_activation_tool_works_with_the_agent() {
    let Ok(tool) = which("systemd-socket-activate") else {
        panic!("systemd-socket-activate is needed (Debian package systemd)");
    };
    let (s, socket) = browser(&[]);
    std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
    let mut c = Command::new(tool);
    c.arg("-l")
        .arg(&socket)
        .arg(agent_binary())
        .arg("--systemd-socket-activation");
    let agent = Agent::spawn(c, &socket);
    let t0 = counts(&s);
    commit_with(&s, Some(&agent), "one");
    commit_with(&s, Some(&agent), "two");
    assert_eq!(counts(&s).1, t0.1 + 1);
}

fn which(name: &str) -> Result<PathBuf, ()> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(())
}

/// A second local user for the peer-check tests (CI runs as root).
fn second_user() -> Option<(u32, u32)> {
    if credential_cache::socket::euid() != 0 {
        eprintln!("not root: the second-user tests need to create a user");
        return None;
    }
    let name = "gitsign-rs-peer";
    let id = |flag: &str| {
        Command::new("id")
            .args([flag, name])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| text(&o.stdout).trim().parse::<u32>().ok())
    };
    if id("-u").is_none() {
        let ok = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                name,
            ])
            .status()
            .unwrap()
            .success();
        assert!(ok || id("-u").is_some(), "useradd failed");
    }
    Some((id("-u").unwrap(), id("-g").unwrap()))
}

fn as_user(uid: u32, gid: u32, program: &Path) -> Command {
    let mut c = Command::new("setpriv");
    c.arg(format!("--reuid={uid}"))
        .arg(format!("--regid={gid}"))
        .arg("--clear-groups")
        .arg("--")
        .arg(program);
    c
}

#[test]
fn another_users_connection_is_refused_and_logged_without_secrets() {
    let Some((uid, gid)) = second_user() else {
        return;
    };
    let (s, socket) = browser(&[]);
    // A socket others can reach, as a unit with SocketMode=0666 (gitsign's own units) would
    // make: the peer check is what stands between them and the key.
    let dir = socket.parent().unwrap();
    std::fs::create_dir_all(dir).unwrap();
    for p in [s.s.dir.path(), dir] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let listener = UnixListener::bind(&socket).unwrap();
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let agent = socket_activated(listener, &socket, &[]);
    commit_with(&s, Some(&agent), "root's credential");
    let token = s.stack.token();

    let out = as_user(uid, gid, Path::new(BIN))
        .args(["credentials", "list"])
        .env_clear()
        .env("HOME", "/")
        .env("GITSIGN_CREDENTIAL_CACHE", &socket)
        .env("SIGSTORE_ID_TOKEN", &token)
        .output()
        .unwrap();
    let shown = text(&out.stdout) + &text(&out.stderr);
    assert!(!out.status.success(), "{shown}");
    assert!(shown.contains("refused"), "{shown}");
    assert!(!shown.contains(s.stack.identity()), "{shown}");
    let log = agent.log();
    assert!(
        log.contains(&format!("refused a connection from uid {uid} (pid ")),
        "{log}"
    );
    assert!(!log.contains(&token) && !log.contains("PRIVATE"), "{log}");
    // The agent still serves its own user.
    let t0 = counts(&s);
    commit_with(&s, Some(&agent), "still root's");
    assert_eq!(counts(&s), t0);
}

#[test]
fn another_user_cannot_even_reach_an_agent_in_its_private_directory() {
    let Some((uid, gid)) = second_user() else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let socket = d.path().join("private/cache.sock");
    let _agent = Agent::start(&socket);
    let out = as_user(uid, gid, Path::new(BIN))
        .args(["credentials", "list"])
        .env_clear()
        .env("HOME", "/")
        .env("GITSIGN_CREDENTIAL_CACHE", &socket)
        .output()
        .unwrap();
    let shown = text(&out.stderr);
    assert!(shown.contains("Permission denied"), "{shown}");
}

#[test]
fn the_client_library_reports_a_refusal_as_such() {
    let d = tempfile::tempdir().unwrap();
    let socket = d.path().join("c/cache.sock");
    let _agent = Agent::start(&socket);
    let mut c = Client::connect(&socket).unwrap();
    assert!(c.hello().unwrap() > 0);
    let e = c.sign(42, b"x").unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Agent {
                code: ErrorCode::UnknownHandle,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn keyring_mode_signs_in_once_for_many_commits() {
    let (s, _) = browser(&[]);
    let mode = [("GITSIGN_CREDENTIAL_CACHE_MODE", "system")];
    let t0 = counts(&s);
    for i in 0..5 {
        s.ok(
            &[
                "commit",
                "-S",
                "--allow-empty",
                "-q",
                "-m",
                &format!("keyring {i}"),
            ],
            &mode,
        );
    }
    assert_eq!(counts(&s), (t0.0 + 1, t0.1 + 1));
    all_good(&s, "HEAD~5..HEAD", 5);
    let list = s
        .command(BIN, &mode)
        .args(["credentials", "list"])
        .output()
        .unwrap();
    assert!(
        text(&list.stdout).contains(s.stack.identity()),
        "{}",
        text(&list.stderr)
    );
    let clear = s
        .command(BIN, &mode)
        .args(["credentials", "clear"])
        .output()
        .unwrap();
    assert!(clear.status.success());
    s.ok(
        &["commit", "-S", "--allow-empty", "-q", "-m", "after clear"],
        &mode,
    );
    assert_eq!(counts(&s).0, t0.0 + 2);
    let clear = s
        .command(BIN, &mode)
        .args(["credentials", "clear"])
        .output()
        .unwrap();
    assert!(clear.status.success());
}

#[test]
fn credentials_clear_empties_the_agent_and_the_next_commit_signs_in() {
    let (s, socket) = browser(&[]);
    let agent = Agent::start(&socket);
    commit_with(&s, Some(&agent), "one");
    let out = s
        .command(BIN, &[agent.env_ref()])
        .args(["credentials", "clear"])
        .output()
        .unwrap();
    assert!(
        text(&out.stderr).contains("cleared 1 credential"),
        "{}",
        text(&out.stderr)
    );
    let t0 = counts(&s);
    commit_with(&s, Some(&agent), "two");
    assert_eq!(counts(&s).0, t0.0 + 1);
}

#[test]
fn the_agent_locks_its_key_pages_and_cannot_dump_core() {
    let (s, socket) = browser(&[]);
    let agent = Agent::start(&socket);
    commit_with(&s, Some(&agent), "a key in the agent");
    let proc_dir = PathBuf::from(format!("/proc/{}", agent.child.id()));
    let limits = std::fs::read_to_string(proc_dir.join("limits")).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    assert!(
        core.split_whitespace().skip(4).take(2).all(|v| v == "0"),
        "{core}"
    );
    let status = std::fs::read_to_string(proc_dir.join("status")).unwrap();
    let locked: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmLck:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    assert!(locked >= 4, "the key page is not locked: VmLck {locked} kB");
}
