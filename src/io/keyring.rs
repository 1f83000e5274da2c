//! `gitsign.credentialCacheMode=system`: the kernel keyring store of `credential-cache`
//! (`credential_cache::keyring`), under a name derived from the cache key.

use sha2::Digest as _;

pub use credential_cache::keyring::{StoredCredential, list, load, remove, store};

use crate::io::cache::CacheKey;

/// The keyring entry for a cache key: `gitsign:` and a digest of the key, so the
/// description reveals no URL or identity.
pub fn entry_name(key: &CacheKey) -> String {
    let text = serde_json::to_string(key).unwrap_or_default();
    let digest = sha2::Sha256::digest(text.as_bytes());
    format!("gitsign:{}", crate::core::git::gitobj::hex(&digest[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_reveal_nothing_and_differ_per_key() {
        let k = |f: &str| CacheKey {
            fulcio: f.into(),
            issuer: "https://issuer".into(),
            client_id: "sigstore".into(),
            connector_id: None,
        };
        let a = entry_name(&k("https://fulcio.a"));
        assert!(a.starts_with("gitsign:") && !a.contains("fulcio"));
        assert_ne!(a, entry_name(&k("https://fulcio.b")));
    }
}
