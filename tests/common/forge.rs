//! Hand-made signatures for binary-level tests of what a verifier must refuse: a P-256 key
//! of our choosing, a certificate claiming any email (self-signed, or issued by a test CA
//! handed to gitsign with `GITSIGN_FULCIO_ROOT`), and a gitsign-layout CMS signature over a
//! commit payload with any signingTime. Deterministic: fixed keys, fixed times.
#![allow(dead_code)]

use ecdsa::signature::Signer as _;
use gitsign::core::asn1::der::{encode, tag};
use gitsign::core::cms::{self, builder::Signer};
use gitsign::core::{asn1::pem, x509::keys};
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::EncodePublicKey;

const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
const OID_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x0f];
const OID_SAN: &[u8] = &[0x55, 0x1d, 0x11];
const OID_BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];
const OID_EKU: &[u8] = &[0x55, 0x1d, 0x25];
const OID_CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];
const OID_FULCIO_ISSUER_V2: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xbf, 0x30, 0x01, 0x08];
const ECDSA_SHA256: &[u8] = &[
    0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
];

/// 2024-01-01T00:00:00Z: the certificates' notBefore.
pub const T0: i64 = 1_704_067_200;

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_slice(&[seed; 32]).unwrap()
}

fn name(cn: &str) -> Vec<u8> {
    if cn.is_empty() {
        return encode(tag::SEQUENCE, &[]);
    }
    let atv = [
        encode(tag::OID, OID_CN),
        encode(tag::UTF8_STRING, cn.as_bytes()),
    ]
    .concat();
    encode(
        tag::SEQUENCE,
        &encode(tag::SET, &encode(tag::SEQUENCE, &atv)),
    )
}

fn ext(oid: &[u8], critical: bool, value: &[u8]) -> Vec<u8> {
    let mut body = encode(tag::OID, oid);
    if critical {
        body.extend(encode(tag::BOOLEAN, &[0xff]));
    }
    body.extend(encode(tag::OCTET_STRING, value));
    encode(tag::SEQUENCE, &body)
}

fn time(t: i64) -> Vec<u8> {
    cms::builder::encode_time(t).unwrap()
}

struct Spec<'a> {
    serial: u8,
    issuer: Vec<u8>,
    subject: &'a str,
    not_before: i64,
    not_after: i64,
    key: &'a SigningKey,
    exts: Vec<Vec<u8>>,
}

fn build(spec: &Spec<'_>, signer: &SigningKey) -> Vec<u8> {
    let spki = spec
        .key
        .verifying_key()
        .to_public_key_der()
        .unwrap()
        .as_bytes()
        .to_vec();
    let mut tbs = encode(tag::context(0), &encode(tag::INTEGER, &[2]));
    tbs.extend(encode(tag::INTEGER, &[spec.serial]));
    tbs.extend_from_slice(ECDSA_SHA256);
    tbs.extend_from_slice(&spec.issuer);
    tbs.extend(encode(
        tag::SEQUENCE,
        &[time(spec.not_before), time(spec.not_after)].concat(),
    ));
    tbs.extend(name(spec.subject));
    tbs.extend(spki);
    tbs.extend(encode(
        tag::context(3),
        &encode(tag::SEQUENCE, &spec.exts.concat()),
    ));
    let tbs = encode(tag::SEQUENCE, &tbs);
    let sig: Signature = signer.sign(&tbs);
    let mut bits = vec![0];
    bits.extend_from_slice(sig.to_der().as_bytes());
    encode(
        tag::SEQUENCE,
        &[tbs, ECDSA_SHA256.to_vec(), encode(tag::BIT_STRING, &bits)].concat(),
    )
}

fn leaf_exts(email: &str) -> Vec<Vec<u8>> {
    vec![
        ext(OID_KEY_USAGE, true, &[0x03, 0x02, 0x07, 0x80]),
        ext(
            OID_EKU,
            false,
            &encode(tag::SEQUENCE, &encode(tag::OID, OID_CODE_SIGNING)),
        ),
        ext(
            OID_SAN,
            true,
            &encode(tag::SEQUENCE, &encode(0x81, email.as_bytes())),
        ),
        ext(
            OID_FULCIO_ISSUER_V2,
            false,
            &encode(tag::UTF8_STRING, b"https://accounts.google.com"),
        ),
    ]
}

/// A signer: its certificate (DER), its key, and the CA root to trust it by (PEM), if any.
pub struct Forger {
    pub leaf: Vec<u8>,
    pub key: SigningKey,
    pub issuer_name: Vec<u8>,
    pub serial: u8,
    pub root_pem: Option<String>,
}

impl Forger {
    /// A self-signed code-signing certificate for `email`: what anyone can make.
    pub fn self_signed(email: &str) -> Forger {
        Forger::signed_by_itself_as(email, name("sigstore-intermediate"))
    }

    /// A certificate for `email` naming `issuer` (a Name's DER, e.g. the real Fulcio
    /// intermediate's) as its issuer, but signed by its own key.
    pub fn signed_by_itself_as(email: &str, issuer: Vec<u8>) -> Forger {
        let k = key(7);
        let leaf = build(
            &Spec {
                serial: 7,
                issuer: issuer.clone(),
                subject: "sigstore-intermediate",
                not_before: T0,
                not_after: T0 + 600,
                key: &k,
                exts: leaf_exts(email),
            },
            &k,
        );
        Forger {
            leaf,
            key: k,
            issuer_name: issuer,
            serial: 7,
            root_pem: None,
        }
    }

    /// A Fulcio-like leaf for `email` (no SCT) under a test root to pass as
    /// `GITSIGN_FULCIO_ROOT`: a certificate a trusted CA issued.
    pub fn under_test_ca(email: &str) -> Forger {
        let ca_key = key(1);
        let mut bc = encode(tag::BOOLEAN, &[0xff]);
        bc.extend(encode(tag::INTEGER, &[1]));
        let root = build(
            &Spec {
                serial: 1,
                issuer: name("Test Fulcio Root"),
                subject: "Test Fulcio Root",
                not_before: T0 - 86_400,
                not_after: T0 + 3650 * 86_400,
                key: &ca_key,
                exts: vec![
                    ext(OID_KEY_USAGE, true, &[0x03, 0x02, 0x01, 0x06]),
                    ext(OID_BASIC_CONSTRAINTS, true, &encode(tag::SEQUENCE, &bc)),
                ],
            },
            &ca_key,
        );
        let k = key(3);
        let leaf = build(
            &Spec {
                serial: 3,
                issuer: name("Test Fulcio Root"),
                subject: "",
                not_before: T0,
                not_after: T0 + 600,
                key: &k,
                exts: leaf_exts(email),
            },
            &ca_key,
        );
        Forger {
            leaf,
            key: k,
            issuer_name: name("Test Fulcio Root"),
            serial: 3,
            root_pem: Some(pem::encode("CERTIFICATE", &root)),
        }
    }

    /// The armored detached signature over `payload` with this signingTime.
    pub fn sign(&self, payload: &[u8], signing_time: i64) -> String {
        let attrs = cms::builder::signed_attributes(&keys::sha256(payload), signing_time).unwrap();
        let sig: Signature = self.key.sign(&attrs);
        let der = cms::builder::assemble(&Signer {
            certificates: &[&self.leaf],
            issuer: &self.issuer_name,
            serial: &[self.serial],
            signed_attrs: &attrs,
            signature: sig.to_der().as_bytes(),
            unsigned_attrs: &[],
        });
        pem::encode("SIGNED MESSAGE", &der)
    }

    /// A raw commit object (empty tree) signed by this signer, with `message`.
    pub fn commit(&self, message: &str, signing_time: i64) -> Vec<u8> {
        let payload = commit_payload(message);
        let sig = self.sign(&payload, signing_time);
        with_gpgsig(&payload, &sig)
    }
}

/// An unsigned commit of the empty tree.
pub fn commit_payload(message: &str) -> Vec<u8> {
    format!(
        "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\
         author Victim <victim@example.com> 1704067200 +0000\n\
         committer Victim <victim@example.com> 1704067200 +0000\n\n{message}\n"
    )
    .into_bytes()
}

/// The commit as git stores it: the signature in a `gpgsig` header after the committer.
pub fn with_gpgsig(payload: &[u8], signature: &str) -> Vec<u8> {
    let text = std::str::from_utf8(payload).unwrap();
    let (headers, body) = text.split_once("\n\n").unwrap();
    let sig = signature.trim_end().replace('\n', "\n ");
    format!("{headers}\ngpgsig {sig}\n\n{body}").into_bytes()
}
