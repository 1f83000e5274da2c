//! The Sigstore conformance suite's bundle-verification cases (tests/data/conformance, copied
//! byte for byte with its provenance), run through the built binary exactly as the suite's
//! client protocol runs them: every case twice, with the artifact's path and then with
//! `sha256:<hex>`. No expected-failure list.
//!
//! A case whose directory name ends in `_fail` must be rejected with exactly one line on
//! stderr naming the failing check (the table below); any other case must be accepted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use gitsign::core::x509::keys::sha256;

const BIN: &str = env!("CARGO_BIN_EXE_gitsign");

const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// Why each `_fail` case must be rejected: a substring of the one-line reason.
const REASONS: &[(&str, &str)] = &[
    (
        "bundle-empty-certificate-chain_fail",
        "certificate chain is empty",
    ),
    (
        "bundle-from-wrong-instance_fail",
        "is not in the trusted root",
    ),
    (
        "bundle-invalid-base64-signature_fail",
        "messageSignature.signature is not valid base64",
    ),
    ("bundle-malformed-json_fail", "bundle parse error: EOF"),
    ("bundle-negative-log-index_fail", "logIndex is negative"),
    ("bundle-unknown-version_fail", "unsupported bundle version"),
    (
        "checkpoint-wrong-roothash_fail",
        "differs from the inclusion proof",
    ),
    ("dsse-invalid-sig_fail", "DSSE envelope signature invalid"),
    (
        "dsse-mismatch-envelope_fail",
        "logged payload hash is not the envelope's",
    ),
    (
        "dsse-mismatch-sig_fail",
        "logged signature is not the bundle's",
    ),
    // The modified body no longer matches what the log signed.
    (
        "incorrect-public-key_fail",
        "signed entry timestamp invalid",
    ),
    ("intoto-expired-certificate_fail", "not valid at"),
    (
        "intoto-log-entry-mismatch_fail",
        "does not match the bundle",
    ),
    ("intoto-missing-inclusion-proof_fail", "no inclusion proof"),
    (
        "intoto-tsa-timestamp-outside-cert-validity_fail",
        "certificate at 2023-02-02T00:00:00Z",
    ),
    (
        "invalid-checkpoint-signature_fail",
        "checkpoint signature invalid",
    ),
    ("invalid-ct-key_fail", "certificate transparency"),
    (
        "invalid-inclusion-proof_fail",
        "inclusion proof leads to root",
    ),
    ("managed-key-no-key_fail", "no key was provided"),
    // The given key file itself is corrupt ("...wrongkey==").
    ("managed-key-wrong-key_fail", "key.pub: PUBLIC KEY block"),
    ("message-digest-mismatch_fail", "message digest mismatch"),
    (
        "rekor2-checkpoint-missing-log-signature_fail",
        "malformed checkpoint",
    ),
    (
        "rekor2-checkpoint-missing-origin_fail",
        "malformed checkpoint",
    ),
    (
        "rekor2-checkpoint-missing-root-hash_fail",
        "malformed checkpoint: root hash",
    ),
    (
        "rekor2-checkpoint-missing-size_fail",
        "malformed checkpoint",
    ),
    (
        "rekor2-checkpoint-no-matching-signature_fail",
        "is not the log's name",
    ),
    (
        "rekor2-dsse-invalid-sig_fail",
        "DSSE envelope signature invalid",
    ),
    (
        "rekor2-dsse-mismatch-envelope_fail",
        "does not match the bundle",
    ),
    ("rekor2-no-inclusion-proof_fail", "no inclusion proof"),
    ("rekor2-no-timestamp_fail", "no trusted time"),
    (
        "rekor2-timestamp-outside-trust-root-tsa-validity_fail",
        "outside the trusted validity",
    ),
    (
        "rekor2-timestamp-outside-tsa-cert-validity_fail",
        "not valid at genTime",
    ),
    ("rekor2-timestamp-payload-mismatch_fail", "message imprint"),
    (
        "rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail",
        "does not chain to a trusted timestamping authority",
    ),
    (
        "signature-mismatch_fail",
        "message signature does not verify",
    ),
    (
        "trust-root-tlog-missing-validity-start_fail",
        "validFor.start is missing",
    ),
    (
        "wrong-hashedrekord-artifact_fail",
        "does not match the bundle",
    ),
    ("wrong-hashedrekord-entry_fail", "does not match the bundle"),
    ("wrong-material_fail", "message digest mismatch"),
];

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/conformance/bundle-verify")
}

struct Case {
    name: String,
    dir: PathBuf,
}

fn cases() -> Vec<Case> {
    let mut cases: Vec<Case> = std::fs::read_dir(cases_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|dir| Case {
            name: dir.file_name().unwrap().to_str().unwrap().to_string(),
            dir,
        })
        .collect();
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    cases
}

fn read_line(path: &Path, default: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim_end().to_string())
        .unwrap_or_else(|_| default.to_string())
}

/// Runs one case the suite's way; returns (exit code, stdout, stderr).
fn run(case: &Case, by_digest: bool) -> (Option<i32>, String, String) {
    let artifact = if case.dir.join("artifact").exists() {
        case.dir.join("artifact")
    } else {
        cases_dir().join("a.txt")
    };
    let mut cmd = Command::new(BIN);
    cmd.env_clear().arg("verify-bundle").arg("--bundle");
    cmd.arg(case.dir.join("bundle.sigstore.json"));
    if case.dir.join("key.pub").exists() {
        cmd.arg("--key").arg(case.dir.join("key.pub"));
    } else {
        cmd.arg("--certificate-identity")
            .arg(read_line(&case.dir.join("identity"), DEFAULT_IDENTITY))
            .arg("--certificate-oidc-issuer")
            .arg(read_line(&case.dir.join("issuer"), DEFAULT_ISSUER));
    }
    if case.dir.join("trusted_root.json").exists() {
        cmd.arg("--trusted-root")
            .arg(case.dir.join("trusted_root.json"));
    }
    if by_digest {
        let bytes = std::fs::read(&artifact).unwrap();
        let hex: String = sha256(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        cmd.arg(format!("sha256:{hex}"));
    } else {
        cmd.arg(&artifact);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_suite_has_57_cases_and_every_failing_case_has_a_reason() {
    let cases = cases();
    assert_eq!(cases.len(), 57);
    let reasons: BTreeMap<&str, &str> = REASONS.iter().copied().collect();
    assert_eq!(reasons.len(), REASONS.len(), "a case is listed twice");
    let failing: Vec<&str> = cases
        .iter()
        .map(|c| c.name.as_str())
        .filter(|n| n.ends_with("_fail"))
        .collect();
    assert_eq!(failing, reasons.keys().copied().collect::<Vec<_>>());
}

#[test]
fn every_conformance_case_passes_by_path_and_by_digest() {
    let reasons: BTreeMap<&str, &str> = REASONS.iter().copied().collect();
    let mut runs = 0;
    let mut problems = Vec::new();
    for case in cases() {
        for by_digest in [false, true] {
            runs += 1;
            let how = if by_digest { "digest" } else { "path" };
            let (code, stdout, stderr) = run(&case, by_digest);
            let line = stderr.trim_end();
            if stderr.contains("panicked") {
                problems.push(format!("{} ({how}): crashed: {stderr}", case.name));
                continue;
            }
            match reasons.get(case.name.as_str()) {
                None => {
                    if code != Some(0) || !stdout.starts_with("Verified OK") {
                        problems.push(format!(
                            "{} ({how}): rejected with {code:?}: {line}",
                            case.name
                        ));
                    }
                }
                Some(reason) => {
                    if code == Some(0) || code.is_none() {
                        problems.push(format!("{} ({how}): accepted: {stdout}", case.name));
                    } else if line.lines().count() != 1 || !line.contains(reason) {
                        problems.push(format!(
                            "{} ({how}): rejected for another reason (want {reason:?}): {line}",
                            case.name
                        ));
                    } else if !stdout.is_empty() {
                        problems.push(format!("{} ({how}): wrote to stdout: {stdout}", case.name));
                    }
                }
            }
        }
    }
    assert_eq!(runs, 114);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
