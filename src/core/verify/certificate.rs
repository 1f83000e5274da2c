//! The one check of a Fulcio certificate, shared by every verifier (git signatures,
//! bundles) and by signing (the certificate Fulcio hands back): the chain to a CA of the
//! trusted root at every trusted time, the embedded SCT by a CT log of the trusted root, and
//! the identity the certificate names.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Mutex;

use sha2::{Digest as _, Sha256};

use crate::core::sigstore::trust::TrustedRoot;
use crate::core::time::{UnixTime, format_rfc3339};
use crate::core::x509::cert::{self, CertError, Certificate, Identity, VerifiedChain};
use crate::core::x509::sct::{self, SctError, VerifiedSct};

/// Whether a missing or invalid SCT fails the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sct {
    Required,
    /// `--insecure-ignore-sct`: still checked, and reported as unchecked when it fails.
    Optional,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCertificate {
    pub chain: VerifiedChain,
    pub identity: Identity,
    pub sct_verified: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateError {
    /// The certificate does not chain to the trusted root at `at`.
    Chain {
        at: UnixTime,
        source: CertError,
    },
    Sct(SctError),
    /// The certificate names no identity we can read.
    Identity(CertError),
    /// The caller had no time to check the certificate at.
    NoTime,
}

impl fmt::Display for CertificateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertificateError::Chain { at, source } => {
                write!(f, "certificate at {}: {source}", format_rfc3339(*at))
            }
            CertificateError::Sct(e) => write!(f, "certificate transparency: {e}"),
            CertificateError::Identity(e) => write!(f, "certificate identity: {e}"),
            CertificateError::NoTime => f.write_str("no time to check the certificate at"),
        }
    }
}

impl std::error::Error for CertificateError {}

/// Within one process, what was already proven about a certificate: a rebase signs dozens of
/// commits with one certificate, and a history shares it across runs of commits. Only
/// successes are kept, keyed by SHA-256 of the exact DER of the certificates involved, so a
/// hit is the same computation over the same bytes; times are checked on every call.
#[derive(Debug, Default)]
pub struct Memo {
    /// sha256(child DER || parent DER) of signatures that verified.
    signed_by: Mutex<HashSet<[u8; 32]>>,
    /// sha256(leaf DER || issuer DER) to the SCT that verified (the trusted root is fixed
    /// for the memo's owner).
    sct: Mutex<HashMap<[u8; 32], VerifiedSct>>,
}

/// At most this many results of each kind are remembered; then the memo starts afresh. A
/// history shares certificates between neighbouring commits (a credential cache's runs),
/// so a small memo keeps every hit while memory stays bounded over 100,000 certificates.
pub const MEMO_CAP: usize = 4096;

fn pair_key(a: &Certificate, b: &Certificate) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update((a.der().len() as u64).to_be_bytes());
    h.update(a.der());
    h.update(b.der());
    h.finalize().into()
}

impl Memo {
    fn signed_by(&self, child: &Certificate, parent: &Certificate) -> Result<(), CertError> {
        let key = pair_key(child, parent);
        if lock(&self.signed_by).contains(&key) {
            return Ok(());
        }
        child.verify_signed_by(parent)?;
        let mut set = lock(&self.signed_by);
        if set.len() >= MEMO_CAP {
            set.clear();
        }
        set.insert(key);
        Ok(())
    }

    fn sct(
        &self,
        leaf: &Certificate,
        issuer: &Certificate,
        trust: &TrustedRoot,
    ) -> Result<VerifiedSct, SctError> {
        let key = pair_key(leaf, issuer);
        if let Some(v) = lock(&self.sct).get(&key) {
            return Ok(v.clone());
        }
        let v = sct::verify_embedded_sct(leaf, issuer, &trust.ctlogs)?;
        let mut map = lock(&self.sct);
        if map.len() >= MEMO_CAP {
            map.clear();
        }
        map.insert(key, v.clone());
        Ok(v)
    }

    /// How many verified results are kept (for tests and benchmarks).
    pub fn len(&self) -> usize {
        lock(&self.signed_by).len() + lock(&self.sct).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A poisoned lock only means another thread panicked mid-insert of a proven result.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `leaf` chains to a CA of the trusted root at `at` (the one call of path validation for
/// Fulcio certificates).
pub fn chain_at(
    leaf: &Certificate,
    trust: &TrustedRoot,
    at: UnixTime,
    memo: &Memo,
) -> Result<VerifiedChain, CertError> {
    cert::verify_chain_using(leaf, &trust.certificate_authorities, at, &|c, p| {
        memo.signed_by(c, p)
    })
}

/// Checks `leaf` at every time in `times` (each must lie in its validity and in a CA's
/// window), then its SCT, then reads its identity.
pub fn verify_certificate(
    leaf: &Certificate,
    trust: &TrustedRoot,
    times: &[UnixTime],
    sct: Sct,
    memo: &Memo,
) -> Result<VerifiedCertificate, CertificateError> {
    let mut chain = None;
    for &at in times {
        chain = Some(
            chain_at(leaf, trust, at, memo)
                .map_err(|source| CertificateError::Chain { at, source })?,
        );
    }
    let chain = chain.ok_or(CertificateError::NoTime)?;
    let sct_verified = match memo.sct(leaf, &chain.issuer, trust) {
        Ok(_) => true,
        Err(e) if sct == Sct::Required => return Err(CertificateError::Sct(e)),
        Err(_) => false,
    };
    let identity = leaf.identity().map_err(CertificateError::Identity)?;
    Ok(VerifiedCertificate {
        chain,
        identity,
        sct_verified,
    })
}
