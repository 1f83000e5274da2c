//! One function per command: wires `io` to `core`, and is the one place that writes status
//! lines and chooses exit codes (0 verified, 1 not verified or failed, 2 usage or
//! configuration error).

mod bundle;
mod credential;
mod credentials;
mod export;
mod history;
pub(crate) mod report;
mod setup;
pub mod sign;
mod verify;

use std::fmt;

use crate::cli::Command;

pub use report::Reporter;

/// Exit codes.
pub const OK: i32 = 0;
pub const FAILED: i32 = 1;
pub const USAGE: i32 = 2;

/// An error that ends a command: one line for the user and the exit code.
#[derive(Debug)]
pub struct AppError {
    pub message: String,
    pub code: i32,
}

impl AppError {
    pub fn failed(message: impl Into<String>) -> Self {
        AppError {
            message: message.into(),
            code: FAILED,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        AppError {
            message: message.into(),
            code: USAGE,
        }
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Runs a parsed command and returns the process exit code.
pub fn run(command: Command) -> i32 {
    let result = match command {
        Command::GpgVerify(args) => verify::gpg_verify(&args),
        Command::Verify(args) if args.is_history() => history::verify_history(&args),
        Command::Verify(args) => verify::verify_commit(&args),
        Command::VerifyTag(args) => verify::verify_tag(&args),
        Command::VerifyBundle(args) => bundle::verify_bundle(&args),
        Command::GpgSign(args) => sign::gpg_sign(&args),
        Command::Setup(args) => setup::setup(&args),
        Command::ExportBundle(args) => export::export_bundle(&args),
        Command::Credentials(action) => credentials::credentials(action),
        Command::Version => {
            println!("gitsign-rs {}", env!("CARGO_PKG_VERSION"));
            Ok(OK)
        }
        Command::Display { text, exit_code } => {
            if exit_code == 0 {
                print!("{text}");
            } else {
                eprint!("{text}");
            }
            Ok(exit_code)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gitsign: {e}");
            e.code
        }
    }
}
