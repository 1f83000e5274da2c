//! The stack's signing keys: ECDSA P-256 / P-384 with ring, PKCS#8 on disk, generated once and
//! reloaded on every start so certificates, checkpoints and SETs stay verifiable.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use gitsign::core::asn1::der::{encode, tag};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{self as rs, EcdsaKeyPair, KeyPair as _};

use crate::StackError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P256,
    P384,
}

/// 1.2.840.10045.2.1
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// 1.2.840.10045.3.1.7
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// 1.3.132.0.34
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];

/// A private key. Never printed: `Debug` shows the curve only.
pub struct SigningKey {
    curve: Curve,
    /// DER signatures (X.509, CMS, SCT, SET, checkpoint).
    der: EcdsaKeyPair,
    /// Fixed r‖s signatures (JWS ES256); P-256 only.
    fixed: Option<EcdsaKeyPair>,
    spki: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({:?})", self.curve)
    }
}

fn algs(
    curve: Curve,
) -> (
    &'static rs::EcdsaSigningAlgorithm,
    &'static rs::EcdsaSigningAlgorithm,
) {
    match curve {
        Curve::P256 => (
            &rs::ECDSA_P256_SHA256_ASN1_SIGNING,
            &rs::ECDSA_P256_SHA256_FIXED_SIGNING,
        ),
        Curve::P384 => (
            &rs::ECDSA_P384_SHA384_ASN1_SIGNING,
            &rs::ECDSA_P384_SHA384_FIXED_SIGNING,
        ),
    }
}

impl SigningKey {
    /// A fresh key that lives in memory only (the "foreign" keys used for fault injection).
    pub fn ephemeral(curve: Curve) -> Result<SigningKey, StackError> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(algs(curve).0, &rng)
            .map_err(|_| StackError::Crypto("key generation failed"))?;
        SigningKey::from_pkcs8(curve, pkcs8.as_ref())
    }

    /// Loads the key at `path`, or generates one there (mode 0600) if the file does not exist.
    pub fn load_or_generate(path: &Path, curve: Curve) -> Result<SigningKey, StackError> {
        match fs::read(path) {
            Ok(pkcs8) => SigningKey::from_pkcs8(curve, &pkcs8).map_err(|_| StackError::State {
                path: path.to_path_buf(),
                what: "not a PKCS#8 key of the expected curve",
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let rng = SystemRandom::new();
                let pkcs8 = EcdsaKeyPair::generate_pkcs8(algs(curve).0, &rng)
                    .map_err(|_| StackError::Crypto("key generation failed"))?;
                write_private(path, pkcs8.as_ref())?;
                SigningKey::from_pkcs8(curve, pkcs8.as_ref())
            }
            Err(source) => Err(StackError::Io {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    fn from_pkcs8(curve: Curve, pkcs8: &[u8]) -> Result<SigningKey, StackError> {
        let rng = SystemRandom::new();
        let (asn1, fixed) = algs(curve);
        let der = EcdsaKeyPair::from_pkcs8(asn1, pkcs8, &rng)
            .map_err(|_| StackError::Crypto("unreadable PKCS#8 key"))?;
        let fixed = EcdsaKeyPair::from_pkcs8(fixed, pkcs8, &rng)
            .map_err(|_| StackError::Crypto("unreadable PKCS#8 key"))?;
        let curve_oid = match curve {
            Curve::P256 => OID_P256,
            Curve::P384 => OID_P384,
        };
        let alg = encode(
            tag::SEQUENCE,
            &[
                encode(tag::OID, OID_EC_PUBLIC_KEY),
                encode(tag::OID, curve_oid),
            ]
            .concat(),
        );
        let mut bits = vec![0u8];
        bits.extend_from_slice(der.public_key().as_ref());
        let spki = encode(
            tag::SEQUENCE,
            &[alg, encode(tag::BIT_STRING, &bits)].concat(),
        );
        Ok(SigningKey {
            curve,
            der,
            fixed: (curve == Curve::P256).then_some(fixed),
            spki,
        })
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// The uncompressed SEC1 point.
    pub fn public_point(&self) -> &[u8] {
        self.der.public_key().as_ref()
    }

    /// DER ECDSA over SHA-256 (P-256) or SHA-384 (P-384) of `message`.
    pub fn sign_der(&self, message: &[u8]) -> Result<Vec<u8>, StackError> {
        self.der
            .sign(&SystemRandom::new(), message)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| StackError::Crypto("signing failed"))
    }

    /// Fixed-width r‖s ECDSA P-256/SHA-256, as JWS ES256 wants.
    pub fn sign_es256(&self, message: &[u8]) -> Result<Vec<u8>, StackError> {
        self.fixed
            .as_ref()
            .ok_or(StackError::Crypto("ES256 needs a P-256 key"))?
            .sign(&SystemRandom::new(), message)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| StackError::Crypto("signing failed"))
    }
}

/// `n` random bytes from the system generator.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    // SystemRandom fails only when the OS has no entropy source, which is no state to go on in.
    SystemRandom::new()
        .fill(&mut out)
        .expect("the operating system provides random bytes");
    out
}

/// Writes a secret file readable by the owner only.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), StackError> {
    let io = |source| StackError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut f = options.open(path).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gitsign::core::x509::keys::{HashAlg, PublicKey};

    #[test]
    fn signatures_verify_with_gitsigns_public_key_type() {
        for (curve, hash) in [
            (Curve::P256, HashAlg::Sha256),
            (Curve::P384, HashAlg::Sha384),
        ] {
            let k = SigningKey::ephemeral(curve).unwrap();
            let pk = PublicKey::from_spki_der(k.spki_der()).unwrap();
            let sig = k.sign_der(b"msg").unwrap();
            pk.verify(hash, b"msg", &sig).unwrap();
            assert!(pk.verify(hash, b"msh", &sig).is_err());
        }
    }

    #[test]
    fn keys_are_generated_once_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.p8");
        let a = SigningKey::load_or_generate(&path, Curve::P256).unwrap();
        let b = SigningKey::load_or_generate(&path, Curve::P256).unwrap();
        assert_eq!(a.spki_der(), b.spki_der());
        assert!(SigningKey::load_or_generate(&path, Curve::P384).is_err());
    }
}
