//! Rekor v2 as a git signature uses it: the `hashedrekord` 0.0.2 request and body for a CMS
//! signature, and the embedded entry, rebuilt and proven offline.
//!
//! A v2 entry has no signed entry timestamp and `integratedTime` 0: the log proves inclusion
//! (a C2SP checkpoint signed by the log's Ed25519 key, see `note.rs`), and the time must come
//! from an RFC 3161 timestamp, which the caller checks (`core::verify::times`).
//!
//! What gitsign 0.17 writes with `rekorVersion=2` is accepted too: the same entry, but labelled
//! hashedrekord 0.0.1 with an empty inclusion promise. Its body (cleared, as for v1) is rebuilt
//! as 0.0.2, the only body a v2 log accepts, and the proof decides.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::logged::{has_v1_origin, verify_logged};
use super::{LogEntry, LogKey, TlogError, VerifiedEntry};

/// The key details of the ECDSA P-256 certificates Fulcio issues to gitsign.
pub const KEY_DETAILS_P256: &str = "PKIX_ECDSA_P256_SHA_256";

/// The canonical (RFC 8785) JSON body of a `hashedrekord` 0.0.2 entry for an ECDSA P-256
/// signature `signature` over `digest_sha256` by the certificate `leaf_der`.
pub fn hashedrekord_v002_body(
    digest_sha256: &[u8; 32],
    signature: &[u8],
    leaf_der: &[u8],
) -> Vec<u8> {
    // Base64 needs no JSON escaping and the keys are written in RFC 8785 order.
    format!(
        concat!(
            r#"{{"apiVersion":"0.0.2","kind":"hashedrekord","spec":{{"hashedRekordV002":{{"#,
            r#""data":{{"algorithm":"SHA2_256","digest":"{}"}},"#,
            r#""signature":{{"content":"{}","verifier":{{"keyDetails":"{}","#,
            r#""x509Certificate":{{"rawBytes":"{}"}}}}}}}}}}}}"#
        ),
        B64.encode(digest_sha256),
        B64.encode(signature),
        KEY_DETAILS_P256,
        B64.encode(leaf_der),
    )
    .into_bytes()
}

/// The JSON a v2 log takes at `POST /api/v2/log/entries` (`hashedRekordRequestV002`).
pub fn hashedrekord_v002_request(
    digest_sha256: &[u8; 32],
    signature: &[u8],
    leaf_der: &[u8],
) -> Vec<u8> {
    format!(
        concat!(
            r#"{{"hashedRekordRequestV002":{{"digest":"{}","signature":{{"content":"{}","#,
            r#""verifier":{{"x509Certificate":{{"rawBytes":"{}"}},"keyDetails":"{}"}}}}}}}}"#
        ),
        B64.encode(digest_sha256),
        B64.encode(signature),
        B64.encode(leaf_der),
        KEY_DETAILS_P256,
    )
    .into_bytes()
}

/// Whether an embedded entry is a Rekor v2 entry: labelled hashedrekord 0.0.2, or written by
/// gitsign 0.17 (labelled 0.0.1, no signed entry timestamp, a checkpoint whose origin is not
/// Rekor v1's `<host> - <tree id>`).
pub fn is_v2_entry(entry: &LogEntry) -> bool {
    if entry.kind != "hashedrekord" {
        return false;
    }
    match entry.version.as_str() {
        "0.0.2" => true,
        "0.0.1" => {
            entry
                .signed_entry_timestamp
                .as_deref()
                .is_none_or(<[u8]>::is_empty)
                && entry.integrated_time == 0
                && entry
                    .inclusion_proof
                    .as_ref()
                    .and_then(|p| p.checkpoint.as_deref())
                    .is_some_and(|note| !has_v1_origin(note))
        }
        _ => false,
    }
}

/// Verifies an embedded Rekor v2 entry for the signature it was logged for: the body is
/// rebuilt from `digest_sha256`, `signature` and `leaf_der` (a body the entry carries must be
/// exactly that one), and must be included under a checkpoint signed by a trusted log.
///
/// The result has no trusted time (`set_verified` false): the caller needs a timestamp, at
/// which the log key must be valid ([`VerifiedEntry::log_valid_at`]).
pub fn verify_embedded_v2(
    entry: &LogEntry,
    digest_sha256: &[u8; 32],
    signature: &[u8],
    leaf_der: &[u8],
    logs: &[LogKey<'_>],
) -> Result<VerifiedEntry, TlogError> {
    let body = hashedrekord_v002_body(digest_sha256, signature, leaf_der);
    if let Some(logged) = &entry.canonicalized_body
        && logged.as_slice() != body
    {
        return Err(TlogError::BodyMismatch);
    }
    if entry.integrated_time != 0 {
        // Unsigned in v2: a time here would be a claim nothing vouches for.
        return Err(TlogError::Malformed {
            what: "Rekor v2 entries have no integrated time",
        });
    }
    let entry = LogEntry {
        kind: "hashedrekord".into(),
        version: "0.0.2".into(),
        signed_entry_timestamp: None,
        canonicalized_body: Some(body),
        ..entry.clone()
    };
    let logged = verify_logged(&entry, logs)?;
    Ok(VerifiedEntry {
        log_index: logged.log_index,
        integrated_time: 0,
        log_id: logged.log_id,
        base_url: logged.base_url,
        set_verified: false,
        inclusion_verified: true,
        rekor_v2: true,
        log_valid_from: logged.log_valid_from,
        log_valid_until: logged.log_valid_until,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{InclusionProof, parse_body};
    use super::*;
    use crate::core::tlog::{LoggedContent, LoggedVerifier};

    fn leaf_der() -> Vec<u8> {
        let obj = crate::core::git::gitobj::test_vector(
            "fe1e62346d3c346a343d089e8b4c3fb57716bc94.commit",
        );
        let der = crate::core::asn1::pem::decode_one(&obj.signature, "SIGNED MESSAGE").unwrap();
        let sd = crate::core::cms::parse(&der, crate::core::cms::Profile::Gitsign).unwrap();
        sd.certificates[0].to_vec()
    }

    #[test]
    fn the_v2_body_is_canonical_and_parses_back_to_what_was_signed() {
        let leaf = leaf_der();
        let body = hashedrekord_v002_body(&[7; 32], b"sig", &leaf);
        match parse_body("hashedrekord", "0.0.2", &body).unwrap() {
            LoggedContent::Digest { sha256, signature } => {
                assert_eq!(sha256, vec![7; 32]);
                assert_eq!(signature.signature, b"sig");
                assert_eq!(signature.verifier, LoggedVerifier::Certificate(leaf));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_v2_request_names_digest_signature_certificate_and_key_details() {
        let req = hashedrekord_v002_request(&[1; 32], b"sig", b"cert");
        let v: serde_json::Value = serde_json::from_slice(&req).unwrap();
        let r = &v["hashedRekordRequestV002"];
        assert_eq!(r["digest"], B64.encode([1; 32]));
        assert_eq!(r["signature"]["content"], B64.encode(b"sig"));
        assert_eq!(
            r["signature"]["verifier"]["x509Certificate"]["rawBytes"],
            B64.encode(b"cert")
        );
        assert_eq!(r["signature"]["verifier"]["keyDetails"], KEY_DETAILS_P256);
    }

    fn entry(version: &str, set: Option<Vec<u8>>, time: i64, origin: &str) -> LogEntry {
        LogEntry {
            log_index: 3,
            log_id: vec![1; 32],
            kind: "hashedrekord".into(),
            version: version.into(),
            integrated_time: time,
            signed_entry_timestamp: set,
            inclusion_proof: Some(InclusionProof {
                log_index: 3,
                root_hash: vec![0; 32],
                tree_size: 4,
                hashes: vec![],
                checkpoint: Some(format!("{origin}\n4\nAAAA\n\n— x y\n")),
            }),
            canonicalized_body: None,
        }
    }

    #[test]
    fn v2_entries_are_told_from_v1_by_label_or_by_gitsign_017s_shape() {
        assert!(is_v2_entry(&entry(
            "0.0.2",
            None,
            0,
            "log2025-1.rekor.sigstore.dev"
        )));
        // gitsign 0.17 with rekorVersion=2: labelled 0.0.1, empty promise, v2 checkpoint.
        assert!(is_v2_entry(&entry(
            "0.0.1",
            Some(vec![]),
            0,
            "log2025-1.rekor.sigstore.dev"
        )));
        assert!(is_v2_entry(&entry("0.0.1", None, 0, "127.0.0.1")));
        // Rekor v1: a SET, an integrated time, a `<host> - <tree id>` origin.
        assert!(!is_v2_entry(&entry(
            "0.0.1",
            Some(vec![1]),
            0,
            "log2025-1.rekor.sigstore.dev"
        )));
        assert!(!is_v2_entry(&entry(
            "0.0.1",
            None,
            1_700_000_000,
            "127.0.0.1"
        )));
        assert!(!is_v2_entry(&entry(
            "0.0.1",
            None,
            0,
            "rekor.sigstore.dev - 1193050959916656506"
        )));
        let mut dsse = entry("0.0.2", None, 0, "x");
        dsse.kind = "dsse".into();
        assert!(!is_v2_entry(&dsse));
    }

    #[test]
    fn an_embedded_v2_entry_with_another_body_or_a_time_is_refused_before_any_proof() {
        let leaf = leaf_der();
        let mut e = entry("0.0.2", None, 0, "127.0.0.1");
        e.canonicalized_body = Some(b"{}".to_vec());
        assert_eq!(
            verify_embedded_v2(&e, &[0; 32], b"s", &leaf, &[]),
            Err(TlogError::BodyMismatch)
        );
        let e = entry("0.0.2", None, 5, "127.0.0.1");
        assert!(matches!(
            verify_embedded_v2(&e, &[0; 32], b"s", &leaf, &[]),
            Err(TlogError::Malformed { .. })
        ));
        let e = entry("0.0.2", None, 0, "127.0.0.1");
        assert!(matches!(
            verify_embedded_v2(&e, &[0; 32], b"s", &leaf, &[]),
            Err(TlogError::UnknownLog { .. })
        ));
    }
}
