//! Where human-readable text goes: stderr (git shows it to the user) and, when
//! `gitsign.logPath` / `GITSIGN_LOG` is set, appended to that file too, because git
//! swallows stderr in some paths. Never stdout: in git's modes stdout is protocol.

use std::fs::File;
use std::io::Write;
use std::path::Path;

pub struct Reporter {
    log: Option<File>,
}

impl Reporter {
    pub fn new(log_path: Option<&Path>) -> Reporter {
        let log = log_path.and_then(|p| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .ok()
        });
        Reporter { log }
    }

    pub fn say(&mut self, line: &str) {
        eprintln!("{line}");
        if let Some(f) = self.log.as_mut() {
            let _ = writeln!(f, "{line}");
        }
    }
}

impl Reporter {
    /// To the log file only (for lines the caller prints to stderr itself).
    pub fn note(&mut self, line: &str) {
        if let Some(f) = self.log.as_mut() {
            let _ = writeln!(f, "{line}");
        }
    }
}
