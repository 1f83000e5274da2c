//! Embedded Signed Certificate Timestamps (RFC 6962 §3.2–3.3): proof that Fulcio logged the
//! precertificate of a leaf in a certificate transparency log.
//!
//! The log signed the precertificate's TBS, which is the leaf's TBS without the SCT list
//! extension (the poison extension it carried is gone from the final certificate). So the
//! signed data is rebuilt by dropping that one extension from the received TBS and fixing
//! the lengths around it; every other byte stays as received.

use std::fmt;

use crate::core::cert::{self, Certificate, hex};
use crate::core::der::{self as tlv, DerError, tag};
use crate::core::keys::{HashAlg, PublicKey, sha256};
use crate::core::trust::TransparencyLog;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSct {
    pub log_id: Vec<u8>,
    pub timestamp_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SctError {
    /// The leaf has no SCT list extension.
    Missing,
    Malformed {
        what: &'static str,
    },
    Der(DerError),
    /// No SCT names a CT log of the trusted root valid at its timestamp.
    NoMatchingLog {
        log_ids: Vec<String>,
    },
    /// An SCT from a trusted log does not verify.
    BadSignature {
        log_id: String,
        timestamp_ms: u64,
    },
    UnsupportedAlgorithm {
        hash: u8,
        signature: u8,
    },
}

impl fmt::Display for SctError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SctError::Missing => f.write_str("certificate has no embedded SCT"),
            SctError::Malformed { what } => write!(f, "malformed embedded SCT: bad {what}"),
            SctError::Der(e) => write!(
                f,
                "malformed certificate while rebuilding the precertificate: {e}"
            ),
            SctError::NoMatchingLog { log_ids } => write!(
                f,
                "no embedded SCT is from a trusted CT log valid at its time (log ids: {})",
                log_ids.join(", ")
            ),
            SctError::BadSignature {
                log_id,
                timestamp_ms,
            } => write!(
                f,
                "SCT from CT log {log_id} at {timestamp_ms} ms does not verify"
            ),
            SctError::UnsupportedAlgorithm { hash, signature } => write!(
                f,
                "SCT uses unsupported algorithm (hash {hash}, signature {signature})"
            ),
        }
    }
}

impl std::error::Error for SctError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SctError::Der(e) => Some(e),
            _ => None,
        }
    }
}

impl From<DerError> for SctError {
    fn from(e: DerError) -> Self {
        SctError::Der(e)
    }
}

/// One parsed `SignedCertificateTimestamp` (v1).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sct<'a> {
    log_id: &'a [u8],
    timestamp_ms: u64,
    extensions: &'a [u8],
    hash: u8,
    sig_alg: u8,
    signature: &'a [u8],
}

/// A bounds-checked cursor over TLS presentation-language bytes.
struct Tls<'a> {
    data: &'a [u8],
}

impl<'a> Tls<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], SctError> {
        if self.data.len() < n {
            return Err(SctError::Malformed { what });
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(head)
    }
    fn uint(&mut self, n: usize, what: &'static str) -> Result<u64, SctError> {
        Ok(self
            .take(n, what)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }
    /// `opaque<0..2^(8n)-1>`: an n-byte length then that many bytes.
    fn vec(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], SctError> {
        let len = self.uint(n, what)? as usize;
        self.take(len, what)
    }
    fn finish(&self, what: &'static str) -> Result<(), SctError> {
        if self.data.is_empty() {
            Ok(())
        } else {
            Err(SctError::Malformed { what })
        }
    }
}

/// Parses a `SignedCertificateTimestampList` (RFC 6962 §3.3).
fn parse_list(list: &[u8]) -> Result<Vec<Sct<'_>>, SctError> {
    let mut outer = Tls { data: list };
    let body = outer.vec(2, "SCT list length")?;
    outer.finish("SCT list (trailing bytes)")?;
    let mut items = Tls { data: body };
    let mut scts = Vec::new();
    while !items.data.is_empty() {
        let raw = items.vec(2, "SCT length")?;
        if raw.is_empty() {
            return Err(SctError::Malformed {
                what: "SCT (empty)",
            });
        }
        let mut s = Tls { data: raw };
        if s.uint(1, "SCT version")? != 0 {
            return Err(SctError::Malformed {
                what: "SCT version (only v1 is known)",
            });
        }
        let log_id = s.take(32, "SCT log id")?;
        let timestamp_ms = s.uint(8, "SCT timestamp")?;
        let extensions = s.vec(2, "SCT extensions")?;
        let hash = s.uint(1, "SCT hash algorithm")? as u8;
        let sig_alg = s.uint(1, "SCT signature algorithm")? as u8;
        let signature = s.vec(2, "SCT signature")?;
        s.finish("SCT (trailing bytes)")?;
        scts.push(Sct {
            log_id,
            timestamp_ms,
            extensions,
            hash,
            sig_alg,
            signature,
        });
    }
    if scts.is_empty() {
        return Err(SctError::Malformed {
            what: "SCT list (empty)",
        });
    }
    Ok(scts)
}

/// The leaf's TBS with the SCT list extension removed, lengths re-encoded.
fn precert_tbs(leaf: &Certificate) -> Result<Vec<u8>, SctError> {
    let tbs = tlv::parse_single(leaf.tbs_raw(), tag::SEQUENCE)?;
    let mut fields = tbs.reader();
    let mut body = Vec::with_capacity(tbs.value.len());
    while !fields.is_empty() {
        let field = fields.any()?;
        if field.tag != tag::context(3) {
            body.extend_from_slice(field.raw);
            continue;
        }
        let mut inner = field.reader();
        let seq = inner.read(tag::SEQUENCE)?;
        inner.finish()?;
        let mut exts = seq.reader();
        let mut kept = Vec::with_capacity(seq.value.len());
        while !exts.is_empty() {
            let ext = exts.read(tag::SEQUENCE)?;
            let oid = ext.reader().read(tag::OID)?;
            if oid.value != cert::oid::SCT_LIST {
                kept.extend_from_slice(ext.raw);
            }
        }
        // With no extension left, the precertificate had none ([3] absent).
        if !kept.is_empty() {
            body.extend(tlv::encode(
                tag::context(3),
                &tlv::encode(tag::SEQUENCE, &kept),
            ));
        }
    }
    Ok(tlv::encode(tag::SEQUENCE, &body))
}

/// The `digitally-signed` content of an SCT over a precertificate entry (RFC 6962 §3.2).
fn signed_data(sct: &Sct<'_>, issuer_key_hash: &[u8; 32], tbs: &[u8]) -> Result<Vec<u8>, SctError> {
    let too_long = SctError::Malformed {
        what: "precertificate length",
    };
    let tbs_len = u32::try_from(tbs.len()).map_err(|_| too_long.clone())?;
    if tbs_len >= 1 << 24 {
        return Err(too_long);
    }
    let mut out = Vec::with_capacity(tbs.len() + sct.extensions.len() + 64);
    out.push(0); // sct_version v1
    out.push(0); // signature_type certificate_timestamp
    out.extend_from_slice(&sct.timestamp_ms.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes()); // entry_type precert_entry
    out.extend_from_slice(issuer_key_hash);
    out.extend_from_slice(&tbs_len.to_be_bytes()[1..]);
    out.extend_from_slice(tbs);
    // The parser took at most u16::MAX bytes of extensions.
    out.extend_from_slice(&(sct.extensions.len() as u16).to_be_bytes());
    out.extend_from_slice(sct.extensions);
    Ok(out)
}

fn verify_one(sct: &Sct<'_>, log: &TransparencyLog, data: &[u8]) -> Result<(), SctError> {
    let bad = || SctError::BadSignature {
        log_id: hex(sct.log_id),
        timestamp_ms: sct.timestamp_ms,
    };
    let key = log.key.as_ref().ok_or_else(bad)?;
    let hash = match (sct.hash, sct.sig_alg, key) {
        (4, 3, PublicKey::P256(_) | PublicKey::P384(_)) => HashAlg::Sha256,
        (5, 3, PublicKey::P256(_) | PublicKey::P384(_)) => HashAlg::Sha384,
        (6, 3, PublicKey::P256(_) | PublicKey::P384(_)) => HashAlg::Sha512,
        // RFC 8422: Ed25519 is SignatureAndHashAlgorithm {8 (intrinsic), 7}.
        (8, 7, PublicKey::Ed25519(_)) => HashAlg::Sha256,
        (hash, signature, _) => return Err(SctError::UnsupportedAlgorithm { hash, signature }),
    };
    key.verify(hash, data, sct.signature).map_err(|_| bad())
}

/// Verifies the SCTs embedded in `leaf` (issued by `issuer`) against the trusted CT logs.
/// Succeeds with the first SCT that verifies with a log whose id matches and whose validity
/// contains the SCT's time.
pub fn verify_embedded_sct(
    leaf: &Certificate,
    issuer: &Certificate,
    ctlogs: &[TransparencyLog],
) -> Result<VerifiedSct, SctError> {
    let ext = leaf
        .extension(cert::oid::SCT_LIST)
        .ok_or(SctError::Missing)?;
    let list = tlv::parse_single(ext, tag::OCTET_STRING)?;
    let scts = parse_list(list.value)?;
    let tbs = precert_tbs(leaf)?;
    let issuer_key_hash = sha256(issuer.spki_der());

    let mut failure = None;
    for sct in &scts {
        let seconds = i64::try_from(sct.timestamp_ms / 1000).unwrap_or(i64::MAX);
        let Some(log) = ctlogs
            .iter()
            .find(|l| l.log_id == sct.log_id && l.valid_for.contains(seconds))
        else {
            continue;
        };
        let data = signed_data(sct, &issuer_key_hash, &tbs)?;
        match verify_one(sct, log, &data) {
            Ok(()) => {
                return Ok(VerifiedSct {
                    log_id: sct.log_id.to_vec(),
                    timestamp_ms: sct.timestamp_ms,
                });
            }
            Err(e) => failure = Some(e),
        }
    }
    Err(failure.unwrap_or_else(|| SctError::NoMatchingLog {
        log_ids: scts.iter().map(|s| hex(s.log_id)).collect(),
    }))
}
