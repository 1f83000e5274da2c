//! Verification of one gitsign signature, in stages the app layer wires to I/O:
//!
//! 1. [`check_signature`]: PEM → CMS → signer certificate; messageDigest = sha256(payload);
//!    the ECDSA signature over the signed attributes as received. Failure here is BADSIG
//!    when the signature does not match the data, ERRSIG when it cannot be read.
//! 2. The time at which the certificate must have been valid comes from a transparency log
//!    entry, never from the clock: [`verify_offline`] uses the entry embedded in the
//!    signature (or, only when the caller explicitly skips the log, the CMS signing time);
//!    [`verify_online`] takes candidate entries the app fetched from Rekor.
//! 3. The chain to a Fulcio CA of the trusted root, the embedded SCT, and the identity.
//!
//! Every path ends in `Ok(Verified)` or `Err(Failure)`; nothing is printed here.

pub mod policy;
pub mod signing;

use std::fmt;

use sha1::Digest as _;

use crate::core::asn1::pem::{self, PemError};
use crate::core::cms::{self, CmsError};
use crate::core::git::gitobj::{ObjectError, hex};
use crate::core::sigstore::trust::TrustedRoot;
use crate::core::time::UnixTime;
use crate::core::tlog::{self, LogEntry, LoggedContent, LoggedVerifier, TlogError, VerifiedEntry};
use crate::core::verify::policy::{IdentityPolicy, PolicyError};
use crate::core::x509::cert::{self, CertError, Certificate};
use crate::core::x509::keys::{self, HashAlg, KeyError};
use crate::core::x509::sct::{self, SctError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Require a verified transparency log entry (the default). When false, the chain is
    /// checked at the CMS signing time, which the signer chose: say so loudly.
    pub check_tlog: bool,
    /// Require a valid embedded SCT (the default).
    pub require_sct: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            check_tlog: true,
            require_sct: true,
        }
    }
}

#[derive(Debug)]
pub enum VerifyError {
    Pem(PemError),
    Cms(CmsError),
    SignerCertificateMissing,
    Certificate(CertError),
    /// messageDigest differs from sha256(payload): the data was changed.
    DigestMismatch,
    /// The signature over the signed attributes does not verify with the certificate's key.
    SignatureMismatch(KeyError),
    LogEntry(TlogError),
    /// No embedded entry, and the caller did not look one up.
    NoLogEntry,
    /// Rekor had no entry for this object and certificate (or none that verified).
    NoMatchingOnlineEntry {
        candidates: usize,
        last: Option<String>,
    },
    Chain(CertError),
    Sct(SctError),
    Policy(PolicyError),
    /// The git object could not be split into payload and signature.
    Object(ObjectError),
    /// The transparency log could not be consulted (unreachable, no search index, ...).
    LogUnavailable {
        reason: String,
    },
}

/// The reason codes of `--output json`, one per failure kind, stable across releases (the
/// README lists them). [`VerifyError::code`] maps every failure to one of these.
pub const REASON_CODES: [&str; 15] = [
    "malformed-signature",
    "malformed-cms",
    "signer-certificate-missing",
    "malformed-certificate",
    "digest-mismatch",
    "signature-mismatch",
    "log-entry-invalid",
    "no-log-entry",
    "no-matching-log-entry",
    "certificate-expired",
    "untrusted-certificate",
    "sct-invalid",
    "identity-mismatch",
    "malformed-object",
    "log-unavailable",
];

impl VerifyError {
    /// This failure's stable reason code (one of [`REASON_CODES`]).
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::Pem(_) => "malformed-signature",
            VerifyError::Cms(_) => "malformed-cms",
            VerifyError::SignerCertificateMissing => "signer-certificate-missing",
            VerifyError::Certificate(_) => "malformed-certificate",
            VerifyError::DigestMismatch => "digest-mismatch",
            VerifyError::SignatureMismatch(_) => "signature-mismatch",
            VerifyError::LogEntry(_) => "log-entry-invalid",
            VerifyError::NoLogEntry => "no-log-entry",
            VerifyError::NoMatchingOnlineEntry { .. } => "no-matching-log-entry",
            VerifyError::Chain(CertError::Expired { .. }) => "certificate-expired",
            VerifyError::Chain(_) => "untrusted-certificate",
            VerifyError::Sct(_) => "sct-invalid",
            VerifyError::Policy(_) => "identity-mismatch",
            VerifyError::Object(_) => "malformed-object",
            VerifyError::LogUnavailable { .. } => "log-unavailable",
        }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::Pem(e) => write!(f, "signature is not a PEM SIGNED MESSAGE: {e}"),
            VerifyError::Cms(e) => write!(f, "{e}"),
            VerifyError::SignerCertificateMissing => {
                f.write_str("the signer's certificate is not in the signature")
            }
            VerifyError::Certificate(e) => write!(f, "signer certificate: {e}"),
            VerifyError::DigestMismatch => {
                f.write_str("signature does not match the data (message digest differs)")
            }
            VerifyError::SignatureMismatch(e) => write!(f, "signature does not match the data ({e})"),
            VerifyError::LogEntry(e) => write!(f, "transparency log entry: {e}"),
            VerifyError::NoLogEntry => f.write_str(
                "the signature carries no transparency log entry (gitsign online mode) and none was looked up",
            ),
            VerifyError::NoMatchingOnlineEntry { candidates, last } => {
                write!(f, "Rekor has no verifiable entry for this object and certificate ({candidates} candidate(s)")?;
                if let Some(l) = last {
                    write!(f, "; last: {l}")?;
                }
                f.write_str(")")
            }
            VerifyError::Chain(e) => write!(f, "certificate chain: {e}"),
            VerifyError::Sct(e) => write!(f, "certificate transparency: {e}"),
            VerifyError::Policy(e) => write!(f, "{e}"),
            VerifyError::Object(e) => write!(f, "{e}"),
            VerifyError::LogUnavailable { reason } => f.write_str(reason),
        }
    }
}

impl std::error::Error for VerifyError {}

/// What git should be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The signature does not match the data (BADSIG).
    Bad,
    /// The signature could not be checked, or its signer is not trusted (ERRSIG).
    Error,
}

/// A failed verification, with what is known of the signer for the status lines.
#[derive(Debug)]
pub struct Failure(Box<FailureInfo>);

#[derive(Debug)]
pub struct FailureInfo {
    pub error: VerifyError,
    pub fingerprint: Option<String>,
    pub identity: Option<String>,
    pub signing_time: Option<UnixTime>,
}

impl std::ops::Deref for Failure {
    type Target = FailureInfo;
    fn deref(&self) -> &FailureInfo {
        &self.0
    }
}

impl From<FailureInfo> for Failure {
    fn from(info: FailureInfo) -> Self {
        Failure(Box::new(info))
    }
}

impl Failure {
    /// BADSIG only for a signer a trusted CA vouched for: git shows BADSIG's uid as the
    /// signer's name.
    pub fn kind(&self) -> FailureKind {
        match self.error {
            VerifyError::DigestMismatch
            | VerifyError::SignatureMismatch(KeyError::BadSignature)
                if self.identity.is_some() =>
            {
                FailureKind::Bad
            }
            _ => FailureKind::Error,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

/// A signature whose bytes match the data, not yet trusted.
#[derive(Debug, Clone)]
pub struct CheckedSignature {
    pub leaf: Certificate,
    /// SHA-1 of the leaf DER, upper-case hex (gpg's fingerprint form).
    pub fingerprint: String,
    /// The certificate's identity, only once a CA of the trusted root vouched for it.
    pub identity: Option<String>,
    pub signed_attrs_digest: [u8; 32],
    pub signature: Vec<u8>,
    pub signing_time: Option<UnixTime>,
    /// The embedded Rekor entry's protobuf bytes, if any.
    pub embedded_entry: Option<Vec<u8>>,
}

impl CheckedSignature {
    /// A failure that names this signature's signer.
    pub fn fail(&self, error: VerifyError) -> Failure {
        Failure::from(FailureInfo {
            error,
            fingerprint: Some(self.fingerprint.clone()),
            identity: self.identity.clone(),
            signing_time: self.signing_time,
        })
    }

    /// The leaf as Rekor stores it: PEM, 64 columns, trailing newline.
    pub fn leaf_pem(&self) -> String {
        pem::encode("CERTIFICATE", self.leaf.der())
    }
}

/// A failure before any signer is known.
pub fn bare(error: VerifyError) -> Failure {
    Failure::from(FailureInfo {
        error,
        fingerprint: None,
        identity: None,
        signing_time: None,
    })
}

/// Stage 1: the certificate was issued by a CA of the trusted root, and the signature
/// matches the payload.
///
/// The chain is checked first, at the certificate's own notBefore (stage 3 checks it again
/// at the time the log established): until a trusted CA vouches for it, a certificate is
/// whatever its author wrote, so a failure names no identity and is never BADSIG (a
/// self-signed certificate claiming someone's email must not read as "BAD signature from
/// them"), and no transparency log is asked about it.
pub fn check_signature(
    payload: &[u8],
    signature_pem: &[u8],
    trust: &TrustedRoot,
) -> Result<CheckedSignature, Failure> {
    check(payload, signature_pem, Some(trust))
}

/// Stage 1 without a trusted root (exporting a signature as a bundle): the signature
/// matches the payload; the certificate is not trusted, so its identity is not reported.
pub fn check_signature_untrusted(
    payload: &[u8],
    signature_pem: &[u8],
) -> Result<CheckedSignature, Failure> {
    check(payload, signature_pem, None)
}

fn check(
    payload: &[u8],
    signature_pem: &[u8],
    trust: Option<&TrustedRoot>,
) -> Result<CheckedSignature, Failure> {
    // Exactly one block and nothing else: git hands us a tag's signature up to the end of
    // the object, so text appended after END would otherwise pass as signed.
    let der = pem::decode_exact(signature_pem, "SIGNED MESSAGE").map_err(|e| match e {
        PemError::SeveralBlocks { .. } => bare(VerifyError::Cms(CmsError::Unsupported {
            what: "more than one signature block".into(),
        })),
        e => bare(VerifyError::Pem(e)),
    })?;
    let sd = cms::parse(&der, cms::Profile::Gitsign).map_err(|e| bare(VerifyError::Cms(e)))?;
    let si = &sd.signer;
    let mut leaf = None;
    for c in &sd.certificates {
        let cert = Certificate::from_der(c).map_err(|e| bare(VerifyError::Certificate(e)))?;
        if si.sid.names(&cert) {
            if leaf.is_some() {
                return Err(bare(VerifyError::Cms(CmsError::Unsupported {
                    what: "two certificates match the signer".into(),
                })));
            }
            leaf = Some(cert);
        }
    }
    let leaf = leaf.ok_or_else(|| bare(VerifyError::SignerCertificateMissing))?;
    let mut checked = CheckedSignature {
        fingerprint: hex(&sha1::Sha1::digest(leaf.der())).to_ascii_uppercase(),
        identity: None,
        signed_attrs_digest: keys::sha256(&si.signed_attrs),
        signature: si.signature.to_vec(),
        signing_time: si.signing_time,
        embedded_entry: si.tlog_entry().map(<[u8]>::to_vec),
        leaf,
    };
    if let Some(trust) = trust {
        let leaf = &checked.leaf;
        cert::verify_chain(leaf, &trust.certificate_authorities, leaf.not_before())
            .map_err(|e| checked.fail(VerifyError::Chain(e)))?;
        checked.identity = leaf.identity().ok().map(|i| i.san.to_string());
    }
    if si.message_digest != keys::sha256(payload) {
        return Err(checked.fail(VerifyError::DigestMismatch));
    }
    let key = checked
        .leaf
        .public_key()
        .map_err(|e| checked.fail(VerifyError::Certificate(e)))?;
    key.verify(HashAlg::Sha256, &si.signed_attrs, si.signature)
        .map_err(|e| checked.fail(VerifyError::SignatureMismatch(e)))?;
    Ok(checked)
}

/// How the time of signing was established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// The entry embedded in the signature (gitsign offline mode).
    EmbeddedEntry(VerifiedEntry),
    /// An entry looked up in Rekor (gitsign online mode).
    OnlineEntry(VerifiedEntry),
    /// No log was checked: no trusted time. The chain was checked at the CMS signing time
    /// the signer wrote, or at the certificate's notBefore when that claim precedes it.
    Unchecked,
}

/// A verified signature.
#[derive(Debug, Clone)]
pub struct Verified {
    pub identity: String,
    pub issuer: Option<String>,
    pub fingerprint: String,
    /// The certificate that issued the leaf, as an RFC 4514 string.
    pub certificate_issuer: String,
    pub ca_uri: String,
    pub not_before: UnixTime,
    pub not_after: UnixTime,
    pub signing_time: Option<UnixTime>,
    /// The time at which the chain was verified.
    pub verified_at: UnixTime,
    pub proof: Proof,
    pub sct_verified: bool,
}

impl Verified {
    pub fn check_policy(&self, policy: &IdentityPolicy) -> Result<(), Failure> {
        policy
            .check(&self.identity, self.issuer.as_deref())
            .map_err(|e| {
                Failure::from(FailureInfo {
                    error: VerifyError::Policy(e),
                    fingerprint: Some(self.fingerprint.clone()),
                    identity: Some(self.identity.clone()),
                    signing_time: self.signing_time,
                })
            })
    }
}

/// Stage 2 without network: the embedded entry, or (only if the caller skips the log) the
/// CMS signing time.
pub fn verify_offline(
    sig: &CheckedSignature,
    trust: &TrustedRoot,
    opts: &Options,
) -> Result<Verified, Failure> {
    if let Some(pb) = &sig.embedded_entry {
        let entry = tlog::decode_transparency_log_entry(pb)
            .map_err(|e| sig.fail(VerifyError::LogEntry(e)))?;
        let body =
            tlog::hashedrekord_body(&sig.signed_attrs_digest, &sig.signature, &sig.leaf_pem());
        let verified = tlog::verify_entry(&entry, &body, &tlog::trusted_log_keys(trust))
            .map_err(|e| sig.fail(VerifyError::LogEntry(e)))?;
        let at = verified.integrated_time;
        return finish(sig, trust, opts, at, Proof::EmbeddedEntry(verified));
    }
    if opts.check_tlog {
        return Err(sig.fail(VerifyError::NoLogEntry));
    }
    let claimed = sig.signing_time.ok_or_else(|| {
        sig.fail(VerifyError::Cms(CmsError::Unsupported {
            what: "no signingTime attribute to check the certificate against".into(),
        }))
    })?;
    // No trusted time: signingTime is the signer's clock, which in real commits runs
    // seconds behind Fulcio's (signingTime < notBefore). As gitsign does, such a signature
    // is checked at the certificate's own notBefore; the report says the time is unverified.
    let at = claimed.max(sig.leaf.not_before());
    finish(sig, trust, opts, at, Proof::Unchecked)
}

/// Stage 2 with entries found in Rekor (gitsign online mode). gitsign logged a separate
/// signature over the object id (hex) with the same key; an entry counts only if its
/// certificate is ours, its hash is sha256(object id), its signature verifies over the
/// object id, and the entry itself verifies against the trusted root (GHSA-8pmp: match both).
pub fn verify_online(
    sig: &CheckedSignature,
    object_id: &str,
    candidates: &[LogEntry],
    trust: &TrustedRoot,
    opts: &Options,
) -> Result<Verified, Failure> {
    let expected_hash = keys::sha256(object_id.as_bytes());
    let key = sig
        .leaf
        .public_key()
        .map_err(|e| sig.fail(VerifyError::Certificate(e)))?;
    let logs = tlog::trusted_log_keys(trust);
    let mut last = None;
    for entry in candidates {
        let Some(body) = entry.canonicalized_body.as_deref() else {
            last = Some("entry has no body".to_string());
            continue;
        };
        let Ok(LoggedContent::Digest { sha256, signature }) =
            tlog::parse_body("hashedrekord", "0.0.1", body)
        else {
            last = Some("entry is not a hashedrekord 0.0.1".to_string());
            continue;
        };
        let same_cert = signature.verifier == LoggedVerifier::Certificate(sig.leaf.der().to_vec());
        if !same_cert || sha256 != expected_hash {
            last = Some("entry is for another object or certificate".to_string());
            continue;
        }
        if key
            .verify(HashAlg::Sha256, object_id.as_bytes(), &signature.signature)
            .is_err()
        {
            last = Some("entry's signature over the object id does not verify".to_string());
            continue;
        }
        match tlog::verify_entry(entry, body, &logs) {
            Ok(v) => {
                let at = v.integrated_time;
                return finish(sig, trust, opts, at, Proof::OnlineEntry(v));
            }
            Err(e) => last = Some(e.to_string()),
        }
    }
    Err(sig.fail(VerifyError::NoMatchingOnlineEntry {
        candidates: candidates.len(),
        last,
    }))
}

/// Stage 3: chain, SCT and identity at the established time.
fn finish(
    sig: &CheckedSignature,
    trust: &TrustedRoot,
    opts: &Options,
    at: UnixTime,
    proof: Proof,
) -> Result<Verified, Failure> {
    let chain = cert::verify_chain(&sig.leaf, &trust.certificate_authorities, at)
        .map_err(|e| sig.fail(VerifyError::Chain(e)))?;
    let sct_verified = match sct::verify_embedded_sct(&sig.leaf, &chain.issuer, &trust.ctlogs) {
        Ok(_) => true,
        Err(e) if opts.require_sct => return Err(sig.fail(VerifyError::Sct(e))),
        Err(_) => false,
    };
    let identity = sig
        .leaf
        .identity()
        .map_err(|e| sig.fail(VerifyError::Certificate(e)))?;
    Ok(Verified {
        identity: identity.san.to_string(),
        issuer: identity.issuer,
        fingerprint: sig.fingerprint.clone(),
        certificate_issuer: chain.issuer.subject_string(),
        ca_uri: chain.ca_uri.clone(),
        not_before: sig.leaf.not_before(),
        not_after: sig.leaf.not_after(),
        signing_time: sig.signing_time,
        verified_at: at,
        proof,
        sct_verified,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::git::gitobj;

    fn vector(name: &str) -> gitobj::SignedObject {
        gitobj::test_vector(name)
    }

    const OFFLINE: &str = "fe1e62346d3c346a343d089e8b4c3fb57716bc94.commit";
    const ONLINE: &str = "e3132299e38bef6cc64565fd666f9da8d73a8d84.commit";

    #[test]
    fn a_real_offline_signature_verifies_at_its_integrated_time() {
        let o = vector(OFFLINE);
        let c = check_signature(&o.payload, &o.signature, TrustedRoot::production()).unwrap();
        let v = verify_offline(&c, TrustedRoot::production(), &Options::default()).unwrap();
        assert_eq!(v.identity, "billy@chainguard.dev");
        assert_eq!(v.issuer.as_deref(), Some("https://accounts.google.com"));
        assert!(
            matches!(v.proof, Proof::EmbeddedEntry(ref e) if e.integrated_time == v.verified_at)
        );
        assert!(v.not_before <= v.verified_at && v.verified_at <= v.not_after);
        assert!(v.sct_verified);
    }

    #[test]
    fn changed_payload_is_a_bad_signature() {
        let o = vector(OFFLINE);
        let mut payload = o.payload.clone();
        payload.extend_from_slice(b"x");
        let f = check_signature(&payload, &o.signature, TrustedRoot::production()).unwrap_err();
        assert!(matches!(f.error, VerifyError::DigestMismatch));
        assert_eq!(f.kind(), FailureKind::Bad);
        assert_eq!(f.identity.as_deref(), Some("billy@chainguard.dev"));
    }

    #[test]
    fn a_signature_from_another_object_is_a_bad_signature() {
        // Same signer, another commit: the digest in the signed attributes does not match.
        let a = vector(OFFLINE);
        let b = vector("80702be397d481d09e8fa434446a4ab7b66f6a11.commit");
        let f = check_signature(&a.payload, &b.signature, TrustedRoot::production()).unwrap_err();
        assert_eq!(f.kind(), FailureKind::Bad);
    }

    #[test]
    fn an_online_mode_signature_needs_a_log_entry_unless_explicitly_skipped() {
        let o = vector(ONLINE);
        let c = check_signature(&o.payload, &o.signature, TrustedRoot::production()).unwrap();
        assert!(c.embedded_entry.is_none());
        let f = verify_offline(&c, TrustedRoot::production(), &Options::default()).unwrap_err();
        assert!(matches!(f.error, VerifyError::NoLogEntry));
        assert_eq!(f.kind(), FailureKind::Error);
        let f = verify_online(
            &c,
            "e3132299e38bef6cc64565fd666f9da8d73a8d84",
            &[],
            TrustedRoot::production(),
            &Options::default(),
        )
        .unwrap_err();
        assert!(matches!(
            f.error,
            VerifyError::NoMatchingOnlineEntry { candidates: 0, .. }
        ));
        let skip = Options {
            check_tlog: false,
            require_sct: true,
        };
        let v = verify_offline(&c, TrustedRoot::production(), &skip).unwrap();
        assert_eq!(v.proof, Proof::Unchecked);
        assert_eq!(Some(v.verified_at), v.signing_time);
    }

    #[test]
    fn without_a_log_a_signing_time_before_not_before_is_checked_at_not_before() {
        // The signer's clock ran behind Fulcio's: its signingTime precedes the certificate.
        let o = vector(ONLINE);
        let mut c = check_signature(&o.payload, &o.signature, TrustedRoot::production()).unwrap();
        let not_before = c.leaf.not_before();
        c.signing_time = Some(not_before - 7);
        let skip = Options {
            check_tlog: false,
            require_sct: true,
        };
        let v = verify_offline(&c, TrustedRoot::production(), &skip).unwrap();
        assert_eq!(v.proof, Proof::Unchecked);
        assert_eq!(v.verified_at, not_before);
        assert_eq!(v.signing_time, Some(not_before - 7));
        // A claim after the certificate expired is still refused.
        c.signing_time = Some(c.leaf.not_after() + 1);
        let f = verify_offline(&c, TrustedRoot::production(), &skip).unwrap_err();
        assert!(matches!(f.error, VerifyError::Chain(_)), "{f}");
    }

    #[test]
    fn an_embedded_entry_is_used_even_when_the_caller_would_skip_the_log() {
        let o = vector(OFFLINE);
        let c = check_signature(&o.payload, &o.signature, TrustedRoot::production()).unwrap();
        let skip = Options {
            check_tlog: false,
            require_sct: true,
        };
        let v = verify_offline(&c, TrustedRoot::production(), &skip).unwrap();
        assert!(matches!(v.proof, Proof::EmbeddedEntry(_)));
    }

    #[test]
    fn the_wrong_identity_fails_the_policy_but_not_the_signature() {
        let o = vector(OFFLINE);
        let c = check_signature(&o.payload, &o.signature, TrustedRoot::production()).unwrap();
        let v = verify_offline(&c, TrustedRoot::production(), &Options::default()).unwrap();
        let p = IdentityPolicy::new(
            Some("mallory@example.com"),
            None,
            Some("https://accounts.google.com"),
            None,
        )
        .unwrap();
        let f = v.check_policy(&p).unwrap_err();
        assert!(matches!(f.error, VerifyError::Policy(_)));
    }

    #[test]
    fn pem_with_two_signature_blocks_is_refused() {
        let o = vector(OFFLINE);
        let twice = [o.signature.clone(), o.signature.clone()].concat();
        assert!(check_signature(&o.payload, &twice, TrustedRoot::production()).is_err());
        assert!(
            check_signature(&o.payload, b"not a signature", TrustedRoot::production()).is_err()
        );
    }
}
