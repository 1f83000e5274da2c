//! `gitsign verify` / `gitsign verify-tag` in a scratch repository: which object a tag name
//! means, what an identity regexp accepts, and what is said when no time is trusted.

mod common;
#[path = "common/forge.rs"]
mod forge;

use common::{Scratch, text, vectors};

fn update_ref(s: &Scratch, name: &str, id: &str) {
    let out = s.git(&["update-ref", name, id], &s.repo());
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn verify_tag_resolves_a_name_as_git_does_and_refuses_one_git_would_resolve_elsewhere() {
    let s = Scratch::new();
    let tags: Vec<_> = vectors().into_iter().filter(|v| v.kind == "tag").collect();
    let (a, b) = (&tags[0], &tags[1]);
    s.load(a);
    s.load(b);
    update_ref(&s, "refs/tags/v1", &a.id);
    let verify = |name: &str, v: &common::Vector| {
        s.gitsign(&[
            "verify-tag",
            name,
            "--insecure-ignore-tlog",
            "--certificate-identity",
            &v.identity,
            "--certificate-oidc-issuer",
            &v.issuer,
        ])
    };
    let out = verify("v1", a);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(&a.id));

    // refs/v1 comes before refs/tags/v1 in git's rules: `git verify-tag v1` checks b now.
    update_ref(&s, "refs/v1", &b.id);
    let git = s.git(&["rev-parse", "v1"], &s.repo());
    assert_eq!(text(&git.stdout).trim(), b.id, "git's own resolution");
    for who in [a, b] {
        let out = verify("v1", who);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains(r#"tag name "v1" is ambiguous: refs/v1, refs/tags/v1"#),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    // The full names are not ambiguous.
    let out = verify("refs/tags/v1", a);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = verify("refs/v1", b);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // `tags/v1` is refs/tags/v1 by the rule `refs/%s`, as in git.
    let out = verify("tags/v1", a);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Two names for the same object are not a conflict.
    update_ref(&s, "refs/remotes/v2", &b.id);
    update_ref(&s, "refs/tags/v2", &b.id);
    let out = verify("v2", b);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn an_identity_regexp_that_closes_its_anchoring_group_is_a_usage_error_not_a_match() {
    let s = Scratch::new();
    let v = vectors().into_iter().find(|v| v.embedded).unwrap();
    s.load(&v);
    let out = s.gitsign(&[
        "verify",
        &v.id,
        "--certificate-identity-regexp",
        r"nobody@example\.com)|(.*",
        "--certificate-oidc-issuer",
        &v.issuer,
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("invalid --certificate-identity-regexp"),
        "{err}"
    );
    assert!(!err.contains("verified"), "{err}");
    // Case-insensitive matching works and is still anchored.
    let upper = v.identity.to_uppercase();
    let ok = s.gitsign(&[
        "verify",
        &v.id,
        "--certificate-identity-regexp",
        &format!("(?i){}", regex_escape(&upper)),
        "--certificate-oidc-issuer-regexp",
        r"(?i)HTTPS://accounts\.google\.com",
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    let prefix = s.gitsign(&[
        "verify",
        &v.id,
        "--certificate-identity-regexp",
        &format!("(?i){}", regex_escape(&upper[..upper.len() - 1])),
        "--certificate-oidc-issuer",
        &v.issuer,
    ]);
    assert_eq!(prefix.status.code(), Some(1), "{}", text(&prefix.stderr));
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_ascii_alphanumeric() || c == '@' {
                vec![c]
            } else {
                vec!['\\', c]
            }
        })
        .collect()
}

#[test]
fn a_signer_clock_behind_fulcios_verifies_without_the_log_at_not_before_and_says_the_time_is_unverified()
 {
    let s = Scratch::new();
    let email = "dev@example.com";
    let forger = forge::Forger::under_test_ca(email);
    let root = s.dir.path().join("root.pem");
    std::fs::write(&root, forger.root_pem.as_ref().unwrap()).unwrap();
    let raw = forger.commit("skewed clock", forge::T0 - 3);
    let path = s.dir.path().join("commit");
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
    let run = |extra: &[&str]| {
        let mut c = s.command(common::BIN, &s.repo());
        c.env("GITSIGN_FULCIO_ROOT", &root).args([
            "verify",
            &id,
            "--insecure-ignore-tlog",
            "--insecure-ignore-sct",
            "--certificate-identity",
            email,
            "--certificate-oidc-issuer",
            "https://accounts.google.com",
        ]);
        c.args(extra).output().unwrap()
    };
    let out = run(&[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("the signing time is UNVERIFIED"), "{err}");
    assert!(
        err.contains("the signer claims 2023-12-31T23:59:57Z, 3s before the certificate's notBefore; the certificate chain was checked at its notBefore 2024-01-01T00:00:00Z"),
        "{err}"
    );
    assert!(
        err.contains("NOT checked: SCT, transparency log, signing time"),
        "{err}"
    );
    let out = run(&["--output", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["verified"], true, "{json}");
    assert_eq!(json["time_verified"], false, "{json}");
    assert_eq!(json["time_source"], "certificate-not-before", "{json}");
    assert_eq!(json["verified_at"], "2024-01-01T00:00:00Z", "{json}");
    assert_eq!(
        json["signing_time_claimed"], "2023-12-31T23:59:57Z",
        "{json}"
    );
    assert_eq!(json["tlog"]["checked"], false, "{json}");
}

#[test]
fn every_json_reason_code_is_distinct_kebab_case_and_documented_in_the_readme() {
    use gitsign::core::verify::REASON_CODES;
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut seen = std::collections::HashSet::new();
    for code in REASON_CODES {
        assert!(seen.insert(code), "{code} twice");
        assert!(
            code.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
            "{code}"
        );
        assert!(
            readme.contains(&format!("`{code}`")),
            "README does not document {code}"
        );
    }
}

#[test]
fn an_online_mode_commit_without_a_log_reports_its_reason_code() {
    let s = Scratch::new();
    let v = vectors()
        .into_iter()
        .find(|v| !v.embedded && v.kind == "commit")
        .unwrap();
    s.load(&v);
    let out = s.gitsign(&[
        "verify",
        &v.id,
        "--certificate-identity",
        &v.identity,
        "--certificate-oidc-issuer",
        &v.issuer,
        "--output",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Rekor points at a closed port in tests: the log cannot be consulted.
    assert_eq!(json["reason"], "log-unavailable", "{json}");
}
