//! PEM (RFC 7468) as gitsign and Rekor write it: 64-column base64 and a trailing newline.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PemError {
    NoBlock {
        label: String,
    },
    Unterminated {
        label: String,
    },
    BadBase64 {
        label: String,
    },
    SeveralBlocks {
        label: String,
    },
    /// Non-blank text before the BEGIN line or after the END line of the one block.
    TextOutsideBlock {
        label: String,
    },
}

impl fmt::Display for PemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PemError::NoBlock { label } => write!(f, "no -----BEGIN {label}----- block"),
            PemError::Unterminated { label } => {
                write!(f, "-----BEGIN {label}----- block has no END line")
            }
            PemError::BadBase64 { label } => write!(f, "{label} block is not valid base64"),
            PemError::SeveralBlocks { label } => {
                write!(f, "more than one {label} block where one is expected")
            }
            PemError::TextOutsideBlock { label } => {
                write!(
                    f,
                    "text outside the {label} block (only blank lines may follow its END line)"
                )
            }
        }
    }
}

impl std::error::Error for PemError {}

/// Encodes `der` as a PEM block with 64-column lines and a trailing newline.
pub fn encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 2 * label.len() + 40);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

/// Decodes every block with this label, in order. Text outside blocks is ignored; a block
/// with bad base64 or no END line is an error.
pub fn decode_all(text: &[u8], label: &str) -> Result<Vec<Vec<u8>>, PemError> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut out = Vec::new();
    let mut body: Option<Vec<u8>> = None;
    for line in text.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let trimmed = line.trim_ascii();
        match body.as_mut() {
            None if trimmed == begin.as_bytes() => body = Some(Vec::new()),
            None => {}
            Some(b) if trimmed == end.as_bytes() => {
                let der = STANDARD.decode(&b[..]).map_err(|_| PemError::BadBase64 {
                    label: label.to_string(),
                })?;
                out.push(der);
                body = None;
            }
            // Armor headers (RFC 1421 style "Key: value") are not part of the data.
            Some(_) if trimmed.contains(&b':') => {}
            Some(b) => b.extend_from_slice(trimmed),
        }
    }
    if body.is_some() {
        return Err(PemError::Unterminated {
            label: label.to_string(),
        });
    }
    Ok(out)
}

/// Decodes exactly one block with this label (two blocks are an error).
pub fn decode_one(text: &[u8], label: &str) -> Result<Vec<u8>, PemError> {
    let mut blocks = decode_all(text, label)?;
    match blocks.len() {
        1 => Ok(blocks.remove(0)),
        0 => Err(PemError::NoBlock {
            label: label.to_string(),
        }),
        _ => Err(PemError::SeveralBlocks {
            label: label.to_string(),
        }),
    }
}

/// Decodes a text that is exactly one block with this label: nothing but blank lines may
/// come before its BEGIN line or after its END line. A signature is all the text a verifier
/// is handed; anything appended to it would be shown as if it were covered.
pub fn decode_exact(text: &[u8], label: &str) -> Result<Vec<u8>, PemError> {
    let der = decode_one(text, label)?;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut inside = false;
    let mut seen_end = false;
    for line in text.split(|b| *b == b'\n') {
        let trimmed = line.trim_ascii();
        if !inside && trimmed == begin.as_bytes() && !seen_end {
            inside = true;
        } else if inside && trimmed == end.as_bytes() {
            inside = false;
            seen_end = true;
        } else if !inside && !trimmed.is_empty() {
            return Err(PemError::TextOutsideBlock {
                label: label.to_string(),
            });
        }
    }
    Ok(der)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_64_columns_with_trailing_newline() {
        let pem = encode("CERTIFICATE", &[7u8; 100]);
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines[0], "-----BEGIN CERTIFICATE-----");
        assert_eq!(lines[1].len(), 64);
        assert!(pem.ends_with("-----END CERTIFICATE-----\n"));
        assert_eq!(
            decode_one(pem.as_bytes(), "CERTIFICATE").unwrap(),
            vec![7u8; 100]
        );
    }

    #[test]
    fn exact_decoding_refuses_text_after_the_end_line_but_not_blank_lines() {
        let pem = encode("X", &[1, 2, 3]);
        assert_eq!(decode_exact(pem.as_bytes(), "X").unwrap(), vec![1, 2, 3]);
        let blank = format!("\n{pem}\n \r\n\t\n");
        assert_eq!(decode_exact(blank.as_bytes(), "X").unwrap(), vec![1, 2, 3]);
        for text in [
            format!("{pem}unsigned text\n"),
            format!("{pem}\n\nunsigned"),
            format!("preamble\n{pem}"),
        ] {
            assert_eq!(
                decode_exact(text.as_bytes(), "X"),
                Err(PemError::TextOutsideBlock { label: "X".into() }),
                "{text:?}"
            );
        }
        let twice = format!("{pem}{pem}");
        assert!(decode_exact(twice.as_bytes(), "X").is_err());
    }

    #[test]
    fn rejects_unterminated_and_bad_base64_blocks() {
        assert!(decode_one(b"-----BEGIN X-----\nAAAA\n", "X").is_err());
        assert!(decode_one(b"-----BEGIN X-----\n!!!!\n-----END X-----\n", "X").is_err());
        assert!(matches!(
            decode_one(b"nothing", "X"),
            Err(PemError::NoBlock { .. })
        ));
    }
}
