//! Which trusted root verification uses: `--trusted-root`, else `gitsign.trustedRoot`, else
//! the compiled-in production root; then gitsign's PEM overrides for private deployments.

use std::path::Path;

use crate::core::sigstore::trust::TrustedRoot;
use crate::io::config::Settings;

fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))
}

pub fn load(settings: &Settings, flag: Option<&Path>) -> Result<TrustedRoot, String> {
    let mut root = match flag.or(settings.trusted_root.as_deref()) {
        Some(path) => TrustedRoot::from_json(&read(path, "trusted root")?)
            .map_err(|e| format!("trusted root {}: {e}", path.display()))?,
        None => TrustedRoot::production().clone(),
    };
    if let Some(p) = &settings.fulcio_root {
        root = root
            .with_fulcio_roots_pem(&read(p, "Fulcio root")?)
            .map_err(|e| format!("Fulcio root {}: {e}", p.display()))?;
    }
    if let Some(p) = &settings.rekor_public_key {
        root = root
            .with_rekor_key_pem(&read(p, "Rekor public key")?)
            .map_err(|e| format!("Rekor public key {}: {e}", p.display()))?;
    }
    if let Some(p) = &settings.ct_log_public_key {
        root = root
            .with_ctlog_key_pem(&read(p, "CT log public key")?)
            .map_err(|e| format!("CT log public key {}: {e}", p.display()))?;
    }
    Ok(root)
}
