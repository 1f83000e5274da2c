//! The certificate authority: a P-384 root and intermediate (like Fulcio's), leaves like the
//! public instance issues, and the RFC 6962 dance for the embedded SCT: a precertificate with
//! the poison extension, an SCT from the stack's CT log key over the precertificate's TBS
//! without the poison, then the final certificate carrying the SCT list.
//!
//! Certificates are built as DER by hand from the same primitives the verifier parses with;
//! `gitsign::core::x509::cert::Certificate::from_der` (which also runs x509-cert's decoder) and the
//! tests check the result.

use std::fs;
use std::path::Path;

use gitsign::core::asn1::der::{encode, tag};
use gitsign::core::asn1::pem;
use gitsign::core::time::civil_from_unix;
use gitsign::core::x509::cert::{Certificate, oid};
use gitsign::core::x509::keys::sha256;

use crate::StackError;
use crate::keys::{Curve, SigningKey, random_bytes};

/// 2.5.4.10
const OID_O: &[u8] = &[0x55, 0x04, 0x0a];
/// 2.5.4.3
const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
/// 1.3.6.1.4.1.11129.2.4.3 (RFC 6962 precertificate poison)
const OID_POISON: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x03];
/// ecdsa-with-SHA384 AlgorithmIdentifier (no parameters).
fn ecdsa_sha384() -> Vec<u8> {
    encode(
        tag::SEQUENCE,
        &encode(tag::OID, gitsign::core::asn1::der::oid::ECDSA_WITH_SHA384),
    )
}

pub const ORGANIZATION: &str = "sigstore-stack.test";
const ROOT_CN: &str = "sigstore";
const INTERMEDIATE_CN: &str = "sigstore-intermediate";
pub(crate) const CA_LIFETIME: i64 = 10 * 365 * 86_400;
/// Fulcio's leaves live ten minutes.
pub const LEAF_LIFETIME: i64 = 600;

/// The identity a leaf names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum San {
    Email(String),
    Uri(String),
}

pub struct Ca {
    pub root_der: Vec<u8>,
    pub intermediate_der: Vec<u8>,
    intermediate_key: SigningKey,
    intermediate_subject: Vec<u8>,
    intermediate_ski: Vec<u8>,
    /// notBefore of the root: the start of the CA's validity in the trusted root.
    pub not_before: i64,
}

/// A freshly issued leaf and the precertificate it was logged as.
pub struct Issued {
    pub precert_der: Vec<u8>,
    pub leaf_der: Vec<u8>,
}

pub(crate) fn name(cn: &str) -> Vec<u8> {
    let rdn = |oid: &[u8], value: &str| {
        encode(
            tag::SET,
            &encode(
                tag::SEQUENCE,
                &[
                    encode(tag::OID, oid),
                    encode(tag::PRINTABLE_STRING, value.as_bytes()),
                ]
                .concat(),
            ),
        )
    };
    encode(
        tag::SEQUENCE,
        &[rdn(OID_O, ORGANIZATION), rdn(OID_CN, cn)].concat(),
    )
}

pub(crate) fn ext(oid: &[u8], critical: bool, value: &[u8]) -> Vec<u8> {
    let mut body = encode(tag::OID, oid);
    if critical {
        body.extend(encode(tag::BOOLEAN, &[0xff]));
    }
    body.extend(encode(tag::OCTET_STRING, value));
    encode(tag::SEQUENCE, &body)
}

fn time(t: i64) -> Vec<u8> {
    let (y, mo, d, h, mi, s) = civil_from_unix(t);
    if (1950..2050).contains(&y) {
        let text = format!("{:02}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z", y % 100);
        encode(tag::UTC_TIME, text.as_bytes())
    } else {
        let text = format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z");
        encode(tag::GENERALIZED_TIME, text.as_bytes())
    }
}

/// A positive 20-byte serial, minimally encoded.
pub(crate) fn serial() -> Vec<u8> {
    let mut s = random_bytes(20);
    s[0] = (s[0] & 0x7f).max(1);
    encode(tag::INTEGER, &s)
}

/// RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits.
pub(crate) fn key_id(key: &SigningKey) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, key.public_point())
        .as_ref()
        .to_vec()
}

/// [`key_id`] of a DER SubjectPublicKeyInfo.
fn spki_key_id(spki: &[u8]) -> Result<Vec<u8>, StackError> {
    let bits = (|| {
        let seq = gitsign::core::asn1::der::parse_single(spki, tag::SEQUENCE)?;
        let mut r = seq.reader();
        r.read(tag::SEQUENCE)?;
        r.read(tag::BIT_STRING)?.bit_string_bytes()
    })()
    .map_err(|_| StackError::Crypto("malformed SubjectPublicKeyInfo"))?;
    Ok(
        ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, bits)
            .as_ref()
            .to_vec(),
    )
}

pub(crate) struct Tbs<'a> {
    pub serial: &'a [u8],
    pub issuer: &'a [u8],
    pub not_before: i64,
    pub not_after: i64,
    pub subject: &'a [u8],
    pub spki: &'a [u8],
    pub exts: &'a [Vec<u8>],
}

impl Tbs<'_> {
    pub fn encode(&self) -> Vec<u8> {
        let mut tbs = encode(tag::context(0), &encode(tag::INTEGER, &[2]));
        tbs.extend_from_slice(self.serial);
        tbs.extend(ecdsa_sha384());
        tbs.extend_from_slice(self.issuer);
        tbs.extend(encode(
            tag::SEQUENCE,
            &[time(self.not_before), time(self.not_after)].concat(),
        ));
        tbs.extend_from_slice(self.subject);
        tbs.extend_from_slice(self.spki);
        if !self.exts.is_empty() {
            tbs.extend(encode(
                tag::context(3),
                &encode(tag::SEQUENCE, &self.exts.concat()),
            ));
        }
        encode(tag::SEQUENCE, &tbs)
    }
}

pub(crate) fn sign_tbs(tbs: &[u8], key: &SigningKey) -> Result<Vec<u8>, StackError> {
    let sig = key.sign_der(tbs)?;
    let mut bits = vec![0u8];
    bits.extend(sig);
    Ok(encode(
        tag::SEQUENCE,
        &[tbs.to_vec(), ecdsa_sha384(), encode(tag::BIT_STRING, &bits)].concat(),
    ))
}

fn ca_exts(key: &SigningKey, issuer_ski: &[u8], path_len: u8, code_signing: bool) -> Vec<Vec<u8>> {
    let bc = [
        encode(tag::BOOLEAN, &[0xff]),
        encode(tag::INTEGER, &[path_len]),
    ]
    .concat();
    let mut exts = vec![
        // keyCertSign | cRLSign
        ext(oid::KEY_USAGE, true, &[0x03, 0x02, 0x01, 0x06]),
    ];
    if code_signing {
        exts.push(ext(
            oid::EXT_KEY_USAGE,
            false,
            &encode(tag::SEQUENCE, &encode(tag::OID, oid::CODE_SIGNING)),
        ));
    }
    exts.push(ext(
        oid::BASIC_CONSTRAINTS,
        true,
        &encode(tag::SEQUENCE, &bc),
    ));
    exts.push(ext(
        oid::SUBJECT_KEY_ID,
        false,
        &encode(tag::OCTET_STRING, &key_id(key)),
    ));
    exts.push(ext(
        oid::AUTHORITY_KEY_ID,
        false,
        &encode(tag::SEQUENCE, &encode(0x80, issuer_ski)),
    ));
    exts
}

/// Builds a root and an intermediate for these keys, valid from `not_before` for ten years.
fn build_chain(
    root_key: &SigningKey,
    intermediate_key: &SigningKey,
    not_before: i64,
) -> Result<(Vec<u8>, Vec<u8>), StackError> {
    let root_name = name(ROOT_CN);
    let root_ski = key_id(root_key);
    let root = sign_tbs(
        &Tbs {
            serial: &serial(),
            issuer: &root_name,
            not_before,
            not_after: not_before + CA_LIFETIME,
            subject: &root_name,
            spki: root_key.spki_der(),
            exts: &ca_exts(root_key, &root_ski, 1, false),
        }
        .encode(),
        root_key,
    )?;
    let intermediate = sign_tbs(
        &Tbs {
            serial: &serial(),
            issuer: &root_name,
            not_before,
            not_after: not_before + CA_LIFETIME,
            subject: &name(INTERMEDIATE_CN),
            spki: intermediate_key.spki_der(),
            exts: &ca_exts(intermediate_key, &root_ski, 0, true),
        }
        .encode(),
        root_key,
    )?;
    Ok((root, intermediate))
}

impl Ca {
    fn from_parts(
        root_der: Vec<u8>,
        intermediate_der: Vec<u8>,
        intermediate_key: SigningKey,
    ) -> Result<Ca, StackError> {
        let bad = |what| StackError::Crypto(what);
        let root = Certificate::from_der(&root_der).map_err(|_| bad("unreadable root"))?;
        let inter =
            Certificate::from_der(&intermediate_der).map_err(|_| bad("unreadable intermediate"))?;
        if inter.spki_der() != intermediate_key.spki_der() {
            return Err(bad(
                "the intermediate certificate is not for the intermediate key",
            ));
        }
        Ok(Ca {
            not_before: root.not_before(),
            intermediate_subject: inter.subject_raw().to_vec(),
            intermediate_ski: key_id(&intermediate_key),
            root_der,
            intermediate_der,
            intermediate_key,
        })
    }

    /// The persistent CA in `dir` (keys and certificates made on first start, then reloaded).
    pub fn load_or_create(dir: &Path, now: i64) -> Result<Ca, StackError> {
        let root_key = SigningKey::load_or_generate(&dir.join("root.p8"), Curve::P384)?;
        let inter_key = SigningKey::load_or_generate(&dir.join("intermediate.p8"), Curve::P384)?;
        let chain_path = dir.join("chain.pem");
        let io = |source| StackError::Io {
            path: chain_path.clone(),
            source,
        };
        let (root, inter) = match fs::read(&chain_path) {
            Ok(text) => {
                let certs =
                    pem::decode_all(&text, "CERTIFICATE").map_err(|_| StackError::State {
                        path: chain_path.clone(),
                        what: "not a PEM certificate chain",
                    })?;
                let [inter, root]: [Vec<u8>; 2] =
                    certs.try_into().map_err(|_| StackError::State {
                        path: chain_path.clone(),
                        what: "expected an intermediate and a root",
                    })?;
                if Certificate::from_der(&root).map(|c| c.spki_der() == root_key.spki_der())
                    != Ok(true)
                {
                    return Err(StackError::State {
                        path: chain_path.clone(),
                        what: "the root certificate is not for the root key",
                    });
                }
                (root, inter)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Back-dated a day so clocks that disagree a little still accept the chain.
                let (root, inter) = build_chain(&root_key, &inter_key, now - 86_400)?;
                let text = [
                    pem::encode("CERTIFICATE", &inter),
                    pem::encode("CERTIFICATE", &root),
                ]
                .concat();
                fs::write(&chain_path, text).map_err(io)?;
                (root, inter)
            }
            Err(e) => return Err(io(e)),
        };
        Ca::from_parts(root, inter, inter_key)
    }

    /// A CA with the same names but fresh keys, never written anywhere: the "wrong chain" fault.
    pub fn rogue(now: i64) -> Result<Ca, StackError> {
        let root_key = SigningKey::ephemeral(Curve::P384)?;
        let inter_key = SigningKey::ephemeral(Curve::P384)?;
        let (root, inter) = build_chain(&root_key, &inter_key, now - 86_400)?;
        Ca::from_parts(root, inter, inter_key)
    }

    /// The CA chain as PEM, intermediate first.
    pub fn chain_pem(&self) -> Vec<String> {
        vec![
            pem::encode("CERTIFICATE", &self.intermediate_der),
            pem::encode("CERTIFICATE", &self.root_der),
        ]
    }

    /// Issues a leaf for `spki` naming `san`, with an SCT from `ctlog` embedded.
    pub fn issue(
        &self,
        spki: &[u8],
        san: &San,
        oidc_issuer: &str,
        ctlog: &SigningKey,
        now: i64,
        lifetime: i64,
    ) -> Result<Issued, StackError> {
        let (precert, leaf_der) =
            self.build_leaf(spki, san, oidc_issuer, ctlog, now, lifetime, true)?;
        Ok(Issued {
            precert_der: precert.unwrap_or_default(),
            leaf_der,
        })
    }

    /// The leaf [`Ca::issue`] makes, without signing the precertificate it would log (the
    /// generator's certificates: the SCT covers the precertificate's TBS, not its signature).
    pub fn issue_leaf(
        &self,
        spki: &[u8],
        san: &San,
        oidc_issuer: &str,
        ctlog: &SigningKey,
        now: i64,
        lifetime: i64,
    ) -> Result<Vec<u8>, StackError> {
        self.build_leaf(spki, san, oidc_issuer, ctlog, now, lifetime, false)
            .map(|(_, leaf)| leaf)
    }

    /// The precertificate (if asked for) and the leaf.
    #[allow(clippy::too_many_arguments)]
    fn build_leaf(
        &self,
        spki: &[u8],
        san: &San,
        oidc_issuer: &str,
        ctlog: &SigningKey,
        now: i64,
        lifetime: i64,
        precert: bool,
    ) -> Result<(Option<Vec<u8>>, Vec<u8>), StackError> {
        let san_value = match san {
            San::Email(e) => encode(0x81, e.as_bytes()),
            San::Uri(u) => encode(0x86, u.as_bytes()),
        };
        // Fulcio's order: KU, EKU, SKI, AKI, SAN, issuer (.1.1, .1.8), then poison / SCT list.
        let mut exts = vec![
            ext(oid::KEY_USAGE, true, &[0x03, 0x02, 0x07, 0x80]),
            ext(
                oid::EXT_KEY_USAGE,
                false,
                &encode(tag::SEQUENCE, &encode(tag::OID, oid::CODE_SIGNING)),
            ),
            ext(
                oid::SUBJECT_KEY_ID,
                false,
                &encode(tag::OCTET_STRING, &spki_key_id(spki)?),
            ),
            ext(
                oid::AUTHORITY_KEY_ID,
                false,
                &encode(tag::SEQUENCE, &encode(0x80, &self.intermediate_ski)),
            ),
            ext(
                oid::SUBJECT_ALT_NAME,
                true,
                &encode(tag::SEQUENCE, &san_value),
            ),
            ext(oid::FULCIO_ISSUER_V1, false, oidc_issuer.as_bytes()),
            ext(
                oid::FULCIO_ISSUER_V2,
                false,
                &encode(tag::UTF8_STRING, oidc_issuer.as_bytes()),
            ),
        ];
        let serial = serial();
        let subject = encode(tag::SEQUENCE, &[]);
        let tbs = |exts: &[Vec<u8>]| {
            Tbs {
                serial: &serial,
                issuer: &self.intermediate_subject,
                not_before: now,
                not_after: now + lifetime,
                subject: &subject,
                spki,
                exts,
            }
            .encode()
        };

        let precert_der = if precert {
            let mut with_poison = exts.clone();
            with_poison.push(ext(OID_POISON, true, &encode(tag::NULL, &[])));
            Some(sign_tbs(&tbs(&with_poison), &self.intermediate_key)?)
        } else {
            None
        };

        // RFC 6962 §3.2: the log signs the precertificate's TBS with the poison removed.
        let timestamp_ms = u64::try_from(now).unwrap_or(0) * 1000;
        let sct = sign_sct(
            ctlog,
            self.intermediate_key.spki_der(),
            &tbs(&exts),
            timestamp_ms,
        )?;
        let mut list = Vec::new();
        push_u16_vec(&mut list, &sct)?;
        let mut tls = Vec::new();
        push_u16_vec(&mut tls, &list)?;
        exts.push(ext(oid::SCT_LIST, false, &encode(tag::OCTET_STRING, &tls)));
        let leaf_der = sign_tbs(&tbs(&exts), &self.intermediate_key)?;
        Ok((precert_der, leaf_der))
    }
}

fn push_u16_vec(out: &mut Vec<u8>, data: &[u8]) -> Result<(), StackError> {
    let len = u16::try_from(data.len()).map_err(|_| StackError::Crypto("SCT too long"))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(data);
    Ok(())
}

/// A v1 `SignedCertificateTimestamp` over a precertificate entry (RFC 6962 §3.2), serialized.
fn sign_sct(
    ctlog: &SigningKey,
    issuer_spki: &[u8],
    precert_tbs: &[u8],
    timestamp_ms: u64,
) -> Result<Vec<u8>, StackError> {
    let tbs_len = u32::try_from(precert_tbs.len())
        .ok()
        .filter(|&l| l < 1 << 24)
        .ok_or(StackError::Crypto("precertificate too long"))?;
    let mut signed = vec![0u8, 0u8]; // v1, certificate_timestamp
    signed.extend_from_slice(&timestamp_ms.to_be_bytes());
    signed.extend_from_slice(&1u16.to_be_bytes()); // precert_entry
    signed.extend_from_slice(&sha256(issuer_spki));
    signed.extend_from_slice(&tbs_len.to_be_bytes()[1..]);
    signed.extend_from_slice(precert_tbs);
    signed.extend_from_slice(&0u16.to_be_bytes()); // no extensions
    let signature = ctlog.sign_der(&signed)?;

    let mut sct = vec![0u8]; // v1
    sct.extend_from_slice(&sha256(ctlog.spki_der()));
    sct.extend_from_slice(&timestamp_ms.to_be_bytes());
    sct.extend_from_slice(&0u16.to_be_bytes()); // no extensions
    sct.extend_from_slice(&[4, 3]); // sha256, ecdsa
    push_u16_vec(&mut sct, &signature)?;
    Ok(sct)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gitsign::core::sigstore::trust::{CertificateAuthority, TransparencyLog, Validity};
    use gitsign::core::x509::cert::verify_chain;
    use gitsign::core::x509::keys::PublicKey;
    use gitsign::core::x509::sct::verify_embedded_sct;

    #[test]
    fn issued_leaves_chain_to_the_root_and_carry_a_verifiable_sct() {
        let now = 1_790_000_000;
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::load_or_create(dir.path(), now).unwrap();
        let again = Ca::load_or_create(dir.path(), now + 99).unwrap();
        assert_eq!(ca.root_der, again.root_der);

        let ctlog = SigningKey::ephemeral(Curve::P256).unwrap();
        let leaf_key = SigningKey::ephemeral(Curve::P256).unwrap();
        let san = San::Email("dev@example.test".into());
        let issued = ca
            .issue(
                leaf_key.spki_der(),
                &san,
                "http://127.0.0.1:1",
                &ctlog,
                now,
                LEAF_LIFETIME,
            )
            .unwrap();
        let leaf = Certificate::from_der(&issued.leaf_der).unwrap();
        let pre = Certificate::from_der(&issued.precert_der).unwrap();
        assert!(pre.extension(OID_POISON).is_some());
        assert!(leaf.extension(OID_POISON).is_none());
        assert_eq!(
            leaf.extension(oid::SUBJECT_KEY_ID).unwrap(),
            encode(tag::OCTET_STRING, &key_id(&leaf_key))
        );
        assert_eq!(leaf.not_after() - leaf.not_before(), LEAF_LIFETIME);
        let id = leaf.identity().unwrap();
        assert_eq!(id.san.to_string(), "dev@example.test");
        assert_eq!(id.issuer.as_deref(), Some("http://127.0.0.1:1"));

        let cas = [CertificateAuthority {
            uri: String::new(),
            certs: vec![
                Certificate::from_der(&ca.intermediate_der).unwrap(),
                Certificate::from_der(&ca.root_der).unwrap(),
            ],
            valid_for: Validity::ALWAYS,
        }];
        gitsign::core::x509::cert::verify_anchor_signatures(&cas[0]).unwrap();
        let chain = verify_chain(&leaf, &cas, now + 1).unwrap();
        let log = TransparencyLog {
            base_url: String::new(),
            log_id: sha256(ctlog.spki_der()).to_vec(),
            key_der: ctlog.spki_der().to_vec(),
            key: Some(PublicKey::from_spki_der(ctlog.spki_der()).unwrap()),
            key_details: String::new(),
            valid_for: Validity::ALWAYS,
        };
        verify_embedded_sct(&leaf, &chain.issuer, std::slice::from_ref(&log)).unwrap();

        let rogue = Ca::rogue(now).unwrap();
        let other = rogue
            .issue(
                leaf_key.spki_der(),
                &san,
                "http://127.0.0.1:1",
                &ctlog,
                now,
                LEAF_LIFETIME,
            )
            .unwrap();
        let other = Certificate::from_der(&other.leaf_der).unwrap();
        assert!(verify_chain(&other, &cas, now + 1).is_err());
    }
}
