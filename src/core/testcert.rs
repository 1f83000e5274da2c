//! Test-only: a minimal X.509 builder for hand-made bad certificates, signed with fixed
//! P-256 keys so every run produces the same bytes.

use ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::EncodePublicKey;

use crate::core::asn1::der::{encode, tag};
use crate::core::time::{UnixTime, civil_from_unix};
use crate::core::x509::cert::oid;

pub const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
pub const OID_SERVER_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_slice(&[seed; 32]).expect("valid scalar")
}

pub fn spki(k: &SigningKey) -> Vec<u8> {
    k.verifying_key()
        .to_public_key_der()
        .expect("encodes")
        .as_bytes()
        .to_vec()
}

pub fn name(cn: &str) -> Vec<u8> {
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

pub fn ext(oid: &[u8], critical: bool, value: &[u8]) -> Vec<u8> {
    let mut body = encode(tag::OID, oid);
    if critical {
        body.extend(encode(tag::BOOLEAN, &[0xff]));
    }
    body.extend(encode(tag::OCTET_STRING, value));
    encode(tag::SEQUENCE, &body)
}

pub fn ca_exts(path_len: Option<u8>) -> Vec<Vec<u8>> {
    let mut bc = encode(tag::BOOLEAN, &[0xff]);
    if let Some(n) = path_len {
        bc.extend(encode(tag::INTEGER, &[n]));
    }
    vec![
        // keyCertSign | cRLSign
        ext(oid::KEY_USAGE, true, &[0x03, 0x02, 0x01, 0x06]),
        ext(oid::BASIC_CONSTRAINTS, true, &encode(tag::SEQUENCE, &bc)),
    ]
}

pub fn eku(purpose: &[u8]) -> Vec<u8> {
    ext(
        oid::EXT_KEY_USAGE,
        false,
        &encode(tag::SEQUENCE, &encode(tag::OID, purpose)),
    )
}

pub fn leaf_exts(email: &str) -> Vec<Vec<u8>> {
    vec![
        ext(oid::KEY_USAGE, true, &[0x03, 0x02, 0x07, 0x80]),
        eku(oid::CODE_SIGNING),
        ext(
            oid::SUBJECT_ALT_NAME,
            true,
            &encode(tag::SEQUENCE, &encode(0x81, email.as_bytes())),
        ),
        ext(
            oid::FULCIO_ISSUER_V2,
            false,
            &encode(tag::UTF8_STRING, b"https://issuer.example"),
        ),
    ]
}

fn utc_time(t: UnixTime) -> Vec<u8> {
    let (y, mo, d, h, mi, s) = civil_from_unix(t);
    let text = format!("{:02}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z", y % 100);
    encode(tag::UTC_TIME, text.as_bytes())
}

pub struct Spec {
    pub serial: u8,
    pub issuer: Vec<u8>,
    pub subject: Vec<u8>,
    pub not_before: UnixTime,
    pub not_after: UnixTime,
    pub spki: Vec<u8>,
    pub exts: Vec<Vec<u8>>,
}

const ECDSA_SHA256: &[u8] = &[
    0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
];

pub fn build(spec: &Spec, signer: &SigningKey) -> Vec<u8> {
    let mut tbs = encode(tag::context(0), &encode(tag::INTEGER, &[2]));
    tbs.extend(encode(tag::INTEGER, &[spec.serial]));
    tbs.extend_from_slice(ECDSA_SHA256);
    tbs.extend_from_slice(&spec.issuer);
    tbs.extend(encode(
        tag::SEQUENCE,
        &[utc_time(spec.not_before), utc_time(spec.not_after)].concat(),
    ));
    tbs.extend_from_slice(&spec.subject);
    tbs.extend_from_slice(&spec.spki);
    if !spec.exts.is_empty() {
        tbs.extend(encode(
            tag::context(3),
            &encode(tag::SEQUENCE, &spec.exts.concat()),
        ));
    }
    let tbs = encode(tag::SEQUENCE, &tbs);
    let sig: Signature = signer.sign(&tbs);
    let mut bits = vec![0];
    bits.extend_from_slice(sig.to_der().as_bytes());
    encode(
        tag::SEQUENCE,
        &[tbs, ECDSA_SHA256.to_vec(), encode(tag::BIT_STRING, &bits)].concat(),
    )
}

/// 2024-01-01T00:00:00Z
pub const T0: UnixTime = 1_704_067_200;
pub const YEAR: UnixTime = 365 * 86_400;

/// A self-signed root "Test Root" with key seed 1, valid T0-1y..T0+10y.
pub fn root(path_len: Option<u8>) -> Vec<u8> {
    let k = key(1);
    build(
        &Spec {
            serial: 1,
            issuer: name("Test Root"),
            subject: name("Test Root"),
            not_before: T0 - YEAR,
            not_after: T0 + 10 * YEAR,
            spki: spki(&k),
            exts: ca_exts(path_len),
        },
        &k,
    )
}

/// An intermediate "Test Intermediate" (key seed 2) under `root` (key seed 1).
pub fn intermediate() -> Vec<u8> {
    build(
        &Spec {
            serial: 2,
            issuer: name("Test Root"),
            subject: name("Test Intermediate"),
            not_before: T0 - YEAR,
            not_after: T0 + 5 * YEAR,
            spki: spki(&key(2)),
            exts: ca_exts(Some(0)),
        },
        &key(1),
    )
}

/// A leaf (key seed 3) issued by `issuer_cn` with key `issuer_seed`, valid T0..T0+10min.
pub fn leaf(issuer_cn: &str, issuer_seed: u8, exts: Vec<Vec<u8>>) -> Vec<u8> {
    build(
        &Spec {
            serial: 3,
            issuer: name(issuer_cn),
            subject: name(""),
            not_before: T0,
            not_after: T0 + 600,
            spki: spki(&key(3)),
            exts,
        },
        &key(issuer_seed),
    )
}
