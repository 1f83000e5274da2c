//! `gitsign credentials list|clear`: what the credential cache holds (identity, issuer,
//! expiry, signatures made; never key material), and forgetting it.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::app::{AppError, OK, report::printable};
use crate::cli::CredentialsAction;
use crate::core::time::format_rfc3339;
use crate::core::x509::cert::Certificate;
use crate::io::cache::{Client, Mode};
use crate::io::config::Settings;
use crate::io::keyring;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn line(identity: &str, issuer: &str, not_after: i64, extra: &str) -> String {
    printable(&format!(
        "{identity}  issuer {issuer}  expires {} (in {} s){extra}",
        format_rfc3339(not_after),
        not_after - now()
    ))
}

pub fn credentials(action: CredentialsAction) -> Result<i32, AppError> {
    let settings = Settings::load(crate::io::git::discover_git_dir().as_deref())
        .map_err(|e| AppError::usage(format!("cannot read git configuration: {e}")))?;
    match Mode::from_settings(&settings).map_err(AppError::usage)? {
        Mode::Off => {
            eprintln!("gitsign: the credential cache is off (gitsign.credentialCacheMode=off)");
            Ok(OK)
        }
        Mode::Socket { path, .. } => {
            let mut client = match Client::connect(&path) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("gitsign: {e}; nothing is cached (start gitsign-credential-cache)");
                    return Ok(OK);
                }
            };
            let failed = |e: crate::io::cache::ClientError| AppError::failed(e.to_string());
            match action {
                CredentialsAction::List => {
                    let entries = client.list().map_err(failed)?;
                    for e in &entries {
                        println!(
                            "{}",
                            line(
                                &e.identity,
                                &e.issuer,
                                e.not_after,
                                &format!("  Fulcio {}  signatures {}", e.fulcio, e.signatures)
                            )
                        );
                    }
                    eprintln!(
                        "gitsign: {} credential(s) in the agent at {}",
                        entries.len(),
                        path.display()
                    );
                }
                CredentialsAction::Clear => {
                    let n = client.clear().map_err(failed)?;
                    eprintln!(
                        "gitsign: cleared {n} credential(s) from the agent at {}",
                        path.display()
                    );
                }
            }
            Ok(OK)
        }
        Mode::System => {
            let names = keyring::list().map_err(AppError::failed)?;
            let mut count = 0;
            for name in &names {
                match action {
                    CredentialsAction::List => {
                        if let Ok(Some(c)) = keyring::load(name) {
                            let not_after = c
                                .chain
                                .first()
                                .and_then(|d| Certificate::from_der(d).ok())
                                .map_or(0, |l| l.not_after());
                            println!("{}", line(&c.identity, &c.issuer, not_after, ""));
                            count += 1;
                        }
                    }
                    CredentialsAction::Clear => {
                        if keyring::remove(name).map_err(AppError::failed)? {
                            count += 1;
                        }
                    }
                }
            }
            let verb = match action {
                CredentialsAction::List => "in",
                CredentialsAction::Clear => "cleared from",
            };
            eprintln!("gitsign: {count} credential(s) {verb} the kernel keyring");
            Ok(OK)
        }
    }
}
