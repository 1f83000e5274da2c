//! `gitsign verify-bundle`: the Sigstore conformance suite's client protocol.
//!
//! `verify-bundle --bundle B (--certificate-identity I --certificate-oidc-issuer U | --key K)
//! [--trusted-root F] FILE_OR_DIGEST`. Exit 0 accepts; otherwise one line on stderr says why.
//! Only `--trusted-root` changes the trust material (gitsign's PEM overrides do not apply: the
//! protocol fixes what is trusted), else the compiled-in production root.

use std::path::Path;

use crate::app::{AppError, OK};
use crate::cli::VerifyBundleArgs;
use crate::core::asn1::pem;
use crate::core::sigstore::bundle::{self, Artifact, Expected, TimeSource};
use crate::core::sigstore::trust::TrustedRoot;
use crate::core::time::format_rfc3339;
use crate::core::tlog::unhex;
use crate::core::verify::policy::{IdentityPolicy, Policy};
use crate::core::verify::{Options, Verifier};
use crate::core::x509::keys::PublicKey;

fn read(path: &Path, what: &str) -> Result<Vec<u8>, AppError> {
    std::fs::read(path)
        .map_err(|e| AppError::usage(format!("cannot read {what} {}: {e}", path.display())))
}

/// `sha256:<64 hex>` is a digest; anything else is a path.
fn artifact(arg: &str) -> Result<Artifact, AppError> {
    if let Some(hex) = arg.strip_prefix("sha256:") {
        return match unhex(hex).map(<[u8; 32]>::try_from) {
            Some(Ok(d)) => Ok(Artifact::Sha256(d)),
            _ => Err(AppError::usage(format!(
                "{arg:?} is not sha256: followed by 64 hex digits"
            ))),
        };
    }
    Ok(Artifact::Bytes(read(Path::new(arg), "artifact")?))
}

fn expected(args: &VerifyBundleArgs) -> Result<Expected, AppError> {
    if let Some(path) = &args.key {
        let text = read(path, "key")?;
        let spki = pem::decode_one(&text, "PUBLIC KEY")
            .map_err(|e| AppError::usage(format!("key {}: {e}", path.display())))?;
        let key = PublicKey::from_spki_der(&spki)
            .map_err(|e| AppError::usage(format!("key {}: {e}", path.display())))?;
        return Ok(Expected::Key { key, spki });
    }
    let policy = IdentityPolicy::new(
        args.certificate_identity.as_deref(),
        None,
        args.certificate_oidc_issuer.as_deref(),
        None,
    )
    .map_err(|e| {
        AppError::usage(format!(
            "{e} (give --certificate-identity and --certificate-oidc-issuer, or --key)"
        ))
    })?;
    Ok(Expected::Identity(Policy::Identity(policy)))
}

pub fn verify_bundle(args: &VerifyBundleArgs) -> Result<i32, AppError> {
    let expected = expected(args)?;
    let trust = match &args.trusted_root {
        Some(path) => TrustedRoot::from_json(&read(path, "trusted root")?)
            .map_err(|e| AppError::failed(format!("trusted root {}: {e}", path.display())))?,
        None => TrustedRoot::production().clone(),
    };
    let artifact = artifact(&args.artifact)?;
    let json = read(&args.bundle, "bundle")?;
    let parsed = bundle::parse(&json).map_err(|e| AppError::failed(e.to_string()))?;
    let verified = Verifier::new(&trust, Options::default())
        .verify_bundle(&parsed, &artifact, &expected)
        .map_err(|f| AppError::failed(f.to_string()))?;

    let signer = match &verified.identity {
        Some((san, issuer)) => format!("{san} (issuer {})", issuer.as_deref().unwrap_or("<none>")),
        None => "the given key".to_string(),
    };
    let times: Vec<String> = verified
        .times
        .iter()
        .map(|t| {
            let by = match &t.source {
                TimeSource::Log { base_url } => format!("log {base_url}"),
                TimeSource::Tsa { subject } => format!("TSA {subject}"),
            };
            format!("{} by {by}", format_rfc3339(t.time))
        })
        .collect();
    println!(
        "Verified OK: signed by {signer}; {} log entr{}; time {}",
        verified.entries.len(),
        if verified.entries.len() == 1 {
            "y"
        } else {
            "ies"
        },
        times.join(", ")
    );
    Ok(OK)
}
