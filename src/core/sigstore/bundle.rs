//! Sigstore bundles (protobuf-specs `dev.sigstore.bundle.v1.Bundle`, JSON form, v0.1–v0.3):
//! strict parsing and offline verification against a trusted root.
//!
//! [`parse`] refuses what no honest signer produces: unknown media types and fields, bad
//! base64, negative or non-decimal integers, an empty or root-carrying certificate chain,
//! bundles with both or neither of a message signature and a DSSE envelope, and the
//! version-specific omissions (v0.1 entries need a SET, v0.2+ entries an inclusion proof,
//! v0.3 a single certificate rather than a chain).
//!
//! [`verify`] establishes, in this order, failing at the first problem:
//! 1. the signer's key: the bundle certificate's (identity policy) or the caller's (`--key`);
//! 2. the content: the message signature over the artifact's digest, or the DSSE envelope's
//!    signature over its PAE and an in-toto subject with the artifact's digest;
//! 3. every log entry: in a trusted log (SET and/or inclusion proof and checkpoint, see
//!    [`tlog::verify_logged`]) and about this signature, key or certificate, and artifact;
//! 4. the trusted times: SET-backed integrated times and RFC 3161 timestamps over the
//!    signature (every timestamp in the bundle must verify); at least one is required, and
//!    logs without a SET must have been valid at each of them;
//! 5. for certificates, at every trusted time: the chain to a Fulcio CA of the trusted root;
//!    then the embedded SCT and the identity policy.
//!
//! Commit verification (`core::verify`) runs the same steps on the same modules; this one
//! takes its input from a bundle instead of a CMS signature.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;

use crate::core::sigstore::dsse::{self, DsseError, Envelope};
use crate::core::sigstore::trust::TrustedRoot;
use crate::core::sigstore::tsa::TsaError;
use crate::core::time::{UnixTime, format_rfc3339};
use crate::core::tlog::{
    self, InclusionProof, LogEntry, LoggedContent, LoggedEntry, LoggedSignature, LoggedVerifier,
    TlogError,
};
use crate::core::verify::certificate::{self, CertificateError, Memo};
use crate::core::verify::policy::{Policy, PolicyError};
use crate::core::verify::times;
use crate::core::x509::cert::{CertError, Certificate};
use crate::core::x509::keys::{KeyError, PublicKey, sha256};
use crate::core::x509::sct::SctError;

/// Bundle format versions (the minor number of 0.x).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    V01,
    V02,
    V03,
}

const MEDIA_TYPES: &[(&str, Version)] = &[
    (
        "application/vnd.dev.sigstore.bundle+json;version=0.1",
        Version::V01,
    ),
    (
        "application/vnd.dev.sigstore.bundle+json;version=0.2",
        Version::V02,
    ),
    (
        "application/vnd.dev.sigstore.bundle+json;version=0.3",
        Version::V03,
    ),
    (
        "application/vnd.dev.sigstore.bundle.v0.3+json",
        Version::V03,
    ),
];

/// Who signed, as the bundle says.
#[derive(Debug, Clone)]
pub enum Material {
    /// The leaf certificate (intermediates the bundle may list are not needed: the trusted
    /// root supplies the chain).
    Certificate(Certificate),
    /// A managed key the verifier must supply; the hint is unauthenticated.
    PublicKey { hint: Option<String> },
}

/// What was signed.
#[derive(Debug, Clone)]
pub enum Content {
    MessageSignature {
        /// `messageDigest`: an unauthenticated hint, checked against the artifact.
        digest: Option<(String, Vec<u8>)>,
        signature: Vec<u8>,
    },
    Envelope(Envelope),
}

impl Content {
    /// The signature bytes (timestamps and log entries are over these).
    pub fn signature(&self) -> Result<&[u8], DsseError> {
        match self {
            Content::MessageSignature { signature, .. } => Ok(signature),
            Content::Envelope(e) => e.signature(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Bundle {
    pub version: Version,
    pub material: Material,
    pub tlog_entries: Vec<LogEntry>,
    /// RFC 3161 timestamps as the bundle stores them (`signedTimestamp`, DER).
    pub timestamps: Vec<Vec<u8>>,
    pub content: Content,
}

/// The artifact a bundle is checked against.
#[derive(Debug, Clone)]
pub enum Artifact {
    Bytes(Vec<u8>),
    /// Only its SHA-256 digest is known (`sha256:<hex>`).
    Sha256([u8; 32]),
}

impl Artifact {
    pub fn sha256(&self) -> [u8; 32] {
        match self {
            Artifact::Bytes(b) => sha256(b),
            Artifact::Sha256(d) => *d,
        }
    }
}

/// What the signer must be.
#[derive(Debug, Clone)]
pub enum Expected {
    /// A Fulcio certificate whose identity the policy accepts.
    Identity(Policy),
    /// A managed key (`--key`), with its DER SubjectPublicKeyInfo.
    Key { key: PublicKey, spki: Vec<u8> },
}

pub use crate::core::verify::times::{TimeSource, TrustedTime};

/// A verified bundle.
#[derive(Debug, Clone)]
pub struct VerifiedBundle {
    /// The certificate identity and issuer, or `None` for a managed key.
    pub identity: Option<(String, Option<String>)>,
    pub times: Vec<TrustedTime>,
    pub entries: Vec<LoggedEntry>,
}

#[derive(Debug)]
pub enum BundleError {
    /// Not JSON of the bundle's shape (or a field fails its own format).
    Parse {
        what: String,
    },
    UnsupportedMediaType(String),
    EmptyCertificateChain,
    /// The bundle carries a self-signed (root) certificate: trust comes from the trusted
    /// root only.
    RootCertificateInBundle {
        subject: String,
    },
    Certificate(CertError),
    /// The bundle is signed with a managed key and no `--key` was given.
    KeyRequired,
    /// A key was given but the bundle is signed with a certificate.
    CertificateNotKey,
    UnsupportedDigestAlgorithm(String),
    /// The bundle's messageDigest is not the artifact's.
    MessageDigestMismatch {
        bundle: String,
        artifact: String,
    },
    SignatureInvalid(KeyError),
    /// Sigstore signs message signatures with Ed25519 keys as Ed25519ph (SHA-512 prehash),
    /// which this verifier does not implement.
    UnsupportedMessageSignatureKey,
    Dsse(DsseError),
    NoLogEntry,
    DuplicateLogEntry {
        log_index: u64,
    },
    LogEntry {
        index: usize,
        source: TlogError,
    },
    /// A log entry (valid in its log) is about another signature, key, or artifact.
    EntryMismatch {
        index: usize,
        what: &'static str,
    },
    Timestamp {
        index: usize,
        source: TsaError,
    },
    /// Nothing vouches for when the signature was made.
    NoTrustedTime,
    /// A log without a SET was not trusted at a time its entry is used for.
    LogKeyNotValidAt {
        time: UnixTime,
        base_url: String,
    },
    Chain {
        at: UnixTime,
        source: CertError,
    },
    Sct(SctError),
    Policy(PolicyError),
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use BundleError::*;
        match self {
            Parse { what } => write!(f, "bundle parse error: {what}"),
            UnsupportedMediaType(m) => write!(f, "unsupported bundle version (mediaType {m:?})"),
            EmptyCertificateChain => f.write_str("bundle certificate chain is empty"),
            RootCertificateInBundle { subject } => write!(
                f,
                "bundle includes a root certificate ({subject}): roots come from the trusted root only"
            ),
            Certificate(e) => write!(f, "bundle certificate: {e}"),
            KeyRequired => f.write_str(
                "bundle is signed with a managed key: no key was provided (use --key)",
            ),
            CertificateNotKey => {
                f.write_str("a key was provided but the bundle is signed with a certificate")
            }
            UnsupportedDigestAlgorithm(a) => {
                write!(f, "unsupported message digest algorithm {a:?}")
            }
            MessageDigestMismatch { bundle, artifact } => write!(
                f,
                "message digest mismatch: bundle says sha256:{bundle}, artifact is sha256:{artifact}"
            ),
            SignatureInvalid(e) => write!(f, "message signature does not verify: {e}"),
            UnsupportedMessageSignatureKey => f.write_str(
                "Ed25519 (Ed25519ph) message signatures are not supported",
            ),
            Dsse(e) => write!(f, "{e}"),
            NoLogEntry => f.write_str("bundle has no transparency log entry"),
            DuplicateLogEntry { log_index } => {
                write!(f, "bundle lists log entry {log_index} twice")
            }
            LogEntry { index, source } => {
                write!(f, "transparency log entry {index}: {source}")
            }
            EntryMismatch { index, what } => write!(
                f,
                "transparency log entry {index} does not match the bundle: {what}"
            ),
            Timestamp { index, source } => write!(f, "RFC 3161 timestamp {index}: {source}"),
            NoTrustedTime => f.write_str(
                "no trusted time: no log entry has a signed entry timestamp and the bundle has no RFC 3161 timestamp",
            ),
            LogKeyNotValidAt { time, base_url } => write!(
                f,
                "log {base_url} key is not valid at the timestamp {}",
                format_rfc3339(*time)
            ),
            Chain { at, source } => {
                write!(f, "certificate at {}: {source}", format_rfc3339(*at))
            }
            Sct(e) => write!(f, "certificate transparency: {e}"),
            Policy(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for BundleError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BundleError::Certificate(e) | BundleError::Chain { source: e, .. } => Some(e),
            BundleError::SignatureInvalid(e) => Some(e),
            BundleError::Dsse(e) => Some(e),
            BundleError::LogEntry { source, .. } => Some(source),
            BundleError::Timestamp { source, .. } => Some(source),
            BundleError::Sct(e) => Some(e),
            BundleError::Policy(e) => Some(e),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Parsing

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[serde(rename = "Bundle")]
struct JBundle {
    media_type: String,
    verification_material: JMaterial,
    message_signature: Option<JMessageSignature>,
    dsse_envelope: Option<JEnvelope>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct JMaterial {
    public_key: Option<JKeyId>,
    x509_certificate_chain: Option<JChain>,
    certificate: Option<JCert>,
    #[serde(default)]
    tlog_entries: Vec<JEntry>,
    timestamp_verification_data: Option<JTimestamps>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JKeyId {
    hint: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JChain {
    #[serde(default)]
    certificates: Vec<JCert>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct JCert {
    raw_bytes: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct JEntry {
    log_index: JInt,
    log_id: JLogId,
    kind_version: JKindVersion,
    integrated_time: Option<JInt>,
    inclusion_promise: Option<JPromise>,
    inclusion_proof: Option<JProof>,
    canonicalized_body: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct JLogId {
    key_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JKindVersion {
    kind: String,
    version: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct JPromise {
    signed_entry_timestamp: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct JProof {
    log_index: JInt,
    root_hash: String,
    tree_size: JInt,
    #[serde(default)]
    hashes: Vec<String>,
    checkpoint: Option<JCheckpoint>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JCheckpoint {
    envelope: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct JTimestamps {
    #[serde(default)]
    rfc3161_timestamps: Vec<JTimestamp>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct JTimestamp {
    signed_timestamp: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct JMessageSignature {
    message_digest: Option<JDigest>,
    signature: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JDigest {
    algorithm: String,
    digest: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct JEnvelope {
    payload: String,
    payload_type: String,
    #[serde(default)]
    signatures: Vec<JSig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JSig {
    sig: String,
    #[allow(dead_code)] // part of the format, not of verification
    keyid: Option<String>,
}

/// protobuf JSON writes int64 as a decimal string (numbers are accepted too).
#[derive(Deserialize)]
#[serde(untagged)]
enum JInt {
    Text(String),
    Number(i64),
}

fn parse_err(what: impl Into<String>) -> BundleError {
    BundleError::Parse { what: what.into() }
}

fn b64(s: &str, what: &str) -> Result<Vec<u8>, BundleError> {
    B64.decode(s)
        .map_err(|_| parse_err(format!("{what} is not valid base64")))
}

/// A non-negative int64.
fn uint(v: &JInt, what: &str) -> Result<u64, BundleError> {
    let n: i64 = match v {
        JInt::Number(n) => *n,
        JInt::Text(s) => {
            let digits = s.strip_prefix('-').unwrap_or(s);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(parse_err(format!("{what} {s:?} is not a decimal integer")));
            }
            s.parse()
                .map_err(|_| parse_err(format!("{what} {s:?} is out of range")))?
        }
    };
    u64::try_from(n).map_err(|_| parse_err(format!("{what} is negative ({n})")))
}

fn entry(j: &JEntry, i: usize) -> Result<LogEntry, BundleError> {
    let w = |f: &str| format!("tlogEntries[{i}].{f}");
    let integrated_time = match &j.integrated_time {
        None => 0,
        Some(t) => i64::try_from(uint(t, &w("integratedTime"))?)
            .map_err(|_| parse_err(w("integratedTime is out of range")))?,
    };
    let inclusion_proof = j
        .inclusion_proof
        .as_ref()
        .map(|p| -> Result<InclusionProof, BundleError> {
            Ok(InclusionProof {
                log_index: uint(&p.log_index, &w("inclusionProof.logIndex"))?,
                root_hash: b64(&p.root_hash, &w("inclusionProof.rootHash"))?,
                tree_size: uint(&p.tree_size, &w("inclusionProof.treeSize"))?,
                hashes: p
                    .hashes
                    .iter()
                    .map(|h| b64(h, &w("inclusionProof.hashes")))
                    .collect::<Result<_, _>>()?,
                checkpoint: p.checkpoint.as_ref().map(|c| c.envelope.clone()),
            })
        })
        .transpose()?;
    Ok(LogEntry {
        log_index: uint(&j.log_index, &w("logIndex"))?,
        log_id: b64(&j.log_id.key_id, &w("logId.keyId"))?,
        kind: j.kind_version.kind.clone(),
        version: j.kind_version.version.clone(),
        integrated_time,
        signed_entry_timestamp: j
            .inclusion_promise
            .as_ref()
            .map(|p| b64(&p.signed_entry_timestamp, &w("inclusionPromise")))
            .transpose()?,
        inclusion_proof,
        canonicalized_body: j
            .canonicalized_body
            .as_deref()
            .map(|b| b64(b, &w("canonicalizedBody")))
            .transpose()?,
    })
}

/// One `TransparencyLogEntry` in protobuf JSON, as a bundle's `tlogEntries` hold them and
/// Rekor v2 returns them from `POST /api/v2/log/entries`; unverified.
pub fn log_entry_from_json(json: &[u8]) -> Result<LogEntry, BundleError> {
    let j: JEntry = serde_json::from_slice(json)
        .map_err(|e| parse_err(format!("transparency log entry: {e}")))?;
    entry(&j, 0)
}

fn certificate(j: &JCert, what: &str) -> Result<Certificate, BundleError> {
    let cert =
        Certificate::from_der(&b64(&j.raw_bytes, what)?).map_err(BundleError::Certificate)?;
    if cert.subject_raw() == cert.issuer_raw() {
        return Err(BundleError::RootCertificateInBundle {
            subject: cert.describe(),
        });
    }
    Ok(cert)
}

/// Parses and structurally checks a bundle (see the module docs). Verifies nothing.
pub fn parse(json: &[u8]) -> Result<Bundle, BundleError> {
    let j: JBundle = serde_json::from_slice(json).map_err(|e| parse_err(format!("{e}")))?;
    let version = MEDIA_TYPES
        .iter()
        .find(|(m, _)| *m == j.media_type)
        .map(|(_, v)| *v)
        .ok_or_else(|| BundleError::UnsupportedMediaType(j.media_type.clone()))?;
    let vm = &j.verification_material;

    let material = match (&vm.public_key, &vm.x509_certificate_chain, &vm.certificate) {
        (Some(k), None, None) => Material::PublicKey {
            hint: k.hint.clone(),
        },
        (None, Some(chain), None) => {
            if version >= Version::V03 {
                return Err(parse_err(
                    "a v0.3 bundle carries a single certificate, not x509CertificateChain",
                ));
            }
            let (leaf, rest) = chain
                .certificates
                .split_first()
                .ok_or(BundleError::EmptyCertificateChain)?;
            for (i, c) in rest.iter().enumerate() {
                certificate(c, &format!("x509CertificateChain certificate {}", i + 1))?;
            }
            Material::Certificate(certificate(leaf, "x509CertificateChain certificate 0")?)
        }
        (None, None, Some(c)) => Material::Certificate(certificate(c, "certificate")?),
        _ => {
            return Err(parse_err(
                "verificationMaterial needs exactly one of publicKey, x509CertificateChain, certificate",
            ));
        }
    };

    let tlog_entries = vm
        .tlog_entries
        .iter()
        .enumerate()
        .map(|(i, e)| entry(e, i))
        .collect::<Result<Vec<_>, _>>()?;
    for (i, e) in tlog_entries.iter().enumerate() {
        if version == Version::V01 && e.signed_entry_timestamp.is_none() {
            return Err(parse_err(format!(
                "tlogEntries[{i}]: a v0.1 bundle entry needs an inclusion promise"
            )));
        }
        if version >= Version::V02 && e.inclusion_proof.is_none() {
            return Err(BundleError::LogEntry {
                index: i,
                source: TlogError::InclusionProofMissing,
            });
        }
    }

    let timestamps = vm
        .timestamp_verification_data
        .as_ref()
        .map(|t| {
            t.rfc3161_timestamps
                .iter()
                .map(|ts| b64(&ts.signed_timestamp, "rfc3161Timestamps.signedTimestamp"))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default();

    let content = match (&j.message_signature, &j.dsse_envelope) {
        (Some(m), None) => Content::MessageSignature {
            digest: m
                .message_digest
                .as_ref()
                .map(|d| {
                    Ok::<_, BundleError>((d.algorithm.clone(), b64(&d.digest, "messageDigest")?))
                })
                .transpose()?,
            signature: b64(&m.signature, "messageSignature.signature")?,
        },
        (None, Some(e)) => Content::Envelope(Envelope {
            payload_type: e.payload_type.clone(),
            payload: b64(&e.payload, "dsseEnvelope.payload")?,
            signatures: e
                .signatures
                .iter()
                .map(|s| b64(&s.sig, "dsseEnvelope signature"))
                .collect::<Result<_, _>>()?,
        }),
        _ => {
            return Err(parse_err(
                "a bundle needs exactly one of messageSignature and dsseEnvelope",
            ));
        }
    };

    Ok(Bundle {
        version,
        material,
        tlog_entries,
        timestamps,
        content,
    })
}

// ---------------------------------------------------------------------------------------
// Verification

/// The signer as a logged entry must name it.
enum Signer<'a> {
    Certificate(&'a Certificate),
    Key(&'a [u8]),
}

impl Signer<'_> {
    fn is(&self, v: &LoggedVerifier) -> bool {
        match (self, v) {
            (Signer::Certificate(c), LoggedVerifier::Certificate(der)) => c.der() == der.as_slice(),
            (Signer::Key(spki), LoggedVerifier::PublicKey(der)) => *spki == der.as_slice(),
            _ => false,
        }
    }
}

fn check_signature_entry(
    logged: &LoggedSignature,
    signature: &[u8],
    signer: &Signer<'_>,
    index: usize,
) -> Result<(), BundleError> {
    if logged.signature != signature {
        return Err(BundleError::EntryMismatch {
            index,
            what: "the logged signature is not the bundle's",
        });
    }
    if !signer.is(&logged.verifier) {
        return Err(BundleError::EntryMismatch {
            index,
            what: "the logged certificate or public key is not the signer's",
        });
    }
    Ok(())
}

/// Checks that a verified entry is about this bundle's signature, signer and artifact.
fn check_entry_matches(
    logged: &LoggedEntry,
    content: &Content,
    signer: &Signer<'_>,
    artifact_sha256: &[u8; 32],
    index: usize,
) -> Result<(), BundleError> {
    let mismatch = |what| BundleError::EntryMismatch { index, what };
    match (&logged.content, content) {
        (
            LoggedContent::Digest { sha256, signature },
            Content::MessageSignature { signature: sig, .. },
        ) => {
            check_signature_entry(signature, sig, signer, index)?;
            if sha256.as_slice() != artifact_sha256 {
                return Err(mismatch("the logged digest is not the artifact's"));
            }
        }
        // Rekor v2 logs DSSE as a hashedrekord over sha256(PAE).
        (LoggedContent::Digest { sha256, signature }, Content::Envelope(env)) => {
            if !logged.rekor_v2 {
                return Err(mismatch("a DSSE envelope needs a dsse or intoto entry"));
            }
            check_signature_entry(
                signature,
                env.signature().map_err(BundleError::Dsse)?,
                signer,
                index,
            )?;
            let pae = dsse::pae(&env.payload_type, &env.payload);
            if sha256.as_slice() != crate::core::x509::keys::sha256(&pae) {
                return Err(mismatch("the logged digest is not the envelope's"));
            }
        }
        (
            LoggedContent::Envelope {
                payload_sha256,
                signatures,
                envelope,
            },
            Content::Envelope(env),
        ) => {
            if payload_sha256.as_slice() != crate::core::x509::keys::sha256(&env.payload) {
                return Err(mismatch("the logged payload hash is not the envelope's"));
            }
            if let Some((payload_type, payload)) = envelope
                && (payload_type != &env.payload_type || payload != &env.payload)
            {
                return Err(mismatch("the logged envelope is not the bundle's"));
            }
            match signatures.as_slice() {
                [one] => check_signature_entry(
                    one,
                    env.signature().map_err(BundleError::Dsse)?,
                    signer,
                    index,
                )?,
                _ => return Err(mismatch("the logged envelope has other signatures")),
            }
        }
        (LoggedContent::Envelope { .. }, Content::MessageSignature { .. }) => {
            return Err(mismatch("a message signature needs a hashedrekord entry"));
        }
    }
    Ok(())
}

/// Verifies `bundle` for `artifact` against `trust` (see the module docs).
pub fn verify(
    bundle: &Bundle,
    artifact: &Artifact,
    expected: &Expected,
    trust: &TrustedRoot,
    memo: &Memo,
) -> Result<VerifiedBundle, BundleError> {
    // 1. The signer's key.
    let (key, signer, leaf) = match (&bundle.material, expected) {
        (Material::Certificate(leaf), Expected::Identity(_)) => (
            leaf.public_key().map_err(BundleError::Certificate)?,
            Signer::Certificate(leaf),
            Some(leaf),
        ),
        (Material::PublicKey { .. }, Expected::Key { key, spki }) => {
            (key.clone(), Signer::Key(spki), None)
        }
        (Material::PublicKey { .. }, Expected::Identity(_)) => {
            return Err(BundleError::KeyRequired);
        }
        (Material::Certificate(_), Expected::Key { .. }) => {
            return Err(BundleError::CertificateNotKey);
        }
    };

    // 2. The content.
    let digest = artifact.sha256();
    match &bundle.content {
        Content::MessageSignature {
            digest: hint,
            signature,
        } => {
            if let Some((alg, d)) = hint {
                if alg != "SHA2_256" {
                    return Err(BundleError::UnsupportedDigestAlgorithm(alg.clone()));
                }
                if d.as_slice() != digest {
                    return Err(BundleError::MessageDigestMismatch {
                        bundle: tlog::hex(d),
                        artifact: tlog::hex(&digest),
                    });
                }
            }
            if matches!(key, PublicKey::Ed25519(_)) {
                return Err(BundleError::UnsupportedMessageSignatureKey);
            }
            key.verify_prehash(&digest, signature)
                .map_err(BundleError::SignatureInvalid)?;
        }
        Content::Envelope(env) => {
            env.verify(&key).map_err(BundleError::Dsse)?;
            env.check_subject(&digest).map_err(BundleError::Dsse)?;
        }
    }
    let signature = bundle.content.signature().map_err(BundleError::Dsse)?;

    // 3. The log entries.
    if bundle.tlog_entries.is_empty() {
        return Err(BundleError::NoLogEntry);
    }
    for (i, a) in bundle.tlog_entries.iter().enumerate() {
        if bundle.tlog_entries[..i]
            .iter()
            .any(|b| a.log_id == b.log_id && a.log_index == b.log_index)
        {
            return Err(BundleError::DuplicateLogEntry {
                log_index: a.log_index,
            });
        }
    }
    let logs = tlog::trusted_log_keys(trust);
    let mut entries = Vec::with_capacity(bundle.tlog_entries.len());
    for (index, e) in bundle.tlog_entries.iter().enumerate() {
        let logged = tlog::verify_logged(e, &logs)
            .map_err(|source| BundleError::LogEntry { index, source })?;
        check_entry_matches(&logged, &bundle.content, &signer, &digest, index)?;
        entries.push(logged);
    }

    // 4. Trusted times.
    let log_times: Vec<times::LogTime<'_>> = entries
        .iter()
        .map(|e| times::LogTime {
            integrated_time: e.integrated_time,
            base_url: &e.base_url,
            valid_from: e.log_valid_from,
            valid_until: e.log_valid_until,
        })
        .collect();
    let tokens = bundle.timestamps.iter().map(Vec::as_slice);
    let times = times::establish(&log_times, tokens, signature, trust).map_err(|e| match e {
        times::TimeError::Timestamp { index, source } => BundleError::Timestamp { index, source },
        times::TimeError::NoTrustedTime => BundleError::NoTrustedTime,
        times::TimeError::LogKeyNotValidAt { time, base_url } => {
            BundleError::LogKeyNotValidAt { time, base_url }
        }
    })?;

    // 5. The certificate at every trusted time, its SCT, the identity.
    let Some(leaf) = leaf else {
        return Ok(VerifiedBundle {
            identity: None,
            times,
            entries,
        });
    };
    let at: Vec<UnixTime> = times.iter().map(|t| t.time).collect();
    let verified =
        certificate::verify_certificate(leaf, trust, &at, certificate::Sct::Required, memo)
            .map_err(|e| match e {
                CertificateError::Chain { at, source } => BundleError::Chain { at, source },
                CertificateError::Sct(e) => BundleError::Sct(e),
                CertificateError::Identity(e) => BundleError::Certificate(e),
                CertificateError::NoTime => BundleError::NoTrustedTime,
            })?;
    let issuer = verified.identity.issuer.clone();
    let san = verified.identity.san.to_string();
    if let Expected::Identity(policy) = expected {
        policy
            .check(&san, issuer.as_deref())
            .map_err(BundleError::Policy)?;
    }
    Ok(VerifiedBundle {
        identity: Some((san, issuer)),
        times,
        entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::git::gitobj::{self, HashAlgo, ObjectKind};
    use crate::core::verify::policy::IdentityPolicy;
    use crate::core::verify::{Options, Verifier};
    use crate::core::x509::cert;
    use serde_json::{Value, json};

    const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
    const ISSUER: &str = "https://token.actions.githubusercontent.com";

    fn data(path: &str) -> Vec<u8> {
        std::fs::read(format!("{}/tests/data/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn case(name: &str) -> Value {
        serde_json::from_slice(&data(&format!(
            "conformance/bundle-verify/{name}/bundle.sigstore.json"
        )))
        .unwrap()
    }

    fn parse_value(v: &Value) -> Result<Bundle, BundleError> {
        parse(&serde_json::to_vec(v).unwrap())
    }

    fn identity(id: &str, issuer: &str) -> Expected {
        Expected::Identity(Policy::Identity(
            IdentityPolicy::new(Some(id), None, Some(issuer), None).unwrap(),
        ))
    }

    /// [`super::verify`] with nothing remembered between calls.
    fn verify(
        b: &Bundle,
        a: &Artifact,
        e: &Expected,
        root: &TrustedRoot,
    ) -> Result<VerifiedBundle, BundleError> {
        super::verify(b, a, e, root, &Memo::default())
    }

    fn a_txt() -> Artifact {
        Artifact::Bytes(data("conformance/bundle-verify/a.txt"))
    }

    fn check(v: &Value) -> Result<VerifiedBundle, BundleError> {
        verify(
            &parse_value(v)?,
            &a_txt(),
            &identity(IDENTITY, ISSUER),
            TrustedRoot::production(),
        )
    }

    /// The shape `gitsign export-bundle` writes: v0.3, messageSignature over the digest of the
    /// CMS signed attributes, the leaf, and the embedded hashedrekord 0.0.1 entry with its body.
    fn exported(name: &str) -> (Value, [u8; 32]) {
        let raw = data(&format!("vectors/real/{name}"));
        let kind = if name.ends_with(".tag") {
            ObjectKind::Tag
        } else {
            ObjectKind::Commit
        };
        let o = gitobj::split(kind, &raw, HashAlgo::Sha1).unwrap();
        let c = Verifier::new(TrustedRoot::production(), Options::default())
            .check(&o.payload, &o.signature)
            .unwrap();
        let e = tlog::decode_transparency_log_entry(c.embedded_entry.as_deref().unwrap()).unwrap();
        let body = tlog::hashedrekord_body(&c.signed_attrs_digest, &c.signature, &c.leaf_pem());
        let p = e.inclusion_proof.as_ref().unwrap();
        let bundle = json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "certificate": {"rawBytes": B64.encode(c.leaf.der())},
                "tlogEntries": [{
                    "logIndex": e.log_index.to_string(),
                    "logId": {"keyId": B64.encode(&e.log_id)},
                    "kindVersion": {"kind": e.kind, "version": e.version},
                    "integratedTime": e.integrated_time.to_string(),
                    "inclusionPromise": {
                        "signedEntryTimestamp": B64.encode(e.signed_entry_timestamp.as_ref().unwrap())
                    },
                    "inclusionProof": {
                        "logIndex": p.log_index.to_string(),
                        "rootHash": B64.encode(&p.root_hash),
                        "treeSize": p.tree_size.to_string(),
                        "hashes": p.hashes.iter().map(|h| B64.encode(h)).collect::<Vec<_>>(),
                        "checkpoint": {"envelope": p.checkpoint.clone().unwrap()},
                    },
                    "canonicalizedBody": B64.encode(&body),
                }],
            },
            "messageSignature": {
                "messageDigest": {"algorithm": "SHA2_256", "digest": B64.encode(c.signed_attrs_digest)},
                "signature": B64.encode(&c.signature),
            },
        });
        (bundle, c.signed_attrs_digest)
    }

    #[test]
    fn every_gitsign_signature_exported_as_a_v03_bundle_verifies_by_digest() {
        let index = String::from_utf8(data("vectors/real/INDEX.tsv")).unwrap();
        let mut lines = index.lines();
        let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
        let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
        let mut exported_count = 0;
        for row in lines.filter(|l| !l.trim().is_empty()) {
            let f: Vec<&str> = row.split('\t').collect();
            if f[col("tlog_entry_embedded")] != "yes" {
                continue;
            }
            let (file, issuer) = (f[col("file")], f[col("oidc_issuer")]);
            let signer = f[col("signer_identity")].trim_start_matches("email:");
            let (bundle, digest) = exported(file);
            let b = parse_value(&bundle).unwrap();
            let v = verify(
                &b,
                &Artifact::Sha256(digest),
                &identity(signer, issuer),
                TrustedRoot::production(),
            )
            .unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(
                v.identity,
                Some((signer.to_string(), Some(issuer.to_string())))
            );
            assert!(matches!(v.times[0].source, TimeSource::Log { .. }));
            let mut other = digest;
            other[0] ^= 1;
            assert!(matches!(
                verify(
                    &b,
                    &Artifact::Sha256(other),
                    &identity(signer, issuer),
                    TrustedRoot::production(),
                ),
                Err(BundleError::MessageDigestMismatch { .. })
            ));
            exported_count += 1;
        }
        assert!(
            exported_count >= 3,
            "{exported_count} embedded-entry vectors"
        );
    }

    #[test]
    fn both_v03_media_type_spellings_and_every_known_version_parse() {
        let mut v = case("happy-path-v0.3");
        check(&v).unwrap();
        v["mediaType"] = json!("application/vnd.dev.sigstore.bundle.v0.3+json");
        check(&v).unwrap();
        for (m, ok) in [
            (
                "application/vnd.dev.sigstore.bundle+json;version=0.4",
                false,
            ),
            ("application/vnd.dev.sigstore.bundle.v0.2+json", false),
            ("application/vnd.dev.sigstore.bundle+json", false),
        ] {
            v["mediaType"] = json!(m);
            assert_eq!(parse_value(&v).is_ok(), ok, "{m}");
        }
    }

    #[test]
    fn unknown_fields_are_refused_at_every_level() {
        for pointer in [
            "",
            "/verificationMaterial",
            "/verificationMaterial/tlogEntries/0",
        ] {
            let mut v = case("happy-path-v0.3");
            v.pointer_mut(pointer)
                .unwrap()
                .as_object_mut()
                .unwrap()
                .insert("extra".into(), json!(1));
            assert!(
                matches!(parse_value(&v), Err(BundleError::Parse { .. })),
                "{pointer}"
            );
        }
    }

    #[test]
    fn integers_must_be_non_negative_decimals_and_may_be_json_numbers() {
        let mut v = case("happy-path-v0.3");
        let idx = "/verificationMaterial/tlogEntries/0/logIndex";
        let n: u64 = v.pointer(idx).unwrap().as_str().unwrap().parse().unwrap();
        *v.pointer_mut(idx).unwrap() = json!(n);
        check(&v).unwrap();
        for bad in [
            json!("-1"),
            json!(-1),
            json!("1e3"),
            json!(""),
            json!("+5"),
            json!("0x10"),
        ] {
            *v.pointer_mut(idx).unwrap() = bad.clone();
            assert!(parse_value(&v).is_err(), "{bad}");
        }
    }

    #[test]
    fn version_rules_are_enforced() {
        // v0.1 entries need a SET.
        let mut v = case("happy-path-v0.1");
        v["verificationMaterial"]["tlogEntries"][0]
            .as_object_mut()
            .unwrap()
            .remove("inclusionPromise");
        assert!(matches!(parse_value(&v), Err(BundleError::Parse { .. })));
        // v0.2+ entries need an inclusion proof.
        let mut v = case("happy-path-v0.2");
        v["verificationMaterial"]["tlogEntries"][0]
            .as_object_mut()
            .unwrap()
            .remove("inclusionProof");
        assert!(matches!(
            parse_value(&v),
            Err(BundleError::LogEntry {
                source: TlogError::InclusionProofMissing,
                ..
            })
        ));
        // v0.3 takes a single certificate, not a chain.
        let mut v = case("happy-path-v0.2");
        v["mediaType"] = json!("application/vnd.dev.sigstore.bundle+json;version=0.3");
        assert!(matches!(parse_value(&v), Err(BundleError::Parse { .. })));
    }

    #[test]
    fn a_root_certificate_in_the_chain_is_refused() {
        let mut v = case("happy-path-v0.1");
        check(&v).unwrap();
        let root = TrustedRoot::production().certificate_authorities[1]
            .certs
            .last()
            .unwrap()
            .der()
            .to_vec();
        v["verificationMaterial"]["x509CertificateChain"]["certificates"]
            .as_array_mut()
            .unwrap()
            .push(json!({"rawBytes": B64.encode(root)}));
        assert!(matches!(
            parse_value(&v),
            Err(BundleError::RootCertificateInBundle { .. })
        ));
    }

    #[test]
    fn a_bundle_needs_exactly_one_content_and_one_material() {
        let mut v = case("happy-path-v0.3");
        v["dsseEnvelope"] = case("happy-path-intoto-in-dsse-v3")["dsseEnvelope"].clone();
        assert!(matches!(parse_value(&v), Err(BundleError::Parse { .. })));
        let mut v = case("happy-path-v0.3");
        v.as_object_mut().unwrap().remove("messageSignature");
        assert!(matches!(parse_value(&v), Err(BundleError::Parse { .. })));
        let mut v = case("happy-path-v0.3");
        v["verificationMaterial"]["publicKey"] = json!({"hint": "x"});
        assert!(matches!(parse_value(&v), Err(BundleError::Parse { .. })));
    }

    #[test]
    fn the_signer_must_be_the_expected_one() {
        let v = case("happy-path-v0.3");
        assert!(matches!(
            verify(
                &parse_value(&v).unwrap(),
                &a_txt(),
                &identity("https://example.com/other", ISSUER),
                TrustedRoot::production(),
            ),
            Err(BundleError::Policy(_))
        ));
        let spki = TrustedRoot::production().tlogs[0].key_der.clone();
        let key = PublicKey::from_spki_der(&spki).unwrap();
        assert!(matches!(
            verify(
                &parse_value(&v).unwrap(),
                &a_txt(),
                &Expected::Key { key, spki },
                TrustedRoot::production(),
            ),
            Err(BundleError::CertificateNotKey)
        ));
    }

    #[test]
    fn entries_are_required_and_may_not_repeat() {
        let mut v = case("happy-path-v0.3");
        let entry = v["verificationMaterial"]["tlogEntries"][0].clone();
        v["verificationMaterial"]["tlogEntries"] = json!([entry.clone(), entry]);
        assert!(matches!(
            check(&v),
            Err(BundleError::DuplicateLogEntry { .. })
        ));
        v["verificationMaterial"]["tlogEntries"] = json!([]);
        assert!(matches!(check(&v), Err(BundleError::NoLogEntry)));
    }

    #[test]
    fn an_rsa_fulcio_ca_verifies_its_leaf_and_refuses_a_forged_one() {
        let dir = "conformance/bundle-verify/bundle-with-sct-with-extensions";
        let root = TrustedRoot::from_json(&data(&format!("{dir}/trusted_root.json"))).unwrap();
        let v = case("bundle-with-sct-with-extensions");
        let Material::Certificate(leaf) = parse_value(&v).unwrap().material else {
            panic!("certificate bundle");
        };
        let at = leaf.not_before();
        cert::verify_chain(&leaf, &root.certificate_authorities, at).unwrap();
        let mut der = leaf.der().to_vec();
        let last = der.len() - 1;
        der[last] ^= 1;
        let forged = Certificate::from_der(&der).unwrap();
        assert!(matches!(
            cert::verify_chain(&forged, &root.certificate_authorities, at),
            Err(CertError::BadSignature { .. })
        ));
    }

    fn managed(key_file: &str) -> (Bundle, Expected, TrustedRoot) {
        let dir = "conformance/bundle-verify/managed-key-and-trusted-root";
        let root = TrustedRoot::from_json(&data(&format!("{dir}/trusted_root.json"))).unwrap();
        let spki = crate::core::asn1::pem::decode_one(&data(key_file), "PUBLIC KEY").unwrap();
        let key = PublicKey::from_spki_der(&spki).unwrap();
        let b = parse_value(&case("managed-key-and-trusted-root")).unwrap();
        (b, Expected::Key { key, spki }, root)
    }

    #[test]
    fn a_managed_key_bundle_verifies_only_with_its_key() {
        let (b, key, root) =
            managed("conformance/bundle-verify/managed-key-and-trusted-root/key.pub");
        let v = verify(&b, &a_txt(), &key, &root).unwrap();
        assert_eq!(v.identity, None);
        // Another well-formed key: the signature does not verify with it.
        let spki = root.tlogs[0].key_der.clone();
        let other = Expected::Key {
            key: PublicKey::from_spki_der(&spki).unwrap(),
            spki,
        };
        assert!(matches!(
            verify(&b, &a_txt(), &other, &root),
            Err(BundleError::SignatureInvalid(_))
        ));
        assert!(matches!(
            verify(&b, &a_txt(), &identity(IDENTITY, ISSUER), &root),
            Err(BundleError::KeyRequired)
        ));
    }

    #[test]
    fn a_rekor_v2_entry_needs_a_timestamp_and_a_log_key_valid_at_it() {
        let dir = "conformance/bundle-verify/rekor2-happy-path";
        let root = TrustedRoot::from_json(&data(&format!("{dir}/trusted_root.json"))).unwrap();
        let b = parse_value(&case("rekor2-happy-path")).unwrap();
        let v = verify(&b, &a_txt(), &identity(IDENTITY, ISSUER), &root).unwrap();
        assert!(v.entries[0].rekor_v2 && v.entries[0].integrated_time.is_none());
        let [t] = v.times.as_slice() else {
            panic!("one trusted time");
        };
        assert!(matches!(t.source, TimeSource::Tsa { .. }));
        // The same log key, valid only from a second after the timestamp.
        let mut late = root.clone();
        for l in late
            .tlogs
            .iter_mut()
            .filter(|l| l.key_details == "PKIX_ED25519")
        {
            l.valid_for.start = t.time + 1;
        }
        assert!(matches!(
            verify(&b, &a_txt(), &identity(IDENTITY, ISSUER), &late),
            Err(BundleError::LogKeyNotValidAt { .. })
        ));
        let mut untimed = b.clone();
        untimed.timestamps.clear();
        assert!(matches!(
            verify(&untimed, &a_txt(), &identity(IDENTITY, ISSUER), &root),
            Err(BundleError::NoTrustedTime)
        ));
        // A Rekor v2 entry never carries a SET.
        let mut with_set = b.clone();
        with_set.tlog_entries[0].signed_entry_timestamp = Some(vec![0x30, 0x00]);
        assert!(matches!(
            verify(&with_set, &a_txt(), &identity(IDENTITY, ISSUER), &root),
            Err(BundleError::LogEntry {
                source: TlogError::Malformed { .. },
                ..
            })
        ));
    }

    #[test]
    fn a_dsse_bundle_must_name_the_artifact_among_its_subjects() {
        let v = case("happy-path-intoto-in-dsse-v3");
        let b = parse_value(&v).unwrap();
        assert!(matches!(
            verify(
                &b,
                &Artifact::Bytes(b"something else".to_vec()),
                &identity(IDENTITY, ISSUER),
                TrustedRoot::production()
            ),
            Err(BundleError::Dsse(DsseError::SubjectMismatch { .. }))
        ));
    }
}
