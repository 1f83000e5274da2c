//! Every real gitsign-signed object gives the outcome its README states, through
//! `gitsign verify` / `verify-tag` and through git itself, offline, with zero configuration.

mod common;

use common::{Scratch, Vector, text, vectors};

fn verify_args<'a>(v: &'a Vector, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        if v.kind == "tag" {
            "verify-tag"
        } else {
            "verify"
        },
        &v.id,
        "--certificate-identity",
        &v.identity,
        "--certificate-oidc-issuer",
        &v.issuer,
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn embedded_entry_vectors_verify_with_identity_and_issuer_through_gitsign_verify() {
    let s = Scratch::new();
    let embedded: Vec<Vector> = vectors().into_iter().filter(|v| v.embedded).collect();
    assert_eq!(embedded.len(), 3);
    for v in &embedded {
        s.load(v);
        let out = s.gitsign(&verify_args(v, &["--output", "json"]));
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}{}",
            v.file,
            text(&out.stdout),
            text(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["verified"], true);
        assert_eq!(json["identity"], v.identity.as_str());
        assert_eq!(json["issuer"], v.issuer.as_str());
        assert_eq!(json["tlog"]["checked"], true);
        assert_eq!(json["tlog"]["source"], "embedded");
        assert_eq!(json["time_source"], "tlog-integrated-time");
        assert_eq!(json["sct_checked"], true);
    }
}

#[test]
fn a_different_expected_identity_or_issuer_is_not_verified() {
    let s = Scratch::new();
    let v = vectors().into_iter().find(|v| v.embedded).unwrap();
    s.load(&v);
    let kind = if v.kind == "tag" {
        "verify-tag"
    } else {
        "verify"
    };
    for (identity, issuer) in [
        ("someone@else.dev", v.issuer.as_str()),
        (v.identity.as_str(), "https://github.com/login/oauth"),
    ] {
        let out = s.gitsign(&[
            kind,
            &v.id,
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            issuer,
        ]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("does not match"),
            "{}",
            text(&out.stderr)
        );
        let out = s.gitsign(&[
            kind,
            &v.id,
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            issuer,
            "--output",
            "json",
        ]);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["verified"], false);
        assert_eq!(json["reason"], "identity-mismatch", "{json}");
    }
    let out = s.gitsign(&[
        kind,
        &v.id,
        "--certificate-identity-regexp",
        ".*@chainguard\\.dev",
        "--certificate-oidc-issuer-regexp",
        "https://accounts\\.google\\.com",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = s.gitsign(&[
        kind,
        &v.id,
        "--certificate-identity-regexp",
        "billy",
        "--certificate-oidc-issuer-regexp",
        ".*",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "regexps are anchored: {}",
        text(&out.stderr)
    );
}

#[test]
fn identity_flags_are_required_and_usage_errors_exit_2() {
    let s = Scratch::new();
    let out = s.gitsign(&["verify", "HEAD"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--certificate-identity"),
        "{}",
        text(&out.stderr)
    );
    let out = s.gitsign(&[
        "verify",
        "HEAD",
        "--certificate-identity",
        "a",
        "--certificate-oidc-issuer",
        "b",
        "--trusted-root",
        "/nonexistent",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn online_mode_vectors_fail_closed_and_explain_the_way_out() {
    let s = Scratch::new();
    for v in vectors().into_iter().filter(|v| !v.embedded) {
        s.load(&v);
        let out = s.gitsign(&verify_args(&v, &[]));
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}: {err}", v.file);
        assert!(err.contains(&v.id), "{}: names the object: {err}", v.file);
        assert!(err.contains("--insecure-ignore-tlog"), "{}: {err}", v.file);
        assert!(
            err.contains("no embedded transparency log entry"),
            "{}: {err}",
            v.file
        );
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    }
}

#[test]
fn online_mode_vectors_pass_signature_and_chain_when_the_log_is_skipped_and_say_so() {
    let s = Scratch::new();
    for v in vectors().into_iter().filter(|v| !v.embedded) {
        s.load(&v);
        if !v.has_sct {
            // Fulcio began embedding SCTs in June 2022: an older leaf needs the SCT check
            // skipped too, explicitly.
            let out = s.gitsign(&verify_args(&v, &["--insecure-ignore-tlog"]));
            assert_eq!(out.status.code(), Some(1));
            assert!(
                text(&out.stderr).contains("--insecure-ignore-sct"),
                "{}",
                text(&out.stderr)
            );
            let out = s.gitsign(&verify_args(
                &v,
                &["--insecure-ignore-tlog", "--insecure-ignore-sct"],
            ));
            assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
            continue;
        }
        let out = s.gitsign(&verify_args(&v, &["--insecure-ignore-tlog"]));
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "{}: {all}", v.file);
        assert!(all.contains("transparency log was NOT checked"), "{all}");
        assert!(all.contains(&v.identity), "{all}");
        let out = s.gitsign(&verify_args(
            &v,
            &["--insecure-ignore-tlog", "--output", "json"],
        ));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["tlog"]["checked"], false);
        assert_eq!(json["time_source"], "cms-signing-time");
    }
}

#[test]
fn git_verify_commit_and_verify_tag_accept_embedded_entry_vectors() {
    let s = Scratch::new();
    for v in vectors().into_iter().filter(|v| v.embedded) {
        s.load(&v);
        let verb = if v.kind == "tag" {
            "verify-tag"
        } else {
            "verify-commit"
        };
        let out = s.git_x509(&[verb, "--raw", &v.id]);
        let err = text(&out.stderr);
        assert!(out.status.success(), "{}: {err}", v.file);
        assert!(err.contains("[GNUPG:] GOODSIG "), "{err}");
        assert!(err.contains(&v.identity), "{err}");
        assert!(err.contains("[GNUPG:] VALIDSIG "), "{err}");
        assert!(!err.contains("BADSIG") && !err.contains("ERRSIG"), "{err}");
    }
}

#[test]
fn git_log_show_signature_reports_good_signer_and_fingerprint() {
    let s = Scratch::new();
    for v in vectors()
        .into_iter()
        .filter(|v| v.embedded && v.kind == "commit")
    {
        s.load(&v);
        let out = s.git_x509(&["log", "-1", "--no-walk", "--format=%G?|%GS|%GF|%GK", &v.id]);
        let line = text(&out.stdout);
        let fields: Vec<&str> = line.trim().split('|').collect();
        assert_eq!(fields[0], "G", "{line} {}", text(&out.stderr));
        assert_eq!(fields[1], v.identity);
        assert_eq!(fields[2].len(), 40, "{line}");
        assert!(fields[2].ends_with(fields[3]), "{line}");
        let out = s.git_x509(&["log", "-1", "--no-walk", "--show-signature", &v.id]);
        assert!(
            text(&out.stdout).contains("Good signature from"),
            "{}",
            text(&out.stdout)
        );
    }
}

#[test]
fn git_rejects_online_mode_vectors_without_a_good_signature() {
    let s = Scratch::new();
    for v in vectors().into_iter().filter(|v| !v.embedded) {
        s.load(&v);
        let verb = if v.kind == "tag" {
            "verify-tag"
        } else {
            "verify-commit"
        };
        let out = s.git_x509(&[verb, "--raw", &v.id]);
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{}: {err}", v.file);
        assert!(err.contains("[GNUPG:] ERRSIG "), "{}: {err}", v.file);
        assert!(!err.contains("GOODSIG"), "{err}");
        if v.kind == "commit" {
            let out = s.git_x509(&["log", "-1", "--no-walk", "--format=%G?", &v.id]);
            assert_eq!(text(&out.stdout).trim(), "E", "{}", v.file);
        }
    }
}

/// An independent verifier: sigstore-python (`sigstore` from PyPI, pinned by scripts/test)
/// accepts `gitsign export-bundle` of each embedded-entry vector, offline, with the
/// production trust root compiled into gitsign-rs, and refuses another identity.
#[test]
fn sigstore_python_verifies_exported_bundles_of_the_offline_vectors() {
    use base64::Engine as _;
    let cli = std::env::var_os("SIGSTORE_CLI")
        .expect("SIGSTORE_CLI must name the sigstore program: run the tests with scripts/test");
    let s = Scratch::new();
    let trust = concat!(env!("CARGO_MANIFEST_DIR"), "/src/core/sigstore/trust");
    let read = |f: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(format!("{trust}/{f}")).unwrap()).unwrap()
    };
    let config = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": read("production-trusted-root.json"),
        "signingConfig": read("production-signing-config.json"),
    });
    let config_path = s.dir.path().join("trust_config.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    for v in vectors().into_iter().filter(|v| v.embedded) {
        s.load(&v);
        let out = if v.kind == "tag" {
            let r = s.git(&["update-ref", "refs/tags/vector", &v.id], &s.repo());
            assert!(r.status.success());
            s.gitsign(&["export-bundle", "--tag", "vector"])
        } else {
            s.gitsign(&["export-bundle", &v.id])
        };
        assert!(out.status.success(), "{}: {}", v.file, text(&out.stderr));
        let bundle: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let path = s.dir.path().join(format!("{}.sigstore.json", v.id));
        std::fs::write(&path, &out.stdout).unwrap();
        let digest = base64::engine::general_purpose::STANDARD
            .decode(
                bundle["messageSignature"]["messageDigest"]["digest"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let run = |identity: &str| {
            std::process::Command::new(&cli)
                .arg("--trust-config")
                .arg(&config_path)
                .args(["verify", "identity", "--offline", "--bundle"])
                .arg(&path)
                .args(["--cert-identity", identity, "--cert-oidc-issuer", &v.issuer])
                .arg(format!("sha256:{hex}"))
                .output()
                .unwrap()
        };
        let out = run(&v.identity);
        assert!(
            out.status.success(),
            "{}: {}{}",
            v.file,
            text(&out.stdout),
            text(&out.stderr)
        );
        assert!(!run("mallory@example.com").status.success(), "{}", v.file);
        // And our own bundle verifier agrees.
        let out = s.gitsign(&[
            "verify-bundle",
            "--bundle",
            path.to_str().unwrap(),
            "--certificate-identity",
            &v.identity,
            "--certificate-oidc-issuer",
            &v.issuer,
            &format!("sha256:{hex}"),
        ]);
        assert!(out.status.success(), "{}: {}", v.file, text(&out.stderr));
    }
}
