//! The detached CMS SignedData (RFC 5652) that gitsign writes, parsed strictly with the raw
//! bytes kept where signatures cover them.
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
//! ```

/// Building SignedData for a signature: the bytes to sign out, the signature back in.
pub mod builder;

use std::fmt;

use crate::core::asn1::der::{self, DerError, Reader, Tlv, oid, tag};
use crate::core::time::{self, UnixTime};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmsError {
    Der(DerError),
    /// The structure is DER but not the SignedData gitsign writes.
    Unsupported {
        what: String,
    },
}

impl fmt::Display for CmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CmsError::Der(e) => write!(f, "malformed CMS signature: {e}"),
            CmsError::Unsupported { what } => write!(f, "unsupported CMS signature: {what}"),
        }
    }
}

impl std::error::Error for CmsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CmsError::Der(e) => Some(e),
            CmsError::Unsupported { .. } => None,
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

/// A parsed detached SignedData with exactly one signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedData<'a> {
    /// DER of every certificate in the bag, in order.
    pub certificates: Vec<&'a [u8]>,
    pub signer: SignerInfo<'a>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerInfo<'a> {
    /// The issuer Name TLV and serial INTEGER content of the signer's certificate.
    pub issuer: &'a [u8],
    pub serial: &'a [u8],
    /// The signed attributes exactly as received, re-tagged as a SET (0x31): the bytes the
    /// signature covers.
    pub signed_attrs: Vec<u8>,
    pub message_digest: &'a [u8],
    pub signing_time: Option<UnixTime>,
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

fn read_algorithm(r: &mut Reader<'_>, expected: &[u8], what: &str) -> Result<(), CmsError> {
    let alg = r.read(tag::SEQUENCE)?;
    let mut a = alg.reader();
    let o = a.read(tag::OID)?;
    if o.value != expected {
        return Err(unsupported(format!("{what} is not the expected algorithm")));
    }
    // Parameters: absent, or NULL for digest algorithms written by some encoders.
    if let Some(p) = a.optional(tag::NULL)?
        && !p.value.is_empty()
    {
        return Err(unsupported(format!("{what} has parameters")));
    }
    a.finish()?;
    Ok(())
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
            return Err(unsupported("duplicate attribute"));
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

/// Parses a DER ContentInfo holding a detached SignedData with one signer.
pub fn parse(input: &[u8]) -> Result<SignedData<'_>, CmsError> {
    let ci = der::parse_single(input, tag::SEQUENCE)?;
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
    if version != 1 {
        return Err(unsupported(format!("SignedData version {version}")));
    }
    let digests = r.read(tag::SET)?;
    let mut dr = digests.reader();
    read_algorithm(&mut dr, oid::SHA256, "digest algorithm")?;
    dr.finish()?;

    let encap = r.read(tag::SEQUENCE)?;
    let mut er = encap.reader();
    if er.read(tag::OID)?.value != oid::DATA {
        return Err(unsupported("encapsulated content type is not id-data"));
    }
    if !er.is_empty() {
        return Err(unsupported(
            "signature is not detached (it carries content)",
        ));
    }

    let mut certificates = Vec::new();
    if let Some(bag) = r.optional(tag::context(0))? {
        let mut br = bag.reader();
        while !br.is_empty() {
            certificates.push(br.read(tag::SEQUENCE)?.raw);
        }
    }
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
    let signer = parse_signer_info(&si)?;
    Ok(SignedData {
        certificates,
        signer,
    })
}

fn parse_signer_info<'a>(si: &Tlv<'a>) -> Result<SignerInfo<'a>, CmsError> {
    let mut r = si.reader();
    let version = r.read(tag::INTEGER)?.as_u64()?;
    if version != 1 {
        return Err(unsupported(format!(
            "SignerInfo version {version} (only issuerAndSerialNumber is supported)"
        )));
    }
    let sid = r.read(tag::SEQUENCE)?;
    let mut ir = sid.reader();
    let issuer = ir.read(tag::SEQUENCE)?.raw;
    let serial_tlv = ir.read(tag::INTEGER)?;
    ir.finish()?;
    read_algorithm(&mut r, oid::SHA256, "SignerInfo digest algorithm")?;

    let signed = r
        .optional(tag::context(0))?
        .ok_or_else(|| unsupported("no signed attributes"))?;
    let attrs = read_attributes(&signed)?;
    let content_type = single_value(&attrs, oid::CONTENT_TYPE, "contentType")?
        .ok_or_else(|| unsupported("no contentType attribute"))?
        .expect(tag::OID)?;
    if content_type.value != oid::DATA {
        return Err(unsupported("contentType attribute is not id-data"));
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

    read_algorithm(&mut r, oid::ECDSA_WITH_SHA256, "signature algorithm")?;
    let signature = r.read(tag::OCTET_STRING)?.value;
    let unsigned_attrs = match r.optional(tag::context(1))? {
        Some(u) => read_attributes(&u)?,
        None => Vec::new(),
    };
    r.finish()?;
    Ok(SignerInfo {
        issuer,
        serial: serial_tlv.value,
        signed_attrs,
        message_digest,
        signing_time,
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
            let sd = parse(&der).unwrap_or_else(|e| panic!("{name}: {e}"));
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
                let has = parse(der).unwrap().signer.tlog_entry().is_some();
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
            parse(&der),
            Err(CmsError::Der(DerError::TrailingBytes { .. }))
        ));
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let (_, der) = vector_signatures().remove(0);
        for n in 0..der.len() {
            assert!(parse(&der[..n]).is_err());
        }
    }
}
