//! Builds the detached CMS SignedData that current gitsign writes (REFERENCE.md §3), in two
//! steps so the private key never enters the core: [`signed_attributes`] hands out the bytes
//! to sign (the signed attributes encoded as a SET), [`assemble`] takes the signature back
//! with the certificates and unsigned attributes.
//!
//! Hand-rolled DER with [`der::encode`]: the layout must match gitsign byte for byte, and the
//! RustCrypto `cms` builder differs in three places (it picks SubjectKeyIdentifier as signer
//! id, has no signingTime, and reports every failure as a bare `Failed`).

use std::fmt;

use crate::core::asn1::der::{self, oid, tag};
use crate::core::time::{UnixTime, civil_from_unix};
use crate::core::tlog::{self, LogEntry, TlogError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// signingTime before 1950 or after 9999 cannot be encoded.
    SigningTime {
        time: UnixTime,
    },
    Entry(TlogError),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::SigningTime { time } => {
                write!(
                    f,
                    "signing time {time} cannot be encoded in a CMS signature"
                )
            }
            BuildError::Entry(e) => write!(f, "cannot embed the log entry: {e}"),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::Entry(e) => Some(e),
            BuildError::SigningTime { .. } => None,
        }
    }
}

/// One attribute: its OID (content bytes) and the full TLV of each value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeValue {
    pub oid: Vec<u8>,
    pub values: Vec<Vec<u8>>,
}

impl AttributeValue {
    fn encode(&self) -> Vec<u8> {
        der::encode(
            tag::SEQUENCE,
            &[
                der::encode(tag::OID, &self.oid),
                der::encode(tag::SET, &sorted_set_content(self.values.clone())),
            ]
            .concat(),
        )
    }
}

/// The content of a DER SET OF: elements sorted by their encodings (X.690 §11.6).
fn sorted_set_content(mut elements: Vec<Vec<u8>>) -> Vec<u8> {
    elements.sort();
    elements.concat()
}

/// ASN.1 Time as RFC 5280 wants it: UTCTime through 2049, GeneralizedTime after.
pub fn encode_time(t: UnixTime) -> Result<Vec<u8>, BuildError> {
    let (y, mo, d, h, mi, s) = civil_from_unix(t);
    if !(1950..=9999).contains(&y) {
        return Err(BuildError::SigningTime { time: t });
    }
    let rest = format!("{mo:02}{d:02}{h:02}{mi:02}{s:02}Z");
    Ok(if y < 2050 {
        der::encode(tag::UTC_TIME, format!("{:02}{rest}", y % 100).as_bytes())
    } else {
        der::encode(tag::GENERALIZED_TIME, format!("{y:04}{rest}").as_bytes())
    })
}

/// The signed attributes gitsign writes, encoded as a DER SET (tag 0x31): the bytes the
/// signature covers. In the SignerInfo they appear with the tag `[0]` (0xA0) instead.
///
/// contentType (id-data), signingTime and messageDigest (SHA-256 of the payload), in DER SET
/// order (which, for these three OIDs, is also the order gitsign writes).
pub fn signed_attributes(
    payload_sha256: &[u8; 32],
    signing_time: UnixTime,
) -> Result<Vec<u8>, BuildError> {
    let attrs = [
        AttributeValue {
            oid: oid::CONTENT_TYPE.to_vec(),
            values: vec![der::encode(tag::OID, oid::DATA)],
        },
        AttributeValue {
            oid: oid::SIGNING_TIME.to_vec(),
            values: vec![encode_time(signing_time)?],
        },
        AttributeValue {
            oid: oid::MESSAGE_DIGEST.to_vec(),
            values: vec![der::encode(tag::OCTET_STRING, payload_sha256)],
        },
    ];
    Ok(der::encode(
        tag::SET,
        &sorted_set_content(attrs.iter().map(AttributeValue::encode).collect()),
    ))
}

/// The unsigned attribute gitsign's offline mode adds: the Rekor entry as a protobuf
/// `TransparencyLogEntry` in an OCTET STRING, with its canonicalized body cleared (verifiers
/// rebuild it from the signature).
pub fn tlog_entry_attribute(entry: &LogEntry) -> Result<AttributeValue, BuildError> {
    let mut entry = entry.clone();
    entry.canonicalized_body = None;
    let pb = tlog::encode_transparency_log_entry(&entry).map_err(BuildError::Entry)?;
    Ok(AttributeValue {
        oid: oid::GITSIGN_TLOG_ENTRY.to_vec(),
        values: vec![der::encode(tag::OCTET_STRING, &pb)],
    })
}

/// The unsigned attribute `1.2.840.113549.1.9.16.2.14`: an RFC 3161 TimeStampToken (DER
/// ContentInfo, as the TSA sent it) over the hash of the signature value.
pub fn timestamp_attribute(token: &[u8]) -> AttributeValue {
    AttributeValue {
        oid: oid::TIMESTAMP_TOKEN.to_vec(),
        values: vec![token.to_vec()],
    }
}

/// Everything [`assemble`] needs besides the signed attributes.
pub struct Signer<'a> {
    /// DER of each certificate to carry, in order (gitsign today: the leaf only).
    pub certificates: &'a [&'a [u8]],
    /// The signer certificate's issuer Name (full TLV) and serial number (INTEGER content).
    pub issuer: &'a [u8],
    pub serial: &'a [u8],
    /// The SET-tagged signed attributes from [`signed_attributes`] (or as received).
    pub signed_attrs: &'a [u8],
    /// DER ECDSA-with-SHA256 signature over `signed_attrs`.
    pub signature: &'a [u8],
    pub unsigned_attrs: &'a [AttributeValue],
}

fn algorithm(oid: &[u8]) -> Vec<u8> {
    der::encode(tag::SEQUENCE, &der::encode(tag::OID, oid))
}

/// The DER ContentInfo holding the detached SignedData.
///
/// Unsigned attributes are written in the order given: gitsign writes one, and the order of
/// received signatures must survive a round trip.
pub fn assemble(s: &Signer<'_>) -> Vec<u8> {
    let mut signed_attrs = s.signed_attrs.to_vec();
    if let Some(first) = signed_attrs.first_mut() {
        *first = tag::context(0);
    }
    let mut signer_info = [
        der::encode(tag::INTEGER, &[1]),
        der::encode(
            tag::SEQUENCE,
            &[s.issuer, &der::encode(tag::INTEGER, s.serial)].concat(),
        ),
        algorithm(oid::SHA256),
        signed_attrs,
        algorithm(oid::ECDSA_WITH_SHA256),
        der::encode(tag::OCTET_STRING, s.signature),
    ]
    .concat();
    if !s.unsigned_attrs.is_empty() {
        let attrs: Vec<u8> = s
            .unsigned_attrs
            .iter()
            .flat_map(AttributeValue::encode)
            .collect();
        signer_info.extend(der::encode(tag::context(1), &attrs));
    }
    let signed_data = [
        der::encode(tag::INTEGER, &[1]),
        der::encode(tag::SET, &algorithm(oid::SHA256)),
        der::encode(tag::SEQUENCE, &der::encode(tag::OID, oid::DATA)),
        der::encode(tag::context(0), &s.certificates.concat()),
        der::encode(tag::SET, &der::encode(tag::SEQUENCE, &signer_info)),
    ]
    .concat();
    der::encode(
        tag::SEQUENCE,
        &[
            der::encode(tag::OID, oid::SIGNED_DATA),
            der::encode(tag::context(0), &der::encode(tag::SEQUENCE, &signed_data)),
        ]
        .concat(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{asn1::pem, cms, git::gitobj};

    fn vectors() -> Vec<(String, gitobj::SignedObject)> {
        gitobj::test_vectors()
    }

    /// Rebuilds a received signature from its parsed parts: signed attributes from the digest
    /// and time alone, the embedded entry from its decoded fields.
    fn rebuild(der_in: &[u8]) -> Vec<u8> {
        let sd = cms::parse(der_in, cms::Profile::Gitsign).unwrap();
        let si = &sd.signer;
        let cms::SignerId::IssuerSerial { issuer, serial } = si.sid else {
            panic!("gitsign names its signer by issuer and serial")
        };
        let digest: [u8; 32] = si.message_digest.try_into().unwrap();
        let signed = signed_attributes(&digest, si.signing_time.unwrap()).unwrap();
        assert_eq!(signed, si.signed_attrs, "signed attributes differ");
        let unsigned: Vec<AttributeValue> = si
            .unsigned_attrs
            .iter()
            .map(|a| {
                if a.oid == oid::GITSIGN_TLOG_ENTRY && si.tlog_entry().is_some() {
                    let entry =
                        tlog::decode_transparency_log_entry(si.tlog_entry().unwrap()).unwrap();
                    tlog_entry_attribute(&entry).unwrap()
                } else {
                    AttributeValue {
                        oid: a.oid.to_vec(),
                        values: a.values.iter().map(|v| v.raw.to_vec()).collect(),
                    }
                }
            })
            .collect();
        assemble(&Signer {
            certificates: &sd.certificates,
            issuer,
            serial,
            signed_attrs: &signed,
            signature: si.signature,
            unsigned_attrs: &unsigned,
        })
    }

    #[test]
    fn reencoding_every_real_gitsign_signature_reproduces_it_byte_for_byte() {
        for (name, obj) in vectors() {
            let der_in = pem::decode_one(&obj.signature, "SIGNED MESSAGE").unwrap();
            let rebuilt = rebuild(&der_in);
            assert_eq!(rebuilt, der_in, "{name}");
            let block = pem::encode("SIGNED MESSAGE", &rebuilt);
            assert_eq!(block.as_bytes(), obj.signature.as_slice(), "{name}");
            // And so the very object git stored.
            let kind = gitobj::kind_of_payload(&obj.payload).unwrap();
            let joined =
                gitobj::join(kind, &obj.payload, block.as_bytes(), gitobj::HashAlgo::Sha1).unwrap();
            assert_eq!(joined, std::fs::read(&name).unwrap(), "{name}");
        }
    }

    #[test]
    fn signed_attributes_are_a_der_set_in_gitsign_order() {
        let attrs = signed_attributes(&[7; 32], 1_700_000_000).unwrap();
        assert_eq!(attrs[0], tag::SET);
        let set = der::parse_single(&attrs, tag::SET).unwrap();
        let mut r = set.reader();
        let mut oids = Vec::new();
        while !r.is_empty() {
            let a = r.read(tag::SEQUENCE).unwrap();
            oids.push(a.reader().read(tag::OID).unwrap().value.to_vec());
        }
        assert_eq!(
            oids,
            [oid::CONTENT_TYPE, oid::SIGNING_TIME, oid::MESSAGE_DIGEST]
        );
        // 2023-11-14T22:13:20Z as UTCTime.
        let needle = der::encode(tag::UTC_TIME, b"231114221320Z");
        assert!(attrs.windows(needle.len()).any(|w| w == needle));
    }

    #[test]
    fn times_after_2049_are_generalized_time_and_before_1950_refused() {
        // 2050-01-01T00:00:00Z
        assert_eq!(
            encode_time(2_524_608_000).unwrap(),
            der::encode(tag::GENERALIZED_TIME, b"20500101000000Z")
        );
        assert_eq!(
            encode_time(-700_000_000),
            Err(BuildError::SigningTime { time: -700_000_000 })
        );
    }

    #[test]
    fn an_assembled_signature_parses_back_to_its_parts() {
        let attrs = signed_attributes(&[1; 32], 1_700_000_000).unwrap();
        let cert = der::encode(tag::SEQUENCE, &[0x05, 0x00]);
        let issuer = der::encode(tag::SEQUENCE, &[]);
        let sig = der::encode(tag::SEQUENCE, &[2, 1, 1, 2, 1, 1]);
        let der_out = assemble(&Signer {
            certificates: &[&cert],
            issuer: &issuer,
            serial: &[0x42],
            signed_attrs: &attrs,
            signature: &sig,
            unsigned_attrs: &[],
        });
        let sd = cms::parse(&der_out, cms::Profile::Gitsign).unwrap();
        assert_eq!(sd.certificates, vec![cert.as_slice()]);
        assert_eq!(sd.signer.signed_attrs, attrs);
        assert!(matches!(
            sd.signer.sid,
            cms::SignerId::IssuerSerial { serial: [0x42], .. }
        ));
        assert_eq!(sd.signer.signature, sig.as_slice());
        assert_eq!(sd.signer.message_digest, &[1; 32]);
        assert_eq!(sd.signer.signing_time, Some(1_700_000_000));
        assert!(sd.signer.unsigned_attrs.is_empty());
    }
}
