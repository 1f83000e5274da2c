//! The trust root: compiled-in by default, replaced by `--trusted-root` or
//! `gitsign.trustedRoot`, and narrowed by gitsign's PEM overrides for private deployments.

mod common;

use base64::Engine;
use common::{BIN, Scratch, Vector, text, vectors};
use gitsign::core::asn1::pem;

const PRODUCTION: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/src/core/sigstore/trust/production-trusted-root.json"
);

fn production() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(PRODUCTION).unwrap()).unwrap()
}

fn der(b64: &serde_json::Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(b64.as_str().unwrap())
        .unwrap()
}

fn embedded() -> Vector {
    vectors()
        .into_iter()
        .find(|v| v.embedded && v.kind == "commit")
        .unwrap()
}

fn verify(
    s: &Scratch,
    v: &Vector,
    env: &[(&str, String)],
    extra: &[&str],
) -> (Option<i32>, String) {
    let mut c = s.command(BIN, &s.repo());
    for (k, val) in env {
        c.env(k, val);
    }
    let out = c
        .args([
            "verify",
            &v.id,
            "--certificate-identity",
            &v.identity,
            "--certificate-oidc-issuer",
            &v.issuer,
        ])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code(),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

#[test]
fn a_trusted_root_file_replaces_the_compiled_in_one() {
    let s = Scratch::new();
    let v = embedded();
    s.load(&v);
    let same = s.dir.path().join("same.json");
    std::fs::copy(PRODUCTION, &same).unwrap();
    let (code, out) = verify(&s, &v, &[], &["--trusted-root", same.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");

    let mut no_logs = production();
    no_logs["tlogs"] = serde_json::json!([]);
    let path = s.dir.path().join("no-logs.json");
    std::fs::write(&path, no_logs.to_string()).unwrap();
    let (code, out) = verify(&s, &v, &[], &["--trusted-root", path.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("transparency log entry"), "{out}");

    // The same through git config, as users configure it once.
    let out = s.git(
        &["config", "gitsign.trustedRoot", path.to_str().unwrap()],
        &s.repo(),
    );
    assert!(out.status.success());
    let (code, out) = verify(&s, &v, &[], &[]);
    assert_eq!(code, Some(1), "gitsign.trustedRoot is honoured: {out}");
}

#[test]
fn a_malformed_trusted_root_is_a_configuration_error() {
    let s = Scratch::new();
    let v = embedded();
    s.load(&v);
    let path = s.dir.path().join("bad.json");
    std::fs::write(&path, "{\"mediaType\": 1}").unwrap();
    let (code, out) = verify(&s, &v, &[], &["--trusted-root", path.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{out}");
    assert_eq!(out.trim().lines().count(), 1, "{out}");
}

#[test]
fn fulcio_root_override_decides_which_ca_is_trusted() {
    let s = Scratch::new();
    let v = embedded();
    s.load(&v);
    let root = production();
    let cas = root["certificateAuthorities"].as_array().unwrap();
    let pem_of = |ca: &serde_json::Value| -> String {
        ca["certChain"]["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| pem::encode("CERTIFICATE", &der(&c["rawBytes"])))
            .collect()
    };
    let old = s.dir.path().join("old-root.pem");
    std::fs::write(&old, pem_of(&cas[0])).unwrap();
    let current = s.dir.path().join("current.pem");
    std::fs::write(&current, pem_of(&cas[1])).unwrap();
    for var in [
        "GITSIGN_FULCIO_ROOT",
        "SIGSTORE_FULCIO_ROOT",
        "SIGSTORE_ROOT_FILE",
    ] {
        let (code, out) = verify(&s, &v, &[(var, old.display().to_string())], &[]);
        assert_eq!(code, Some(1), "{var}: {out}");
        assert!(out.contains("certificate chain"), "{var}: {out}");
        let (code, out) = verify(&s, &v, &[(var, current.display().to_string())], &[]);
        assert_eq!(code, Some(0), "{var}: {out}");
    }
}

#[test]
fn rekor_and_ct_log_key_overrides_are_honoured() {
    let s = Scratch::new();
    let v = embedded();
    s.load(&v);
    let root = production();
    let rekor = s.dir.path().join("rekor.pem");
    std::fs::write(
        &rekor,
        pem::encode(
            "PUBLIC KEY",
            &der(&root["tlogs"][0]["publicKey"]["rawBytes"]),
        ),
    )
    .unwrap();
    let ct = s.dir.path().join("ct.pem");
    std::fs::write(
        &ct,
        pem::encode(
            "PUBLIC KEY",
            &der(&root["ctlogs"][1]["publicKey"]["rawBytes"]),
        ),
    )
    .unwrap();
    let other = s.dir.path().join("other.pem");
    std::fs::write(
        &other,
        pem::encode(
            "PUBLIC KEY",
            &der(&root["ctlogs"][0]["publicKey"]["rawBytes"]),
        ),
    )
    .unwrap();

    let (code, out) = verify(
        &s,
        &v,
        &[("SIGSTORE_REKOR_PUBLIC_KEY", rekor.display().to_string())],
        &[],
    );
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = verify(
        &s,
        &v,
        &[("SIGSTORE_REKOR_PUBLIC_KEY", other.display().to_string())],
        &[],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("transparency log entry"), "{out}");

    let (code, out) = verify(
        &s,
        &v,
        &[("SIGSTORE_CT_LOG_PUBLIC_KEY_FILE", ct.display().to_string())],
        &[],
    );
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = verify(
        &s,
        &v,
        &[(
            "SIGSTORE_CT_LOG_PUBLIC_KEY_FILE",
            other.display().to_string(),
        )],
        &[],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("certificate transparency"), "{out}");
    let (code, out) = verify(
        &s,
        &v,
        &[(
            "SIGSTORE_CT_LOG_PUBLIC_KEY_FILE",
            other.display().to_string(),
        )],
        &["--insecure-ignore-sct"],
    );
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn version_prints_no_environment_values() {
    let s = Scratch::new();
    let out = s
        .command(BIN, &s.repo())
        .env("SIGSTORE_ID_TOKEN", "eyJhbGciOiJFUzI1NiJ9.secret-token.sig")
        .env("GITSIGN_CREDENTIAL_CACHE", "/tmp/secret-socket")
        .arg("version")
        .output()
        .unwrap();
    assert!(out.status.success());
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(all.starts_with("gitsign-rs "), "{all}");
    assert!(!all.contains("secret"), "{all}");
    let out = s.command(BIN, &s.repo()).arg("--version").output().unwrap();
    assert!(text(&out.stdout).starts_with("gitsign-rs "));
}
