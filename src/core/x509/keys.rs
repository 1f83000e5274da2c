//! Public keys and signature checks: ECDSA P-256/P-384 (DER signatures over a digest of the
//! message) and Ed25519 (over the message itself).

use std::fmt;

use ecdsa::signature::hazmat::PrehashVerifier;
use sha2::Digest;

use crate::core::asn1::der::{self as tlv, Tlv, tag};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    /// The algorithm's OID, as DER content bytes.
    pub fn oid(self) -> &'static [u8] {
        use crate::core::asn1::der::oid;
        match self {
            HashAlg::Sha256 => oid::SHA256,
            HashAlg::Sha384 => oid::SHA384,
            HashAlg::Sha512 => oid::SHA512,
        }
    }

    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            HashAlg::Sha256 => sha2::Sha256::digest(data).to_vec(),
            HashAlg::Sha384 => sha2::Sha384::digest(data).to_vec(),
            HashAlg::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(data).into()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// The SubjectPublicKeyInfo is not a key type we support, or is malformed.
    UnsupportedKey,
    /// The signature bytes are not a well-formed signature for this key type.
    MalformedSignature,
    /// Well-formed, but does not verify.
    BadSignature,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyError::UnsupportedKey => "unsupported or malformed public key",
            KeyError::MalformedSignature => "malformed signature",
            KeyError::BadSignature => "signature does not verify",
        })
    }
}

impl std::error::Error for KeyError {}

/// An ECDSA public key: the uncompressed SEC1 point, validated on parse. Signatures are
/// checked with aws-lc-rs (AWS-LC's assembly: chosen by measurement, P-384 about 3.4 times
/// ring's speed and P-256 on par, see DEPENDENCIES.md; P-384 is the Fulcio intermediate's
/// curve, checked once per certificate); SHA-512 digests, which it does not pair with these
/// curves, fall back to the RustCrypto implementation.
#[derive(Clone, PartialEq, Eq)]
pub struct EcKey {
    sec1: Vec<u8>,
}

#[derive(Clone)]
pub enum PublicKey {
    P256(EcKey),
    P384(EcKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PublicKey::P256(_) => "PublicKey(P-256)",
            PublicKey::P384(_) => "PublicKey(P-384)",
            PublicKey::Ed25519(_) => "PublicKey(Ed25519)",
        })
    }
}

impl PublicKey {
    /// Parses a DER SubjectPublicKeyInfo (on the strict reader; the curve crates only
    /// validate the point).
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        let (alg, params, key) = spki_parts(der).ok_or(KeyError::UnsupportedKey)?;
        let params = params.map(|p| (p.tag, p.value));
        match (alg, params) {
            (EC_PUBLIC_KEY, Some((tag::OID, P256))) => {
                let k = p256::ecdsa::VerifyingKey::from_sec1_bytes(key)
                    .map_err(|_| KeyError::UnsupportedKey)?;
                let sec1 = k.to_sec1_point(false).as_bytes().to_vec();
                Ok(PublicKey::P256(EcKey { sec1 }))
            }
            (EC_PUBLIC_KEY, Some((tag::OID, P384))) => {
                let k = p384::ecdsa::VerifyingKey::from_sec1_bytes(key)
                    .map_err(|_| KeyError::UnsupportedKey)?;
                let sec1 = k.to_sec1_point(false).as_bytes().to_vec();
                Ok(PublicKey::P384(EcKey { sec1 }))
            }
            (ED25519, None) => {
                let bytes: &[u8; 32] = key.try_into().map_err(|_| KeyError::UnsupportedKey)?;
                ed25519_dalek::VerifyingKey::from_bytes(bytes)
                    .map(PublicKey::Ed25519)
                    .map_err(|_| KeyError::UnsupportedKey)
            }
            _ => Err(KeyError::UnsupportedKey),
        }
    }

    /// The hash an ECDSA key signs with by default (Sigstore's conventions).
    pub fn default_hash(&self) -> HashAlg {
        match self {
            PublicKey::P384(_) => HashAlg::Sha384,
            _ => HashAlg::Sha256,
        }
    }

    /// Verifies `signature` over `message`. ECDSA signatures are DER and cover `hash(message)`;
    /// Ed25519 signs the message itself and ignores `hash`.
    pub fn verify(&self, hash: HashAlg, message: &[u8], signature: &[u8]) -> Result<(), KeyError> {
        use aws_lc_rs::signature as rs;
        let (alg, key): (&'static rs::EcdsaVerificationAlgorithm, &EcKey) = match (self, hash) {
            (PublicKey::Ed25519(k), _) => {
                let sig = ed25519_dalek::Signature::from_slice(signature)
                    .map_err(|_| KeyError::MalformedSignature)?;
                return k
                    .verify_strict(message, &sig)
                    .map_err(|_| KeyError::BadSignature);
            }
            (PublicKey::P256(k), HashAlg::Sha256) => (&rs::ECDSA_P256_SHA256_ASN1, k),
            (PublicKey::P256(k), HashAlg::Sha384) => (&rs::ECDSA_P256_SHA384_ASN1, k),
            (PublicKey::P384(k), HashAlg::Sha256) => (&rs::ECDSA_P384_SHA256_ASN1, k),
            (PublicKey::P384(k), HashAlg::Sha384) => (&rs::ECDSA_P384_SHA384_ASN1, k),
            _ => return self.verify_prehash(&hash.digest(message), signature),
        };
        rs::UnparsedPublicKey::new(alg, &key.sec1)
            .verify(message, signature)
            .map_err(|_| KeyError::BadSignature)
    }

    /// Verifies a DER ECDSA signature over an already computed digest.
    pub fn verify_prehash(&self, digest: &[u8], signature: &[u8]) -> Result<(), KeyError> {
        match self {
            PublicKey::P256(k) => {
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&k.sec1)
                    .map_err(|_| KeyError::UnsupportedKey)?;
                let sig = p256::ecdsa::Signature::from_der(signature)
                    .map_err(|_| KeyError::MalformedSignature)?;
                key.verify_prehash(digest, &sig)
                    .map_err(|_| KeyError::BadSignature)
            }
            PublicKey::P384(k) => {
                let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(&k.sec1)
                    .map_err(|_| KeyError::UnsupportedKey)?;
                let sig = p384::ecdsa::Signature::from_der(signature)
                    .map_err(|_| KeyError::MalformedSignature)?;
                key.verify_prehash(digest, &sig)
                    .map_err(|_| KeyError::BadSignature)
            }
            PublicKey::Ed25519(_) => Err(KeyError::UnsupportedKey),
        }
    }
}

const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// A SubjectPublicKeyInfo's algorithm OID, its parameters (if any) and the key bytes of
/// its BIT STRING; `None` unless it is exactly that, in DER.
fn spki_parts(der: &[u8]) -> Option<(&[u8], Option<Tlv<'_>>, &[u8])> {
    let spki = tlv::parse_single(der, tag::SEQUENCE).ok()?;
    let mut r = spki.reader();
    let alg = r.read(tag::SEQUENCE).ok()?;
    let key = r.read(tag::BIT_STRING).ok()?.bit_string_bytes().ok()?;
    r.finish().ok()?;
    let mut a = alg.reader();
    let oid = a.read(tag::OID).ok()?;
    let params = if a.is_empty() {
        None
    } else {
        Some(a.any().ok()?)
    };
    a.finish().ok()?;
    Some((oid.value, params, key))
}

/// Verifies an RSA PKCS#1 v1.5 signature (2048–8192-bit keys) by the key in a DER
/// SubjectPublicKeyInfo. Only certificate signatures use RSA (private Fulcio CAs); Sigstore
/// signing keys stay ECDSA or Ed25519, so RSA is not a [`PublicKey`].
pub fn verify_rsa_pkcs1(
    spki_der: &[u8],
    hash: HashAlg,
    message: &[u8],
    signature: &[u8],
) -> Result<(), KeyError> {
    use aws_lc_rs::signature as rs;
    let pkcs1 = match spki_parts(spki_der) {
        Some((RSA_ENCRYPTION, Some(p), key)) if p.tag == tag::NULL && p.value.is_empty() => key,
        _ => return Err(KeyError::UnsupportedKey),
    };
    let alg: &'static rs::RsaParameters = match hash {
        HashAlg::Sha256 => &rs::RSA_PKCS1_2048_8192_SHA256,
        HashAlg::Sha384 => &rs::RSA_PKCS1_2048_8192_SHA384,
        HashAlg::Sha512 => &rs::RSA_PKCS1_2048_8192_SHA512,
    };
    rs::UnparsedPublicKey::new(alg, pkcs1)
        .verify(message, signature)
        .map_err(|_| KeyError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_and_rustcrypto_agree_on_p256_signatures() {
        use p256::ecdsa::signature::Signer;
        let sk = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let spki = p256::pkcs8::EncodePublicKey::to_public_key_der(sk.verifying_key()).unwrap();
        let key = PublicKey::from_spki_der(spki.as_bytes()).unwrap();
        let sig: p256::ecdsa::DerSignature = sk.sign(b"message");
        key.verify(HashAlg::Sha256, b"message", sig.as_bytes())
            .unwrap();
        key.verify_prehash(&HashAlg::Sha256.digest(b"message"), sig.as_bytes())
            .unwrap();
        assert_eq!(
            key.verify(HashAlg::Sha256, b"messagf", sig.as_bytes()),
            Err(KeyError::BadSignature)
        );
        assert_eq!(
            key.verify(HashAlg::Sha256, b"message", &sig.as_bytes()[1..]),
            Err(KeyError::BadSignature)
        );
    }
}
