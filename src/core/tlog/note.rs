//! Rekor v2 checkpoints: C2SP signed notes (`c2sp.org/signed-note`, `c2sp.org/tlog-checkpoint`)
//! as rekor-tiles writes them and sigstore-go checks them.
//!
//! - The log's name is the host of its base URL; the checkpoint's first line (the origin)
//!   must be that name.
//! - A signature line counts only if its name is the log's name **and** its key hint is the
//!   log key's; every other line (witness cosignatures, other keys) is ignored. At least one
//!   line must count, and every line that counts must verify.
//! - Key hints (rekor-tiles `pkg/note`): Ed25519 keys use the C2SP key id,
//!   `SHA-256(name || "\n" || 0x01 || 32-byte key)[..4]`; ECDSA keys use
//!   `SHA-256(DER SubjectPublicKeyInfo)[..4]` as Rekor v1 does.

use super::{Checkpoint, LogKey, TlogError, parse_checkpoint};
use crate::core::x509::keys::{HashAlg, PublicKey, sha256};

/// The key id of a log key signing notes under `name` (rekor-tiles `note.KeyHash`): for
/// Ed25519 the C2SP key id, which rekor-tiles also uses as the log id; for ECDSA the SHA-256
/// of the DER SubjectPublicKeyInfo, as Rekor v1 does.
pub fn note_key_id(name: &str, key: &PublicKey, key_der: &[u8]) -> [u8; 32] {
    match key {
        PublicKey::Ed25519(k) => {
            let mut input = Vec::with_capacity(name.len() + 34);
            input.extend_from_slice(name.as_bytes());
            input.push(b'\n');
            input.push(0x01);
            input.extend_from_slice(k.as_bytes());
            sha256(&input)
        }
        PublicKey::P256(_) | PublicKey::P384(_) => sha256(key_der),
    }
}

/// The 4-byte key hint of signature lines: the first bytes of [`note_key_id`].
pub fn note_key_hint(name: &str, key: &PublicKey, key_der: &[u8]) -> [u8; 4] {
    let id = note_key_id(name, key, key_der);
    [id[0], id[1], id[2], id[3]]
}

/// The host of a base URL (`https://host[:port][/path]` → `host`).
pub fn url_host(base_url: &str) -> Option<&str> {
    let rest = base_url
        .strip_prefix("https://")
        .or_else(|| base_url.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => authority,
    };
    (!host.is_empty() && !host.contains('@')).then_some(host)
}

/// Verifies a Rekor v2 checkpoint signed by `log` (see the module docs) and returns it.
pub fn verify_note(note: &str, log: &LogKey<'_>) -> Result<Checkpoint, TlogError> {
    let name = url_host(log.base_url).ok_or(TlogError::CheckpointMalformed {
        what: "the trusted root gives the log no base URL host to name its checkpoints",
    })?;
    let (checkpoint, text) = parse_checkpoint(note)?;
    if checkpoint.origin != name {
        return Err(TlogError::CheckpointOrigin {
            origin: checkpoint.origin.clone(),
            expected: name.to_string(),
        });
    }
    let hint = note_key_hint(name, log.key, log.key_der);
    let mut verified = 0usize;
    for s in checkpoint
        .signatures
        .iter()
        .filter(|s| s.name == name && s.key_hint == hint)
    {
        log.key
            .verify(HashAlg::Sha256, text.as_bytes(), &s.signature)
            .map_err(TlogError::CheckpointSignatureInvalid)?;
        verified += 1;
    }
    if verified == 0 {
        return Err(TlogError::CheckpointNoLogSignature {
            name: name.to_string(),
        });
    }
    Ok(checkpoint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as B64;
    use ed25519_dalek::Signer as _;

    fn log_key() -> (ed25519_dalek::SigningKey, PublicKey, Vec<u8>) {
        let sk = ed25519_dalek::SigningKey::from_bytes(&[5u8; 32]);
        // RFC 8410 SubjectPublicKeyInfo: fixed prefix, then the 32-byte key.
        let mut der = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        der.extend_from_slice(sk.verifying_key().as_bytes());
        assert!(PublicKey::from_spki_der(&der).is_ok());
        let pk = PublicKey::Ed25519(sk.verifying_key());
        (sk, pk, der)
    }

    fn sign_line(sk: &ed25519_dalek::SigningKey, name: &str, hint: [u8; 4], text: &str) -> String {
        let mut raw = hint.to_vec();
        raw.extend_from_slice(&sk.sign(text.as_bytes()).to_bytes());
        format!("\u{2014} {name} {}\n", B64.encode(raw))
    }

    const TEXT: &str = "log.example.dev\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";

    fn check(note: &str, key: &PublicKey, der: &[u8]) -> Result<Checkpoint, TlogError> {
        let log = LogKey {
            log_id: b"",
            key,
            key_der: der,
            valid_from: Some(0),
            valid_until: None,
            base_url: "https://log.example.dev",
        };
        verify_note(note, &log)
    }

    #[test]
    fn the_log_signature_counts_wherever_it_is_and_unknown_lines_are_ignored() {
        let (sk, pk, der) = log_key();
        let hint = note_key_hint("log.example.dev", &pk, &der);
        let witness = ed25519_dalek::SigningKey::from_bytes(&[6u8; 32]);
        let note = format!(
            "{TEXT}\n{}{}",
            sign_line(&witness, "witness.example", [1, 2, 3, 4], TEXT),
            sign_line(&sk, "log.example.dev", hint, TEXT)
        );
        let cp = check(&note, &pk, &der).unwrap();
        assert_eq!(cp.tree_size, 5);
    }

    #[test]
    fn a_note_without_the_logs_signature_is_refused() {
        let (sk, pk, der) = log_key();
        let hint = note_key_hint("log.example.dev", &pk, &der);
        let renamed = format!("{TEXT}\n{}", sign_line(&sk, "log.github.dev", hint, TEXT));
        assert!(matches!(
            check(&renamed, &pk, &der),
            Err(TlogError::CheckpointNoLogSignature { .. })
        ));
        let other_hint = format!(
            "{TEXT}\n{}",
            sign_line(&sk, "log.example.dev", [0; 4], TEXT)
        );
        assert!(check(&other_hint, &pk, &der).is_err());
    }

    #[test]
    fn a_bad_log_signature_is_refused_even_beside_a_good_one() {
        let (sk, pk, der) = log_key();
        let hint = note_key_hint("log.example.dev", &pk, &der);
        let good = sign_line(&sk, "log.example.dev", hint, TEXT);
        let bad = sign_line(&sk, "log.example.dev", hint, "other text\n");
        let note = format!("{TEXT}\n{good}{bad}");
        assert!(matches!(
            check(&note, &pk, &der),
            Err(TlogError::CheckpointSignatureInvalid(_))
        ));
    }

    #[test]
    fn the_origin_must_be_the_logs_host() {
        let (sk, pk, der) = log_key();
        let text = TEXT.replace("log.example.dev", "log.evil.dev");
        let hint = note_key_hint("log.example.dev", &pk, &der);
        let note = format!("{text}\n{}", sign_line(&sk, "log.example.dev", hint, &text));
        assert!(matches!(
            check(&note, &pk, &der),
            Err(TlogError::CheckpointOrigin { .. })
        ));
    }

    #[test]
    fn the_staging_rekor_v2_log_id_is_its_c2sp_key_id() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/conformance/bundle-verify/rekor2-happy-path/trusted_root.json"
        );
        let root =
            crate::core::sigstore::trust::TrustedRoot::from_json(&std::fs::read(path).unwrap())
                .unwrap();
        let log = root
            .tlogs
            .iter()
            .find(|l| l.key_details == "PKIX_ED25519")
            .unwrap();
        let name = url_host(&log.base_url).unwrap();
        let key = log.key.as_ref().unwrap();
        assert_eq!(note_key_id(name, key, &log.key_der).as_slice(), log.log_id);
        assert_eq!(note_key_hint(name, key, &log.key_der), log.log_id[..4]);
    }

    #[test]
    fn url_hosts() {
        assert_eq!(url_host("https://a.dev"), Some("a.dev"));
        assert_eq!(url_host("https://a.dev:443/x"), Some("a.dev"));
        assert_eq!(url_host("http://a.dev/"), Some("a.dev"));
        assert_eq!(url_host("a.dev"), None);
        assert_eq!(url_host("https://"), None);
    }
}
