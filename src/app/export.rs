//! `gitsign export-bundle [REV]` / `--tag NAME`: the object's signature as a Sigstore bundle
//! v0.3 on stdout.

use std::io::Write as _;

use crate::app::{AppError, OK};
use crate::cli::ExportBundleArgs;
use crate::core::{git::gitobj, sigstore::export, verify};
use crate::io::git::Repo;

pub fn export_bundle(args: &ExportBundleArgs) -> Result<i32, AppError> {
    let repo = Repo::discover().map_err(AppError::failed)?;
    let obj = match &args.tag {
        Some(tag) => repo.read_tag(tag),
        None => repo.read_commit(args.rev.as_deref().unwrap_or("HEAD")),
    }
    .map_err(AppError::failed)?;
    let signed = gitobj::split(obj.kind, &obj.raw, repo.hash_algo())
        .map_err(|e| AppError::failed(format!("{} {}: {e}", obj.kind.name(), obj.id)))?;
    let checked = verify::check_signature_untrusted(&signed.payload, &signed.signature)
        .map_err(|e| AppError::failed(format!("{} {}: {}", obj.kind.name(), obj.id, e)))?;
    let bundle = export::bundle(&checked)
        .map_err(|e| AppError::failed(format!("{} {}: {e}", obj.kind.name(), obj.id)))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{bundle:#}")
        .and_then(|()| out.flush())
        .map_err(|e| AppError::failed(format!("cannot write the bundle: {e}")))?;
    Ok(OK)
}
