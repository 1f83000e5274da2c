//! Log entries as Sigstore bundles carry them: any supported kind, Rekor v1 or v2.
//!
//! [`verify_logged`] proves that the entry's canonical body is in a trusted log and returns
//! what the body says was signed; the caller compares that with the bundle. The rules follow
//! sigstore-go (`pkg/verify/tlog.go`):
//!
//! - The entry needs a signed entry timestamp (SET) or an inclusion proof; Rekor v2 entries
//!   (`hashedrekord`/`dsse` 0.0.2) need the proof and have no SET.
//! - A SET makes the integrated time a trusted time; the log key must be valid then.
//!   An integrated time without a SET is not trusted (it is not signed).
//! - A proof whose checkpoint has a Rekor v1 origin (`<host> - <tree id>`) is checked as
//!   Rekor v1 does ([`super::verify_checkpoint`], proof index and size); otherwise as Rekor v2
//!   does: a C2SP note by the log ([`super::verify_note`]), the entry's index, and the
//!   checkpoint's own size and root (the proof's copies of index, size and root must agree).

use super::body::{LoggedContent, parse_body};
use super::{
    LogEntry, LogKey, TlogError, hex, leaf_hash, verify_inclusion, verify_note, verify_set,
    verify_v1_inclusion,
};

/// An entry proven to be in a trusted log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEntry {
    pub log_index: u64,
    pub log_id: Vec<u8>,
    pub base_url: String,
    /// The integrated time, only when a SET vouches for it.
    pub integrated_time: Option<i64>,
    /// The log key's validity (inclusive), for checking times that come from elsewhere.
    pub log_valid_from: Option<i64>,
    pub log_valid_until: Option<i64>,
    pub rekor_v2: bool,
    pub content: LoggedContent,
}

impl LoggedEntry {
    /// Whether the log key that vouched for this entry was valid at `time`.
    pub fn log_valid_at(&self, time: i64) -> bool {
        self.log_valid_from
            .is_some_and(|from| from <= time && self.log_valid_until.is_none_or(|u| time <= u))
    }
}

fn is_rekor_v2(entry: &LogEntry) -> bool {
    matches!(
        (entry.kind.as_str(), entry.version.as_str()),
        ("hashedrekord", "0.0.2") | ("dsse", "0.0.2")
    )
}

/// `<anything> - <decimal tree id>`: the origin Rekor v1 writes.
pub(crate) fn has_v1_origin(note: &str) -> bool {
    let origin = note.split('\n').next().unwrap_or_default();
    origin.rsplit_once(" - ").is_some_and(|(host, id)| {
        !host.is_empty() && !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Verifies a bundle's log entry against the trusted logs (see the module docs).
pub fn verify_logged(entry: &LogEntry, logs: &[LogKey<'_>]) -> Result<LoggedEntry, TlogError> {
    let body = entry
        .canonicalized_body
        .as_deref()
        .ok_or(TlogError::Malformed {
            what: "entry has no canonicalized body",
        })?;
    let content = parse_body(&entry.kind, &entry.version, body)?;
    let rekor_v2 = is_rekor_v2(entry);

    let candidates: Vec<&LogKey<'_>> = logs
        .iter()
        .filter(|l| l.log_id == entry.log_id.as_slice())
        .collect();
    let Some(&first) = candidates.first() else {
        return Err(TlogError::UnknownLog {
            log_id_hex: hex(&entry.log_id),
        });
    };

    let set = entry.signed_entry_timestamp.as_deref();
    let proof = entry.inclusion_proof.as_ref();
    if rekor_v2 && proof.is_none() {
        return Err(TlogError::InclusionProofMissing);
    }
    if set.is_none() && proof.is_none() {
        return Err(TlogError::InclusionProofMissing);
    }

    // With a SET the key must be valid at the integrated time it signs; without one, the
    // caller checks the key against the times it trusts.
    let log = match set {
        Some(_) if rekor_v2 => {
            return Err(TlogError::Malformed {
                what: "Rekor v2 entries carry no signed entry timestamp",
            });
        }
        Some(_) => candidates
            .iter()
            .copied()
            .find(|l| l.valid_at(entry.integrated_time))
            .ok_or(TlogError::KeyNotValidAt {
                time: entry.integrated_time,
                valid_from: first.valid_from,
                valid_until: first.valid_until,
            })?,
        None => first,
    };

    let mut integrated_time = None;
    if let Some(set) = set {
        verify_set(entry, body, set, log)?;
        integrated_time = Some(entry.integrated_time);
    }

    if let Some(proof) = proof {
        let note = proof.checkpoint.as_deref();
        let leaf = leaf_hash(body);
        if !rekor_v2 && note.is_none_or(has_v1_origin) {
            verify_v1_inclusion(proof, &leaf, log)?;
        } else {
            let note = note.ok_or(TlogError::CheckpointMissing)?;
            let checkpoint = verify_note(note, log)?;
            // Rekor v2 proves against the checkpoint; the proof's own copies must agree, so
            // that no unverified field can differ from what was checked.
            if checkpoint.tree_size != proof.tree_size {
                return Err(TlogError::CheckpointTreeSizeMismatch {
                    checkpoint: checkpoint.tree_size,
                    proof: proof.tree_size,
                });
            }
            if checkpoint.root_hash != proof.root_hash {
                return Err(TlogError::CheckpointRootMismatch {
                    checkpoint: checkpoint.root_hash,
                    proof: proof.root_hash.clone(),
                });
            }
            if proof.log_index != entry.log_index {
                return Err(TlogError::InclusionProofInvalid {
                    what: "Rekor v2 proof index differs from the entry's index",
                });
            }
            verify_inclusion(
                entry.log_index,
                checkpoint.tree_size,
                &leaf,
                &proof.hashes,
                &checkpoint.root_hash,
            )?;
        }
    }

    Ok(LoggedEntry {
        log_index: entry.log_index,
        log_id: entry.log_id.clone(),
        base_url: log.base_url.to_string(),
        integrated_time,
        log_valid_from: log.valid_from,
        log_valid_until: log.valid_until,
        rekor_v2,
        content,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rekor_v1_origins_end_in_a_tree_id() {
        assert!(has_v1_origin(
            "rekor.sigstore.dev - 1193050959916656506\n1\n"
        ));
        assert!(!has_v1_origin("log2025-alpha1.rekor.sigstage.dev\n736\n"));
        assert!(!has_v1_origin("a - \n"));
        assert!(!has_v1_origin(" - 12\n"));
        assert!(!has_v1_origin("a - 1x\n"));
    }
}
