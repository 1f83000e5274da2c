//! Rekor v1 checkpoints: a C2SP signed note whose text is a tree head.
//!
//! ```text
//! rekor.sigstore.dev - 1193050959916656506      <- origin
//! 2160404071                                    <- tree size
//! f+mok5xRhDiYOlWSG0Xafr8xciBBXHloUwn1oSFI89s=  <- root hash, base64
//! [extension lines]
//!                                               <- blank line
//! — rekor.sigstore.dev wNI9ajBGAiEA...          <- U+2014, name, base64(key hint || signature)
//! ```
//!
//! How Rekor v1 checks them (rekor `pkg/util/signed_note.go`, used by sigstore-go for v1
//! entries), which [`verify_checkpoint`] follows: the signature covers the text up to and
//! including the newline before the blank line; ECDSA signs SHA-256 of it; the key hint is the
//! first 4 bytes of SHA-256 of the key's DER SubjectPublicKeyInfo; **every** signature line must
//! carry that hint and verify (not just one); the name is not part of what is signed.
//!
//! Two deliberate strictures beyond Rekor: the name must equal the origin's host part (Rekor v1
//! writes origin `"<host> - <tree id>"` and signs as `<host>`; otherwise the unsigned name could
//! be changed without detection), and the note may carry at most 16 signature lines.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::{LogKey, TlogError};
use crate::core::x509::keys::{HashAlg, sha256};

const MAX_SIGNATURES: usize = 16;

/// The tree head a checkpoint commits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub tree_size: u64,
    pub root_hash: Vec<u8>,
    /// Lines after the root hash, without their newlines.
    pub extensions: Vec<String>,
    pub signatures: Vec<NoteSignature>,
}

/// One `— <name> <base64(key hint || signature)>` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_hint: [u8; 4],
    pub signature: Vec<u8>,
}

fn malformed(what: &'static str) -> TlogError {
    TlogError::CheckpointMalformed { what }
}

/// Canonical decimal: digits only, no sign, no leading zero.
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

fn parse_signature_line(line: &str) -> Result<NoteSignature, TlogError> {
    let rest = line.strip_prefix("\u{2014} ").ok_or(malformed(
        "signature line does not start with an em dash and a space",
    ))?;
    let (name, b64) = rest
        .split_once(' ')
        .ok_or(malformed("signature line has no signature"))?;
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(malformed("bad signer name"));
    }
    let raw = B64
        .decode(b64)
        .map_err(|_| malformed("signature is not base64"))?;
    match raw.split_first_chunk::<4>() {
        Some((hint, sig)) if !sig.is_empty() => Ok(NoteSignature {
            name: name.to_string(),
            key_hint: *hint,
            signature: sig.to_vec(),
        }),
        _ => Err(malformed("signature shorter than 5 bytes")),
    }
}

/// Parses a signed note holding a checkpoint. Returns the checkpoint and the signed text (the
/// note up to and including the newline before the blank line). Verifies nothing.
pub fn parse_checkpoint(note: &str) -> Result<(Checkpoint, String), TlogError> {
    let split = note
        .find("\n\n")
        .ok_or(malformed("no blank line before the signatures"))?;
    let (text, sig_block) = (&note[..=split], &note[split + 2..]);

    let sig_lines = sig_block
        .strip_suffix('\n')
        .ok_or(malformed("signatures do not end with a newline"))?;
    let mut signatures = Vec::new();
    for line in sig_lines.split('\n') {
        if signatures.len() == MAX_SIGNATURES {
            return Err(malformed("too many signatures"));
        }
        // An empty line here means a second blank line: the text would be ambiguous.
        signatures.push(parse_signature_line(line)?);
    }

    // `text` ends with the newline found above, and has no empty line inside.
    let mut lines = text[..text.len() - 1].split('\n');
    let origin = lines.next().unwrap_or_default();
    if origin.is_empty() {
        return Err(malformed("empty origin"));
    }
    let tree_size = lines
        .next()
        .and_then(parse_decimal)
        .ok_or(malformed("tree size is not a decimal number"))?;
    let root_hash = lines
        .next()
        .and_then(|l| B64.decode(l).ok())
        .ok_or(malformed("root hash is not base64"))?;
    let extensions = lines.map(str::to_string).collect();

    Ok((
        Checkpoint {
            origin: origin.to_string(),
            tree_size,
            root_hash,
            extensions,
            signatures,
        },
        text.to_string(),
    ))
}

/// Whether `name` is the signer Rekor v1 names in a checkpoint with this origin.
fn name_matches_origin(name: &str, origin: &str) -> bool {
    origin == name
        || origin
            .strip_prefix(name)
            .is_some_and(|rest| rest.starts_with(" - "))
}

/// Parses `note` and checks that every signature on it is `key`'s (see the module docs).
/// Does not compare the tree head with anything: the caller does.
pub fn verify_checkpoint(note: &str, key: &LogKey<'_>) -> Result<Checkpoint, TlogError> {
    let (checkpoint, text) = parse_checkpoint(note)?;
    let digest = sha256(key.key_der);
    let expected: [u8; 4] = [digest[0], digest[1], digest[2], digest[3]];
    // parse_checkpoint returns at least one signature; an empty list must not pass anyway.
    if checkpoint.signatures.is_empty() {
        return Err(malformed("no signatures"));
    }
    for s in &checkpoint.signatures {
        if s.key_hint != expected {
            return Err(TlogError::CheckpointKeyHint {
                expected,
                found: s.key_hint,
            });
        }
        if !name_matches_origin(&s.name, &checkpoint.origin) {
            return Err(TlogError::CheckpointSignerName {
                name: s.name.clone(),
                origin: checkpoint.origin.clone(),
            });
        }
        key.key
            .verify(HashAlg::Sha256, text.as_bytes(), &s.signature)
            .map_err(TlogError::CheckpointSignatureInvalid)?;
    }
    Ok(checkpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOTE: &str = "rekor.sigstore.dev - 1193050959916656506\n2160404071\nf+mok5xRhDiYOlWSG0Xafr8xciBBXHloUwn1oSFI89s=\n\n\u{2014} rekor.sigstore.dev wNI9ajBGAiEA6gQvbgJcTX8mrzD/Z/iSBAvJ2SjhB6apsJvdZi8pKUMCIQD94Lf9b8Cg5DwftDjyUKGgDu1m8OhBBrmWQ/TD13gSnA==\n";

    #[test]
    fn parses_a_real_rekor_checkpoint() {
        let (c, text) = parse_checkpoint(NOTE).unwrap();
        assert_eq!(c.origin, "rekor.sigstore.dev - 1193050959916656506");
        assert_eq!(c.tree_size, 2_160_404_071);
        assert_eq!(c.root_hash.len(), 32);
        assert!(c.extensions.is_empty());
        assert_eq!(c.signatures.len(), 1);
        assert_eq!(c.signatures[0].name, "rekor.sigstore.dev");
        assert_eq!(c.signatures[0].key_hint, [0xc0, 0xd2, 0x3d, 0x6a]);
        assert!(text.ends_with("89s=\n"));
        assert!(name_matches_origin("rekor.sigstore.dev", &c.origin));
    }

    #[test]
    fn keeps_extension_lines() {
        let note = NOTE.replacen("89s=\n", "89s=\nTimestamp: 1\nother\n", 1);
        let (c, text) = parse_checkpoint(&note).unwrap();
        assert_eq!(c.extensions, vec!["Timestamp: 1", "other"]);
        assert!(text.ends_with("other\n"));
    }

    #[test]
    fn rejects_malformed_notes() {
        let cases = [
            NOTE.replace("\n\n", "\n"),
            NOTE.replace('\u{2014}', "-"),
            NOTE.trim_end_matches('\n').to_string(),
            NOTE.replace("\n2160404071\n", "\n02160404071\n"),
            NOTE.replace("\n2160404071\n", "\n+2160404071\n"),
            NOTE.replace("\n2160404071\n", "\n\n"),
            NOTE.replace("f+mok", "f+mo!"),
            NOTE.replacen("rekor.sigstore.dev - ", "", 1)
                .replacen("1193050959916656506\n", "", 1),
            format!("{NOTE}\n"),
            format!("{NOTE}\u{2014} x\n"),
            format!("{NOTE}\u{2014} x AAAA\n"),
            format!("{NOTE}\u{2014}  AAAAAAA=\n"),
            NOTE.replace("nA==\n", "nA=\n"),
            format!("\n{NOTE}"),
            String::new(),
        ];
        for note in &cases {
            assert!(parse_checkpoint(note).is_err(), "accepted {note:?}");
        }
    }

    #[test]
    fn rejects_more_than_sixteen_signatures() {
        let line = NOTE.split("\n\n").nth(1).unwrap();
        let mut note = NOTE.to_string();
        for _ in 0..16 {
            note.push_str(line);
        }
        assert_eq!(
            parse_checkpoint(&note).unwrap_err(),
            malformed("too many signatures")
        );
    }

    #[test]
    fn name_must_be_the_origin_host() {
        assert!(name_matches_origin("a.dev", "a.dev - 1"));
        assert!(name_matches_origin("a.dev", "a.dev"));
        assert!(!name_matches_origin("a.de", "a.dev - 1"));
        assert!(!name_matches_origin("b.dev", "a.dev - 1"));
        assert!(!name_matches_origin("a.dev", "a.dev-1"));
    }
}
