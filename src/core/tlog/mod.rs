//! Rekor v1 transparency log entries: decoding, the hashedrekord body, Merkle inclusion,
//! signed checkpoints and the signed entry timestamp (SET).
//!
//! Pure code: entries and trusted log keys in, a [`VerifiedEntry`] or a [`TlogError`] out.
//! Nothing here fetches keys or entries; the caller passes the log keys of its trusted root,
//! never a key the log served itself (CVE-2023-47122).
//!
//! What [`verify_entry`] demands of a `hashedrekord` 0.0.1 entry (fail closed, no optional
//! parts): the log key named by the entry's log id, valid at the integrated time; a signed
//! entry timestamp over the **global** log index; an inclusion proof with the **shard-local**
//! index up to a root that a checkpoint signed by the same key commits to.
//!
//! Bundles ([`verify_logged`]) add the other kinds a Sigstore bundle carries (hashedrekord
//! 0.0.2, dsse 0.0.1, intoto 0.0.2) and Rekor v2 (no SET, C2SP signed-note checkpoints with
//! Ed25519 key ids): see `logged.rs` and `note.rs`.
//!
//! Non-goals: consistency proofs between checkpoints.

mod body;
mod checkpoint;
mod logged;
mod merkle;
mod note;
mod proto;
mod rekor_json;
#[cfg(test)]
mod tests;
mod v2;

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::core::x509::keys::{HashAlg, KeyError, PublicKey};

pub use body::{LoggedContent, LoggedSignature, LoggedVerifier, parse_body};
pub use checkpoint::{Checkpoint, NoteSignature, parse_checkpoint, verify_checkpoint};
pub use logged::{LoggedEntry, verify_logged};
pub use merkle::{leaf_hash, node_hash, verify_inclusion};
pub use note::{note_key_hint, note_key_id, url_host, verify_note};
pub use proto::{decode_transparency_log_entry, encode_transparency_log_entry};
pub use rekor_json::{entry_from_rekor_json, entry_to_rekor_json};
pub use v2::{
    KEY_DETAILS_P256, hashedrekord_v002_body, hashedrekord_v002_request, is_v2_entry,
    verify_embedded_v2,
};

/// A transparency log key as the trusted root lists it.
///
/// `valid_from: None` means the root gives no start of validity: such a key is never trusted.
/// Both ends of the validity period are inclusive (Unix seconds).
#[derive(Debug, Clone, Copy)]
pub struct LogKey<'a> {
    pub log_id: &'a [u8],
    pub key: &'a PublicKey,
    /// The DER SubjectPublicKeyInfo of `key` (checkpoint key hints are computed over it).
    pub key_der: &'a [u8],
    pub valid_from: Option<i64>,
    pub valid_until: Option<i64>,
    pub base_url: &'a str,
}

/// The transparency logs of a trusted root whose keys we can verify with.
pub fn trusted_log_keys(root: &crate::core::sigstore::trust::TrustedRoot) -> Vec<LogKey<'_>> {
    root.tlogs
        .iter()
        .filter_map(|t| {
            Some(LogKey {
                log_id: &t.log_id,
                key: t.key.as_ref()?,
                key_der: &t.key_der,
                valid_from: Some(t.valid_for.start),
                valid_until: t.valid_for.end,
                base_url: &t.base_url,
            })
        })
        .collect()
}

impl LogKey<'_> {
    /// Whether the key may vouch for something logged at `time`.
    pub fn valid_at(&self, time: i64) -> bool {
        match self.valid_from {
            None => false,
            Some(from) => from <= time && self.valid_until.is_none_or(|until| time <= until),
        }
    }
}

/// `dev.sigstore.rekor.v1.InclusionProof`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// The index of the entry in its shard (not the global index the SET covers).
    pub log_index: u64,
    pub root_hash: Vec<u8>,
    pub tree_size: u64,
    pub hashes: Vec<Vec<u8>>,
    /// The signed note (checkpoint.envelope).
    pub checkpoint: Option<String>,
}

/// `dev.sigstore.rekor.v1.TransparencyLogEntry`, as embedded in a gitsign signature or rebuilt
/// from the Rekor REST API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The global ("virtual") index across all shards; the SET covers this one.
    pub log_index: u64,
    pub log_id: Vec<u8>,
    pub kind: String,
    pub version: String,
    pub integrated_time: i64,
    pub signed_entry_timestamp: Option<Vec<u8>>,
    pub inclusion_proof: Option<InclusionProof>,
    /// gitsign clears it in embedded entries; the verifier rebuilds the body.
    pub canonicalized_body: Option<Vec<u8>>,
}

/// The outcome of a successful [`verify_entry`] (Rekor v1: SET and inclusion proof both
/// verified) or [`verify_embedded_v2`] (Rekor v2: inclusion proof only, no trusted time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEntry {
    pub log_index: u64,
    /// Meaningful only when `set_verified` (Rekor v2 writes 0).
    pub integrated_time: i64,
    pub log_id: Vec<u8>,
    pub base_url: String,
    pub set_verified: bool,
    pub inclusion_verified: bool,
    pub rekor_v2: bool,
    /// The log key's validity (inclusive), for checking times that come from elsewhere.
    pub log_valid_from: Option<i64>,
    pub log_valid_until: Option<i64>,
}

impl VerifiedEntry {
    /// The integrated time, when a SET vouches for it.
    pub fn trusted_time(&self) -> Option<i64> {
        self.set_verified.then_some(self.integrated_time)
    }

    /// Whether the log key that vouched for this entry was valid at `time`.
    pub fn log_valid_at(&self, time: i64) -> bool {
        self.log_valid_from
            .is_some_and(|from| from <= time && self.log_valid_until.is_none_or(|u| time <= u))
    }

    /// The major version of the log's API (1 or 2).
    pub fn log_version(&self) -> u8 {
        if self.rekor_v2 { 2 } else { 1 }
    }
}

/// Everything that can be wrong with a log entry, with the evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlogError {
    /// The bytes or JSON do not have the expected shape.
    Malformed {
        what: &'static str,
    },
    UnsupportedKind {
        kind: String,
        version: String,
    },
    /// The entry carries a body that differs from the one rebuilt from the signature.
    BodyMismatch,
    UnknownLog {
        log_id_hex: String,
    },
    /// The log key is not valid at the entry's integrated time (or has no start of validity).
    KeyNotValidAt {
        time: i64,
        valid_from: Option<i64>,
        valid_until: Option<i64>,
    },
    SetMissing,
    SetInvalid(KeyError),
    InclusionProofMissing,
    /// The proof cannot be a proof for this index and tree size.
    InclusionProofInvalid {
        what: &'static str,
    },
    InclusionProofLength {
        expected: usize,
        found: usize,
    },
    RootMismatch {
        expected: Vec<u8>,
        computed: Vec<u8>,
    },
    CheckpointMissing,
    CheckpointMalformed {
        what: &'static str,
    },
    /// A signature line's key hint is not the log key's.
    CheckpointKeyHint {
        expected: [u8; 4],
        found: [u8; 4],
    },
    /// A signature line's name does not match the checkpoint origin (Rekor v1 signs with the
    /// host name the origin starts with).
    CheckpointSignerName {
        name: String,
        origin: String,
    },
    CheckpointSignatureInvalid(KeyError),
    /// A Rekor v2 checkpoint's origin line is not the log's name.
    CheckpointOrigin {
        origin: String,
        expected: String,
    },
    /// No signature line of a Rekor v2 checkpoint is by the log key under the log's name.
    CheckpointNoLogSignature {
        name: String,
    },
    CheckpointTreeSizeMismatch {
        checkpoint: u64,
        proof: u64,
    },
    CheckpointRootMismatch {
        checkpoint: Vec<u8>,
        proof: Vec<u8>,
    },
}

impl fmt::Display for TlogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlogError::Malformed { what } => write!(f, "malformed log entry: {what}"),
            TlogError::UnsupportedKind { kind, version } => {
                write!(f, "unsupported log entry kind {kind:?} version {version:?}")
            }
            TlogError::BodyMismatch => {
                f.write_str("log entry body differs from the body rebuilt from the signature")
            }
            TlogError::UnknownLog { log_id_hex } => {
                write!(f, "log {log_id_hex} is not in the trusted root")
            }
            TlogError::KeyNotValidAt {
                time,
                valid_from,
                valid_until,
            } => write!(
                f,
                "log key not valid at integrated time {time} (valid from {} until {})",
                valid_from.map_or("<unset>".to_string(), |t| t.to_string()),
                valid_until.map_or("<open>".to_string(), |t| t.to_string()),
            ),
            TlogError::SetMissing => f.write_str("log entry has no signed entry timestamp"),
            TlogError::SetInvalid(e) => write!(f, "signed entry timestamp invalid: {e}"),
            TlogError::InclusionProofMissing => f.write_str("log entry has no inclusion proof"),
            TlogError::InclusionProofInvalid { what } => {
                write!(f, "invalid inclusion proof: {what}")
            }
            TlogError::InclusionProofLength { expected, found } => write!(
                f,
                "inclusion proof has {found} hashes, the index and tree size need {expected}"
            ),
            TlogError::RootMismatch { expected, computed } => write!(
                f,
                "inclusion proof leads to root {}, expected {}",
                hex(computed),
                hex(expected)
            ),
            TlogError::CheckpointMissing => f.write_str("inclusion proof has no checkpoint"),
            TlogError::CheckpointMalformed { what } => write!(f, "malformed checkpoint: {what}"),
            TlogError::CheckpointKeyHint { expected, found } => write!(
                f,
                "checkpoint signature key hint {} is not the log key's {}",
                hex(found),
                hex(expected)
            ),
            TlogError::CheckpointSignerName { name, origin } => write!(
                f,
                "checkpoint signer name {name:?} does not match origin {origin:?}"
            ),
            TlogError::CheckpointSignatureInvalid(e) => {
                write!(f, "checkpoint signature invalid: {e}")
            }
            TlogError::CheckpointOrigin { origin, expected } => write!(
                f,
                "checkpoint origin {origin:?} is not the log's name {expected:?}"
            ),
            TlogError::CheckpointNoLogSignature { name } => write!(
                f,
                "checkpoint has no signature by the log key under the name {name:?}"
            ),
            TlogError::CheckpointTreeSizeMismatch { checkpoint, proof } => write!(
                f,
                "checkpoint tree size {checkpoint} differs from the inclusion proof's {proof}"
            ),
            TlogError::CheckpointRootMismatch { checkpoint, proof } => write!(
                f,
                "checkpoint root {} differs from the inclusion proof's {}",
                hex(checkpoint),
                hex(proof)
            ),
        }
    }
}

impl std::error::Error for TlogError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TlogError::SetInvalid(e) | TlogError::CheckpointSignatureInvalid(e) => Some(e),
            _ => None,
        }
    }
}
pub(crate) use crate::core::asn1::der::hex;

/// Hex of either case to bytes; `None` on odd length or a non-hex digit.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks_exact(2)
        .map(|p| Some((nibble(p[0])? << 4) | nibble(p[1])?))
        .collect()
}

/// The canonical (RFC 8785) JSON body of a hashedrekord 0.0.1 entry, as Rekor stores it.
///
/// `public_key_pem` is the signer certificate (or key) PEM exactly as logged, trailing newline
/// included: the leaf hash covers these bytes.
pub fn hashedrekord_body(
    digest_sha256: &[u8; 32],
    signature: &[u8],
    public_key_pem: &str,
) -> Vec<u8> {
    // Hex and base64 need no JSON escaping, and the keys below are already in RFC 8785 order,
    // so plain formatting is the canonical form.
    format!(
        concat!(
            r#"{{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{{"data":{{"hash":"#,
            r#"{{"algorithm":"sha256","value":"{}"}}}},"signature":{{"content":"{}","#,
            r#""publicKey":{{"content":"{}"}}}}}}}}"#
        ),
        hex(digest_sha256),
        B64.encode(signature),
        B64.encode(public_key_pem.as_bytes()),
    )
    .into_bytes()
}

/// Go's RFC 8785 canonicalizer (which Rekor and sigstore-go use) reads numbers as IEEE doubles:
/// beyond 2^53 its output would not be the decimal we print, so such values are refused.
const MAX_EXACT_JSON_INT: u64 = 1 << 53;

/// The bytes a Rekor v1 SET signs: canonical JSON of body, integrated time, log id and the
/// global log index.
pub fn set_payload(
    body: &[u8],
    integrated_time: i64,
    log_id: &[u8],
    log_index: u64,
) -> Result<Vec<u8>, TlogError> {
    if integrated_time.unsigned_abs() > MAX_EXACT_JSON_INT || log_index > MAX_EXACT_JSON_INT {
        return Err(TlogError::Malformed {
            what: "integrated time or log index beyond 2^53",
        });
    }
    Ok(format!(
        r#"{{"body":"{}","integratedTime":{},"logID":"{}","logIndex":{}}}"#,
        B64.encode(body),
        integrated_time,
        hex(log_id),
        log_index
    )
    .into_bytes())
}

/// Verifies a Rekor v1 `hashedrekord` 0.0.1 entry for `body` (the canonical body the verifier
/// rebuilt from the signature) against the trusted log keys.
///
/// The cheap structural checks run before the signature checks; every check must pass.
pub fn verify_entry(
    entry: &LogEntry,
    body: &[u8],
    logs: &[LogKey<'_>],
) -> Result<VerifiedEntry, TlogError> {
    if entry.kind != "hashedrekord" || entry.version != "0.0.1" {
        return Err(TlogError::UnsupportedKind {
            kind: entry.kind.clone(),
            version: entry.version.clone(),
        });
    }
    if let Some(logged) = &entry.canonicalized_body
        && logged.as_slice() != body
    {
        return Err(TlogError::BodyMismatch);
    }

    let candidates: Vec<&LogKey<'_>> = logs
        .iter()
        .filter(|l| l.log_id == entry.log_id.as_slice())
        .collect();
    let Some(first) = candidates.first() else {
        return Err(TlogError::UnknownLog {
            log_id_hex: hex(&entry.log_id),
        });
    };
    let Some(log) = candidates
        .iter()
        .find(|l| l.valid_at(entry.integrated_time))
    else {
        return Err(TlogError::KeyNotValidAt {
            time: entry.integrated_time,
            valid_from: first.valid_from,
            valid_until: first.valid_until,
        });
    };

    let set = entry
        .signed_entry_timestamp
        .as_deref()
        .ok_or(TlogError::SetMissing)?;
    let proof = entry
        .inclusion_proof
        .as_ref()
        .ok_or(TlogError::InclusionProofMissing)?;
    verify_v1_inclusion(proof, &leaf_hash(body), log)?;
    verify_set(entry, body, set, log)?;

    Ok(VerifiedEntry {
        log_index: entry.log_index,
        integrated_time: entry.integrated_time,
        log_id: entry.log_id.clone(),
        base_url: log.base_url.to_string(),
        set_verified: true,
        inclusion_verified: true,
        rekor_v2: false,
        log_valid_from: log.valid_from,
        log_valid_until: log.valid_until,
    })
}

/// Rekor v1 inclusion: the proof (shard-local index and tree size) leads from `leaf` to its
/// root, and a checkpoint for that same size and root is signed by `log` on every line.
pub(crate) fn verify_v1_inclusion(
    proof: &InclusionProof,
    leaf: &[u8; 32],
    log: &LogKey<'_>,
) -> Result<(), TlogError> {
    // The proof first, so that a wrong proof is reported as such.
    verify_inclusion(
        proof.log_index,
        proof.tree_size,
        leaf,
        &proof.hashes,
        &proof.root_hash,
    )?;
    let note = proof
        .checkpoint
        .as_deref()
        .ok_or(TlogError::CheckpointMissing)?;
    let (unverified, _) = parse_checkpoint(note)?;
    if unverified.tree_size != proof.tree_size {
        return Err(TlogError::CheckpointTreeSizeMismatch {
            checkpoint: unverified.tree_size,
            proof: proof.tree_size,
        });
    }
    if unverified.root_hash != proof.root_hash {
        return Err(TlogError::CheckpointRootMismatch {
            checkpoint: unverified.root_hash,
            proof: proof.root_hash.clone(),
        });
    }
    verify_checkpoint(note, log)?;
    Ok(())
}

/// The Rekor v1 signed entry timestamp `set` over `body`, the integrated time, the log id and
/// the global index, by `log` (ECDSA with SHA-256: sigstore-go refuses other key types too).
pub(crate) fn verify_set(
    entry: &LogEntry,
    body: &[u8],
    set: &[u8],
    log: &LogKey<'_>,
) -> Result<(), TlogError> {
    let message = set_payload(body, entry.integrated_time, &entry.log_id, entry.log_index)?;
    if matches!(log.key, PublicKey::Ed25519(_)) {
        return Err(TlogError::SetInvalid(KeyError::UnsupportedKey));
    }
    log.key
        .verify(HashAlg::Sha256, &message, set)
        .map_err(TlogError::SetInvalid)
}
