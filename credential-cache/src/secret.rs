//! The agent's ephemeral P-256 keys. The secret scalar lives only in a page of its own,
//! locked in memory (`mlock`) where the limits allow and left out of core dumps
//! (`MADV_DONTDUMP`); a signing key is rebuilt from it on the stack for each signature and
//! zeroized as it goes out of scope (`p256::ecdsa::SigningKey` is `ZeroizeOnDrop`). The page
//! is zeroized when the key is dropped. Deliberately not `Debug` and not `Clone`.

use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::EncodePublicKey as _;
use zeroize::Zeroize as _;

const PAGE: usize = 4096;

/// One page, so that locking and unlocking it touches no other allocation.
#[repr(C, align(4096))]
struct Page {
    scalar: [u8; 32],
    _rest: [u8; PAGE - 32],
}

pub struct Secret {
    page: Box<Page>,
    public_key: Vec<u8>,
    locked: bool,
}

impl Secret {
    /// A fresh key from the OS generator.
    pub fn generate() -> Result<Secret, String> {
        let mut page = Box::new(Page {
            scalar: [0; 32],
            _rest: [0; PAGE - 32],
        });
        let ptr = (&mut *page as *mut Page).cast::<core::ffi::c_void>();
        // SAFETY: `ptr` is the start of a live, exclusively owned allocation of PAGE bytes,
        // page-aligned by `Page`'s alignment; neither call reads or writes its contents.
        let locked = unsafe { rustix::mm::mlock(ptr, PAGE) }.is_ok();
        #[cfg(target_os = "linux")]
        // SAFETY: as above; MADV_DONTDUMP only changes how the kernel dumps the range.
        let _ = unsafe { rustix::mm::madvise(ptr, PAGE, rustix::mm::Advice::LinuxDontDump) };
        loop {
            getrandom::fill(&mut page.scalar)
                .map_err(|e| format!("cannot draw a random key from the OS: {e}"))?;
            // Zero or a value above the group order is refused; draw again (p < 2^-32).
            if let Ok(key) = SigningKey::from_slice(&page.scalar) {
                let public_key = key
                    .verifying_key()
                    .to_public_key_der()
                    .map_err(|e| format!("cannot encode the public key: {e}"))?
                    .as_bytes()
                    .to_vec();
                return Ok(Secret {
                    page,
                    public_key,
                    locked,
                });
            }
        }
    }

    /// SubjectPublicKeyInfo, DER.
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_key
    }

    /// Whether the page is locked in memory (false when `RLIMIT_MEMLOCK` forbids it).
    pub fn locked(&self) -> bool {
        self.locked
    }

    /// DER ECDSA-with-SHA256 over `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match SigningKey::from_slice(&self.page.scalar) {
            Ok(key) => {
                let sig: DerSignature = key.sign(message);
                sig.as_bytes().to_vec()
            }
            // Checked at generation; unreachable unless memory was corrupted.
            Err(_) => Vec::new(),
        }
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.page.scalar.zeroize();
        if self.locked {
            let ptr = (&mut *self.page as *mut Page).cast::<core::ffi::c_void>();
            // SAFETY: the page locked in `generate`, still owned by us.
            let _ = unsafe { rustix::mm::munlock(ptr, PAGE) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier as _;
    use p256::ecdsa::{DerSignature, VerifyingKey};
    use p256::pkcs8::DecodePublicKey as _;

    #[test]
    fn signatures_verify_with_the_public_key_and_keys_differ() {
        let s = Secret::generate().unwrap();
        let vk = VerifyingKey::from_public_key_der(s.public_key_der()).unwrap();
        let sig = DerSignature::try_from(s.sign(b"attrs").as_slice()).unwrap();
        vk.verify(b"attrs", &sig).unwrap();
        assert!(vk.verify(b"attrz", &sig).is_err());
        assert_ne!(
            s.public_key_der(),
            Secret::generate().unwrap().public_key_der()
        );
    }

    #[test]
    fn the_secret_sits_alone_in_its_page() {
        let s = Secret::generate().unwrap();
        let at = &*s.page as *const Page as usize;
        assert_eq!(at % PAGE, 0);
        assert_eq!(std::mem::size_of::<Page>(), PAGE);
    }
}
