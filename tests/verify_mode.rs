//! git's verify mode (`gitsign --status-fd=1 --verify SIGFILE -`) as git drives it: every
//! call ends in NEWSIG and exactly one of GOODSIG, BADSIG or ERRSIG, whatever fails; only a
//! certificate a trusted CA issued names a signer; the signature file is one PEM block.

mod common;
#[path = "common/forge.rs"]
mod forge;

use std::io::Write;
use std::process::Stdio;

use common::{BIN, Scratch, text, vectors};
use forge::Forger;
use gitsign::core::sigstore::trust::TrustedRoot;

/// The verdict lines among the status lines.
fn verdicts(status: &str) -> Vec<&str> {
    status
        .lines()
        .filter(|l| {
            [
                "GOODSIG",
                "BADSIG",
                "ERRSIG",
                "EXPSIG",
                "EXPKEYSIG",
                "REVKEYSIG",
            ]
            .iter()
            .any(|v| l.starts_with(&format!("[GNUPG:] {v} ")))
        })
        .collect()
}

/// The status contract: NEWSIG first, then exactly one verdict, which is `want`.
fn assert_one_verdict(status: &str, want: &str) {
    assert!(status.starts_with("[GNUPG:] NEWSIG\n"), "{status:?}");
    let v = verdicts(status);
    assert_eq!(v.len(), 1, "{status:?}");
    assert!(v[0].starts_with(&format!("[GNUPG:] {want} ")), "{status:?}");
}

/// Writes a raw object into the repository as git stores it; returns its id.
fn store(s: &Scratch, kind: &str, raw: &[u8]) -> String {
    let path = s.dir.path().join("object");
    std::fs::write(&path, raw).unwrap();
    let out = s.git(
        &[
            "hash-object",
            "-t",
            kind,
            "-w",
            "--literally",
            path.to_str().unwrap(),
        ],
        &s.repo(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).trim().to_string()
}

/// `%G?`, `%GS` and `%GK` as git reports them for `rev`.
fn git_signature_format(s: &Scratch, rev: &str, extra: &[&str]) -> String {
    let mut args = extra.to_vec();
    args.extend(["log", "-1", "--format=%G?|%GS|%GK", rev]);
    let out = s.git_x509(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).trim().to_string()
}

/// The Fulcio intermediate's Name, as the real leaves name their issuer.
fn real_intermediate_name() -> Vec<u8> {
    TrustedRoot::production()
        .certificate_authorities
        .iter()
        .flat_map(|ca| &ca.certs)
        .find(|c| c.subject_string().contains("sigstore-intermediate"))
        .expect("the production root has the Fulcio intermediate")
        .subject_raw()
        .to_vec()
}

/// gitsign in verify mode, called as git calls it.
fn gpg_verify(s: &Scratch, sigfile: &std::path::Path, payload: &[u8]) -> (i32, String, String) {
    gpg_verify_in(s, &s.repo(), &[], sigfile, payload)
}

/// [`gpg_verify`] in `dir` with extra environment.
fn gpg_verify_in(
    s: &Scratch,
    dir: &std::path::Path,
    env: &[(&str, &std::path::Path)],
    sigfile: &std::path::Path,
    payload: &[u8],
) -> (i32, String, String) {
    let mut child = s
        .command(BIN, dir)
        .envs(env.iter().copied())
        .args(["--status-fd=1", "--verify", sigfile.to_str().unwrap(), "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // It may fail (a config error) before reading its input: a broken pipe is fine.
    let _ = child.stdin.take().unwrap().write_all(payload);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap(),
        text(&out.stdout),
        text(&out.stderr),
    )
}

#[test]
fn a_self_signed_certificate_claiming_someones_email_gives_errsig_with_no_name() {
    let s = Scratch::new();
    let victim = "billy@chainguard.dev";
    for forger in [
        Forger::self_signed(victim),
        Forger::signed_by_itself_as(victim, real_intermediate_name()),
    ] {
        // A forged online-mode commit (no log entry), and one whose data was changed after
        // signing: neither may read as the victim's, good or bad.
        let good = forger.commit("forged", forge::T0 + 1);
        let payload = forge::commit_payload("changed");
        let changed = forge::with_gpgsig(&payload, &forger.sign(b"other", forge::T0 + 1));
        for raw in [good, changed] {
            let id = store(&s, "commit", &raw);
            let verify = s.git_x509(&["verify-commit", "--raw", &id]);
            assert!(!verify.status.success());
            let status = text(&verify.stderr);
            let line = git_signature_format(&s, &id, &[]);
            assert!(line.starts_with("E||"), "{line}\n{status}");
            assert!(!status.contains(victim), "{status}");
            assert!(!status.contains("BADSIG"), "{status}");

            let sigfile = s.dir.path().join("sig");
            let sig = gitsign::core::git::gitobj::split_commit(
                &raw,
                gitsign::core::git::gitobj::HashAlgo::Sha1,
            )
            .unwrap();
            std::fs::write(&sigfile, &sig.signature).unwrap();
            let (code, stdout, stderr) = gpg_verify(&s, &sigfile, &sig.payload);
            assert_eq!(code, 1, "{stderr}");
            assert_one_verdict(&stdout, "ERRSIG");
            assert!(!stdout.contains(victim), "{stdout}");
            // The human line says what is wrong, not that a log was unreachable.
            assert!(!stderr.contains(victim), "{stderr}");
            assert!(stderr.contains("certificate chain"), "{stderr}");
            assert!(!stderr.contains("Rekor"), "{stderr}");
        }
    }
}

#[test]
fn git_gets_errsig_when_the_config_the_trust_root_or_the_signature_file_cannot_be_read() {
    let s = Scratch::new();
    let v = vectors().into_iter().find(|v| v.embedded).unwrap();
    s.load(&v);
    // Its parents are not here: a shallow boundary lets git show the commit alone.
    std::fs::write(s.repo().join(".git/shallow"), format!("{}\n", v.id)).unwrap();
    // The good case first: the same commit verifies.
    assert!(git_signature_format(&s, &v.id, &[]).starts_with(&format!("G|{}|", v.identity)));
    for config in [
        "gitsign.rekorTimeout=18446744073709551615",
        "gitsign.oidcTimeout=99999999999999999999",
        "gitsign.trustedRoot=/nonexistent/trusted_root.json",
        "gitsign.fulcioRoot=/nonexistent/fulcio.pem",
    ] {
        let line = git_signature_format(&s, &v.id, &["-c", config]);
        assert!(line.starts_with("E||"), "{config}: {line}");
        let verify = s.git_x509(&["-c", config, "verify-commit", "--raw", &v.id]);
        let status = text(&verify.stderr);
        assert!(!verify.status.success(), "{config}");
        assert!(!status.contains("panicked"), "{config}: {status}");
        assert!(status.contains("[GNUPG:] ERRSIG "), "{config}: {status}");
    }
    let (code, stdout, stderr) = gpg_verify(&s, &s.dir.path().join("missing"), b"x");
    assert_ne!(code, 0);
    assert_one_verdict(&stdout, "ERRSIG");
    assert!(stderr.contains("cannot read signature file"), "{stderr}");
}

#[test]
fn a_tag_with_unsigned_text_after_the_signature_does_not_verify_through_git() {
    let s = Scratch::new();
    let v = vectors()
        .into_iter()
        .find(|v| v.embedded && v.kind == "tag")
        .unwrap();
    s.load(&v);
    let update = s.git(&["update-ref", "refs/tags/good", &v.id], &s.repo());
    assert!(update.status.success());
    let ok = s.git_x509(&["verify-tag", "--raw", "good"]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));

    let mut raw = v.raw();
    raw.extend_from_slice(b"\nThis text is not covered by the signature.\n");
    let id = store(&s, "tag", &raw);
    let update = s.git(&["update-ref", "refs/tags/appended", &id], &s.repo());
    assert!(update.status.success());
    let out = s.git_x509(&["verify-tag", "--raw", "appended"]);
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert_one_verdict(
        &err.lines()
            .filter(|l| l.starts_with("[GNUPG:]"))
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
        "ERRSIG",
    );
    // Without --raw git shows the program's stderr.
    let human = text(&s.git_x509(&["verify-tag", "appended"]).stderr);
    assert!(
        human.contains("text outside the SIGNED MESSAGE block"),
        "{human}"
    );
    // gitsign's own command agrees.
    let own = s.gitsign(&[
        "verify-tag",
        "appended",
        "--certificate-identity",
        &v.identity,
        "--certificate-oidc-issuer",
        &v.issuer,
    ]);
    assert_eq!(own.status.code(), Some(1), "{}", text(&own.stderr));
}

#[test]
fn a_non_utf8_variable_verification_does_not_use_does_not_fail_it_but_a_trust_one_does() {
    use std::os::unix::ffi::OsStrExt;
    let s = Scratch::new();
    let v = vectors().into_iter().find(|v| v.embedded).unwrap();
    s.load(&v);
    let bad = std::ffi::OsStr::from_bytes(b"\xff\xfe");
    let verify = |var: &str| {
        let program = format!("gpg.x509.program={BIN}");
        let out = s
            .command("git", &s.repo())
            .env(var, bad)
            .args(["-c", &program, "verify-commit", "--raw", &v.id])
            .output()
            .unwrap();
        text(&out.stderr)
    };
    for var in [
        "SIGSTORE_ID_TOKEN",
        "GITSIGN_CONNECTOR_ID",
        "GITSIGN_TOKEN_PROVIDER",
        "GITSIGN_CREDENTIAL_CACHE",
        "LC_ALL_UNRELATED",
    ] {
        let status = verify(var);
        assert!(status.contains("[GNUPG:] GOODSIG "), "{var}: {status}");
    }
    let status = verify("GITSIGN_TRUSTED_ROOT");
    assert!(status.contains("[GNUPG:] ERRSIG "), "{status}");
    let human = {
        let program = format!("gpg.x509.program={BIN}");
        let out = s
            .command("git", &s.repo())
            .env("GITSIGN_TRUSTED_ROOT", bad)
            .args(["-c", &program, "verify-commit", &v.id])
            .output()
            .unwrap();
        text(&out.stderr)
    };
    assert!(
        human.contains("GITSIGN_TRUSTED_ROOT is not valid UTF-8"),
        "{human}"
    );
}

/// Verify mode in `dir` with `sig`, with `home/.gitconfig` as the global config.
fn verify_mode_error_in(s: &Scratch, dir: &std::path::Path) -> String {
    let v = vectors().into_iter().find(|v| v.embedded).unwrap();
    let raw = v.raw();
    let sig =
        gitsign::core::git::gitobj::split_commit(&raw, gitsign::core::git::gitobj::HashAlgo::Sha1)
            .unwrap();
    let sigfile = s.dir.path().join("sig");
    std::fs::write(&sigfile, &sig.signature).unwrap();
    let global = s.home().join(".gitconfig");
    let env = [("GIT_CONFIG_GLOBAL", global.as_path())];
    gpg_verify_in(s, dir, &env, &sigfile, &sig.payload).2
}

#[test]
fn trusted_root_set_in_a_sha256_repositorys_config_is_used_in_verify_mode() {
    let s = Scratch::new();
    let r = s.dir.path().join("r256");
    let out = s.git(
        &["init", "-q", "--object-format=sha256", r.to_str().unwrap()],
        s.dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    s.git(
        &["config", "gitsign.trustedRoot", "/nonexistent/tr.json"],
        &r,
    );
    let err = verify_mode_error_in(&s, &r);
    assert!(err.contains("/nonexistent/tr.json"), "{err}");
}

#[test]
fn trusted_root_set_through_include_if_gitdir_is_used_in_verify_mode() {
    let s = Scratch::new();
    let inc = s.dir.path().join("inc.cfg");
    std::fs::write(&inc, "[gitsign]\n\ttrustedRoot = /nonexistent/inc.json\n").unwrap();
    std::fs::write(
        s.home().join(".gitconfig"),
        format!("[includeIf \"gitdir:repo/\"]\n\tpath = {}\n", inc.display()),
    )
    .unwrap();
    // git itself sees it (the oracle).
    let git = s
        .command("git", &s.repo())
        .env("GIT_CONFIG_GLOBAL", s.home().join(".gitconfig"))
        .args(["config", "--get", "gitsign.trustedRoot"])
        .output()
        .unwrap();
    assert_eq!(text(&git.stdout).trim(), "/nonexistent/inc.json");
    let err = verify_mode_error_in(&s, &s.repo());
    assert!(err.contains("/nonexistent/inc.json"), "{err}");
}
