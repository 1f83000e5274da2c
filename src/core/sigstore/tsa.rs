//! RFC 3161 timestamps: a timestamping authority (TSA) signs that some bytes existed at its
//! `genTime`. Sigstore bundles carry them (Rekor v2 entries have no integrated time, so the
//! timestamp is the only time there is) and gitsign can put one in unsigned attribute
//! `1.2.840.113549.1.9.16.2.14` over the hash of its signature.
//!
//! The checks are those of sigstore-go (`verify.VerifySignedTimestamp`, which hands each
//! trusted TSA to `timestamp-authority/pkg/verification.VerifyTimestampResponse`), read off
//! their source, with the signature checked over the received signed attributes (never a
//! re-encoding) and the trusted root's certificates taken as trust anchors:
//!
//! ```text
//! TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken ContentInfo OPTIONAL }
//! ContentInfo   ::= SEQUENCE { id-signedData, [0] EXPLICIT SignedData }
//! SignedData    ::= SEQUENCE { version (1 | 3), digestAlgorithms SET OF AlgorithmIdentifier,
//!   encapContentInfo SEQUENCE { id-ct-TSTInfo, [0] EXPLICIT OCTET STRING (TSTInfo DER) },
//!   certificates [0] IMPLICIT OPTIONAL, (no crls), signerInfos SET { one } }
//! TSTInfo ::= SEQUENCE { version INTEGER (1), policy OBJECT IDENTIFIER,
//!   messageImprint SEQUENCE { hashAlgorithm AlgorithmIdentifier, hashedMessage OCTET STRING },
//!   serialNumber INTEGER, genTime GeneralizedTime, accuracy Accuracy OPTIONAL,
//!   ordering BOOLEAN DEFAULT FALSE, nonce INTEGER OPTIONAL, tsa [0] GeneralName OPTIONAL,
//!   extensions [1] IMPLICIT Extensions OPTIONAL }
//! ```
//!
//! - messageImprint = SHA-256/384/512 of the signed bytes (SHA-1 is refused as weak);
//! - exactly one SignerInfo, identified by issuerAndSerialNumber (v1) or
//!   subjectKeyIdentifier (v3); signed attributes contentType = id-ct-TSTInfo and
//!   messageDigest = hash(TSTInfo DER); ECDSA P-256/P-384 signature over them;
//! - the TSA certificate: with certificates embedded, the one the SignerInfo names; it must be
//!   the authority's own TSA certificate when the trusted root lists one (the first
//!   certificate, not a CA), else be issued by the authority's chain. With none embedded, the
//!   authority's TSA certificate, when the SignerInfo names it. Embedded certificates are
//!   never trusted as intermediates;
//! - the TSA certificate is not a CA, has a critical extended key usage with exactly one
//!   purpose, timeStamping; CA certificates on the path have no EKU or one that allows
//!   timeStamping (or any purpose); every certificate is valid at genTime (inclusive);
//!   a signingTime attribute, if present, lies within the TSA certificate's validity;
//! - the authority's `validFor` contains genTime (inclusive at both ends, whole seconds).
//!
//! Not checked, as in sigstore-go: the ESS signingCertificate(V2) attribute, the nonce and
//! the policy (a bundle verifier has no request to compare them with), revocation.

use std::fmt;

use crate::core::asn1::der::{self, DerError, Reader, Tlv, oid, tag};
use crate::core::cms::{self, CmsError, Profile, SignerId};
use crate::core::sigstore::trust::CertificateAuthority;
use crate::core::time::{self, UnixTime, format_rfc3339};
use crate::core::x509::cert::{self, CertError, Certificate, oid_string};
use crate::core::x509::keys::{HashAlg, PublicKey};

/// Object identifiers used only here, as DER content bytes.
mod tsa_oid {
    #[cfg(test)]
    pub use crate::core::cms::TST_INFO;
    /// 1.3.14.3.2.26 (SHA-1)
    pub const SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];
    /// 1.3.6.1.5.5.7.3.8 (id-kp-timeStamping)
    pub const TIME_STAMPING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08];
    /// 2.5.29.37.0 (anyExtendedKeyUsage)
    pub const ANY_EKU: &[u8] = &[0x55, 0x1d, 0x25, 0x00];
}

/// A timestamp that verified against one trusted timestamping authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedTimestamp {
    /// genTime, in whole seconds (a fraction, if any, is dropped).
    pub time: UnixTime,
    /// The TSA certificate's subject (RFC 4514).
    pub tsa_subject: String,
    /// The `uri` of the trusted root entry that vouched for it (sigstore-go counts
    /// timestamps towards a threshold once per authority URI).
    pub authority_uri: String,
}

/// Why a timestamp was rejected. Display is one line naming the failing check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TsaError {
    /// Not DER, or not the DER of the structure named by `what`.
    Der {
        what: &'static str,
        source: DerError,
    },
    /// DER, but not an RFC 3161 timestamp we accept.
    Malformed {
        what: String,
    },
    /// A TimeStampResp whose status is not `granted` (0).
    NotGranted {
        status: u64,
    },
    WeakHash {
        what: &'static str,
    },
    UnsupportedHash {
        what: &'static str,
        oid: String,
    },
    /// The timestamp is over other bytes than the ones given.
    ImprintMismatch {
        algorithm: HashAlg,
    },
    /// The signed messageDigest attribute is not the hash of the TSTInfo.
    ContentDigestMismatch,
    /// An embedded certificate does not parse.
    BadCertificate {
        source: CertError,
    },
    /// Certificates are embedded but none is the one the SignerInfo names.
    SignerNotFound,
    /// No certificate embedded, and the SignerInfo names no trusted authority's TSA
    /// certificate (or no authority was given).
    NoTrustedAuthority,
    /// The embedded TSA certificate does not chain to any trusted authority.
    UntrustedEmbeddedCertificate {
        subject: String,
    },
    /// A certificate on the TSA's path is not valid at genTime.
    CertificateExpired {
        subject: String,
        time: UnixTime,
        not_before: UnixTime,
        not_after: UnixTime,
    },
    /// The signed signingTime lies outside the TSA certificate's validity.
    SigningTimeOutsideCertificate {
        subject: String,
        signing_time: UnixTime,
        not_before: UnixTime,
        not_after: UnixTime,
    },
    /// The TSA certificate is not restricted to timestamping, or a CA above it forbids it.
    NotTimestamping {
        subject: String,
        reason: &'static str,
    },
    /// Another defect of the TSA's certificate path (CA constraints, names, signatures).
    Chain {
        source: CertError,
    },
    UnsupportedSignatureAlgorithm {
        oid: String,
    },
    UnsupportedKey {
        subject: String,
    },
    /// The signature over the signed attributes does not verify with the TSA's key.
    BadSignature {
        subject: String,
    },
    /// An embedded certificate that is neither the TSA's nor one of its authority's: it
    /// would be bytes nothing checks.
    ForeignEmbeddedCertificate {
        subject: String,
    },
    /// The TSA refused our request (status rejection, waiting, revocation...).
    Rejected {
        status: u64,
        text: Option<String>,
    },
    /// The reply is for another request: no nonce, or not ours.
    NonceMissing,
    NonceMismatch,
    /// We asked for certificates (certReq) and the token carries none.
    NoCertificates,
    /// genTime lies outside the trusted root's validity window for the authority.
    OutsideAuthorityValidity {
        uri: String,
        time: UnixTime,
        start: UnixTime,
        end: Option<UnixTime>,
    },
}

impl fmt::Display for TsaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use TsaError::*;
        let t = |t: &UnixTime| format_rfc3339(*t);
        match self {
            Der { what, source } => write!(f, "malformed timestamp {what}: {source}"),
            Malformed { what } => write!(f, "malformed timestamp: {what}"),
            NotGranted { status } => {
                write!(f, "timestamp response status is {status}, not granted")
            }
            WeakHash { what } => write!(f, "timestamp {what} is SHA-1, which is too weak"),
            UnsupportedHash { what, oid } => {
                write!(f, "timestamp {what} {oid} is not SHA-256/384/512")
            }
            ImprintMismatch { algorithm } => {
                let name = match algorithm {
                    HashAlg::Sha256 => "SHA-256",
                    HashAlg::Sha384 => "SHA-384",
                    HashAlg::Sha512 => "SHA-512",
                };
                write!(
                    f,
                    "timestamp message imprint is not the {name} of the signed bytes"
                )
            }
            ContentDigestMismatch => {
                f.write_str("timestamp messageDigest attribute does not match its TSTInfo")
            }
            BadCertificate { source } => write!(f, "timestamp embedded certificate: {source}"),
            SignerNotFound => {
                f.write_str("timestamp embeds certificates but not the one its SignerInfo names")
            }
            NoTrustedAuthority => {
                f.write_str("timestamp was not signed by any trusted timestamping authority")
            }
            UntrustedEmbeddedCertificate { subject } => write!(
                f,
                "timestamp certificate {subject} does not chain to a trusted timestamping authority"
            ),
            CertificateExpired {
                subject,
                time,
                not_before,
                not_after,
            } => write!(
                f,
                "timestamp certificate {subject} not valid at genTime {}: valid from {} to {}",
                t(time),
                t(not_before),
                t(not_after)
            ),
            SigningTimeOutsideCertificate {
                subject,
                signing_time,
                not_before,
                not_after,
            } => write!(
                f,
                "timestamp signingTime {} outside certificate {subject} validity {} to {}",
                t(signing_time),
                t(not_before),
                t(not_after)
            ),
            NotTimestamping { subject, reason } => {
                write!(f, "timestamp certificate {subject}: {reason}")
            }
            Chain { source } => write!(f, "timestamp certificate chain: {source}"),
            UnsupportedSignatureAlgorithm { oid } => {
                write!(f, "timestamp signature algorithm {oid} is not supported")
            }
            UnsupportedKey { subject } => write!(
                f,
                "timestamp certificate {subject} has a key other than ECDSA P-256/P-384"
            ),
            BadSignature { subject } => write!(
                f,
                "timestamp signature does not verify with certificate {subject}"
            ),
            ForeignEmbeddedCertificate { subject } => write!(
                f,
                "timestamp embeds certificate {subject}, which is neither the TSA's nor its authority's"
            ),
            Rejected { status, text } => {
                write!(
                    f,
                    "the timestamp authority refused the request (status {status}"
                )?;
                if let Some(t) = text {
                    write!(f, ": {t}")?;
                }
                f.write_str(")")
            }
            NonceMissing => {
                f.write_str("timestamp carries no nonce, so it answers no request of ours")
            }
            NonceMismatch => {
                f.write_str("timestamp nonce is not the one we sent: a reply to another request")
            }
            NoCertificates => {
                f.write_str("timestamp carries no certificates, though the request asked for them")
            }
            OutsideAuthorityValidity {
                uri,
                time,
                start,
                end,
            } => write!(
                f,
                "timestamp genTime {} is outside the trusted validity of {uri} ({} to {})",
                t(time),
                t(start),
                end.as_ref().map_or("open".to_string(), t)
            ),
        }
    }
}

impl std::error::Error for TsaError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TsaError::Der { source, .. } => Some(source),
            TsaError::BadCertificate { source } | TsaError::Chain { source } => Some(source),
            _ => None,
        }
    }
}

fn malformed(what: impl Into<String>) -> TsaError {
    TsaError::Malformed { what: what.into() }
}

/// Attaches the structure being read to a DER error.
trait Within<T> {
    fn within(self, what: &'static str) -> Result<T, TsaError>;
}

impl<T> Within<T> for Result<T, DerError> {
    fn within(self, what: &'static str) -> Result<T, TsaError> {
        self.map_err(|source| TsaError::Der { what, source })
    }
}

/// A parsed TimeStampToken; every slice points into the received bytes.
#[derive(Debug)]
struct Token<'a> {
    /// The TSTInfo DER (the eContent OCTET STRING's content).
    tst_info: &'a [u8],
    imprint_alg: HashAlg,
    imprint: &'a [u8],
    gen_time: UnixTime,
    /// genTime had a non-zero fraction of a second: it is later than `gen_time`.
    gen_time_fraction: bool,
    /// The nonce INTEGER's content bytes, if the TSTInfo has one.
    nonce: Option<&'a [u8]>,
    certificates: Vec<&'a [u8]>,
    sid: SignerId<'a>,
    digest_alg: HashAlg,
    /// The signed attributes as received, re-tagged as a SET: the bytes the signature covers.
    signed_attrs: Vec<u8>,
    message_digest: &'a [u8],
    signing_time: Option<UnixTime>,
    /// The signatureAlgorithm OID; checked only once the signer is trusted, so that a token
    /// from an unknown TSA is reported as untrusted rather than as an unsupported algorithm.
    signature_alg: &'a [u8],
    signature_alg_params: bool,
    signature: &'a [u8],
}

fn hash_alg(r: &mut Reader<'_>, what: &'static str) -> Result<HashAlg, TsaError> {
    let alg = r.read(tag::SEQUENCE).within(what)?;
    let mut a = alg.reader();
    let o = a.read(tag::OID).within(what)?;
    // Parameters: absent, or NULL as many encoders write them for digests.
    if let Some(p) = a.optional(tag::NULL).within(what)?
        && !p.value.is_empty()
    {
        return Err(malformed(format!("{what} has non-NULL parameters")));
    }
    a.finish().within(what)?;
    match o.value {
        v if v == oid::SHA256 => Ok(HashAlg::Sha256),
        v if v == oid::SHA384 => Ok(HashAlg::Sha384),
        v if v == oid::SHA512 => Ok(HashAlg::Sha512),
        v if v == tsa_oid::SHA1 => Err(TsaError::WeakHash { what }),
        v => Err(TsaError::UnsupportedHash {
            what,
            oid: oid_string(v),
        }),
    }
}

/// A TimeStampResp's parts: its status, the first statusString text, the token if any.
pub(crate) struct Response<'a> {
    pub status: u64,
    pub text: Option<String>,
    pub token: Option<Tlv<'a>>,
}

/// Reads the TimeStampResp `outer` (a SEQUENCE whose first element is the PKIStatusInfo).
pub(crate) fn response<'a>(outer: &Tlv<'a>) -> Result<Response<'a>, TsaError> {
    let mut r = outer.reader();
    let status_info = r.read(tag::SEQUENCE).within("response status")?;
    let token = r.optional(tag::SEQUENCE).within("response")?;
    r.finish().within("response")?;
    let mut s = status_info.reader();
    let status = s
        .read(tag::INTEGER)
        .and_then(|i| i.as_u64())
        .within("response status")?;
    // statusString (SEQUENCE OF UTF8String) and failInfo (BIT STRING) are optional.
    let text = s
        .optional(tag::SEQUENCE)
        .within("response status")?
        .and_then(|t| t.reader().any().ok())
        .and_then(|u| std::str::from_utf8(u.value).ok().map(str::to_string));
    s.optional(tag::BIT_STRING).within("response status")?;
    s.finish().within("response status")?;
    Ok(Response {
        status,
        text,
        token,
    })
}

/// The ContentInfo, unwrapping a TimeStampResp (the form Sigstore bundles store) if given one.
fn content_info(input: &[u8]) -> Result<Tlv<'_>, TsaError> {
    let outer = der::parse_single(input, tag::SEQUENCE).within("token")?;
    match outer.reader().peek_tag() {
        Some(tag::OID) => Ok(outer),
        Some(tag::SEQUENCE) => {
            let resp = response(&outer)?;
            if resp.status != 0 {
                return Err(TsaError::NotGranted {
                    status: resp.status,
                });
            }
            resp.token
                .ok_or_else(|| malformed("granted response carries no token"))
        }
        _ => Err(malformed("neither a TimeStampResp nor a ContentInfo")),
    }
}

impl From<CmsError> for TsaError {
    fn from(e: CmsError) -> Self {
        match e {
            CmsError::Der(source) => TsaError::Der {
                what: "SignedData",
                source,
            },
            CmsError::Unsupported { what } => TsaError::Malformed { what },
            CmsError::WeakHash { what } => TsaError::WeakHash { what },
            CmsError::UnsupportedHash { what, oid } => TsaError::UnsupportedHash { what, oid },
        }
    }
}

/// The token through the one CMS parser (profile [`Profile::Timestamp`]), then its TSTInfo.
fn parse(input: &[u8]) -> Result<Token<'_>, TsaError> {
    let ci = content_info(input)?;
    let sd = cms::parse_content_info(&ci, Profile::Timestamp)?;
    let tst_info = sd
        .econtent
        .ok_or_else(|| malformed("no encapsulated TSTInfo"))?;
    let (imprint_alg, imprint, gen_time, gen_time_fraction, nonce) = parse_tst_info(tst_info)?;
    let si = sd.signer;
    Ok(Token {
        tst_info,
        imprint_alg,
        imprint,
        gen_time,
        gen_time_fraction,
        nonce,
        certificates: sd.certificates,
        sid: si.sid,
        digest_alg: si.digest_alg,
        signed_attrs: si.signed_attrs,
        message_digest: si.message_digest,
        signing_time: si.signing_time,
        signature_alg: si.signature_alg,
        signature_alg_params: si.signature_alg_params,
        signature: si.signature,
    })
}

type TstFields<'a> = (HashAlg, &'a [u8], UnixTime, bool, Option<&'a [u8]>);

fn parse_tst_info(tst: &[u8]) -> Result<TstFields<'_>, TsaError> {
    let seq = der::parse_single(tst, tag::SEQUENCE).within("TSTInfo")?;
    let mut r = seq.reader();
    let version = r
        .read(tag::INTEGER)
        .and_then(|v| v.as_u64())
        .within("TSTInfo")?;
    if version != 1 {
        return Err(malformed(format!("TSTInfo version {version}")));
    }
    r.read(tag::OID).within("TSTInfo policy")?;
    let mi = r.read(tag::SEQUENCE).within("TSTInfo messageImprint")?;
    let mut m = mi.reader();
    let imprint_alg = hash_alg(&mut m, "messageImprint hashAlgorithm")?;
    let imprint = m
        .read(tag::OCTET_STRING)
        .within("TSTInfo messageImprint")?
        .value;
    m.finish().within("TSTInfo messageImprint")?;
    r.read(tag::INTEGER).within("TSTInfo serialNumber")?;
    let gt = r.read(tag::GENERALIZED_TIME).within("TSTInfo genTime")?;
    let gen_time =
        time::parse_asn1_time(gt.tag, gt.value).map_err(|e| malformed(format!("genTime: {e}")))?;
    let gen_time_fraction = gt
        .value
        .iter()
        .skip_while(|b| **b != b'.')
        .any(|b| (b'1'..=b'9').contains(b));
    r.optional(tag::SEQUENCE).within("TSTInfo accuracy")?;
    if let Some(b) = r.optional(tag::BOOLEAN).within("TSTInfo ordering")?
        && b.value.len() != 1
    {
        return Err(malformed("TSTInfo ordering is not a BOOLEAN"));
    }
    let nonce = r
        .optional(tag::INTEGER)
        .within("TSTInfo nonce")?
        .map(|n| n.value);
    r.optional(tag::context(0)).within("TSTInfo tsa")?;
    r.optional(tag::context(1)).within("TSTInfo extensions")?;
    r.finish().within("TSTInfo")?;
    Ok((imprint_alg, imprint, gen_time, gen_time_fraction, nonce))
}

/// Why one authority did not vouch for the timestamp.
enum Refusal {
    /// The TSA certificate is not this authority's: try the next.
    NotAnchored,
    /// It is this authority's, and a check failed.
    Failed(TsaError),
}

impl From<TsaError> for Refusal {
    fn from(e: TsaError) -> Self {
        Refusal::Failed(e)
    }
}

/// Whether `c` is valid at genTime, counting a fraction of a second after `not_after`.
fn valid_at(c: &Certificate, token: &Token<'_>) -> bool {
    let t = token.gen_time;
    c.not_before() <= t && (t < c.not_after() || (t == c.not_after() && !token.gen_time_fraction))
}

fn chain_error(e: CertError) -> TsaError {
    match e {
        CertError::Expired {
            subject,
            at,
            not_before,
            not_after,
        } => TsaError::CertificateExpired {
            subject,
            time: at,
            not_before,
            not_after,
        },
        source => TsaError::Chain { source },
    }
}

/// The checks that involve one authority, in sigstore-go's order of concern: whose
/// certificate, its path, its profile, the signature, the authority's window.
fn verify_with<'c>(
    token: &Token<'_>,
    embedded_signer: Option<&'c Certificate>,
    ca: &'c CertificateAuthority,
) -> Result<VerifiedTimestamp, Refusal> {
    // The authority's own TSA certificate, when the trusted root lists one first.
    let ca_leaf = ca.certs.first().filter(|c| matches!(c.is_ca(), Ok(false)));
    // (signer, the authority's certificates above it, whether the path is still unchecked)
    let (signer, path, unchecked): (&Certificate, &[Certificate], bool) =
        match (embedded_signer, ca_leaf) {
            (Some(s), Some(l)) if s == l => (l, &ca.certs[1..], true),
            // sigstore-go: "certificate embedded in the TSR does not match the provided TSA
            // certificate".
            (Some(_), Some(_)) => return Err(Refusal::NotAnchored),
            (Some(s), None) => match cert::path_to_authority(s, ca, token.gen_time) {
                Ok(path) => (s, path, false),
                Err(CertError::UntrustedIssuer { .. }) => return Err(Refusal::NotAnchored),
                Err(e) => return Err(chain_error(e).into()),
            },
            (None, Some(l)) if token.sid.names(l) => (l, &ca.certs[1..], true),
            (None, _) => return Err(Refusal::NotAnchored),
        };
    if unchecked {
        cert::check_issuers(signer, path, token.gen_time).map_err(chain_error)?;
    }
    for c in std::iter::once(signer).chain(path) {
        if !valid_at(c, token) {
            return Err(TsaError::CertificateExpired {
                subject: c.describe(),
                time: token.gen_time,
                not_before: c.not_before(),
                not_after: c.not_after(),
            }
            .into());
        }
    }
    check_timestamping_profile(signer, path)?;
    if let Some(foreign) = token
        .certificates
        .iter()
        .find(|d| **d != signer.der() && !path.iter().any(|c| c.der() == **d))
    {
        return Err(TsaError::ForeignEmbeddedCertificate {
            subject: Certificate::from_der(foreign)
                .map_or_else(|_| "(unparsable)".to_string(), |c| c.describe()),
        }
        .into());
    }
    if let Some(st) = token.signing_time
        && !signer.valid_at(st)
    {
        return Err(TsaError::SigningTimeOutsideCertificate {
            subject: signer.describe(),
            signing_time: st,
            not_before: signer.not_before(),
            not_after: signer.not_after(),
        }
        .into());
    }
    verify_signature(token, signer)?;
    if !ca.valid_for.contains(token.gen_time) {
        return Err(TsaError::OutsideAuthorityValidity {
            uri: ca.uri.clone(),
            time: token.gen_time,
            start: ca.valid_for.start,
            end: ca.valid_for.end,
        }
        .into());
    }
    Ok(VerifiedTimestamp {
        time: token.gen_time,
        tsa_subject: signer.subject_string(),
        authority_uri: ca.uri.clone(),
    })
}

/// RFC 3161 §2.3 as timestamp-authority enforces it: an end-entity certificate whose only
/// purpose is timestamping, marked critical; CAs above it may not exclude timestamping.
fn check_timestamping_profile(signer: &Certificate, path: &[Certificate]) -> Result<(), TsaError> {
    let not = |reason| TsaError::NotTimestamping {
        subject: signer.describe(),
        reason,
    };
    signer
        .check_critical_extensions()
        .map_err(|source| TsaError::Chain { source })?;
    if signer
        .is_ca()
        .map_err(|source| TsaError::Chain { source })?
    {
        return Err(not("is a CA certificate, not an end entity"));
    }
    match signer
        .extended_key_usage()
        .map_err(|source| TsaError::Chain { source })?
    {
        None => return Err(not("has no extended key usage")),
        Some(eku) if !eku.critical => return Err(not("extended key usage is not critical")),
        Some(eku) if eku.purposes != [tsa_oid::TIME_STAMPING] => {
            return Err(not("extended key usage is not timeStamping alone"));
        }
        Some(_) => {}
    }
    for ca in path {
        if let Some(eku) = ca
            .extended_key_usage()
            .map_err(|source| TsaError::Chain { source })?
            && !eku
                .purposes
                .iter()
                .any(|p| *p == tsa_oid::TIME_STAMPING || *p == tsa_oid::ANY_EKU)
        {
            return Err(TsaError::NotTimestamping {
                subject: ca.describe(),
                reason: "CA extended key usage excludes timeStamping",
            });
        }
    }
    Ok(())
}

fn verify_signature(token: &Token<'_>, signer: &Certificate) -> Result<(), TsaError> {
    let hash = match token.signature_alg {
        o if o == oid::ECDSA_WITH_SHA256 => HashAlg::Sha256,
        o if o == oid::ECDSA_WITH_SHA384 => HashAlg::Sha384,
        o if o == oid::ECDSA_WITH_SHA512 => HashAlg::Sha512,
        o => {
            return Err(TsaError::UnsupportedSignatureAlgorithm { oid: oid_string(o) });
        }
    };
    // ECDSA AlgorithmIdentifiers carry no parameters (RFC 5758 §3.2).
    if token.signature_alg_params {
        return Err(malformed("ECDSA signatureAlgorithm has parameters"));
    }
    // sigstore-go hashes with the digest algorithm whatever the signature algorithm names;
    // we accept only tokens where the two agree.
    if hash != token.digest_alg {
        return Err(malformed(
            "signatureAlgorithm and digestAlgorithm name different hashes",
        ));
    }
    let key = match signer.public_key() {
        Ok(k @ (PublicKey::P256(_) | PublicKey::P384(_))) => k,
        _ => {
            return Err(TsaError::UnsupportedKey {
                subject: signer.describe(),
            });
        }
    };
    key.verify(hash, &token.signed_attrs, token.signature)
        .map_err(|_| TsaError::BadSignature {
            subject: signer.describe(),
        })
}

/// Verifies an RFC 3161 timestamp over `signed` against the trusted timestamping
/// authorities, and returns its genTime.
///
/// `token`: DER ContentInfo(SignedData) TimeStampToken (as in gitsign's unsigned attribute),
/// or a DER TimeStampResp wrapping one (as Sigstore bundles store `signedTimestamp`), whose
/// status must then be granted. `signed`: the bytes whose hash the messageImprint must
/// equal (for Sigstore bundles: the signature bytes).
pub fn verify_timestamp(
    token: &[u8],
    signed: &[u8],
    authorities: &[CertificateAuthority],
) -> Result<VerifiedTimestamp, TsaError> {
    let tok = parse(token)?;
    if tok.imprint_alg.digest(signed) != tok.imprint {
        return Err(TsaError::ImprintMismatch {
            algorithm: tok.imprint_alg,
        });
    }
    if tok.digest_alg.digest(tok.tst_info) != tok.message_digest {
        return Err(TsaError::ContentDigestMismatch);
    }
    let embedded = tok
        .certificates
        .iter()
        .map(|d| Certificate::from_der(d))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TsaError::BadCertificate { source })?;
    let embedded_signer = if embedded.is_empty() {
        None
    } else {
        Some(
            embedded
                .iter()
                .find(|c| tok.sid.names(c))
                .ok_or(TsaError::SignerNotFound)?,
        )
    };
    let mut failure = None;
    for ca in authorities {
        match verify_with(&tok, embedded_signer, ca) {
            Ok(v) => return Ok(v),
            Err(Refusal::Failed(e)) => {
                failure.get_or_insert(e);
            }
            Err(Refusal::NotAnchored) => {}
        }
    }
    Err(failure.unwrap_or_else(|| match embedded_signer {
        Some(s) => TsaError::UntrustedEmbeddedCertificate {
            subject: s.describe(),
        },
        None => TsaError::NoTrustedAuthority,
    }))
}

/// What a signer's request checks in a token beyond [`verify_timestamp`]: its imprint
/// algorithm, nonce and whether certificates are embedded.
pub(crate) struct Echo<'a> {
    pub imprint_alg: HashAlg,
    pub nonce: Option<&'a [u8]>,
    pub has_certificates: bool,
}

pub(crate) fn echo(token: &[u8]) -> Result<Echo<'_>, TsaError> {
    let t = parse(token)?;
    Ok(Echo {
        imprint_alg: t.imprint_alg,
        nonce: t.nonce,
        has_certificates: !t.certificates.is_empty(),
    })
}

pub mod request;
#[cfg(test)]
pub(crate) mod tests;
