//! Keyless signing end to end against the local Sigstore stack (`tests/sigstore-stack`):
//! git signs with gitsign-rs, and git, gitsign-rs and OpenSSL accept the result; every
//! failure of a server leaves the repository unchanged and names the step and the server.

mod common;
#[path = "common/signing.rs"]
mod signing;
#[path = "common/stack.rs"]
mod stack;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, text};
use signing::{Signing, gitsign_line};
use stack::Stack;

/// The raw commit split into payload and signature PEM (relabelled for OpenSSL).
/// `openssl cms -verify` of DIR/sig.pem over DIR/payload with DIR/ca.pem as trust.
fn openssl_cms_verify(dir: &std::path::Path) -> std::process::Output {
    Command::new("openssl")
        .args([
            "cms", "-verify", "-binary", "-inform", "PEM", "-purpose", "any",
        ])
        .args(["-no_check_time", "-out", "/dev/null"])
        .arg("-in")
        .arg(dir.join("sig.pem"))
        .arg("-content")
        .arg(dir.join("payload"))
        .arg("-CAfile")
        .arg(dir.join("ca.pem"))
        .output()
        .unwrap()
}

fn openssl_verify(r: &Signing, id: &str, kind: &str) {
    let raw = r.git(&["cat-file", kind, id]).stdout;
    let algo = gitsign::core::git::gitobj::HashAlgo::Sha1;
    let k = if kind == "tag" {
        gitsign::core::git::gitobj::ObjectKind::Tag
    } else {
        gitsign::core::git::gitobj::ObjectKind::Commit
    };
    let obj = gitsign::core::git::gitobj::split(k, &raw, algo).unwrap();
    let dir = r.s.dir.path();
    std::fs::write(dir.join("payload"), &obj.payload).unwrap();
    std::fs::write(
        dir.join("sig.pem"),
        text(&obj.signature).replace("SIGNED MESSAGE", "CMS"),
    )
    .unwrap();
    std::fs::write(dir.join("ca.pem"), r.stack.ca_pem()).unwrap();
    let out = openssl_cms_verify(dir);
    assert!(out.status.success(), "openssl: {}", text(&out.stderr));
    // And a flipped payload byte is refused.
    let mut bad = obj.payload.clone();
    bad[0] ^= 1;
    std::fs::write(dir.join("payload"), &bad).unwrap();
    let out = openssl_cms_verify(dir);
    assert!(!out.status.success(), "openssl accepted a modified payload");
}

#[test]
fn signed_commits_and_tags_verify_with_git_gitsign_and_openssl() {
    let r = Signing::new();
    let id = r.commit("first", &[]);
    let second = r.commit("second", &[]);
    assert_ne!(id, second);

    let out = r.git(&["verify-commit", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = r.verify_with_gitsign("verify", &id);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("embedded in the signature"));
    let out = r.git(&["log", "--format=%G? %GS", "-2"]);
    let expected = format!("G {}\n", r.stack.identity());
    assert_eq!(text(&out.stdout), expected.repeat(2));
    openssl_verify(&r, &id, "commit");

    r.ok(&["tag", "-s", "v1", "-m", "release"], &[]);
    let out = r.git(&["verify-tag", "v1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = r.verify_with_gitsign("verify-tag", "v1");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let tag = text(&r.git(&["rev-parse", "v1"]).stdout).trim().to_string();
    openssl_verify(&r, &tag, "tag");

    // Someone else's identity is refused by gitsign verify.
    let out = r.gitsign(&[
        "verify",
        &id,
        "--certificate-identity",
        "other@example.com",
        "--certificate-oidc-issuer",
        r.stack.issuer(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(r.stack.stats()["entries"], 3);
}

#[test]
fn sign_mode_writes_only_the_pem_block_on_stdout_and_gpg_status_on_the_status_fd() {
    let r = Signing::new();
    let mut child = r
        .command(BIN, &[])
        .args(["--status-fd=2", "-bsau", "Dev <dev@x>"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\n\nm\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pem = text(&out.stdout);
    assert!(pem.starts_with("-----BEGIN SIGNED MESSAGE-----\n"));
    assert!(pem.ends_with("-----END SIGNED MESSAGE-----\n"));
    let body: Vec<&str> = pem.lines().collect();
    assert!(body[1..body.len() - 2].iter().all(|l| l.len() == 64));
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("[GNUPG:] BEGIN_SIGNING\n"), "{stderr}");
    let created = stderr
        .lines()
        .find(|l| l.starts_with("[GNUPG:] SIG_CREATED D 19 8 00 "))
        .unwrap_or_else(|| panic!("{stderr}"));
    let fingerprint = created.rsplit(' ').next().unwrap();
    assert_eq!(fingerprint.len(), 40);
    assert_eq!(fingerprint, fingerprint.to_ascii_lowercase());

    // Another status fd (gpg's semantics): the lines go there, stderr keeps only progress.
    let status = r.s.dir.path().join("status");
    let out = r
        .command("bash", &[])
        .arg("-c")
        .arg(format!(
            "printf 'tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\\n\\nm\\n' | '{BIN}' --status-fd=3 -bsau x 3>'{}'",
            status.display()
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = std::fs::read_to_string(&status).unwrap();
    assert!(
        lines.starts_with("[GNUPG:] BEGIN_SIGNING\n[GNUPG:] SIG_CREATED D 19 8 00 "),
        "{lines}"
    );
    assert!(!text(&out.stderr).contains("[GNUPG:]"));
    assert!(text(&out.stdout).starts_with("-----BEGIN SIGNED MESSAGE-----\n"));

    // jj's argv, payload from a file.
    let file = r.s.dir.path().join("payload");
    std::fs::write(
        &file,
        b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nm\n",
    )
    .unwrap();
    let out = r
        .command(BIN, &[])
        .args(["-abu", "Dev <dev@x>"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("-----BEGIN SIGNED MESSAGE-----\n"));
}

#[test]
fn online_mode_logs_the_commit_id_and_embeds_nothing() {
    let r = Signing::new();
    let online = [("GITSIGN_REKOR_MODE", "online")];
    let id = r.commit("online", &online);
    r.ok(&["tag", "-s", "v-online", "-m", "t"], &online);
    let out = r.verify_with_gitsign("verify", &id);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("found online"),
        "{}",
        text(&out.stderr)
    );
    let out = r.verify_with_gitsign("verify-tag", "v-online");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = r.git(&["verify-commit", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // No entry inside: a bundle cannot be made, and the log is the only proof.
    let out = r.gitsign(&["export-bundle", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("online mode"));
    assert_eq!(r.stack.stats()["entries"], 2);
}

#[test]
fn export_bundle_writes_a_v03_bundle_of_the_embedded_entry() {
    let r = Signing::new();
    let id = r.commit("bundle", &[]);
    let out = r.gitsign(&["export-bundle", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let b: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        b["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    let entry = &b["verificationMaterial"]["tlogEntries"][0];
    assert_eq!(entry["logIndex"], "0");
    assert!(entry["canonicalizedBody"].is_string());
    assert!(b["messageSignature"]["signature"].is_string());
    r.ok(&["tag", "-s", "vb", "-m", "t"], &[]);
    let out = r.gitsign(&["export-bundle", "--tag", "vb"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn match_committer_signs_as_the_committer_and_refuses_anyone_else() {
    let r = Signing::new();
    let mc = [("GITSIGN_MATCH_COMMITTER", "true")];
    r.commit("mine", &mc);
    let err = r.failed(
        &["commit", "-S", "--allow-empty", "-m", "theirs"],
        &[
            ("GITSIGN_MATCH_COMMITTER", "true"),
            ("GIT_COMMITTER_EMAIL", "someone@else.example"),
        ],
    );
    assert!(err.contains("gitsign.matchCommitter"), "{err}");
    assert_eq!(r.stack.stats()["certificates"], 1);
}

#[test]
fn tokens_that_fulcio_or_the_token_check_refuse_fail_the_commit() {
    let r = Signing::new();
    // Fulcio refuses a subject-only token whose subject is not a URI.
    let token = r
        .stack
        .token_with(serde_json::json!({"email": "", "sub": "not-an-email"}));
    let err = r.failed(
        &["commit", "-S", "--allow-empty", "-m", "x"],
        &[("SIGSTORE_ID_TOKEN", &token)],
    );
    let line = gitsign_line(&err);
    assert!(
        line.starts_with(&format!("gitsign: Fulcio at {} refused", r.stack.fulcio())),
        "{line}"
    );
    assert!(line.contains("HTTP 400"), "{line}");
    // An expired token never leaves the machine.
    let token = r.stack.token_with(serde_json::json!({"exp_in": -120}));
    let err = r.failed(
        &["commit", "-S", "--allow-empty", "-m", "x"],
        &[("SIGSTORE_ID_TOKEN", &token)],
    );
    assert!(
        gitsign_line(&err).starts_with("gitsign: cannot get an identity token"),
        "{err}"
    );
    assert_eq!(r.stack.stats()["certificates"], 0);
}

/// Every fault of one service fails `git commit -S` and `git tag -s`, names the server, and
/// leaves the repository as it was; the next signature after clearing the fault succeeds.
fn faults_fail_cleanly(service: &str) {
    let r = Signing::new();
    r.commit("base", &[]);
    let url = match service {
        "fulcio" => r.stack.fulcio().to_string(),
        _ => r.stack.rekor().to_string(),
    };
    let name = if service == "fulcio" {
        "Fulcio"
    } else {
        "Rekor"
    };
    let timeout = [("GITSIGN_REKOR_TIMEOUT", "2")];
    let mut faults = vec![
        ("status500", "HTTP 500"),
        ("garbage", "unreadable"),
        ("wrong-chain", "does not check out"),
        ("slow", "within 2s"),
    ];
    if service == "fulcio" {
        faults.push(("wrong-key", "the certificate is not for our key"));
        faults.push((
            "wrong-identity",
            "the certificate is for \"someone-else@gitsign-rs.test\"",
        ));
    } else {
        faults.push(("wrong-entry", "the logged entry is not the one we sent"));
    }
    for (mode, says) in faults {
        r.stack.fault(&url, mode);
        for args in [
            &["commit", "-S", "--allow-empty", "-m", "faulty"][..],
            &["tag", "-s", "faulty", "-m", "t"][..],
        ] {
            let start = Instant::now();
            let err = r.failed(args, &timeout);
            assert!(start.elapsed() < Duration::from_secs(20), "{mode}");
            let line = gitsign_line(&err);
            assert!(line.contains(&format!("{name} at {url}")), "{mode}: {line}");
            assert!(line.contains(says), "{mode}: {line}");
        }
        if service == "rekor" {
            // Online mode fails the same way.
            let err = r.failed(
                &["commit", "-S", "--allow-empty", "-m", "faulty"],
                &[
                    ("GITSIGN_REKOR_TIMEOUT", "2"),
                    ("GITSIGN_REKOR_MODE", "online"),
                ],
            );
            assert!(gitsign_line(&err).contains(says), "{mode} online: {err}");
        }
    }
    r.stack.fault(&url, "none");
    r.commit("after", &[]);
}

#[test]
fn fulcio_failures_leave_the_repository_unchanged() {
    faults_fail_cleanly("fulcio");
}

#[test]
fn rekor_failures_leave_the_repository_unchanged() {
    faults_fail_cleanly("rekor");
}

#[test]
fn a_duplicate_upload_gets_the_existing_entry_after_409() {
    use gitsign::core::{asn1::pem, tlog, x509::keys::sha256};
    use gitsign::io::{fulcio::FulcioClient, key::EphemeralKey, rekor::RekorClient};
    let stack = Stack::start();
    let key = EphemeralKey::generate().unwrap();
    let token = gitsign::io::oidc::ambient_token(&stack.token(), now()).unwrap();
    let chain = FulcioClient::new(stack.fulcio(), Duration::from_secs(10))
        .unwrap()
        .signing_cert(&token, &key)
        .unwrap();
    let leaf_pem = pem::encode("CERTIFICATE", &chain[0]);
    let body = tlog::hashedrekord_body(&sha256(b"data"), &key.sign(b"data"), &leaf_pem);
    let rekor = RekorClient::new(stack.rekor(), Duration::from_secs(10)).unwrap();
    let first = rekor.upload(&body).unwrap();
    let again = rekor.upload(&body).unwrap();
    // The same entry (the checkpoint may be signed afresh), and it checks out.
    assert_eq!(
        (
            first.log_index,
            first.integrated_time,
            &first.canonicalized_body
        ),
        (
            again.log_index,
            again.integrated_time,
            &again.canonicalized_body
        )
    );
    let trust = gitsign::core::sigstore::trust::TrustedRoot::from_json(
        &std::fs::read(stack.trusted_root()).unwrap(),
    )
    .unwrap();
    let keys = gitsign::core::tlog::trusted_log_keys(&trust);
    tlog::verify_entry(&again, &body, &keys).unwrap();
    assert_eq!(stack.stats()["entries"], 1);
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn setup_configures_git_so_plain_commits_and_tags_are_signed() {
    let r = Signing::new();
    let run = |args: &[&str], extra: &[(&str, &str)]| {
        let out = r.command(BIN, extra).args(args).output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let said = run(&["setup"], &[]);
    assert!(said.contains("gpg.format = x509 (was unset)"), "{said}");
    assert!(said.contains("commit.gpgsign = true (was unset)"), "{said}");
    let again = run(&["setup", "--local"], &[]);
    assert_eq!(again.matches("(unchanged)").count(), 4, "{again}");

    let plain_git = |args: &[&str]| {
        let out = r.command("git", &[]).args(args).output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let program = plain_git(&["config", "--local", "gpg.x509.program"]);
    assert!(
        std::path::Path::new(program.trim()).is_absolute(),
        "{program}"
    );
    plain_git(&["commit", "--allow-empty", "-q", "-m", "signed by config"]);
    plain_git(&["tag", "-m", "t", "v-setup"]);
    plain_git(&["verify-commit", "HEAD"]);
    plain_git(&["verify-tag", "v-setup"]);

    // --global writes the user's file, not the repository's.
    let global = r.s.dir.path().join("global.gitconfig");
    let g = global.to_str().unwrap();
    let said = run(&["setup", "--global"], &[("GIT_CONFIG_GLOBAL", g)]);
    assert!(said.contains("tag.gpgsign = true (was unset)"), "{said}");
    let text_of = std::fs::read_to_string(&global).unwrap();
    assert!(text_of.contains("format = x509"), "{text_of}");
}

/// The `sigstore` PyPI package (an independent verifier) accepts the bundle of a commit we
/// signed, offline, with the `trust_config.json` the stack wrote. Runs when `SIGSTORE_CLI`
/// names the `sigstore` program (as `.ci/run` sets it); skipped with a note otherwise.
#[test]
fn bundles_of_our_commits_verify_with_sigstore_python() {
    use base64::Engine as _;
    let cli = std::env::var_os("SIGSTORE_CLI")
        .expect("SIGSTORE_CLI must name the sigstore program: run the tests with scripts/test");
    let r = Signing::new();
    let id = r.commit("bundle", &[]);
    let out = r.gitsign(&["export-bundle", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bundle: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let dir = r.s.dir.path();
    std::fs::write(dir.join("bundle.json"), &out.stdout).unwrap();
    let trust_config =
        std::path::Path::new(r.stack.var("SIGSTORE_STACK_DIR")).join("trust_config.json");
    let digest = base64::engine::general_purpose::STANDARD
        .decode(
            bundle["messageSignature"]["messageDigest"]["digest"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let verify = |identity: &str| {
        Command::new(&cli)
            .arg("--trust-config")
            .arg(&trust_config)
            .args(["verify", "identity", "--offline", "--bundle"])
            .arg(dir.join("bundle.json"))
            .args([
                "--cert-identity",
                identity,
                "--cert-oidc-issuer",
                r.stack.issuer(),
            ])
            .arg(format!("sha256:{hex}"))
            .output()
            .unwrap()
    };
    let out = verify(r.stack.identity());
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(!verify("other@example.com").status.success());
}

/// gitsign's online mode logs SHA-256 of the id git gives the object; checked against the
/// entry Rekor stores, in a SHA-1 and a SHA-256 repository (libgit2 cannot open the latter:
/// the object format comes from the payload, the config from the discovered git directory).
#[test]
fn online_mode_logs_the_hash_of_the_real_object_id_in_sha1_and_sha256_repositories() {
    use base64::Engine as _;
    use sha2::Digest as _;
    let r = Signing::new();
    let repo256 = r.s.dir.path().join("repo256");
    let program = format!("gpg.x509.program={BIN}");
    let git = |cwd: &std::path::Path, args: &[&str]| {
        let mut all = vec!["-c", "gpg.format=x509", "-c", &program];
        all.extend_from_slice(args);
        let out = r
            .command("git", &[])
            .current_dir(cwd)
            .args(&all)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
        text(&out.stdout).trim().to_string()
    };
    git(
        r.s.dir.path(),
        &["init", "-q", "--object-format=sha256", "repo256"],
    );
    for (index, cwd) in [(0, r.s.repo()), (1, repo256.clone())] {
        // The repository's own config chooses the mode (read even where libgit2 cannot open
        // the repository).
        git(&cwd, &["config", "gitsign.rekorMode", "online"]);
        git(
            &cwd,
            &["commit", "-S", "--allow-empty", "-q", "-m", "online"],
        );
        let id = git(&cwd, &["rev-parse", "HEAD"]);
        git(&cwd, &["verify-commit", "HEAD"]);
        let entries = r.stack.get_json(&format!(
            "{}/api/v1/log/entries?logIndex={index}",
            r.stack.rekor()
        ));
        let entry = entries.as_object().unwrap().values().next().unwrap();
        let body = base64::engine::general_purpose::STANDARD
            .decode(entry["body"].as_str().unwrap())
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let expected: String = sha2::Sha256::digest(id.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            body["spec"]["data"]["hash"]["value"],
            expected.as_str(),
            "{id}"
        );
    }
    assert_eq!(r.stack.stats()["entries"], 2);
}

/// With the stack's env file as it is (token provider `interactive`, its scripted user agent
/// as `gitsign.urlOpener`), `git commit -S` runs the browser flow (PKCE, loopback redirect)
/// with nobody at the keyboard, and the commit verifies as the stack's identity.
#[test]
fn signing_through_the_browser_flow_with_the_stacks_scripted_user_agent() {
    let r = Signing::new();
    let mut c = r.s.command("git", &r.s.repo());
    for (k, v) in &r.stack.env {
        c.env(k, v);
    }
    let program = format!("gpg.x509.program={BIN}");
    let out = c
        .env("GIT_COMMITTER_EMAIL", r.stack.identity())
        .args(["-c", "gpg.format=x509", "-c", &program])
        .args(["commit", "-S", "--allow-empty", "-q", "-m", "browser"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = r.verify_with_gitsign("verify", "HEAD");
    assert!(out.status.success(), "{}", text(&out.stderr));
    // One token minted by signing_env at start, one by the browser flow.
    assert_eq!(r.stack.stats()["tokens"], 2);
}

/// `gitsign export-bundle` output is a bundle `gitsign verify-bundle` accepts (the artifact is
/// the signed attributes, given by digest), with the stack's trusted root; a different
/// digest or identity is refused.
#[test]
fn exported_bundles_verify_with_verify_bundle() {
    let r = Signing::new();
    let id = r.commit("bundle", &[]);
    let out = r.gitsign(&["export-bundle", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let path = r.s.dir.path().join("commit.sigstore.json");
    std::fs::write(&path, &out.stdout).unwrap();
    let bundle: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let digest = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        bundle["messageSignature"]["messageDigest"]["digest"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let verify = |identity: &str, artifact: &str| {
        r.gitsign(&[
            "verify-bundle",
            "--bundle",
            path.to_str().unwrap(),
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            r.stack.issuer(),
            "--trusted-root",
            r.stack.trusted_root(),
            artifact,
        ])
    };
    let out = verify(r.stack.identity(), &format!("sha256:{hex}"));
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let mut other = hex.clone().into_bytes();
    other[0] = if other[0] == b'0' { b'1' } else { b'0' };
    let out = verify(
        r.stack.identity(),
        &format!("sha256:{}", String::from_utf8(other).unwrap()),
    );
    assert!(!out.status.success());
    let out = verify("mallory@example.com", &format!("sha256:{hex}"));
    assert!(!out.status.success());
}
