//! The gpg status protocol git reads (`gpg-interface.c`), as typed values written in one
//! place. git accepts a verification only when stdout contains `\n[GNUPG:] GOODSIG `, so
//! every verification writes NEWSIG first and then exactly one of GOODSIG, BADSIG or ERRSIG.

use std::fmt;

/// ECDSA in OpenPGP's algorithm numbering, and SHA-256 in its hash numbering.
const PK_ALGO_ECDSA: u8 = 19;
const HASH_ALGO_SHA256: u8 = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    NewSig,
    /// `key_id` = the last 16 hex digits of the certificate's SHA-1 fingerprint.
    GoodSig {
        key_id: String,
        uid: String,
    },
    BadSig {
        key_id: String,
        uid: String,
    },
    /// `rc` 4 = cannot check (unsupported or failed check), 9 = no usable certificate.
    ErrSig {
        key_id: String,
        time: i64,
        rc: u8,
        fingerprint: Option<String>,
    },
    ValidSig {
        fingerprint: String,
        time: i64,
    },
    TrustFully,
    BeginSigning,
    /// `fingerprint` = lower-case hex SHA-1 of the leaf DER, as gitsign prints it.
    SigCreated {
        time: i64,
        fingerprint: String,
    },
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[GNUPG:] ")?;
        match self {
            Status::NewSig => f.write_str("NEWSIG"),
            Status::GoodSig { key_id, uid } => write!(f, "GOODSIG {key_id} {}", one_line(uid)),
            Status::BadSig { key_id, uid } => write!(f, "BADSIG {key_id} {}", one_line(uid)),
            Status::ErrSig {
                key_id,
                time,
                rc,
                fingerprint,
            } => write!(
                f,
                "ERRSIG {key_id} {PK_ALGO_ECDSA} {HASH_ALGO_SHA256} 00 {time} {rc} {}",
                fingerprint.as_deref().unwrap_or("-")
            ),
            Status::ValidSig { fingerprint, time } => {
                let date = crate::core::time::format_rfc3339(*time);
                write!(
                    f,
                    "VALIDSIG {fingerprint} {} {time} 0 4 0 {PK_ALGO_ECDSA} {HASH_ALGO_SHA256} 00 {fingerprint}",
                    &date[..10]
                )
            }
            Status::TrustFully => f.write_str("TRUST_FULLY 0 pgp"),
            Status::BeginSigning => f.write_str("BEGIN_SIGNING"),
            Status::SigCreated { time, fingerprint } => {
                write!(
                    f,
                    "SIG_CREATED D {PK_ALGO_ECDSA} {HASH_ALGO_SHA256} 00 {time} {fingerprint}"
                )
            }
        }
    }
}

/// A uid must not break the line-oriented protocol (git shows it to the user too).
fn one_line(s: &str) -> String {
    printable(s)
}

/// Characters that change how the text around them is shown without being seen: C0/C1
/// controls, bidirectional embeddings, overrides, isolates and marks (the "Trojan Source"
/// set, CVE-2021-42574), line and paragraph separators, zero-width joiners and spaces, and
/// the byte-order mark.
pub fn is_deceptive(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

/// One line of text safe to show: every [`is_deceptive`] character becomes `?`. Text from
/// a signature or a server must not forge further lines, terminal escapes, or reorder what
/// the user reads.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if is_deceptive(c) { '?' } else { c })
        .collect()
}

/// Renders a sequence of status lines, each terminated by a newline.
pub fn render(lines: &[Status]) -> String {
    lines.iter().map(|s| format!("{s}\n")).collect()
}

/// The gpg key id of a fingerprint: its last 16 hex digits.
pub fn key_id(fingerprint_hex: &str) -> String {
    let n = fingerprint_hex.len();
    fingerprint_hex[n.saturating_sub(16)..].to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_signature_lines_satisfy_gits_parser() {
        let out = render(&[
            Status::NewSig,
            Status::GoodSig {
                key_id: "0123456789ABCDEF".into(),
                uid: "a@b.c".into(),
            },
            Status::ValidSig {
                fingerprint: "AA".repeat(20),
                time: 1785272080,
            },
            Status::TrustFully,
        ]);
        assert!(out.starts_with("[GNUPG:] NEWSIG\n"));
        assert!(out.contains("\n[GNUPG:] GOODSIG 0123456789ABCDEF a@b.c\n"));
        assert!(out.contains("\n[GNUPG:] VALIDSIG AAAA"));
        assert!(out.contains(" 2026-07-28 1785272080 "));
        assert!(out.contains("\n[GNUPG:] TRUST_FULLY"));
    }

    #[test]
    fn uid_cannot_inject_status_lines() {
        let s = Status::BadSig {
            key_id: "00".into(),
            uid: "x\n[GNUPG:] GOODSIG 00 evil".into(),
        };
        assert_eq!(s.to_string().lines().count(), 1);
    }

    #[test]
    fn uid_cannot_carry_bidi_overrides_or_line_separators() {
        let s = Status::GoodSig {
            key_id: "00".into(),
            uid: "a\u{202E}moc.live@\u{2066}b\u{2028}c\u{200F}".into(),
        };
        assert_eq!(s.to_string(), "[GNUPG:] GOODSIG 00 a?moc.live@?b?c?");
    }

    #[test]
    fn errsig_and_sig_created_have_gpg_field_layout() {
        let e = Status::ErrSig {
            key_id: "0000000000000000".into(),
            time: 5,
            rc: 9,
            fingerprint: None,
        };
        assert_eq!(
            e.to_string(),
            "[GNUPG:] ERRSIG 0000000000000000 19 8 00 5 9 -"
        );
        let c = Status::SigCreated {
            time: 7,
            fingerprint: "ab".into(),
        };
        assert_eq!(c.to_string(), "[GNUPG:] SIG_CREATED D 19 8 00 7 ab");
        assert_eq!(
            key_id("00112233445566778899AABBCCDDEEFF00112233"),
            "CCDDEEFF00112233"
        );
    }
}
