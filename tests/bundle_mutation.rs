//! Corrupt any byte of a good bundle: it must be rejected. For three happy-path conformance
//! bundles (Rekor v1 hashedrekord, Rekor v1 DSSE, Rekor v2 with an RFC 3161 timestamp), every
//! byte of the signature, the certificate, the RFC 3161 timestamp, the log entry's body, signed
//! entry timestamp and inclusion proof (hashes and root), and every ASCII byte of the
//! checkpoint is flipped in
//! turn (decoded bytes are flipped, then re-encoded as base64) and the bundle verified again
//! through the same verifier the binary uses. Each must fail; the unmodified bundle must pass.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;

use gitsign::core::sigstore::bundle::{self, Artifact, Expected};
use gitsign::core::sigstore::trust::TrustedRoot;
use gitsign::core::verify::policy::{IdentityPolicy, Policy};
use gitsign::core::verify::{Options, Verifier};

const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn dir(case: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/conformance/bundle-verify")
        .join(case)
}

struct Setup {
    json: Value,
    artifact: Artifact,
    expected: Expected,
    trust: TrustedRoot,
}

fn setup(case: &str) -> Setup {
    let d = dir(case);
    let trust = match std::fs::read(d.join("trusted_root.json")) {
        Ok(t) => TrustedRoot::from_json(&t).unwrap(),
        Err(_) => TrustedRoot::production().clone(),
    };
    let artifact = std::fs::read(d.join("artifact"))
        .or_else(|_| std::fs::read(dir("a.txt")))
        .unwrap();
    Setup {
        json: serde_json::from_slice(&std::fs::read(d.join("bundle.sigstore.json")).unwrap())
            .unwrap(),
        artifact: Artifact::Bytes(artifact),
        expected: Expected::Identity(Policy::Identity(
            IdentityPolicy::new(Some(IDENTITY), None, Some(ISSUER), None).unwrap(),
        )),
        trust,
    }
}

/// Through one verifier for the whole sweep: what it remembers of the good bundle's
/// certificate must never let a corrupted one through.
fn verifies(v: &Verifier<'_>, s: &Setup, json: &Value) -> Result<(), String> {
    let bytes = serde_json::to_vec(json).unwrap();
    let b = bundle::parse(&bytes).map_err(|e| e.to_string())?;
    v.verify_bundle(&b, &s.artifact, &s.expected)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// JSON pointers to the base64 fields to corrupt.
fn base64_fields(json: &Value) -> Vec<String> {
    let mut fields = Vec::new();
    if json.get("messageSignature").is_some() {
        fields.push("/messageSignature/signature".to_string());
    } else {
        fields.push("/dsseEnvelope/signatures/0/sig".to_string());
    }
    fields.push("/verificationMaterial/certificate/rawBytes".to_string());
    let ts = "/verificationMaterial/timestampVerificationData/rfc3161Timestamps/0";
    if json.pointer(ts).is_some() {
        fields.push(format!("{ts}/signedTimestamp"));
    }
    let e = "/verificationMaterial/tlogEntries/0";
    fields.push(format!("{e}/canonicalizedBody"));
    if json.pointer(&format!("{e}/inclusionPromise")).is_some() {
        fields.push(format!("{e}/inclusionPromise/signedEntryTimestamp"));
    }
    fields.push(format!("{e}/inclusionProof/rootHash"));
    let hashes = json
        .pointer(&format!("{e}/inclusionProof/hashes"))
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    for i in 0..hashes {
        fields.push(format!("{e}/inclusionProof/hashes/{i}"));
    }
    fields
}

fn sweep(case: &str) -> usize {
    let s = setup(case);
    let v = Verifier::new(&s.trust, Options::default());
    verifies(&v, &s, &s.json).unwrap_or_else(|e| panic!("{case} does not verify unmodified: {e}"));
    let mut runs = 0;
    let mut accepted = Vec::new();
    for field in base64_fields(&s.json) {
        let original = B64
            .decode(s.json.pointer(&field).unwrap().as_str().unwrap())
            .unwrap();
        for i in 0..original.len() {
            let mut bytes = original.clone();
            bytes[i] ^= 0x01;
            let mut json = s.json.clone();
            *json.pointer_mut(&field).unwrap() = Value::String(B64.encode(&bytes));
            runs += 1;
            if verifies(&v, &s, &json).is_ok() {
                accepted.push(format!("{field} byte {i}"));
            }
        }
    }
    let cp = "/verificationMaterial/tlogEntries/0/inclusionProof/checkpoint/envelope";
    let note = s.json.pointer(cp).unwrap().as_str().unwrap().to_string();
    for (i, b) in note.bytes().enumerate().filter(|(_, b)| b.is_ascii()) {
        let mut bytes = note.clone().into_bytes();
        bytes[i] = b ^ 0x01;
        let mut json = s.json.clone();
        *json.pointer_mut(cp).unwrap() = Value::String(String::from_utf8(bytes).unwrap());
        runs += 1;
        if verifies(&v, &s, &json).is_ok() {
            accepted.push(format!("checkpoint byte {i}"));
        }
    }
    assert!(
        accepted.is_empty(),
        "{case}: corrupted bundles accepted: {accepted:?}"
    );
    assert!(
        !v.memo().is_empty(),
        "{case}: the verifier remembered nothing"
    );
    runs
}

#[test]
fn every_corrupted_byte_of_a_rekor_v1_message_signature_bundle_is_rejected() {
    assert!(sweep("happy-path-v0.3") > 5000);
}

#[test]
fn every_corrupted_byte_of_a_rekor_v1_dsse_bundle_is_rejected() {
    assert!(sweep("happy-path-intoto-in-dsse-v3") > 5000);
}

#[test]
fn every_corrupted_byte_of_a_rekor_v2_bundle_is_rejected() {
    assert!(sweep("rekor2-happy-path") > 5000);
}
