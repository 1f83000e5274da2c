//! A gitsign signature as a Sigstore bundle v0.3 (protobuf-specs JSON), for tools that
//! verify bundles: the message signature is over the signed attributes (their SHA-256 is the
//! digest), the certificate is the leaf, the log entry is the embedded one with its body
//! rebuilt (hashedrekord 0.0.1 for Rekor v1, 0.0.2 for v2, including what gitsign 0.17
//! labels 0.0.1 in a v2 log). An RFC 3161 timestamp goes into `timestampVerificationData`
//! as the TimeStampResp bundles carry. Only signatures with an embedded entry (offline mode)
//! can be exported.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use crate::core::tlog::{self, LogEntry, TlogError};
use crate::core::verify::CheckedSignature;

pub const MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportError {
    /// Online-mode signatures keep their entry in Rekor only.
    NoEmbeddedEntry,
    Entry(TlogError),
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportError::NoEmbeddedEntry => f.write_str(
                "the signature carries no transparency log entry (gitsign online mode); a bundle needs one",
            ),
            ExportError::Entry(e) => write!(f, "embedded log entry: {e}"),
        }
    }
}

impl std::error::Error for ExportError {}

fn entry_json(entry: &LogEntry, body: &[u8]) -> Value {
    let mut e = json!({
        "logIndex": entry.log_index.to_string(),
        "logId": {"keyId": B64.encode(&entry.log_id)},
        "kindVersion": {"kind": entry.kind, "version": entry.version},
        "integratedTime": entry.integrated_time.to_string(),
        "canonicalizedBody": B64.encode(body),
    });
    if let Some(set) = &entry.signed_entry_timestamp {
        e["inclusionPromise"] = json!({"signedEntryTimestamp": B64.encode(set)});
    }
    if let Some(p) = &entry.inclusion_proof {
        let mut proof = json!({
            "logIndex": p.log_index.to_string(),
            "rootHash": B64.encode(&p.root_hash),
            "treeSize": p.tree_size.to_string(),
            "hashes": p.hashes.iter().map(|h| B64.encode(h)).collect::<Vec<_>>(),
        });
        if let Some(c) = &p.checkpoint {
            proof["checkpoint"] = json!({"envelope": c});
        }
        e["inclusionProof"] = proof;
    }
    e
}

/// `TimeStampResp { status PKIStatusInfo { granted }, timeStampToken }`: bundles hold the
/// response, a CMS signature the token.
fn granted_response(token: &[u8]) -> Vec<u8> {
    use crate::core::asn1::der::{encode, tag};
    let status = encode(tag::SEQUENCE, &encode(tag::INTEGER, &[0]));
    encode(tag::SEQUENCE, &[status, token.to_vec()].concat())
}

/// The bundle for a signature whose CMS structure and ECDSA signature were checked.
pub fn bundle(sig: &CheckedSignature) -> Result<Value, ExportError> {
    let pb = sig
        .embedded_entry
        .as_deref()
        .ok_or(ExportError::NoEmbeddedEntry)?;
    let mut entry = tlog::decode_transparency_log_entry(pb).map_err(ExportError::Entry)?;
    let body = if tlog::is_v2_entry(&entry) {
        entry.version = "0.0.2".into();
        entry.signed_entry_timestamp = None;
        tlog::hashedrekord_v002_body(&sig.signed_attrs_digest, &sig.signature, sig.leaf.der())
    } else {
        tlog::hashedrekord_body(&sig.signed_attrs_digest, &sig.signature, &sig.leaf_pem())
    };
    let mut material = json!({
        "certificate": {"rawBytes": B64.encode(sig.leaf.der())},
        "tlogEntries": [entry_json(&entry, &body)],
    });
    if let Some(token) = &sig.timestamp_token {
        material["timestampVerificationData"] = json!({
            "rfc3161Timestamps": [{"signedTimestamp": B64.encode(granted_response(token))}],
        });
    }
    Ok(json!({
        "mediaType": MEDIA_TYPE,
        "verificationMaterial": material,
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": B64.encode(sig.signed_attrs_digest)},
            "signature": B64.encode(&sig.signature),
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{git::gitobj, verify};

    fn checked(name: &str) -> CheckedSignature {
        let obj = gitobj::test_vector(name);
        verify::check_signature_untrusted(&obj.payload, &obj.signature)
            .map_err(|_| "check")
            .unwrap()
    }

    #[test]
    fn exports_an_embedded_entry_signature_with_the_rebuilt_body() {
        let sig = checked("fe1e62346d3c346a343d089e8b4c3fb57716bc94.commit");
        let b = bundle(&sig).unwrap();
        assert_eq!(b["mediaType"], MEDIA_TYPE);
        let entry = &b["verificationMaterial"]["tlogEntries"][0];
        let body = B64
            .decode(entry["canonicalizedBody"].as_str().unwrap())
            .unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["kind"], "hashedrekord");
        assert_eq!(
            b["messageSignature"]["messageDigest"]["digest"],
            B64.encode(sig.signed_attrs_digest)
        );
        assert!(entry["inclusionProof"]["checkpoint"]["envelope"].is_string());
        assert!(entry["inclusionPromise"]["signedEntryTimestamp"].is_string());
    }
}
