//! The one verifier: every signature gitsign-rs accepts goes through [`Verifier`], with an
//! explicit [`Policy`] (git's verify mode passes [`Policy::AnyFulcioIdentity`]).
//!
//! For a git signature, in stages the app layer wires to I/O:
//!
//! 1. [`Verifier::check`]: PEM → CMS → signer certificate, chained to the trusted root at
//!    its own notBefore (until then nothing names its identity); messageDigest =
//!    sha256(payload); the ECDSA signature over the signed attributes as received. Failure
//!    here is BADSIG when the signature does not match the data, ERRSIG when it cannot be read.
//! 2. [`Verifier::verify`]: the log entry (embedded in the signature, or candidates the app
//!    fetched from Rekor in gitsign's online mode), the RFC 3161 timestamp if the signature
//!    carries one ([`times`]); then the certificate at every trusted time, its SCT and identity
//!    ([`certificate`], the same check bundles and signing use); then the policy. The time
//!    comes from the log or a timestamp authority, never from the clock.
//!
//! Bundles ([`Verifier::verify_bundle`]) run the same modules on a bundle's parts.
//! Every path ends in `Ok(..)` or `Err(Failure)`; nothing is printed here.

pub mod certificate;
pub mod policy;
pub mod signing;
pub mod times;

use std::fmt;

use sha1::Digest as _;

use crate::core::asn1::pem::{self, PemError};
use crate::core::cms::{self, CmsError};
use crate::core::git::gitobj::{ObjectError, hex};
use crate::core::sigstore::bundle::{
    self, Artifact, Bundle, BundleError, Expected, VerifiedBundle,
};
use crate::core::sigstore::trust::TrustedRoot;
use crate::core::sigstore::tsa::TsaError;
use crate::core::time::UnixTime;
use crate::core::tlog::{self, LogEntry, LoggedContent, LoggedVerifier, TlogError, VerifiedEntry};
use crate::core::verify::certificate::{CertificateError, Memo, Sct};
use crate::core::verify::policy::{Policy, PolicyError};
use crate::core::verify::times::TrustedTime;
use crate::core::x509::cert::{CertError, Certificate};
use crate::core::x509::keys::{self, HashAlg, KeyError};
use crate::core::x509::sct::SctError;

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
    /// The signature's RFC 3161 timestamp does not verify against the trusted root.
    Timestamp(TsaError),
    /// A Rekor v2 entry (no SET) and no RFC 3161 timestamp: nothing vouches for the time.
    NoTrustedTime,
    /// A Rekor v2 entry whose log key was not valid at the timestamp's time.
    LogKeyNotValidAt {
        time: UnixTime,
        base_url: String,
    },
    /// A Sigstore bundle failed (see [`BundleError`]).
    Bundle(BundleError),
}

/// The reason codes of `--output json`, one per failure kind, stable across releases (the
/// README lists them). [`VerifyError::code`] maps every failure to one of these.
pub const REASON_CODES: [&str; 18] = [
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
    "timestamp-invalid",
    "no-trusted-time",
    "malformed-bundle",
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
            VerifyError::Timestamp(_) => "timestamp-invalid",
            VerifyError::NoTrustedTime => "no-trusted-time",
            VerifyError::LogKeyNotValidAt { .. } => "log-entry-invalid",
            VerifyError::Bundle(e) => bundle_code(e),
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
            VerifyError::Timestamp(e) => write!(f, "RFC 3161 timestamp: {e}"),
            VerifyError::NoTrustedTime => f.write_str(
                "the Rekor v2 entry has no signed time and the signature carries no RFC 3161 timestamp: nothing vouches for when it was signed",
            ),
            VerifyError::LogKeyNotValidAt { time, base_url } => write!(
                f,
                "the key of log {base_url} was not valid at the timestamp's time {}",
                crate::core::time::format_rfc3339(*time)
            ),
            VerifyError::Bundle(e) => write!(f, "{e}"),
        }
    }
}

/// The reason code of a bundle failure: the same kinds as a git signature's.
fn bundle_code(e: &BundleError) -> &'static str {
    use BundleError as B;
    match e {
        B::Parse { .. }
        | B::UnsupportedMediaType(_)
        | B::EmptyCertificateChain
        | B::RootCertificateInBundle { .. }
        | B::UnsupportedDigestAlgorithm(_)
        | B::UnsupportedMessageSignatureKey
        | B::DuplicateLogEntry { .. } => "malformed-bundle",
        B::Certificate(_) => "malformed-certificate",
        B::KeyRequired | B::CertificateNotKey | B::Policy(_) => "identity-mismatch",
        B::MessageDigestMismatch { .. } => "digest-mismatch",
        B::SignatureInvalid(_) | B::Dsse(_) => "signature-mismatch",
        B::NoLogEntry => "no-log-entry",
        B::LogEntry { .. } | B::EntryMismatch { .. } | B::LogKeyNotValidAt { .. } => {
            "log-entry-invalid"
        }
        B::Timestamp { .. } => "timestamp-invalid",
        B::NoTrustedTime => "no-trusted-time",
        B::Chain {
            source: CertError::Expired { .. },
            ..
        } => "certificate-expired",
        B::Chain { .. } => "untrusted-certificate",
        B::Sct(_) => "sct-invalid",
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
    /// The RFC 3161 timeStampToken of the unsigned attributes, if any.
    pub timestamp_token: Option<Vec<u8>>,
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
    trust: Option<(&TrustedRoot, &Memo)>,
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
        timestamp_token: si.timestamp_token().map(<[u8]>::to_vec),
        leaf,
    };
    if let Some((trust, memo)) = trust {
        let leaf = &checked.leaf;
        certificate::chain_at(leaf, trust, leaf.not_before(), memo)
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

/// How the log was established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// The entry embedded in the signature (gitsign offline mode).
    EmbeddedEntry(VerifiedEntry),
    /// An entry looked up in Rekor (gitsign online mode).
    OnlineEntry(VerifiedEntry),
    /// No log was checked (`--insecure-ignore-tlog`).
    Unchecked,
}

/// Where the log entry of a git signature comes from.
#[derive(Debug, Clone, Copy)]
pub enum Log<'a> {
    /// The entry embedded in the signature, if any (none passes only when the caller skips
    /// the log).
    Embedded,
    /// gitsign online mode: the entries Rekor returned for this object id. gitsign logged a
    /// separate signature over the object id (hex) with the same key.
    Online {
        object_id: &'a str,
        candidates: &'a [LogEntry],
    },
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
    /// The time git is told (VALIDSIG): the log's integrated time, else the first
    /// timestamp's, else (no trusted time) the signer's claim or the certificate's notBefore.
    pub verified_at: UnixTime,
    pub proof: Proof,
    /// Every trusted time the certificate was checked at (log and timestamp authorities).
    /// Empty when no time was verified.
    pub trusted_times: Vec<TrustedTime>,
    pub sct_verified: bool,
    /// GitHub Actions workflow claims from the leaf's Fulcio extensions.
    pub github: crate::core::x509::cert::GithubClaims,
}

impl Verified {
    /// Whether a log or a timestamp authority vouched for the time.
    pub fn time_verified(&self) -> bool {
        !self.trusted_times.is_empty()
    }
}

/// What a verification checks against and how strictly. One per process (or per history
/// run): it remembers the certificate chains and SCTs it has proven ([`Memo`]), so commits
/// sharing a certificate pay for its chain once. `Sync`: share it across threads.
#[derive(Debug)]
pub struct Verifier<'t> {
    trust: &'t TrustedRoot,
    options: Options,
    memo: Memo,
}

impl<'t> Verifier<'t> {
    pub fn new(trust: &'t TrustedRoot, options: Options) -> Self {
        Verifier {
            trust,
            options,
            memo: Memo::default(),
        }
    }

    /// What this verifier has proven so far.
    pub fn memo(&self) -> &Memo {
        &self.memo
    }

    pub fn options(&self) -> Options {
        self.options
    }

    /// Stage 1: the certificate was issued by a CA of the trusted root, and the signature
    /// matches the payload.
    ///
    /// The chain is checked first, at the certificate's own notBefore ([`Verifier::verify`]
    /// checks it again at the trusted times): until a trusted CA vouches for it, a
    /// certificate is whatever its author wrote, so a failure names no identity and is never
    /// BADSIG (a self-signed certificate claiming someone's email must not read as "BAD
    /// signature from them"), and no transparency log is asked about it.
    pub fn check(&self, payload: &[u8], signature_pem: &[u8]) -> Result<CheckedSignature, Failure> {
        check(payload, signature_pem, Some((self.trust, &self.memo)))
    }

    /// Stage 2: the log entry, the timestamp, the certificate at every trusted time, its
    /// SCT and identity, and the policy.
    pub fn verify(
        &self,
        sig: &CheckedSignature,
        log: Log<'_>,
        policy: &Policy,
    ) -> Result<Verified, Failure> {
        let proof = self.log_proof(sig, log)?;
        let entry = match &proof {
            Proof::EmbeddedEntry(e) | Proof::OnlineEntry(e) => Some(e),
            Proof::Unchecked => None,
        };
        let log_times: Vec<times::LogTime<'_>> = entry
            .iter()
            .map(|e| times::LogTime {
                integrated_time: e.trusted_time(),
                base_url: &e.base_url,
                valid_from: e.log_valid_from,
                valid_until: e.log_valid_until,
            })
            .collect();
        let tokens = sig.timestamp_token.as_deref();
        let trusted_times = if log_times.is_empty() && tokens.is_none() {
            // Only with the log check skipped: no time is vouched for.
            Vec::new()
        } else {
            times::establish(&log_times, tokens, &sig.signature, self.trust).map_err(|e| {
                sig.fail(match e {
                    times::TimeError::Timestamp { source, .. } => VerifyError::Timestamp(source),
                    times::TimeError::NoTrustedTime => VerifyError::NoTrustedTime,
                    times::TimeError::LogKeyNotValidAt { time, base_url } => {
                        VerifyError::LogKeyNotValidAt { time, base_url }
                    }
                })
            })?
        };
        let verified_at = match trusted_times.first() {
            Some(t) => t.time,
            None => self.unverified_time(sig)?,
        };
        let at: Vec<UnixTime> = if trusted_times.is_empty() {
            vec![verified_at]
        } else {
            trusted_times.iter().map(|t| t.time).collect()
        };
        let sct = if self.options.require_sct {
            Sct::Required
        } else {
            Sct::Optional
        };
        let cert = certificate::verify_certificate(&sig.leaf, self.trust, &at, sct, &self.memo)
            .map_err(|e| {
                sig.fail(match e {
                    CertificateError::Chain { source, .. } => VerifyError::Chain(source),
                    CertificateError::Sct(e) => VerifyError::Sct(e),
                    CertificateError::Identity(e) => VerifyError::Certificate(e),
                    CertificateError::NoTime => VerifyError::NoLogEntry,
                })
            })?;
        let identity = cert.identity.san.to_string();
        let issuer = cert.identity.issuer;
        policy.check(&identity, issuer.as_deref()).map_err(|e| {
            Failure::from(FailureInfo {
                error: VerifyError::Policy(e),
                fingerprint: Some(sig.fingerprint.clone()),
                identity: Some(identity.clone()),
                signing_time: sig.signing_time,
            })
        })?;
        Ok(Verified {
            identity,
            issuer,
            fingerprint: sig.fingerprint.clone(),
            certificate_issuer: cert.chain.issuer.subject_string(),
            ca_uri: cert.chain.ca_uri,
            not_before: sig.leaf.not_before(),
            not_after: sig.leaf.not_after(),
            signing_time: sig.signing_time,
            verified_at,
            proof,
            trusted_times,
            sct_verified: cert.sct_verified,
            github: sig.leaf.github_claims(),
        })
    }

    /// A Sigstore bundle for `artifact` (see [`bundle`]): the same certificate, log and
    /// timestamp checks, taken from the bundle's parts.
    pub fn verify_bundle(
        &self,
        bundle: &Bundle,
        artifact: &Artifact,
        expected: &Expected,
    ) -> Result<VerifiedBundle, Failure> {
        bundle::verify(bundle, artifact, expected, self.trust, &self.memo)
            .map_err(|e| bare(VerifyError::Bundle(e)))
    }

    /// The log entry the signature's time rests on.
    fn log_proof(&self, sig: &CheckedSignature, log: Log<'_>) -> Result<Proof, Failure> {
        let logs = tlog::trusted_log_keys(self.trust);
        match log {
            Log::Embedded => match &sig.embedded_entry {
                Some(pb) => {
                    let entry = tlog::decode_transparency_log_entry(pb)
                        .map_err(|e| sig.fail(VerifyError::LogEntry(e)))?;
                    let verified = if tlog::is_v2_entry(&entry) {
                        tlog::verify_embedded_v2(
                            &entry,
                            &sig.signed_attrs_digest,
                            &sig.signature,
                            sig.leaf.der(),
                            &logs,
                        )
                    } else {
                        let body = tlog::hashedrekord_body(
                            &sig.signed_attrs_digest,
                            &sig.signature,
                            &sig.leaf_pem(),
                        );
                        tlog::verify_entry(&entry, &body, &logs)
                    };
                    verified
                        .map(Proof::EmbeddedEntry)
                        .map_err(|e| sig.fail(VerifyError::LogEntry(e)))
                }
                None if self.options.check_tlog => Err(sig.fail(VerifyError::NoLogEntry)),
                None => Ok(Proof::Unchecked),
            },
            Log::Online {
                object_id,
                candidates,
            } => online_entry(sig, object_id, candidates, &logs).map(Proof::OnlineEntry),
        }
    }

    /// No trusted time: signingTime is the signer's clock, which in real commits runs
    /// seconds behind Fulcio's (signingTime < notBefore). As gitsign does, such a signature
    /// is checked at the certificate's own notBefore; the report says the time is unverified.
    fn unverified_time(&self, sig: &CheckedSignature) -> Result<UnixTime, Failure> {
        let claimed = sig.signing_time.ok_or_else(|| {
            sig.fail(VerifyError::Cms(CmsError::Unsupported {
                what: "no signingTime attribute to check the certificate against".into(),
            }))
        })?;
        Ok(claimed.max(sig.leaf.not_before()))
    }
}

/// gitsign online mode: an entry counts only if its certificate is ours, its hash is
/// sha256(object id), its signature verifies over the object id, and the entry itself
/// verifies against the trusted root (GHSA-8pmp: match both).
fn online_entry(
    sig: &CheckedSignature,
    object_id: &str,
    candidates: &[LogEntry],
    logs: &[tlog::LogKey<'_>],
) -> Result<VerifiedEntry, Failure> {
    let expected_hash = keys::sha256(object_id.as_bytes());
    let key = sig
        .leaf
        .public_key()
        .map_err(|e| sig.fail(VerifyError::Certificate(e)))?;
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
        match tlog::verify_entry(entry, body, logs) {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e.to_string()),
        }
    }
    Err(sig.fail(VerifyError::NoMatchingOnlineEntry {
        candidates: candidates.len(),
        last,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::git::gitobj;
    use crate::core::time::format_rfc3339;
    use crate::core::verify::policy::IdentityPolicy;
    use crate::core::verify::times::TimeSource;

    fn vector(name: &str) -> gitobj::SignedObject {
        gitobj::test_vector(name)
    }

    fn check_signature(
        payload: &[u8],
        signature: &[u8],
        trust: &TrustedRoot,
    ) -> Result<CheckedSignature, Failure> {
        Verifier::new(trust, Options::default()).check(payload, signature)
    }

    fn verify_offline(
        c: &CheckedSignature,
        trust: &TrustedRoot,
        opts: &Options,
    ) -> Result<Verified, Failure> {
        Verifier::new(trust, *opts).verify(c, Log::Embedded, &Policy::AnyFulcioIdentity)
    }

    const OFFLINE: &str = "fe1e62346d3c346a343d089e8b4c3fb57716bc94.commit";

    /// A real signature with an RFC 3161 token added as unsigned attribute (which the signer's
    /// signature does not cover), minted by the test TSA at `gen_time` over `imprinted`; and
    /// the production root plus that TSA.
    fn with_timestamp(
        name: &str,
        gen_time: UnixTime,
        imprinted: Option<&[u8]>,
    ) -> (gitobj::SignedObject, TrustedRoot) {
        use crate::core::cms::builder::{self, AttributeValue};
        use crate::core::sigstore::tsa::tests::minted;
        let mut o = vector(name);
        let der = pem::decode_one(&o.signature, "SIGNED MESSAGE").unwrap();
        let sd = cms::parse(&der, cms::Profile::Gitsign).unwrap();
        let si = &sd.signer;
        let cms::SignerId::IssuerSerial { issuer, serial } = si.sid else {
            panic!("issuer and serial")
        };
        let tsa = minted::Tsa {
            leaf_not_after: crate::core::testcert::T0 + 5 * crate::core::testcert::YEAR,
            ..Default::default()
        };
        let (_, ca) = tsa.build();
        let generalized: String = format_rfc3339(gen_time)
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == 'Z')
            .collect();
        let token = minted::Token {
            gen_time: generalized,
            ..Default::default()
        }
        .mint(imprinted.unwrap_or(si.signature), &ca.certs[0]);
        let mut unsigned: Vec<AttributeValue> = si
            .unsigned_attrs
            .iter()
            .map(|a| AttributeValue {
                oid: a.oid.to_vec(),
                values: a.values.iter().map(|v| v.raw.to_vec()).collect(),
            })
            .collect();
        unsigned.push(AttributeValue {
            oid: crate::core::asn1::der::oid::TIMESTAMP_TOKEN.to_vec(),
            values: vec![token],
        });
        let rebuilt = builder::assemble(&builder::Signer {
            certificates: &sd.certificates,
            issuer,
            serial,
            signed_attrs: &si.signed_attrs,
            signature: si.signature,
            unsigned_attrs: &unsigned,
        });
        o.signature = pem::encode("SIGNED MESSAGE", &rebuilt).into_bytes();
        let mut trust = TrustedRoot::production().clone();
        trust.timestamp_authorities.push(ca);
        (o, trust)
    }

    fn verify_with(
        o: &gitobj::SignedObject,
        trust: &TrustedRoot,
        opts: Options,
    ) -> Result<Verified, Failure> {
        let v = Verifier::new(trust, opts);
        let c = v.check(&o.payload, &o.signature)?;
        v.verify(&c, Log::Embedded, &Policy::AnyFulcioIdentity)
    }

    #[test]
    fn a_commit_signatures_rfc3161_timestamp_is_verified_and_becomes_a_trusted_time() {
        let plain = vector(OFFLINE);
        let c =
            check_signature(&plain.payload, &plain.signature, TrustedRoot::production()).unwrap();
        let at = c.leaf.not_before() + 30;
        let (o, trust) = with_timestamp(OFFLINE, at, None);
        let v = verify_with(&o, &trust, Options::default()).unwrap();
        assert_eq!(v.trusted_times.len(), 2, "{:?}", v.trusted_times);
        assert!(matches!(v.trusted_times[0].source, TimeSource::Log { .. }));
        assert_eq!(v.trusted_times[1].time, at);
        assert!(
            matches!(&v.trusted_times[1].source, TimeSource::Tsa { subject } if subject == "CN=Test TSA")
        );
        // Without the log, the timestamp alone makes the time verified.
        let no_log = Options {
            check_tlog: false,
            require_sct: true,
        };
        let v = verify_with(&o, &trust, no_log).unwrap();
        assert!(v.time_verified());
        // The production root has no such TSA: the token fails, and with it the signature.
        let f = verify_with(&o, TrustedRoot::production(), Options::default()).unwrap_err();
        assert!(matches!(f.error, VerifyError::Timestamp(_)), "{f}");
        assert_eq!(f.error.code(), "timestamp-invalid");
    }

    #[test]
    fn one_verifier_proves_a_shared_certificate_once_and_still_checks_each_time() {
        let o = vector(OFFLINE);
        let v = Verifier::new(TrustedRoot::production(), Options::default());
        let c = v.check(&o.payload, &o.signature).unwrap();
        v.verify(&c, Log::Embedded, &Policy::AnyFulcioIdentity)
            .unwrap();
        // The leaf's signature by its issuer and its SCT.
        assert_eq!(v.memo().len(), 2);
        let c = v.check(&o.payload, &o.signature).unwrap();
        v.verify(&c, Log::Embedded, &Policy::AnyFulcioIdentity)
            .unwrap();
        assert_eq!(v.memo().len(), 2);
        // Remembered or not, the time is checked on every call.
        let mut late = c.clone();
        late.embedded_entry = None;
        late.signing_time = Some(c.leaf.not_after() + 1);
        let skip = Verifier::new(
            TrustedRoot::production(),
            Options {
                check_tlog: false,
                require_sct: true,
            },
        );
        skip.verify(&c, Log::Embedded, &Policy::AnyFulcioIdentity)
            .unwrap();
        let f = skip
            .verify(&late, Log::Embedded, &Policy::AnyFulcioIdentity)
            .unwrap_err();
        assert_eq!(f.error.code(), "certificate-expired", "{f}");
    }

    #[test]
    fn a_timestamp_over_other_bytes_or_outside_the_certificate_is_refused() {
        let plain = vector(OFFLINE);
        let c =
            check_signature(&plain.payload, &plain.signature, TrustedRoot::production()).unwrap();
        let (o, trust) = with_timestamp(OFFLINE, c.leaf.not_before() + 30, Some(b"other"));
        let f = verify_with(&o, &trust, Options::default()).unwrap_err();
        assert!(matches!(f.error, VerifyError::Timestamp(_)), "{f}");
        // A day after the certificate expired: the certificate must be valid at every
        // trusted time, so a late timestamp fails even with a good log entry.
        let (o, trust) = with_timestamp(OFFLINE, c.leaf.not_after() + 86_400, None);
        let f = verify_with(&o, &trust, Options::default()).unwrap_err();
        assert!(matches!(f.error, VerifyError::Chain(_)), "{f}");
        assert_eq!(f.error.code(), "certificate-expired");
    }
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
        let online = Log::Online {
            object_id: "e3132299e38bef6cc64565fd666f9da8d73a8d84",
            candidates: &[],
        };
        let f = Verifier::new(TrustedRoot::production(), Options::default())
            .verify(&c, online, &Policy::AnyFulcioIdentity)
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
        let p = IdentityPolicy::new(
            Some("mallory@example.com"),
            None,
            Some("https://accounts.google.com"),
            None,
        )
        .unwrap();
        verify_offline(&c, TrustedRoot::production(), &Options::default()).unwrap();
        let f = Verifier::new(TrustedRoot::production(), Options::default())
            .verify(&c, Log::Embedded, &Policy::Identity(p))
            .unwrap_err();
        assert!(matches!(f.error, VerifyError::Policy(_)));
        assert_eq!(f.identity.as_deref(), Some("billy@chainguard.dev"));
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
