//! git's verify mode (`gitsign --status-fd=1 --verify SIGFILE -`) as git drives it: every
//! call ends in NEWSIG and exactly one of GOODSIG, BADSIG or ERRSIG, whatever fails; only a
//! certificate a trusted CA issued names a signer; the signature file is one PEM block.

mod common;

use common::{Scratch, text, vectors};

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
