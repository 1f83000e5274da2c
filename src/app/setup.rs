//! `gitsign setup [--global|--local]`: configures git to sign with this binary, through
//! `git config` itself (so git's own file locking and paths apply), and says what changed.

use std::process::Command;

use crate::app::{AppError, OK};
use crate::cli::SetupArgs;

fn git_config(scope: &str, args: &[&str]) -> Result<std::process::Output, AppError> {
    Command::new("git")
        .arg("config")
        .arg(scope)
        .args(args)
        .output()
        .map_err(|e| AppError::failed(format!("cannot run git config: {e}")))
}

pub fn setup(args: &SetupArgs) -> Result<i32, AppError> {
    let scope = if args.global { "--global" } else { "--local" };
    let exe = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map_err(|e| AppError::failed(format!("cannot find this program's path: {e}")))?;
    let exe = exe
        .to_str()
        .ok_or_else(|| AppError::failed("this program's path is not UTF-8"))?
        .to_string();
    let wanted = [
        ("gpg.format", "x509"),
        ("gpg.x509.program", exe.as_str()),
        ("commit.gpgsign", "true"),
        ("tag.gpgsign", "true"),
    ];
    for (key, value) in wanted {
        let old = git_config(scope, &["--get", key])?;
        let old = String::from_utf8_lossy(&old.stdout).trim_end().to_string();
        if old == value {
            println!("{key} = {value} (unchanged)");
            continue;
        }
        let out = git_config(scope, &[key, value])?;
        if !out.status.success() {
            return Err(AppError::failed(format!(
                "git config {scope} {key} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        if old.is_empty() {
            println!("{key} = {value} (was unset)");
        } else {
            println!("{key} = {value} (was {old})");
        }
    }
    Ok(OK)
}
