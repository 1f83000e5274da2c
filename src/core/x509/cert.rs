//! X.509 for Fulcio certificates: strict parsing that keeps the received bytes, the signer
//! identity, and path validation against the Fulcio CAs of a trusted root.
//!
//! A certificate is first decoded with `x509-cert` (strict DER, no trailing bytes) as a gate,
//! then walked with [`crate::core::asn1::der::Reader`] so that every field we use, above all the TBS that
//! signatures cover, is a slice of the received DER and never a re-encoding.
//!
//! Path building is deliberately narrow: the path from a leaf to a root uses only the
//! certificates of one trusted CA, in the order the trusted root lists them. Certificates that
//! travel with a signature are never trusted as intermediates.

use std::fmt;
use std::ops::Range;

use crate::core::asn1::der::{self as tlv, DerError, Tlv, tag};
use crate::core::time::Validity;
use crate::core::time::{TimeError, UnixTime, format_rfc3339, parse_asn1_time};
use crate::core::x509::keys::{self, HashAlg, KeyError, PublicKey};
use crate::core::x509::name;

/// sha{256,384,512}WithRSAEncryption (RFC 4055), DER OID contents.
const RSA_WITH_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
const RSA_WITH_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c];
const RSA_WITH_SHA512: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d];

/// Object identifiers used here, as DER content bytes.
pub mod oid {
    /// 2.5.29.15
    pub const KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x0f];
    /// 2.5.29.17
    pub const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];
    /// 2.5.29.19
    pub const BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];
    /// 2.5.29.37
    pub const EXT_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x25];
    /// 2.5.29.14
    pub const SUBJECT_KEY_ID: &[u8] = &[0x55, 0x1d, 0x0e];
    /// 2.5.29.35
    pub const AUTHORITY_KEY_ID: &[u8] = &[0x55, 0x1d, 0x23];
    /// 1.3.6.1.5.5.7.3.3 (id-kp-codeSigning)
    pub const CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];
    /// 1.3.6.1.4.1.57264.1: the arc of Fulcio's certificate extensions.
    pub const FULCIO_ARC: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xbf, 0x30, 0x01];
    /// 1.3.6.1.4.1.57264.1.1 (legacy OIDC issuer, raw UTF-8 bytes)
    pub const FULCIO_ISSUER_V1: &[u8] =
        &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xbf, 0x30, 0x01, 0x01];
    /// 1.3.6.1.4.1.57264.1.8 (OIDC issuer, DER UTF8String)
    pub const FULCIO_ISSUER_V2: &[u8] =
        &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xbf, 0x30, 0x01, 0x08];
    /// 1.3.6.1.4.1.11129.2.4.2 (RFC 6962 embedded SCT list)
    pub const SCT_LIST: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x02];
}

/// Why a certificate was rejected. Display is one human line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertError {
    /// The DER is not a certificate (the strict reader's finding).
    Der(DerError),
    Malformed {
        what: &'static str,
    },
    BadTime(TimeError),
    DuplicateExtension {
        oid: String,
    },
    UnsupportedKey {
        subject: String,
        source: KeyError,
    },
    NoIdentity,
    AmbiguousIdentity,
    BadIssuerExtension,
    /// Outside its validity period at `at` (too early or too late).
    Expired {
        subject: String,
        at: UnixTime,
        not_before: UnixTime,
        not_after: UnixTime,
    },
    NoCaValidAt {
        at: UnixTime,
    },
    UntrustedIssuer {
        issuer: String,
    },
    BadSignature {
        subject: String,
    },
    UnsupportedSignatureAlgorithm {
        subject: String,
        oid: String,
    },
    SignatureAlgorithmMismatch {
        subject: String,
    },
    NotCa {
        subject: String,
    },
    PathLenExceeded {
        subject: String,
        path_len: u64,
        below: usize,
    },
    NotSelfSigned {
        subject: String,
    },
    LeafIsCa,
    NotCodeSigning,
    NoDigitalSignature,
    UnknownCriticalExtension {
        subject: String,
        oid: String,
    },
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CertError::*;
        match self {
            Der(e) => write!(f, "malformed certificate: {e}"),
            Malformed { what } => write!(f, "malformed certificate: bad {what}"),
            BadTime(e) => write!(f, "malformed certificate validity: {e}"),
            DuplicateExtension { oid } => write!(f, "certificate repeats extension {oid}"),
            UnsupportedKey { subject, source } => {
                write!(f, "certificate {subject}: {source}")
            }
            NoIdentity => f.write_str("certificate has no email or URI subject alternative name"),
            AmbiguousIdentity => {
                f.write_str("certificate has more than one email or URI subject alternative name")
            }
            BadIssuerExtension => f.write_str("certificate OIDC issuer extension is malformed"),
            Expired {
                subject,
                at,
                not_before,
                not_after,
            } => write!(
                f,
                "certificate {subject} not valid at {}: valid from {} to {}",
                format_rfc3339(*at),
                format_rfc3339(*not_before),
                format_rfc3339(*not_after)
            ),
            NoCaValidAt { at } => {
                write!(
                    f,
                    "no trusted Fulcio CA is valid at {}",
                    format_rfc3339(*at)
                )
            }
            UntrustedIssuer { issuer } => {
                write!(f, "certificate issuer {issuer} is not a trusted Fulcio CA")
            }
            BadSignature { subject } => {
                write!(f, "signature on certificate {subject} does not verify")
            }
            UnsupportedSignatureAlgorithm { subject, oid } => {
                write!(
                    f,
                    "certificate {subject} uses unsupported signature algorithm {oid}"
                )
            }
            SignatureAlgorithmMismatch { subject } => write!(
                f,
                "certificate {subject} names different signature algorithms inside and outside the TBS"
            ),
            NotCa { subject } => write!(f, "issuer {subject} is not a CA"),
            PathLenExceeded {
                subject,
                path_len,
                below,
            } => write!(
                f,
                "CA {subject} allows {path_len} intermediates below it, path has {below}"
            ),
            NotSelfSigned { subject } => {
                write!(f, "trusted root {subject} is not self-signed")
            }
            LeafIsCa => f.write_str("signing certificate is a CA certificate"),
            NotCodeSigning => f.write_str("signing certificate is not for code signing"),
            NoDigitalSignature => {
                f.write_str("signing certificate key usage lacks digitalSignature")
            }
            UnknownCriticalExtension { subject, oid } => {
                write!(
                    f,
                    "certificate {subject} has unknown critical extension {oid}"
                )
            }
        }
    }
}

impl std::error::Error for CertError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CertError::Der(e) => Some(e),
            CertError::BadTime(e) => Some(e),
            CertError::UnsupportedKey { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<DerError> for CertError {
    fn from(e: DerError) -> Self {
        CertError::Der(e)
    }
}

pub(crate) use crate::core::asn1::der::hex;
pub use crate::core::asn1::der::oid_string;

/// A certificate authority of a trusted root: its chain and the window it may issue in.
#[derive(Debug, Clone)]
pub struct CertificateAuthority {
    pub uri: String,
    /// As listed: the issuing (intermediate) certificate first, the root last.
    pub certs: Vec<Certificate>,
    pub valid_for: Validity,
}

#[derive(Debug, Clone)]
struct Extension {
    oid: Range<usize>,
    critical: bool,
    value: Range<usize>,
}

/// A parsed X.509 v3 certificate that keeps its DER; every accessor returns a slice of it.
#[derive(Clone)]
pub struct Certificate {
    der: Vec<u8>,
    tbs: Range<usize>,
    serial: Range<usize>,
    issuer: Range<usize>,
    subject: Range<usize>,
    spki: Range<usize>,
    extensions: Vec<Extension>,
    sig_alg: Range<usize>,
    signature: Range<usize>,
    not_before: UnixTime,
    not_after: UnixTime,
    /// The DER of the issuer whose key verified this certificate's signature, once one
    /// did: a verification checks the chain at more than one time (the certificate's own
    /// notBefore, then the log's), and the P-384 signature need not be checked twice.
    verified_by: std::sync::OnceLock<Vec<u8>>,
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Certificate({}, serial {})",
            self.describe(),
            hex(self.serial())
        )
    }
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}
impl Eq for Certificate {}

/// An AlgorithmIdentifier: an OID and at most one parameters element, of a type parameters
/// take in X.509 (NULL, a curve OID, a SEQUENCE as RSA-PSS has).
fn check_algorithm(alg: &Tlv<'_>) -> Result<(), CertError> {
    let mut a = alg.reader();
    a.read(tag::OID)?;
    if !a.is_empty() {
        let params = a.any()?;
        let ok = match params.tag {
            tag::NULL => params.value.is_empty(),
            tag::OID | tag::SEQUENCE => true,
            _ => false,
        };
        if !ok {
            return Err(CertError::Malformed {
                what: "algorithm parameters",
            });
        }
    }
    a.finish()?;
    Ok(())
}

fn range(t: &Tlv<'_>) -> Range<usize> {
    t.offset..t.offset + t.raw.len()
}

fn value_range(t: &Tlv<'_>) -> Range<usize> {
    let start = t.offset + (t.raw.len() - t.value.len());
    start..start + t.value.len()
}

impl Certificate {
    /// Parses one DER certificate; trailing bytes are an error.
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        let cert = tlv::parse_single(der, tag::SEQUENCE)?;
        let mut r = cert.reader();
        let tbs = r.read(tag::SEQUENCE)?;
        let sig_alg = r.read(tag::SEQUENCE)?;
        let signature = r.read(tag::BIT_STRING)?;
        r.finish()?;
        signature.bit_string_bytes()?;

        let mut t = tbs.reader();
        let version = t.read(tag::context(0)).map_err(|_| CertError::Malformed {
            what: "version (only v3 is accepted)",
        })?;
        let v = tlv::parse_single(version.value, tag::INTEGER)?;
        if v.value != [2] {
            return Err(CertError::Malformed {
                what: "version (only v3 is accepted)",
            });
        }
        let serial = t.read(tag::INTEGER)?;
        // RFC 5280 §4.1.2.2: positive, at most 20 octets (21 with the sign byte).
        serial.positive_integer(21)?;
        let tbs_sig_alg = t.read(tag::SEQUENCE)?;
        check_algorithm(&tbs_sig_alg)?;
        let issuer = t.read(tag::SEQUENCE)?;
        name::check(issuer.raw)?;
        let validity = t.read(tag::SEQUENCE)?;
        let subject = t.read(tag::SEQUENCE)?;
        name::check(subject.raw)?;
        // RFC 5280 §4.1.1.2: the same algorithm inside and outside the signed part.
        if tbs_sig_alg.raw != sig_alg.raw {
            return Err(CertError::SignatureAlgorithmMismatch {
                subject: name::to_rfc4514(subject.raw).unwrap_or_default(),
            });
        }
        let spki = t.read(tag::SEQUENCE)?;
        let mut k = spki.reader();
        check_algorithm(&k.read(tag::SEQUENCE)?)?;
        k.read(tag::BIT_STRING)?.bit_string_bytes()?;
        k.finish()?;
        for unique_id in [1, 2] {
            if let Some(id) = t.optional(tag::context_primitive(unique_id))?
                && id.value.first().is_none_or(|unused| *unused >= 8)
            {
                return Err(CertError::Malformed {
                    what: "unique identifier",
                });
            }
        }
        let exts = t.optional(tag::context(3))?;
        t.finish()?;

        let mut vr = validity.reader();
        let nb = vr.any()?;
        let na = vr.any()?;
        vr.finish()?;
        let not_before = parse_asn1_time(nb.tag, nb.value).map_err(CertError::BadTime)?;
        let not_after = parse_asn1_time(na.tag, na.value).map_err(CertError::BadTime)?;

        let mut extensions: Vec<Extension> = Vec::new();
        if let Some(exts) = exts {
            let mut outer = exts.reader();
            let seq = outer.read(tag::SEQUENCE)?;
            outer.finish()?;
            let mut er = seq.reader();
            if er.is_empty() {
                return Err(CertError::Malformed {
                    what: "extensions (empty list)",
                });
            }
            while !er.is_empty() {
                let ext = er.read(tag::SEQUENCE)?;
                let mut x = ext.reader();
                let oid = x.read(tag::OID)?;
                let critical = match x.optional(tag::BOOLEAN)? {
                    Some(b) if b.value == [0xff] => true,
                    // DER encodes the default (FALSE) by omission.
                    Some(_) => {
                        return Err(CertError::Malformed {
                            what: "extension critical flag",
                        });
                    }
                    None => false,
                };
                let value = x.read(tag::OCTET_STRING)?;
                x.finish()?;
                if extensions.iter().any(|e| der[e.oid.clone()] == *oid.value) {
                    return Err(CertError::DuplicateExtension {
                        oid: oid_string(oid.value),
                    });
                }
                extensions.push(Extension {
                    oid: value_range(&oid),
                    critical,
                    value: value_range(&value),
                });
            }
        }

        let bits = signature.value;
        let sig_start = signature.offset + (signature.raw.len() - bits.len()) + 1;
        Ok(Certificate {
            der: der.to_vec(),
            tbs: range(&tbs),
            serial: value_range(&serial),
            issuer: range(&issuer),
            subject: range(&subject),
            spki: range(&spki),
            extensions,
            sig_alg: range(&sig_alg),
            signature: sig_start..sig_start + bits.len() - 1,
            not_before,
            not_after,
            verified_by: std::sync::OnceLock::new(),
        })
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }
    /// The TBSCertificate exactly as received (tag and length included).
    pub fn tbs_raw(&self) -> &[u8] {
        &self.der[self.tbs.clone()]
    }
    /// Content bytes of the serial number INTEGER.
    pub fn serial(&self) -> &[u8] {
        &self.der[self.serial.clone()]
    }
    /// The issuer Name, whole TLV.
    pub fn issuer_raw(&self) -> &[u8] {
        &self.der[self.issuer.clone()]
    }
    /// The subject Name, whole TLV.
    pub fn subject_raw(&self) -> &[u8] {
        &self.der[self.subject.clone()]
    }
    pub fn not_before(&self) -> UnixTime {
        self.not_before
    }
    pub fn not_after(&self) -> UnixTime {
        self.not_after
    }
    /// Whether `t` lies within notBefore..=notAfter.
    pub fn valid_at(&self, t: UnixTime) -> bool {
        self.not_before <= t && t <= self.not_after
    }
    /// The SubjectPublicKeyInfo, whole TLV.
    pub fn spki_der(&self) -> &[u8] {
        &self.der[self.spki.clone()]
    }
    pub fn public_key(&self) -> Result<PublicKey, CertError> {
        PublicKey::from_spki_der(self.spki_der()).map_err(|source| CertError::UnsupportedKey {
            subject: self.describe(),
            source,
        })
    }
    /// The signature BIT STRING's bytes.
    pub fn signature(&self) -> &[u8] {
        &self.der[self.signature.clone()]
    }

    /// The content of the extnValue OCTET STRING of extension `oid`, if present.
    pub fn extension(&self, oid: &[u8]) -> Option<&[u8]> {
        self.extensions
            .iter()
            .find(|e| self.der[e.oid.clone()] == *oid)
            .map(|e| &self.der[e.value.clone()])
    }

    fn extension_list(&self) -> impl Iterator<Item = (&[u8], bool, &[u8])> {
        self.extensions.iter().map(|e| {
            (
                &self.der[e.oid.clone()],
                e.critical,
                &self.der[e.value.clone()],
            )
        })
    }

    /// The subject as an RFC 4514 string (empty for Fulcio leaves).
    pub fn subject_string(&self) -> String {
        name::to_rfc4514(self.subject_raw()).unwrap_or_default()
    }

    pub fn describe(&self) -> String {
        let subject = self.subject_string();
        if subject.is_empty() {
            format!("with empty subject (serial {})", hex(self.serial()))
        } else {
            format!("\"{subject}\"")
        }
    }

    fn issuer_string(&self) -> String {
        name::to_rfc4514(self.issuer_raw())
            .map(|n| format!("\"{n}\""))
            .unwrap_or_else(|| hex(self.issuer_raw()))
    }

    /// The signer identity: the SAN (email or URI) and the OIDC issuer from Fulcio's extensions.
    pub fn identity(&self) -> Result<Identity, CertError> {
        let san = self
            .extension(oid::SUBJECT_ALT_NAME)
            .ok_or(CertError::NoIdentity)?;
        let names = tlv::parse_single(san, tag::SEQUENCE)?;
        let mut r = names.reader();
        let mut found = None;
        while !r.is_empty() {
            let gn = r.any()?;
            let name = match gn.tag {
                0x81 => San::Email(ia5(gn.value)?),
                0x86 => San::Uri(ia5(gn.value)?),
                _ => continue,
            };
            if found.replace(name).is_some() {
                return Err(CertError::AmbiguousIdentity);
            }
        }
        let san = found.ok_or(CertError::NoIdentity)?;

        let issuer = if let Some(v) = self.extension(oid::FULCIO_ISSUER_V2) {
            let s = tlv::parse_single(v, tag::UTF8_STRING)
                .map_err(|_| CertError::BadIssuerExtension)?;
            Some(String::from_utf8(s.value.to_vec()).map_err(|_| CertError::BadIssuerExtension)?)
        } else if let Some(v) = self.extension(oid::FULCIO_ISSUER_V1) {
            Some(String::from_utf8(v.to_vec()).map_err(|_| CertError::BadIssuerExtension)?)
        } else {
            None
        };
        Ok(Identity { san, issuer })
    }

    /// The GitHub Actions workflow claims Fulcio wrote (legacy raw extensions
    /// 1.3.6.1.4.1.57264.1.2-6, else their DER UTF8String successors .12, .13, .14, .20).
    /// Unreadable values count as absent: a policy naming them then fails to match.
    pub fn github_claims(&self) -> GithubClaims {
        let ext = |n: u8| {
            let mut oid = oid::FULCIO_ARC.to_vec();
            oid.push(n);
            self.extension(&oid)
        };
        let raw = |n: u8| ext(n).and_then(|v| String::from_utf8(v.to_vec()).ok());
        let utf8 = |n: u8| {
            ext(n)
                .and_then(|v| tlv::parse_single(v, tag::UTF8_STRING).ok())
                .and_then(|t| String::from_utf8(t.value.to_vec()).ok())
        };
        GithubClaims {
            trigger: raw(2).or_else(|| utf8(20)),
            sha: raw(3).or_else(|| utf8(13)),
            workflow: raw(4),
            repository: raw(5).or_else(|| {
                utf8(12).and_then(|u| u.strip_prefix("https://github.com/").map(str::to_string))
            }),
            git_ref: raw(6).or_else(|| utf8(14)),
        }
    }

    /// Whether basicConstraints marks this certificate as a CA.
    pub fn is_ca(&self) -> Result<bool, CertError> {
        Ok(self.basic_constraints()?.0)
    }

    /// The extended key usage extension, `None` when the certificate has none.
    pub fn extended_key_usage(&self) -> Result<Option<ExtKeyUsage<'_>>, CertError> {
        let Some(ext) = self
            .extensions
            .iter()
            .find(|e| self.der[e.oid.clone()] == *oid::EXT_KEY_USAGE)
        else {
            return Ok(None);
        };
        let seq = tlv::parse_single(&self.der[ext.value.clone()], tag::SEQUENCE)?;
        let mut r = seq.reader();
        let mut purposes = Vec::new();
        while !r.is_empty() {
            purposes.push(r.read(tag::OID)?.value);
        }
        if purposes.is_empty() {
            return Err(CertError::Malformed {
                what: "extended key usage (empty list)",
            });
        }
        Ok(Some(ExtKeyUsage {
            critical: ext.critical,
            purposes,
        }))
    }

    /// The subjectKeyIdentifier's key identifier bytes, if the extension is present.
    pub fn subject_key_id(&self) -> Result<Option<&[u8]>, CertError> {
        self.extension(oid::SUBJECT_KEY_ID)
            .map(|v| Ok(tlv::parse_single(v, tag::OCTET_STRING)?.value))
            .transpose()
    }

    fn basic_constraints(&self) -> Result<(bool, Option<u64>), CertError> {
        let Some(v) = self.extension(oid::BASIC_CONSTRAINTS) else {
            return Ok((false, None));
        };
        let seq = tlv::parse_single(v, tag::SEQUENCE)?;
        let mut r = seq.reader();
        let ca = match r.optional(tag::BOOLEAN)? {
            Some(b) if b.value == [0xff] => true,
            // Go encodes an explicit FALSE in some versions; it means the same as omission.
            Some(b) if b.value == [0x00] => false,
            Some(_) => {
                return Err(CertError::Malformed {
                    what: "basicConstraints",
                });
            }
            None => false,
        };
        let path_len = r.optional(tag::INTEGER)?.map(|i| i.as_u64()).transpose()?;
        r.finish()?;
        Ok((ca, path_len))
    }

    /// The keyUsage bits (first two bytes, bit 0 = 0x8000), if the extension is present.
    fn key_usage(&self) -> Result<Option<u16>, CertError> {
        let Some(v) = self.extension(oid::KEY_USAGE) else {
            return Ok(None);
        };
        let bs = tlv::parse_single(v, tag::BIT_STRING)?;
        let bad = CertError::Malformed { what: "keyUsage" };
        let (&unused, bits) = bs.value.split_first().ok_or(bad.clone())?;
        if unused > 7 || bits.is_empty() || bits.len() > 2 {
            return Err(bad);
        }
        let hi = u16::from(bits[0]) << 8;
        let lo = bits.get(1).map_or(0, |b| u16::from(*b));
        Ok(Some(hi | lo))
    }

    fn has_eku(&self, wanted: &[u8]) -> Result<bool, CertError> {
        let Some(v) = self.extension(oid::EXT_KEY_USAGE) else {
            return Ok(false);
        };
        let seq = tlv::parse_single(v, tag::SEQUENCE)?;
        let mut r = seq.reader();
        let mut found = false;
        while !r.is_empty() {
            found |= r.read(tag::OID)?.value == wanted;
        }
        Ok(found)
    }

    /// Rejects critical extensions this module does not process (RFC 5280 §4.2). Fulcio
    /// marks none of its own critical; of its arc only the OIDC issuer is read here, so a
    /// critical workflow or token-subject claim is refused like any other unknown one.
    pub(crate) fn check_critical_extensions(&self) -> Result<(), CertError> {
        for (oid, critical, _) in self.extension_list() {
            let known = [
                oid::KEY_USAGE,
                oid::EXT_KEY_USAGE,
                oid::SUBJECT_ALT_NAME,
                oid::BASIC_CONSTRAINTS,
                oid::SUBJECT_KEY_ID,
                oid::AUTHORITY_KEY_ID,
                oid::FULCIO_ISSUER_V1,
                oid::FULCIO_ISSUER_V2,
            ]
            .contains(&oid);
            if critical && !known {
                return Err(CertError::UnknownCriticalExtension {
                    subject: self.describe(),
                    oid: oid_string(oid),
                });
            }
        }
        Ok(())
    }

    fn check_valid_at(&self, at: UnixTime) -> Result<(), CertError> {
        if self.valid_at(at) {
            Ok(())
        } else {
            Err(CertError::Expired {
                subject: self.describe(),
                at,
                not_before: self.not_before,
                not_after: self.not_after,
            })
        }
    }

    /// The signature scheme and hash named by this certificate's signature algorithm:
    /// ECDSA, or RSA PKCS#1 v1.5 (private Fulcio deployments use RSA CAs).
    fn signature_scheme(&self) -> Result<(bool, HashAlg), CertError> {
        // from_der refused a certificate whose inner and outer algorithms differ.
        let outer = &self.der[self.sig_alg.clone()];
        let alg = tlv::parse_single(outer, tag::SEQUENCE)?;
        let mut r = alg.reader();
        let oid = r.read(tag::OID)?;
        let (rsa, hash) = match oid.value {
            o if o == tlv::oid::ECDSA_WITH_SHA256 => (false, HashAlg::Sha256),
            o if o == tlv::oid::ECDSA_WITH_SHA384 => (false, HashAlg::Sha384),
            o if o == tlv::oid::ECDSA_WITH_SHA512 => (false, HashAlg::Sha512),
            o if o == RSA_WITH_SHA256 => (true, HashAlg::Sha256),
            o if o == RSA_WITH_SHA384 => (true, HashAlg::Sha384),
            o if o == RSA_WITH_SHA512 => (true, HashAlg::Sha512),
            o => {
                return Err(CertError::UnsupportedSignatureAlgorithm {
                    subject: self.describe(),
                    oid: oid_string(o),
                });
            }
        };
        if rsa {
            // RFC 4055 §5: the parameters are NULL.
            r.read(tag::NULL)?;
        }
        // ECDSA AlgorithmIdentifiers carry no parameters (RFC 5758 §3.2).
        r.finish()?;
        Ok((rsa, hash))
    }

    /// Checks that `issuer`'s key signed this certificate.
    pub(crate) fn verify_signed_by(&self, issuer: &Certificate) -> Result<(), CertError> {
        if self.verified_by.get().is_some_and(|d| d == issuer.der()) {
            return Ok(());
        }
        self.check_signed_by(issuer)?;
        let _ = self.verified_by.set(issuer.der().to_vec());
        Ok(())
    }

    fn check_signed_by(&self, issuer: &Certificate) -> Result<(), CertError> {
        let (rsa, hash) = self.signature_scheme()?;
        if rsa {
            return keys::verify_rsa_pkcs1(
                issuer.spki_der(),
                hash,
                self.tbs_raw(),
                self.signature(),
            )
            .map_err(|_| CertError::BadSignature {
                subject: self.describe(),
            });
        }
        let key = issuer.public_key()?;
        if matches!(key, PublicKey::Ed25519(_)) {
            return Err(CertError::BadSignature {
                subject: self.describe(),
            });
        }
        key.verify(hash, self.tbs_raw(), self.signature())
            .map_err(|_| CertError::BadSignature {
                subject: self.describe(),
            })
    }
}

fn ia5(v: &[u8]) -> Result<String, CertError> {
    // Printable ASCII only: an identity is shown to people and written into status lines.
    if v.is_empty() || !v.iter().all(|b| (0x20..0x7f).contains(b)) {
        return Err(CertError::Malformed {
            what: "subject alternative name",
        });
    }
    Ok(String::from_utf8(v.to_vec()).expect("ASCII is UTF-8"))
}

/// An extended key usage extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtKeyUsage<'a> {
    pub critical: bool,
    /// The purposes (OID content bytes), in order.
    pub purposes: Vec<&'a [u8]>,
}

/// The subject alternative name Fulcio put in the certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum San {
    Email(String),
    Uri(String),
}

impl fmt::Display for San {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            San::Email(s) | San::Uri(s) => f.write_str(s),
        }
    }
}

/// GitHub Actions claims of a workflow's certificate (what cosign's
/// `--certificate-github-workflow-*` flags compare).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GithubClaims {
    /// `owner/repo`.
    pub repository: Option<String>,
    pub git_ref: Option<String>,
    pub sha: Option<String>,
    pub workflow: Option<String>,
    pub trigger: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub san: San,
    pub issuer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedChain {
    /// The leaf's direct issuer (its key is hashed into the SCT).
    pub issuer: Certificate,
    /// The leaf's issuers, from the direct issuer up to the root.
    pub path: Vec<Certificate>,
    pub ca_uri: String,
}

const KU_DIGITAL_SIGNATURE: u16 = 0x8000;
const KU_KEY_CERT_SIGN: u16 = 0x0400;

/// Checks the leaf for code signing, then tries each CA valid at `at` for a path from the
/// leaf to the CA's root through the CA's own certificates only.
pub fn verify_chain(
    leaf: &Certificate,
    cas: &[CertificateAuthority],
    at: UnixTime,
) -> Result<VerifiedChain, CertError> {
    verify_chain_using(leaf, cas, at, &|child, parent| {
        child.verify_signed_by(parent)
    })
}

/// A check that `child` is signed by `parent`: [`Certificate::verify_signed_by`], or a
/// caller's memo of its successes (`core::verify::certificate`).
pub type SignedBy<'a> = dyn Fn(&Certificate, &Certificate) -> Result<(), CertError> + 'a;

/// [`verify_chain`] with the leaf's signature checked by `signed_by`.
pub fn verify_chain_using(
    leaf: &Certificate,
    cas: &[CertificateAuthority],
    at: UnixTime,
    signed_by: &SignedBy<'_>,
) -> Result<VerifiedChain, CertError> {
    leaf.check_valid_at(at)?;
    leaf.check_critical_extensions()?;
    if leaf.basic_constraints()?.0 {
        return Err(CertError::LeafIsCa);
    }
    if !leaf.has_eku(oid::CODE_SIGNING)? {
        return Err(CertError::NotCodeSigning);
    }
    if let Some(ku) = leaf.key_usage()?
        && ku & KU_DIGITAL_SIGNATURE == 0
    {
        return Err(CertError::NoDigitalSignature);
    }

    let mut best: Option<CertError> = None;
    let mut any_ca = false;
    for ca in cas.iter().filter(|ca| ca.valid_for.contains(at)) {
        any_ca = true;
        for start in 0..ca.certs.len() {
            if ca.certs[start].subject_raw() != leaf.issuer_raw() {
                continue;
            }
            let path = &ca.certs[start..];
            match check_path(leaf, path, at, signed_by) {
                Ok(()) => {
                    return Ok(VerifiedChain {
                        issuer: path[0].clone(),
                        path: path.to_vec(),
                        ca_uri: ca.uri.clone(),
                    });
                }
                Err(e) => best = Some(e),
            }
        }
    }
    if !any_ca {
        return Err(CertError::NoCaValidAt { at });
    }
    Err(best.unwrap_or_else(|| CertError::UntrustedIssuer {
        issuer: leaf.issuer_string(),
    }))
}

/// Checks the signatures inside a CA's own chain (each certificate by the next, the root by
/// itself). Not needed per verification (see `check_path`); used to vet trust material.
pub fn verify_anchor_signatures(ca: &CertificateAuthority) -> Result<(), CertError> {
    for pair in ca.certs.windows(2) {
        pair[0].verify_signed_by(&pair[1])?;
    }
    match ca.certs.last() {
        Some(root) if root.verify_signed_by(root).is_ok() => Ok(()),
        Some(root) => Err(CertError::NotSelfSigned {
            subject: root.describe(),
        }),
        None => Ok(()),
    }
}

/// The certificates of `ca` above `leaf`, checked at `at`: the first run of the CA's chain
/// that starts with `leaf`'s issuer and passes [`check_issuers`]. Unlike [`verify_chain`] it
/// puts no demand on the leaf itself (purpose, key usage, validity): callers with another
/// profile than code signing (RFC 3161 timestamping) check those themselves.
pub fn path_to_authority<'a>(
    leaf: &Certificate,
    ca: &'a CertificateAuthority,
    at: UnixTime,
) -> Result<&'a [Certificate], CertError> {
    let mut best = None;
    for start in 0..ca.certs.len() {
        if ca.certs[start].subject_raw() != leaf.issuer_raw() {
            continue;
        }
        let path = &ca.certs[start..];
        match check_path(leaf, path, at, &|c, p| c.verify_signed_by(p)) {
            Ok(()) => return Ok(path),
            Err(e) => best = Some(e),
        }
    }
    Err(best.unwrap_or_else(|| CertError::UntrustedIssuer {
        issuer: leaf.issuer_string(),
    }))
}

/// Checks `path` (issuers of `leaf`, from its direct issuer up to a root, all trust anchors)
/// at `at`: names link, each is a valid CA within its path length, the last is self-issued,
/// and the direct issuer's key signed `leaf`.
pub fn check_issuers(
    leaf: &Certificate,
    path: &[Certificate],
    at: UnixTime,
) -> Result<(), CertError> {
    if path.is_empty() {
        return Err(CertError::UntrustedIssuer {
            issuer: leaf.issuer_string(),
        });
    }
    check_path(leaf, path, at, &|c, p| c.verify_signed_by(p))
}

fn check_path(
    leaf: &Certificate,
    path: &[Certificate],
    at: UnixTime,
    signed_by: &SignedBy<'_>,
) -> Result<(), CertError> {
    let mut child = leaf;
    for (below, parent) in path.iter().enumerate() {
        if child.issuer_raw() != parent.subject_raw() {
            return Err(CertError::UntrustedIssuer {
                issuer: child.issuer_string(),
            });
        }
        parent.check_valid_at(at)?;
        parent.check_critical_extensions()?;
        let (is_ca, path_len) = parent.basic_constraints()?;
        if !is_ca {
            return Err(CertError::NotCa {
                subject: parent.describe(),
            });
        }
        if let Some(ku) = parent.key_usage()?
            && ku & KU_KEY_CERT_SIGN == 0
        {
            return Err(CertError::NotCa {
                subject: parent.describe(),
            });
        }
        if let Some(n) = path_len
            && below as u64 > n
        {
            return Err(CertError::PathLenExceeded {
                subject: parent.describe(),
                path_len: n,
                below,
            });
        }
        // The certificates of a trusted root are trust anchors (RFC 5280 §6.1): only the
        // leaf's signature is checked per verification. Their own signatures are checked by
        // `verify_anchor_signatures` (the test suite does it for the compiled-in root);
        // re-checking them on every call would triple the cost of a P-384 chain.
        if below == 0 {
            signed_by(child, parent)?;
        }
        child = parent;
    }
    let root = child;
    if root.issuer_raw() != root.subject_raw() {
        return Err(CertError::NotSelfSigned {
            subject: root.describe(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::sigstore::trust::TrustedRoot;
    use crate::core::testcert::{self as tc, T0};
    use crate::core::time::Validity;
    use crate::core::time::parse_rfc3339;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/data/fixtures/cert/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// (fixture file, identity, OIDC issuer, date) for every real vector in INDEX.tsv.
    fn real_leaves() -> Vec<(String, String, String)> {
        let index = std::fs::read_to_string(format!(
            "{}/tests/data/vectors/real/INDEX.tsv",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        index
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (
                    format!("{}.leaf.der", &f[0][..12]),
                    f[5].to_string(),
                    f[6].to_string(),
                )
            })
            .collect()
    }

    fn test_ca(certs: Vec<Vec<u8>>, valid_for: Validity) -> CertificateAuthority {
        CertificateAuthority {
            uri: "https://ca.test".into(),
            certs: certs
                .iter()
                .map(|d| Certificate::from_der(d).unwrap())
                .collect(),
            valid_for,
        }
    }

    fn test_chain() -> CertificateAuthority {
        test_ca(vec![tc::intermediate(), tc::root(None)], Validity::ALWAYS)
    }

    fn test_leaf(exts: Vec<Vec<u8>>) -> Certificate {
        Certificate::from_der(&tc::leaf("Test Intermediate", 2, exts)).unwrap()
    }

    #[test]
    fn every_real_leaf_chains_to_the_production_root_with_its_indexed_identity() {
        let root = TrustedRoot::production();
        let leaves = real_leaves();
        assert_eq!(leaves.len(), 19);
        for (file, identity, issuer) in leaves {
            let leaf = Certificate::from_der(&fixture(&file)).unwrap();
            let chain = verify_chain(&leaf, &root.certificate_authorities, leaf.not_before())
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(chain.ca_uri, "https://fulcio.sigstore.dev");
            assert_eq!(chain.issuer, chain.path[0]);
            let id = leaf.identity().unwrap();
            assert_eq!(format!("email:{}", id.san), identity, "{file}");
            assert!(matches!(id.san, San::Email(_)));
            assert_eq!(id.issuer.as_deref(), Some(issuer.as_str()), "{file}");
            // Inclusive at both ends.
            verify_chain(&leaf, &root.certificate_authorities, leaf.not_after()).unwrap();
        }
    }

    /// The May 2022 leaf predates the intermediate. Its authority key id (58:c0:...) is the
    /// October 2021 `CN=sigstore` root, the root of the current CA, not the March 2021 root
    /// of the same name whose CA ends with 2022: the path is that root alone.
    #[test]
    fn reads_github_workflow_claims_of_an_actions_certificate() {
        use base64::Engine as _;
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/conformance/bundle-verify/happy-path-v0.2/bundle.sigstore.json"
        );
        let bundle: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let vm = &bundle["verificationMaterial"];
        let raw = vm["certificate"]["rawBytes"]
            .as_str()
            .or(vm["x509CertificateChain"]["certificates"][0]["rawBytes"].as_str())
            .unwrap();
        let der = base64::engine::general_purpose::STANDARD
            .decode(raw)
            .unwrap();
        let claims = Certificate::from_der(&der).unwrap().github_claims();
        assert_eq!(
            claims,
            GithubClaims {
                repository: Some(
                    "sigstore-conformance/extremely-dangerous-public-oidc-beacon".into()
                ),
                git_ref: Some("refs/heads/main".into()),
                sha: Some("af785b6d3b0fa0c0aa1305faee7ce6036e8d90c4".into()),
                workflow: Some("Extremely dangerous OIDC beacon".into()),
                trigger: Some("workflow_dispatch".into()),
            }
        );
        // A gitsign leaf from a person has none.
        let (file, _, _) = real_leaves().remove(0);
        let der = fixture(&file);
        assert_eq!(
            Certificate::from_der(&der).unwrap().github_claims(),
            GithubClaims::default()
        );
    }

    #[test]
    fn the_2022_leaf_chains_directly_to_the_2021_sigstore_root() {
        let root = TrustedRoot::production();
        let leaf = Certificate::from_der(&fixture("add1e873fdbd.leaf.der")).unwrap();
        let cas = &root.certificate_authorities;
        let chain = verify_chain(&leaf, cas, leaf.not_before()).unwrap();
        assert_eq!(chain.path, vec![cas[1].certs[1].clone()]);
        assert_eq!(chain.issuer.describe(), "\"CN=sigstore,O=sigstore.dev\"");
        // The March 2021 root has the same name but another key.
        assert!(matches!(
            verify_chain(&leaf, &cas[..1], leaf.not_before()),
            Err(CertError::BadSignature { .. })
        ));
    }

    #[test]
    fn the_old_root_ca_ends_at_the_end_of_2022() {
        let root = TrustedRoot::production();
        let end = parse_rfc3339("2022-12-31T23:59:59Z").unwrap();
        assert_eq!(root.certificate_authorities[0].valid_for.end, Some(end));
        assert!(root.certificate_authorities[0].valid_for.contains(end));
        assert!(!root.certificate_authorities[0].valid_for.contains(end + 1));
    }

    #[test]
    fn a_leaf_with_two_certificates_in_its_bag_reads_the_legacy_issuer_extension() {
        let leaf = Certificate::from_der(&fixture("7dc71a2a1280.leaf.der")).unwrap();
        let id = leaf.identity().unwrap();
        assert_eq!(id.san, San::Email("billy@chainguard.dev".into()));
        assert_eq!(id.issuer.as_deref(), Some("github-sigstore-production"));
        assert!(leaf.extension(oid::FULCIO_ISSUER_V2).is_none());
    }

    #[test]
    fn accessors_return_slices_of_the_received_der() {
        let der = fixture("fe1e62346d3c.leaf.der");
        let leaf = Certificate::from_der(&der).unwrap();
        assert_eq!(leaf.der(), &der[..]);
        assert_eq!(leaf.tbs_raw()[0], 0x30);
        assert!(
            der.windows(leaf.tbs_raw().len())
                .any(|w| w == leaf.tbs_raw())
        );
        assert_eq!(leaf.subject_raw(), &[0x30, 0x00]);
        assert_eq!(leaf.issuer_raw()[0], 0x30);
        assert!(!leaf.serial().is_empty());
        assert_eq!(leaf.not_after() - leaf.not_before(), 600);
        leaf.public_key().unwrap();
    }

    #[test]
    fn rejects_trailing_garbage_after_the_certificate() {
        let mut der = fixture("fe1e62346d3c.leaf.der");
        der.push(0x00);
        assert!(matches!(
            Certificate::from_der(&der),
            Err(CertError::Der(DerError::TrailingBytes { .. }))
        ));
    }

    #[test]
    fn rejects_a_real_leaf_outside_its_validity() {
        let root = TrustedRoot::production();
        let leaf = Certificate::from_der(&fixture("fe1e62346d3c.leaf.der")).unwrap();
        let at = leaf.not_after() + 1;
        let err = verify_chain(&leaf, &root.certificate_authorities, at).unwrap_err();
        assert_eq!(
            err,
            CertError::Expired {
                subject: leaf.describe(),
                at,
                not_before: leaf.not_before(),
                not_after: leaf.not_after(),
            }
        );
        assert!(err.to_string().contains("not valid at"));
        assert!(matches!(
            verify_chain(&leaf, &root.certificate_authorities, leaf.not_before() - 1),
            Err(CertError::Expired { .. })
        ));
    }

    #[test]
    fn hand_made_chain_verifies() {
        let leaf = test_leaf(tc::leaf_exts("a@example.com"));
        let chain = verify_chain(&leaf, &[test_chain()], T0).unwrap();
        assert_eq!(chain.path.len(), 2);
        assert_eq!(chain.issuer.describe(), "\"CN=Test Intermediate\"");
        assert_eq!(
            leaf.identity().unwrap().issuer.as_deref(),
            Some("https://issuer.example")
        );
    }

    #[test]
    fn rejects_a_leaf_from_an_untrusted_ca() {
        let root = TrustedRoot::production();
        let leaf = test_leaf(tc::leaf_exts("a@example.com"));
        let err = verify_chain(&leaf, &root.certificate_authorities, T0).unwrap_err();
        assert_eq!(
            err,
            CertError::UntrustedIssuer {
                issuer: "\"CN=Test Intermediate\"".into()
            }
        );
    }

    #[test]
    fn rejects_a_leaf_signed_by_another_key_under_a_trusted_name() {
        // Same issuer name as the trusted intermediate, but signed with key seed 9.
        let leaf = Certificate::from_der(&tc::leaf(
            "Test Intermediate",
            9,
            tc::leaf_exts("a@example.com"),
        ))
        .unwrap();
        assert!(matches!(
            verify_chain(&leaf, &[test_chain()], T0),
            Err(CertError::BadSignature { .. })
        ));
    }

    #[test]
    fn rejects_when_no_ca_is_valid_at_the_time() {
        let leaf = test_leaf(tc::leaf_exts("a@example.com"));
        let ca = test_ca(
            vec![tc::intermediate(), tc::root(None)],
            Validity {
                start: T0 + 1,
                end: None,
            },
        );
        assert_eq!(
            verify_chain(&leaf, &[ca], T0),
            Err(CertError::NoCaValidAt { at: T0 })
        );
    }

    #[test]
    fn rejects_a_leaf_without_code_signing() {
        let mut exts = tc::leaf_exts("a@example.com");
        exts[1] = tc::eku(tc::OID_SERVER_AUTH);
        let leaf = test_leaf(exts);
        assert_eq!(
            verify_chain(&leaf, &[test_chain()], T0),
            Err(CertError::NotCodeSigning)
        );
    }

    #[test]
    fn rejects_a_leaf_without_digital_signature_key_usage() {
        let mut exts = tc::leaf_exts("a@example.com");
        exts[0] = tc::ext(oid::KEY_USAGE, true, &[0x03, 0x02, 0x05, 0x20]);
        assert_eq!(
            verify_chain(&test_leaf(exts), &[test_chain()], T0),
            Err(CertError::NoDigitalSignature)
        );
    }

    #[test]
    fn rejects_a_leaf_that_is_a_ca() {
        let mut exts = tc::leaf_exts("a@example.com");
        exts.push(tc::ca_exts(None).pop().unwrap());
        assert_eq!(
            verify_chain(&test_leaf(exts), &[test_chain()], T0),
            Err(CertError::LeafIsCa)
        );
    }

    #[test]
    fn rejects_an_unknown_critical_extension() {
        let mut exts = tc::leaf_exts("a@example.com");
        // The RFC 6962 precertificate poison must never reach a final certificate.
        let poison = [0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x03];
        exts.push(tc::ext(&poison, true, &[0x05, 0x00]));
        let err = verify_chain(&test_leaf(exts), &[test_chain()], T0).unwrap_err();
        assert!(
            matches!(&err, CertError::UnknownCriticalExtension { oid, .. } if oid == "1.3.6.1.4.1.11129.2.4.3"),
            "{err}"
        );
    }

    #[test]
    fn rejects_an_unknown_critical_extension_in_the_fulcio_arc() {
        // 1.3.6.1.4.1.57264.1.99: in Fulcio's arc, not something this module processes.
        let mut unknown = oid::FULCIO_ARC.to_vec();
        unknown.push(99);
        let mut exts = tc::leaf_exts("a@example.com");
        exts.push(tc::ext(&unknown, true, &[0x0c, 0x01, b'x']));
        let err = verify_chain(&test_leaf(exts), &[test_chain()], T0).unwrap_err();
        assert!(
            matches!(&err, CertError::UnknownCriticalExtension { oid, .. } if oid == "1.3.6.1.4.1.57264.1.99"),
            "{err}"
        );
        // The same extension, not critical, is ignored; a critical issuer is processed.
        let mut exts = tc::leaf_exts("a@example.com");
        exts.push(tc::ext(&unknown, false, &[0x0c, 0x01, b'x']));
        exts.push(tc::ext(
            oid::FULCIO_ISSUER_V1,
            true,
            b"https://issuer.example",
        ));
        assert!(verify_chain(&test_leaf(exts), &[test_chain()], T0).is_ok());
    }

    #[test]
    fn rejects_a_path_longer_than_the_root_allows() {
        let leaf = test_leaf(tc::leaf_exts("a@example.com"));
        let ca = test_ca(
            vec![tc::intermediate(), tc::root(Some(0))],
            Validity::ALWAYS,
        );
        assert!(matches!(
            verify_chain(&leaf, &[ca], T0),
            Err(CertError::PathLenExceeded {
                path_len: 0,
                below: 1,
                ..
            })
        ));
    }

    #[test]
    fn rejects_an_intermediate_that_is_not_a_ca() {
        let k = tc::key(2);
        let not_ca = tc::build(
            &tc::Spec {
                serial: 2,
                issuer: tc::name("Test Root"),
                subject: tc::name("Test Intermediate"),
                not_before: T0 - tc::YEAR,
                not_after: T0 + tc::YEAR,
                spki: tc::spki(&k),
                exts: vec![],
            },
            &tc::key(1),
        );
        let leaf = test_leaf(tc::leaf_exts("a@example.com"));
        let ca = test_ca(vec![not_ca, tc::root(None)], Validity::ALWAYS);
        assert!(matches!(
            verify_chain(&leaf, &[ca], T0),
            Err(CertError::NotCa { .. })
        ));
    }

    #[test]
    fn rejects_a_chain_whose_intermediate_expired() {
        let k = tc::key(2);
        let old = tc::build(
            &tc::Spec {
                serial: 2,
                issuer: tc::name("Test Root"),
                subject: tc::name("Test Intermediate"),
                not_before: T0 - tc::YEAR,
                not_after: T0 - 1,
                spki: tc::spki(&k),
                exts: tc::ca_exts(Some(0)),
            },
            &tc::key(1),
        );
        let leaf = test_leaf(tc::leaf_exts("a@example.com"));
        let ca = test_ca(vec![old, tc::root(None)], Validity::ALWAYS);
        assert!(matches!(
            verify_chain(&leaf, &[ca], T0),
            Err(CertError::Expired { subject, .. }) if subject == "\"CN=Test Intermediate\""
        ));
    }

    #[test]
    fn rejects_a_ca_chain_ending_in_a_certificate_that_is_not_self_signed() {
        let leaf = test_leaf(tc::leaf_exts("a@example.com"));
        let ca = test_ca(vec![tc::intermediate()], Validity::ALWAYS);
        assert!(matches!(
            verify_chain(&leaf, &[ca], T0),
            Err(CertError::NotSelfSigned { .. })
        ));
    }

    #[test]
    fn rejects_mismatched_signature_algorithms() {
        let der = fixture("fe1e62346d3c.leaf.der");
        let leaf = Certificate::from_der(&der).unwrap();
        // Relabel the outer AlgorithmIdentifier ecdsa-with-SHA384 -> SHA256 (same length).
        let outer_at = leaf.tbs.end;
        let mut bad = der.clone();
        let alg_oid_last = outer_at + 2 + 2 + 7;
        assert_eq!(bad[alg_oid_last], 0x03);
        bad[alg_oid_last] = 0x02;
        assert!(matches!(
            Certificate::from_der(&bad),
            Err(CertError::SignatureAlgorithmMismatch { .. })
        ));
    }

    #[test]
    fn identity_requires_exactly_one_email_or_uri() {
        let mut exts = tc::leaf_exts("a@example.com");
        exts[2] = tc::ext(
            oid::SUBJECT_ALT_NAME,
            true,
            &tlv::encode(
                tag::SEQUENCE,
                &[tlv::encode(0x81, b"a@x"), tlv::encode(0x86, b"https://x")].concat(),
            ),
        );
        assert_eq!(
            test_leaf(exts).identity(),
            Err(CertError::AmbiguousIdentity)
        );
        let mut exts = tc::leaf_exts("a@example.com");
        exts.remove(2);
        assert_eq!(test_leaf(exts).identity(), Err(CertError::NoIdentity));
    }

    #[test]
    fn rejects_duplicate_extensions() {
        let mut exts = tc::leaf_exts("a@example.com");
        exts.push(tc::eku(oid::CODE_SIGNING));
        assert!(matches!(
            Certificate::from_der(&tc::leaf("Test Intermediate", 2, exts)),
            Err(CertError::DuplicateExtension { .. })
        ));
    }

    #[test]
    fn the_compiled_in_production_cas_are_internally_signed() {
        let root = TrustedRoot::production();
        assert!(!root.certificate_authorities.is_empty());
        for ca in &root.certificate_authorities {
            verify_anchor_signatures(ca).unwrap();
        }
    }

    #[test]
    fn anchor_check_catches_a_chain_whose_links_do_not_verify() {
        let root = TrustedRoot::production();
        let mut ca = root.certificate_authorities[1].clone();
        assert_eq!(ca.certs.len(), 2);
        // The old 2021 root has the same name as the current one but another key.
        ca.certs[1] = root.certificate_authorities[0].certs[0].clone();
        assert!(verify_anchor_signatures(&ca).is_err());
    }
}
