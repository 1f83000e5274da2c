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
        let line = printable(line);
        eprintln!("{line}");
        if let Some(f) = self.log.as_mut() {
            let _ = writeln!(f, "{line}");
        }
    }

    /// To the log file only (for lines the caller prints to stderr itself).
    pub fn note(&mut self, line: &str) {
        if let Some(f) = self.log.as_mut() {
            let _ = writeln!(f, "{}", printable(line));
        }
    }
}

impl crate::io::progress::Progress for Reporter {
    fn say(&mut self, line: &str) {
        Reporter::say(self, line)
    }
}

/// One line with control, bidi and separator characters replaced: text from a signature
/// or a server must not be able to forge further lines, terminal escapes or reordered text
/// in what git shows the user.
pub fn printable(line: &str) -> String {
    crate::core::git::status::printable(line)
}

/// Where gpg status lines go: `--status-fd=N` (git passes 1 to verify, 2 to sign); fd 1 and
/// 2 are ours already, any other through /dev/fd. No fd: nowhere.
pub fn status_writer(fd: Option<i32>) -> Result<Box<dyn Write>, crate::app::AppError> {
    Ok(match fd {
        None => Box::new(std::io::sink()),
        Some(1) => Box::new(std::io::stdout()),
        Some(2) => Box::new(std::io::stderr()),
        Some(n) => Box::new(
            std::fs::OpenOptions::new()
                .write(true)
                .open(format!("/dev/fd/{n}"))
                .map_err(|e| {
                    crate::app::AppError::usage(format!("cannot write status to fd {n}: {e}"))
                })?,
        ),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn printable_lines_cannot_carry_newlines_or_escapes() {
        assert_eq!(super::printable("a\nGOOD\r\u{1b}[2K"), "a?GOOD??[2K");
    }

    #[test]
    fn printable_lines_escape_bidi_and_line_separator_characters() {
        let all = "\u{202A}\u{202B}\u{202C}\u{202D}\u{202E}\u{2066}\u{2067}\u{2068}\u{2069}\u{2028}\u{2029}\u{200E}\u{200F}\u{061C}\u{FEFF}";
        assert_eq!(super::printable(all), "?".repeat(all.chars().count()));
        assert_eq!(
            super::printable("ann@ex\u{e4}mple.com"),
            "ann@ex\u{e4}mple.com"
        );
    }
}
