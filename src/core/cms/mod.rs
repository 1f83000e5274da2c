//! CMS SignedData (RFC 5652), parsed strictly with the raw bytes kept where signatures cover
//! them. One parser for both SignedData we meet, with a [`Profile`] each: gitsign's detached
//! signature, and the RFC 3161 TimeStampToken (which is a SignedData too).
//!
//! ```text
//! ContentInfo ::= SEQUENCE { contentType id-signedData, content [0] EXPLICIT SignedData }
//! SignedData ::= SEQUENCE { version CMSVersion, digestAlgorithms SET OF AlgorithmIdentifier,
//!   encapContentInfo SEQUENCE { eContentType, eContent [0] EXPLICIT OCTET STRING OPTIONAL },
//!   certificates [0] IMPLICIT CertificateSet OPTIONAL, crls [1] IMPLICIT OPTIONAL,
//!   signerInfos SET OF SignerInfo }
//! SignerInfo ::= SEQUENCE { version CMSVersion, sid SignerIdentifier, digestAlgorithm,
//!   signedAttrs [0] IMPLICIT SET OF Attribute OPTIONAL, signatureAlgorithm,
//!   signature OCTET STRING, unsignedAttrs [1] IMPLICIT SET OF Attribute OPTIONAL }
//! SignerIdentifier ::= CHOICE { issuerAndSerialNumber, subjectKeyIdentifier [0] }
//! ```
//!
//! Both profiles: exactly one SignerInfo, signed attributes present (contentType equal to the
//! eContentType, one messageDigest, at most one signingTime, no attribute twice), no CRLs.

/// Building SignedData for a signature: the bytes to sign out, the signature back in.
pub mod builder;

use std::fmt;

use crate::core::asn1::der::{self, DerError, Reader, Tlv, oid, tag};
use crate::core::time::{self, UnixTime};
use crate::core::x509::cert::{Certificate, oid_string};
use crate::core::x509::keys::HashAlg;

/// 1.2.840.113549.1.9.16.1.4 (id-ct-TSTInfo), as DER content bytes.
pub const TST_INFO: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x04,
];
/// 1.3.14.3.2.26 (SHA-1)
const SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];

/// Which SignedData the bytes must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// gitsign's signature: version 1, detached id-data, SHA-256, issuerAndSerialNumber,
    /// ecdsa-with-SHA256.
    Gitsign,
    /// An RFC 3161 TimeStampToken: version 1 or 3, eContent id-ct-TSTInfo, SHA-256/384/512
    /// (SHA-1 refused as weak), signer by issuerAndSerialNumber (v1) or subjectKeyIdentifier
    /// (v3). The signature algorithm is only read: the caller checks it once the signer is
    /// trusted, so that a token from an unknown TSA reads as untrusted, not as unsupported.
    Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmsError {
    Der(DerError),
    /// The structure is DER but not the SignedData of the profile.
    Unsupported {
        what: String,
    },
    /// A digest algorithm that is too weak to trust (SHA-1).
    WeakHash {
        what: &'static str,
    },
    UnsupportedHash {
        what: &'static str,
        oid: String,
    },
}

impl fmt::Display for CmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CmsError::Der(e) => write!(f, "malformed CMS signature: {e}"),
            CmsError::Unsupported { what } => write!(f, "unsupported CMS signature: {what}"),
            CmsError::WeakHash { what } => write!(f, "{what} is SHA-1, which is too weak"),
            CmsError::UnsupportedHash { what, oid } => {
                write!(f, "{what} {oid} is not a supported hash")
            }
        }
    }
}

impl std::error::Error for CmsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CmsError::Der(e) => Some(e),
            _ => None,
        }
    }
}

impl From<DerError> for CmsError {
    fn from(e: DerError) -> Self {
        CmsError::Der(e)
    }
}

fn unsupported(what: impl Into<String>) -> CmsError {
    CmsError::Unsupported { what: what.into() }
}

/// A parsed SignedData with exactly one signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedData<'a> {
    /// The eContent OCTET STRING's content (the TSTInfo DER of a timestamp); `None` for a
    /// detached signature.
    pub econtent: Option<&'a [u8]>,
    /// DER of every certificate in the bag, in order.
    pub certificates: Vec<&'a [u8]>,
    pub signer: SignerInfo<'a>,
}

/// How a SignerInfo names its certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignerId<'a> {
    /// The issuer Name TLV and the serial INTEGER's content.
    IssuerSerial {
        issuer: &'a [u8],
        serial: &'a [u8],
    },
    KeyId(&'a [u8]),
}

impl SignerId<'_> {
    /// Whether `c` is the certificate this identifier names.
    pub fn names(&self, c: &Certificate) -> bool {
        match *self {
            SignerId::IssuerSerial { issuer, serial } => {
                c.issuer_raw() == issuer && c.serial() == serial
            }
            SignerId::KeyId(id) => matches!(c.subject_key_id(), Ok(Some(k)) if k == id),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerInfo<'a> {
    pub sid: SignerId<'a>,
    pub digest_alg: HashAlg,
    /// The signed attributes exactly as received, re-tagged as a SET (0x31): the bytes the
    /// signature covers.
    pub signed_attrs: Vec<u8>,
    pub message_digest: &'a [u8],
    pub signing_time: Option<UnixTime>,
    /// The signatureAlgorithm OID content, and whether parameters followed it.
    pub signature_alg: &'a [u8],
    pub signature_alg_params: bool,
    /// DER ECDSA signature.
    pub signature: &'a [u8],
    pub unsigned_attrs: Vec<Attribute<'a>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute<'a> {
    /// OID content bytes.
    pub oid: &'a [u8],
    /// Each value's full TLV.
    pub values: Vec<Tlv<'a>>,
}

impl SignerInfo<'_> {
    /// The embedded Rekor entry (gitsign offline mode): the protobuf bytes inside the
    /// `1.3.6.1.4.1.57264.3.1` OCTET STRING. A value of another type (the 2023 prototype
    /// carried a PrintableString there) is not an entry.
    pub fn tlog_entry(&self) -> Option<&[u8]> {
        self.unsigned_attr(oid::GITSIGN_TLOG_ENTRY)
            .filter(|v| v.tag == tag::OCTET_STRING)
            .map(|v| v.value)
    }

    /// The RFC 3161 timeStampToken, if any (full TLV).
    pub fn timestamp_token(&self) -> Option<&[u8]> {
        self.unsigned_attr(oid::TIMESTAMP_TOKEN).map(|v| v.raw)
    }

    fn unsigned_attr(&self, oid: &[u8]) -> Option<Tlv<'_>> {
        let attr = self.unsigned_attrs.iter().find(|a| a.oid == oid)?;
        match attr.values.as_slice() {
            [v] => Some(*v),
            _ => None,
        }
    }
}

/// An AlgorithmIdentifier's OID, after checking that its parameters are absent or NULL (as
/// some encoders write them for digests).
fn read_algorithm<'a>(r: &mut Reader<'a>, what: &str) -> Result<&'a [u8], CmsError> {
    let alg = r.read(tag::SEQUENCE)?;
    let mut a = alg.reader();
    let o = a.read(tag::OID)?;
    if let Some(p) = a.optional(tag::NULL)?
        && !p.value.is_empty()
    {
        return Err(unsupported(format!("{what} has parameters")));
    }
    a.finish()?;
    Ok(o.value)
}

/// A digest algorithm the profile accepts.
fn digest_algorithm(
    r: &mut Reader<'_>,
    profile: Profile,
    what: &'static str,
) -> Result<HashAlg, CmsError> {
    let o = read_algorithm(r, what)?;
    match (profile, o) {
        (_, v) if v == oid::SHA256 => Ok(HashAlg::Sha256),
        (Profile::Timestamp, v) if v == oid::SHA384 => Ok(HashAlg::Sha384),
        (Profile::Timestamp, v) if v == oid::SHA512 => Ok(HashAlg::Sha512),
        (Profile::Timestamp, v) if v == SHA1 => Err(CmsError::WeakHash { what }),
        (Profile::Timestamp, v) => Err(CmsError::UnsupportedHash {
            what,
            oid: oid_string(v),
        }),
        (Profile::Gitsign, _) => Err(unsupported(format!("{what} is not the expected algorithm"))),
    }
}

fn read_attributes<'a>(set: &Tlv<'a>) -> Result<Vec<Attribute<'a>>, CmsError> {
    let mut r = set.reader();
    let mut out: Vec<Attribute<'a>> = Vec::new();
    while !r.is_empty() {
        let seq = r.read(tag::SEQUENCE)?;
        let mut a = seq.reader();
        let o = a.read(tag::OID)?;
        let values_set = a.read(tag::SET)?;
        a.finish()?;
        let mut vr = values_set.reader();
        let mut values = Vec::new();
        while !vr.is_empty() {
            values.push(vr.any()?);
        }
        if values.is_empty() {
            return Err(unsupported("attribute without a value"));
        }
        if out.iter().any(|x| x.oid == o.value) {
            return Err(unsupported(format!(
                "attribute {} repeats",
                oid_string(o.value)
            )));
        }
        out.push(Attribute {
            oid: o.value,
            values,
        });
    }
    Ok(out)
}

fn single_value<'a>(
    attrs: &[Attribute<'a>],
    oid: &[u8],
    name: &str,
) -> Result<Option<Tlv<'a>>, CmsError> {
    match attrs.iter().find(|a| a.oid == oid) {
        None => Ok(None),
        Some(a) if a.values.len() == 1 => Ok(Some(a.values[0])),
        Some(_) => Err(unsupported(format!("{name} attribute has several values"))),
    }
}

/// Parses a DER ContentInfo holding a SignedData of `profile` with one signer.
pub fn parse(input: &[u8], profile: Profile) -> Result<SignedData<'_>, CmsError> {
    let ci = der::parse_single(input, tag::SEQUENCE)?;
    parse_content_info(&ci, profile)
}

/// [`parse`] of a ContentInfo already read (a TimeStampResp wraps one).
pub fn parse_content_info<'a>(ci: &Tlv<'a>, profile: Profile) -> Result<SignedData<'a>, CmsError> {
    let mut r = ci.reader();
    if r.read(tag::OID)?.value != oid::SIGNED_DATA {
        return Err(unsupported("content type is not signedData"));
    }
    let explicit = r.read(tag::context(0))?;
    r.finish()?;
    let mut e = explicit.reader();
    let sd = e.read(tag::SEQUENCE)?;
    e.finish()?;

    let mut r = sd.reader();
    let version = r.read(tag::INTEGER)?.as_u64()?;
    let version_ok = match profile {
        Profile::Gitsign => version == 1,
        Profile::Timestamp => version == 1 || version == 3,
    };
    if !version_ok {
        return Err(unsupported(format!("SignedData version {version}")));
    }
    let digests = r.read(tag::SET)?;
    let mut dr = digests.reader();
    let mut digest_oids = Vec::new();
    while !dr.is_empty() {
        digest_oids.push(read_algorithm(&mut dr, "digest algorithm")?);
    }
    if profile == Profile::Gitsign && digest_oids != [oid::SHA256] {
        return Err(unsupported(
            "digest algorithm is not the expected algorithm",
        ));
    }

    let encap = r.read(tag::SEQUENCE)?;
    let mut er = encap.reader();
    let content_type = er.read(tag::OID)?.value;
    let econtent = match profile {
        Profile::Gitsign => {
            if content_type != oid::DATA {
                return Err(unsupported("encapsulated content type is not id-data"));
            }
            if !er.is_empty() {
                return Err(unsupported(
                    "signature is not detached (it carries content)",
                ));
            }
            None
        }
        Profile::Timestamp => {
            if content_type != TST_INFO {
                return Err(unsupported("encapsulated content is not id-ct-TSTInfo"));
            }
            let explicit = er
                .optional(tag::context(0))?
                .ok_or_else(|| unsupported("no encapsulated TSTInfo"))?;
            er.finish()?;
            let mut ec = explicit.reader();
            let content = ec.read(tag::OCTET_STRING)?.value;
            ec.finish()?;
            Some(content)
        }
    };

    let mut certificates = Vec::new();
    if let Some(bag) = r.optional(tag::context(0))? {
        let mut br = bag.reader();
        while !br.is_empty() {
            certificates.push(br.read(tag::SEQUENCE)?.raw);
        }
    }
    // Revocation is not checked; a CRL bag is refused rather than ignored, so that no
    // relabelled certificate bag passes as one.
    if r.optional(tag::context(1))?.is_some() {
        return Err(unsupported("CRLs are not supported"));
    }
    let signers = r.read(tag::SET)?;
    r.finish()?;

    let mut sr = signers.reader();
    let si = sr.read(tag::SEQUENCE)?;
    if !sr.is_empty() {
        return Err(unsupported("more than one SignerInfo"));
    }
    let signer = parse_signer_info(&si, profile, content_type)?;
    if !digest_oids.contains(&signer.digest_alg.oid()) {
        return Err(unsupported(
            "digestAlgorithms omits the SignerInfo's digest algorithm",
        ));
    }
    Ok(SignedData {
        econtent,
        certificates,
        signer,
    })
}

fn parse_signer_info<'a>(
    si: &Tlv<'a>,
    profile: Profile,
    content_type: &[u8],
) -> Result<SignerInfo<'a>, CmsError> {
    let mut r = si.reader();
    let version = r.read(tag::INTEGER)?.as_u64()?;
    let sid = match (profile, version, r.peek_tag()) {
        (_, 1, Some(tag::SEQUENCE)) => {
            let sid = r.read(tag::SEQUENCE)?;
            let mut ir = sid.reader();
            let issuer = ir.read(tag::SEQUENCE)?.raw;
            let serial = ir.read(tag::INTEGER)?.value;
            ir.finish()?;
            SignerId::IssuerSerial { issuer, serial }
        }
        (Profile::Timestamp, 3, Some(t)) if t == tag::context_primitive(0) => {
            SignerId::KeyId(r.any()?.value)
        }
        (Profile::Gitsign, _, _) => {
            return Err(unsupported(format!(
                "SignerInfo version {version} (only issuerAndSerialNumber is supported)"
            )));
        }
        (Profile::Timestamp, _, _) => {
            return Err(unsupported(format!(
                "SignerInfo version {version} with an identifier of the other kind"
            )));
        }
    };
    let digest_alg = digest_algorithm(&mut r, profile, "SignerInfo digest algorithm")?;

    let signed = r
        .optional(tag::context(0))?
        .ok_or_else(|| unsupported("no signed attributes"))?;
    let attrs = read_attributes(&signed)?;
    let signed_content_type = single_value(&attrs, oid::CONTENT_TYPE, "contentType")?
        .ok_or_else(|| unsupported("no contentType attribute"))?
        .expect(tag::OID)?;
    if signed_content_type.value != content_type {
        return Err(unsupported(
            "contentType attribute is not the encapsulated content type",
        ));
    }
    let message_digest = single_value(&attrs, oid::MESSAGE_DIGEST, "messageDigest")?
        .ok_or_else(|| unsupported("no messageDigest attribute"))?
        .expect(tag::OCTET_STRING)?
        .value;
    let signing_time = match single_value(&attrs, oid::SIGNING_TIME, "signingTime")? {
        None => None,
        Some(t) => Some(
            time::parse_asn1_time(t.tag, t.value)
                .map_err(|e| unsupported(format!("signingTime: {e}")))?,
        ),
    };
    let mut signed_attrs = signed.raw.to_vec();
    signed_attrs[0] = tag::SET;

    let alg = r.read(tag::SEQUENCE)?;
    let mut a = alg.reader();
    let signature_alg = a.read(tag::OID)?.value;
    let signature_alg_params = !a.is_empty();
    if signature_alg_params {
        a.any()?;
        a.finish()?;
    }
    // ECDSA AlgorithmIdentifiers carry no parameters (RFC 5758 §3.2).
    if profile == Profile::Gitsign
        && (signature_alg != oid::ECDSA_WITH_SHA256 || signature_alg_params)
    {
        return Err(unsupported("signature algorithm is not ecdsa-with-SHA256"));
    }
    let signature = r.read(tag::OCTET_STRING)?.value;
    let unsigned_attrs = match r.optional(tag::context(1))? {
        Some(u) => read_attributes(&u)?,
        None => Vec::new(),
    };
    r.finish()?;
    Ok(SignerInfo {
        sid,
        digest_alg,
        signed_attrs,
        message_digest,
        signing_time,
        signature_alg,
        signature_alg_params,
        signature,
        unsigned_attrs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{asn1::pem, git::gitobj};

    fn vector_signatures() -> Vec<(String, Vec<u8>)> {
        gitobj::test_vectors()
            .into_iter()
            .map(|(name, obj)| {
                (
                    name,
                    pem::decode_one(&obj.signature, "SIGNED MESSAGE").unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn parses_every_real_gitsign_signature() {
        for (name, der) in vector_signatures() {
            let sd = parse(&der, Profile::Gitsign).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!sd.certificates.is_empty(), "{name}");
            assert_eq!(sd.signer.message_digest.len(), 32, "{name}");
            assert!(sd.signer.signing_time.is_some(), "{name}");
            assert_eq!(sd.signer.signed_attrs[0], 0x31);
        }
    }

    #[test]
    fn finds_embedded_entries_only_in_offline_mode_objects() {
        let with_entry: Vec<bool> = vector_signatures()
            .iter()
            .map(|(name, der)| {
                let has = parse(der, Profile::Gitsign)
                    .unwrap()
                    .signer
                    .tlog_entry()
                    .is_some();
                let offline = ["fe1e6234", "529ee14c", "138f9d7c"]
                    .iter()
                    .any(|id| name.contains(id));
                assert_eq!(has, offline, "{name}");
                has
            })
            .collect();
        assert_eq!(with_entry.iter().filter(|h| **h).count(), 3);
    }

    #[test]
    fn rejects_trailing_garbage_after_the_signature() {
        let (_, mut der) = vector_signatures().remove(0);
        der.push(0);
        assert!(matches!(
            parse(&der, Profile::Gitsign),
            Err(CmsError::Der(DerError::TrailingBytes { .. }))
        ));
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let (_, der) = vector_signatures().remove(0);
        for n in 0..der.len() {
            assert!(parse(&der[..n], Profile::Gitsign).is_err());
        }
    }
}
