//! The ephemeral signing key: P-256, drawn from the operating system's generator, held in
//! memory for one signature and zeroized when dropped (`p256::ecdsa::SigningKey` is
//! `ZeroizeOnDrop`). Deliberately not `Debug`.

use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::EncodePublicKey as _;
use zeroize::Zeroize as _;

use crate::core::asn1::pem;

pub struct EphemeralKey {
    key: SigningKey,
}

/// A P-256 key that signs for us: in this process ([`EphemeralKey`]) or held by the
/// credential cache's agent, which never hands the key out.
pub trait KeySigner {
    /// SubjectPublicKeyInfo, DER.
    fn public_key_der(&self) -> Vec<u8>;
    /// DER ECDSA-with-SHA256 over `message`.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String>;
}

impl KeySigner for EphemeralKey {
    fn public_key_der(&self) -> Vec<u8> {
        EphemeralKey::public_key_der(self)
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        Ok(EphemeralKey::sign(self, message))
    }
}

impl EphemeralKey {
    /// A fresh key. Fails only if the OS generator does.
    pub fn generate() -> Result<EphemeralKey, String> {
        let mut seed = [0u8; 32];
        loop {
            getrandom::fill(&mut seed)
                .map_err(|e| format!("cannot draw a random key from the OS: {e}"))?;
            // A scalar of zero or above the group order is refused; try again (p < 2^-32).
            let key = SigningKey::from_slice(&seed);
            seed.zeroize();
            if let Ok(key) = key {
                return Ok(EphemeralKey { key });
            }
        }
    }

    /// A key read back from the OS keyring (`credentialCacheMode=system`).
    pub fn from_scalar(scalar: &[u8; 32]) -> Result<EphemeralKey, String> {
        SigningKey::from_slice(scalar)
            .map(|key| EphemeralKey { key })
            .map_err(|_| "the stored key is not a P-256 key".to_string())
    }

    /// The secret scalar, for the OS keyring only.
    pub fn to_scalar(&self) -> zeroize::Zeroizing<[u8; 32]> {
        zeroize::Zeroizing::new(self.key.to_bytes().into())
    }

    /// The public key as DER SubjectPublicKeyInfo.
    pub fn public_key_der(&self) -> Vec<u8> {
        self.key
            .verifying_key()
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default()
    }

    pub fn public_key_pem(&self) -> String {
        pem::encode("PUBLIC KEY", &self.public_key_der())
    }

    /// DER ECDSA-with-SHA256 over `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let sig: DerSignature = self.key.sign(message);
        sig.as_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::x509::keys::{HashAlg, PublicKey};

    #[test]
    fn signatures_verify_with_the_published_key_and_keys_differ() {
        let k = EphemeralKey::generate().unwrap();
        let pk = PublicKey::from_spki_der(&k.public_key_der()).unwrap();
        let sig = k.sign(b"hello");
        pk.verify(HashAlg::Sha256, b"hello", &sig).unwrap();
        assert!(pk.verify(HashAlg::Sha256, b"hellO", &sig).is_err());
        assert_ne!(
            k.public_key_der(),
            EphemeralKey::generate().unwrap().public_key_der()
        );
        assert!(
            k.public_key_pem()
                .starts_with("-----BEGIN PUBLIC KEY-----\n")
        );
    }
}
