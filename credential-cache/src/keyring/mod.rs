//! The OS keyring store behind `gitsign.credentialCacheMode=system` (alias `keyring`): key
//! and certificate kept in the Linux kernel keyring (keyutils) until the certificate is
//! about to expire, the kernel enforcing the expiry (key timeout). Unlike the agent, this
//! mode puts the key itself in the keyring, readable by the same user's processes.
//!
//! `linux-keyutils` directly rather than `keyring-core` + `linux-keyutils-keyring-store`:
//! that store sets no timeout, links every key into the 3-day persistent keyring, fails for
//! a process without a session keyring, and cannot list entries (README, "Credential cache").

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::{StoredCredential, list, load, remove, store};

#[cfg(not(target_os = "linux"))]
mod other {
    pub struct StoredCredential {
        pub secret: zeroize::Zeroizing<[u8; 32]>,
        pub chain: Vec<Vec<u8>>,
        pub identity: String,
        pub issuer: String,
    }
    const NO: &str =
        "credentialCacheMode=system needs the Linux kernel keyring; use the agent (socket)";
    pub fn store(_: &str, _: &StoredCredential, _: u64) -> Result<(), String> {
        Err(NO.into())
    }
    pub fn load(_: &str) -> Result<Option<StoredCredential>, String> {
        Err(NO.into())
    }
    pub fn remove(_: &str) -> Result<bool, String> {
        Err(NO.into())
    }
    pub fn list() -> Result<Vec<String>, String> {
        Err(NO.into())
    }
}
#[cfg(not(target_os = "linux"))]
pub use other::{StoredCredential, list, load, remove, store};
