//! Entries as the Rekor v1 REST API returns them (`GET /api/v1/log/entries/{uuid}`,
//! `POST /api/v1/log/entries/retrieve`, the 201 answer to `POST /api/v1/log/entries`):
//!
//! ```text
//! { "<uuid>": { "body": b64, "integratedTime": N, "logID": hex, "logIndex": N,
//!               "verification": { "inclusionProof": { "checkpoint": str, "hashes": [hex],
//!                 "logIndex": N, "rootHash": hex, "treeSize": N },
//!                 "signedEntryTimestamp": b64 } } }
//! ```
//!
//! [`entry_from_rekor_json`] takes the object under the UUID key. The top-level `logIndex` is
//! the global one, the proof's `logIndex` the shard-local one. Unknown members are ignored.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;

use super::{InclusionProof, LogEntry, TlogError, unhex};

/// The inverse of [`entry_from_rekor_json`]: the object Rekor serves under an entry's UUID.
pub fn entry_to_rekor_json(entry: &LogEntry, body: &[u8]) -> Value {
    let mut verification = serde_json::Map::new();
    if let Some(p) = &entry.inclusion_proof {
        verification.insert(
            "inclusionProof".into(),
            serde_json::json!({
                "checkpoint": p.checkpoint,
                "hashes": p.hashes.iter().map(|h| super::hex(h)).collect::<Vec<_>>(),
                "logIndex": p.log_index,
                "rootHash": super::hex(&p.root_hash),
                "treeSize": p.tree_size,
            }),
        );
    }
    if let Some(set) = &entry.signed_entry_timestamp {
        verification.insert("signedEntryTimestamp".into(), B64.encode(set).into());
    }
    serde_json::json!({
        "body": B64.encode(body),
        "integratedTime": entry.integrated_time,
        "logID": super::hex(&entry.log_id),
        "logIndex": entry.log_index,
        "verification": verification,
    })
}

fn malformed(what: &'static str) -> TlogError {
    TlogError::Malformed { what }
}

fn field<'a>(obj: &'a Value, name: &'static str) -> Result<&'a Value, TlogError> {
    obj.get(name).ok_or(malformed(name))
}

fn u64_field(obj: &Value, name: &'static str) -> Result<u64, TlogError> {
    field(obj, name)?
        .as_u64()
        .filter(|&v| v <= i64::MAX as u64)
        .ok_or(malformed(name))
}

fn str_field<'a>(obj: &'a Value, name: &'static str) -> Result<&'a str, TlogError> {
    field(obj, name)?.as_str().ok_or(malformed(name))
}

fn hex_field(obj: &Value, name: &'static str) -> Result<Vec<u8>, TlogError> {
    unhex(str_field(obj, name)?).ok_or(malformed(name))
}

fn b64_field(obj: &Value, name: &'static str) -> Result<Vec<u8>, TlogError> {
    B64.decode(str_field(obj, name)?)
        .map_err(|_| malformed(name))
}

fn inclusion_proof(p: &Value) -> Result<InclusionProof, TlogError> {
    let hashes = field(p, "hashes")?
        .as_array()
        .ok_or(malformed("hashes"))?
        .iter()
        .map(|h| h.as_str().and_then(unhex).ok_or(malformed("hashes")))
        .collect::<Result<Vec<_>, _>>()?;
    let checkpoint = match p.get("checkpoint") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_str().ok_or(malformed("checkpoint"))?.to_string()),
    };
    Ok(InclusionProof {
        log_index: u64_field(p, "logIndex")?,
        root_hash: hex_field(p, "rootHash")?,
        tree_size: u64_field(p, "treeSize")?,
        hashes,
        checkpoint,
    })
}

/// Builds a [`LogEntry`] from one entry object of the Rekor v1 REST API. The kind and version
/// come from the decoded body's `kind` and `apiVersion`; `canonicalized_body` is the body.
pub fn entry_from_rekor_json(value: &Value) -> Result<LogEntry, TlogError> {
    if !value.is_object() {
        return Err(malformed("entry is not a JSON object"));
    }
    let body = b64_field(value, "body")?;
    let parsed: Value = serde_json::from_slice(&body).map_err(|_| malformed("body is not JSON"))?;
    let kind = str_field(&parsed, "kind")?.to_string();
    let version = str_field(&parsed, "apiVersion")?.to_string();

    let integrated_time = field(value, "integratedTime")?
        .as_i64()
        .filter(|&t| t >= 0)
        .ok_or(malformed("integratedTime"))?;
    let log_id = hex_field(value, "logID")?;
    let log_index = u64_field(value, "logIndex")?;

    let (set, proof) = match value.get("verification") {
        None | Some(Value::Null) => (None, None),
        Some(v) => {
            let set = match v.get("signedEntryTimestamp") {
                None | Some(Value::Null) => None,
                Some(_) => Some(b64_field(v, "signedEntryTimestamp")?),
            };
            let proof = match v.get("inclusionProof") {
                None | Some(Value::Null) => None,
                Some(p) => Some(inclusion_proof(p)?),
            };
            (set, proof)
        }
    };

    Ok(LogEntry {
        log_index,
        log_id,
        kind,
        version,
        integrated_time,
        signed_entry_timestamp: set,
        inclusion_proof: proof,
        canonicalized_body: Some(body),
    })
}
