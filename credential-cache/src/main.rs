//! `gitsign-credential-cache [--socket PATH] [--systemd-socket-activation]`

use std::path::PathBuf;
use std::process::ExitCode;

use credential_cache::daemon::{self, Options};
use credential_cache::store::DEFAULT_MARGIN;

const USAGE: &str = "usage: gitsign-credential-cache [--socket PATH] [--systemd-socket-activation]

Keeps gitsign's ephemeral key and certificate while the certificate lives; signs for
this user only. The socket is --socket, else $GITSIGN_CREDENTIAL_CACHE, else
$XDG_RUNTIME_DIR/gitsign/cache.sock (else <cache dir>/sigstore/gitsign/cache.sock).
Point gitsign at it with GITSIGN_CREDENTIAL_CACHE=PATH (or use the default path).";

fn main() -> ExitCode {
    let mut options = Options {
        socket: None,
        systemd: false,
        margin: DEFAULT_MARGIN,
    };
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--socket") => match args.next() {
                Some(p) => options.socket = Some(PathBuf::from(p)),
                None => return usage("--socket needs a path"),
            },
            Some(s) if s.starts_with("--socket=") => {
                options.socket = Some(PathBuf::from(&s["--socket=".len()..]))
            }
            Some("--systemd-socket-activation") => options.systemd = true,
            Some("-h" | "--help") => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            Some("--version") => {
                println!("gitsign-credential-cache {}", env!("CARGO_PKG_VERSION"));
                return ExitCode::SUCCESS;
            }
            _ => return usage(&format!("unknown argument {arg:?}")),
        }
    }
    match daemon::run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            daemon::log(&e);
            ExitCode::FAILURE
        }
    }
}

fn usage(why: &str) -> ExitCode {
    eprintln!("gitsign-credential-cache: {why}\n{USAGE}");
    ExitCode::from(2)
}
