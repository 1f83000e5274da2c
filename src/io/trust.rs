//! Which trusted root verification uses: `--trusted-root`, else `gitsign.trustedRoot`, else
//! the compiled-in production root; then gitsign's PEM overrides for private deployments.

use std::path::Path;

use crate::core::sigstore::trust::TrustedRoot;
use crate::io::config::Settings;

fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))
}

pub fn load(settings: &Settings, flag: Option<&Path>) -> Result<TrustedRoot, String> {
    load_with_digest(settings, flag).map(|(root, _)| root)
}

/// The trusted root and a SHA-256 digest (hex) of everything it was built from: the file or
/// the compiled-in root's version, then each PEM override. Verdicts cached under one digest
/// are never reused under another.
pub fn load_with_digest(
    settings: &Settings,
    flag: Option<&Path>,
) -> Result<(TrustedRoot, String), String> {
    use sha2::Digest;
    let mut digest = sha2::Sha256::new();
    let mut add = |what: &str, bytes: &[u8]| {
        digest.update(format!("{what} {}\n", bytes.len()));
        digest.update(bytes);
    };
    let mut root = match flag.or(settings.trusted_root.as_deref()) {
        Some(path) => {
            let bytes = read(path, "trusted root")?;
            add("trusted-root", &bytes);
            TrustedRoot::from_json(&bytes)
                .map_err(|e| format!("trusted root {}: {e}", path.display()))?
        }
        None => {
            add("compiled-in", env!("CARGO_PKG_VERSION").as_bytes());
            TrustedRoot::production().clone()
        }
    };
    if let Some(p) = &settings.fulcio_root {
        let bytes = read(p, "Fulcio root")?;
        add("fulcio-root", &bytes);
        root = root
            .with_fulcio_roots_pem(&bytes)
            .map_err(|e| format!("Fulcio root {}: {e}", p.display()))?;
    }
    if let Some(p) = &settings.rekor_public_key {
        let bytes = read(p, "Rekor public key")?;
        add("rekor-key", &bytes);
        root = root
            .with_rekor_key_pem(&bytes)
            .map_err(|e| format!("Rekor public key {}: {e}", p.display()))?;
    }
    if let Some(p) = &settings.ct_log_public_key {
        let bytes = read(p, "CT log public key")?;
        add("ctlog-key", &bytes);
        root = root
            .with_ctlog_key_pem(&bytes)
            .map_err(|e| format!("CT log public key {}: {e}", p.display()))?;
    }
    if let Some(p) = &settings.timestamp_cert_chain {
        let bytes = read(p, "timestamp authority chain")?;
        add("tsa-chain", &bytes);
        root = root
            .with_tsa_chain_pem(&bytes)
            .map_err(|e| format!("timestamp authority chain {}: {e}", p.display()))?;
    }
    Ok((root, crate::core::asn1::der::hex(&digest.finalize())))
}
