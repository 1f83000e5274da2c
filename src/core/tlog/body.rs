//! The canonical bodies of the log entry kinds a Sigstore bundle can carry, parsed into what
//! the verifier compares with the bundle: the signature, who verifies it (certificate or key)
//! and what was signed (a digest, or a DSSE payload).
//!
//! ```text
//! hashedrekord 0.0.1  spec.data.hash{algorithm:"sha256",value:hex}
//!                     spec.signature{content:b64, publicKey.content:b64(PEM)}
//! hashedrekord 0.0.2  spec.hashedRekordV002.data{algorithm:"SHA2_256",digest:b64}
//!                     spec.hashedRekordV002.signature{content:b64,
//!                       verifier{keyDetails, x509Certificate.rawBytes | publicKey.rawBytes}}
//! dsse 0.0.1          spec.payloadHash{algorithm:"sha256",value:hex}
//!                     spec.signatures[{signature:b64, verifier:b64(PEM)}]
//! intoto 0.0.2        spec.payloadHash{...}, spec.content.envelope{payloadType,
//!                       payload:b64(b64), signatures[{sig:b64(b64), publicKey:b64(PEM)}]}
//! ```
//!
//! A body must be in the canonical (RFC 8785) form Rekor stores: re-serialising the parsed
//! JSON with sorted keys must give the same bytes, which also refuses duplicate keys (the
//! leaf hash covers the bytes, the comparison covers the parsed fields: they must agree).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;

use super::{TlogError, unhex};
use crate::core::asn1::pem;
use crate::core::x509::cert::Certificate;
use crate::core::x509::keys::PublicKey;

/// Who verifies a logged signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoggedVerifier {
    /// A certificate, DER.
    Certificate(Vec<u8>),
    /// A public key, DER SubjectPublicKeyInfo.
    PublicKey(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedSignature {
    pub signature: Vec<u8>,
    pub verifier: LoggedVerifier,
}

/// What an entry body says was signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoggedContent {
    /// hashedrekord: a signature over a SHA-256 digest.
    Digest {
        sha256: Vec<u8>,
        signature: LoggedSignature,
    },
    /// dsse 0.0.1 and intoto 0.0.2: an envelope, identified by its payload's SHA-256.
    Envelope {
        payload_sha256: Vec<u8>,
        signatures: Vec<LoggedSignature>,
        /// intoto 0.0.2 logs the envelope: (payload type, payload), when the payload is kept.
        envelope: Option<(String, Vec<u8>)>,
    },
}

fn malformed(what: &'static str) -> TlogError {
    TlogError::Malformed { what }
}

fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

fn text<'a>(v: &'a Value, path: &[&str], what: &'static str) -> Result<&'a str, TlogError> {
    at(v, path).and_then(Value::as_str).ok_or(malformed(what))
}

fn b64(v: &Value, path: &[&str], what: &'static str) -> Result<Vec<u8>, TlogError> {
    B64.decode(text(v, path, what)?)
        .map_err(|_| malformed(what))
}

/// A `{algorithm:"sha256", value:hex}` object.
fn sha256_hex(v: &Value, path: &[&str], what: &'static str) -> Result<Vec<u8>, TlogError> {
    let mut alg = path.to_vec();
    alg.push("algorithm");
    let mut val = path.to_vec();
    val.push("value");
    if text(v, &alg, what)? != "sha256" {
        return Err(TlogError::Malformed {
            what: "entry digest algorithm is not sha256",
        });
    }
    match unhex(text(v, &val, what)?) {
        Some(d) if d.len() == 32 => Ok(d),
        _ => Err(malformed(what)),
    }
}

/// base64 of a PEM certificate or public key.
fn pem_verifier(b64_pem: &[u8]) -> Result<LoggedVerifier, TlogError> {
    if let Ok(der) = pem::decode_one(b64_pem, "CERTIFICATE") {
        return Ok(LoggedVerifier::Certificate(der));
    }
    pem::decode_one(b64_pem, "PUBLIC KEY")
        .map(LoggedVerifier::PublicKey)
        .map_err(|_| malformed("entry verifier is neither a PEM certificate nor a PEM public key"))
}

/// The `keyDetails` Rekor v2 records for a verifier's key (Ed25519 signs hashedrekords
/// as Ed25519ph).
fn v2_key_details(verifier: &LoggedVerifier) -> Option<&'static str> {
    let key = match verifier {
        LoggedVerifier::Certificate(der) => Certificate::from_der(der).ok()?.public_key().ok()?,
        LoggedVerifier::PublicKey(der) => PublicKey::from_spki_der(der).ok()?,
    };
    Some(match key {
        PublicKey::P256(_) => "PKIX_ECDSA_P256_SHA_256",
        PublicKey::P384(_) => "PKIX_ECDSA_P384_SHA_384",
        PublicKey::Ed25519(_) => "PKIX_ED25519_PH",
    })
}

/// Parses the canonical body of an entry of kind `kind` and version `version`.
pub fn parse_body(kind: &str, version: &str, body: &[u8]) -> Result<LoggedContent, TlogError> {
    let v: Value = serde_json::from_slice(body).map_err(|_| malformed("body is not JSON"))?;
    if serde_json::to_vec(&v).ok().as_deref() != Some(body) {
        return Err(malformed("body is not canonical JSON"));
    }
    if v.get("kind").and_then(Value::as_str) != Some(kind)
        || v.get("apiVersion").and_then(Value::as_str) != Some(version)
    {
        return Err(malformed(
            "body kind or apiVersion differs from the entry's",
        ));
    }
    match (kind, version) {
        ("hashedrekord", "0.0.1") => {
            let s = &v["spec"];
            Ok(LoggedContent::Digest {
                sha256: sha256_hex(s, &["data", "hash"], "hashedrekord data hash")?,
                signature: LoggedSignature {
                    signature: b64(s, &["signature", "content"], "hashedrekord signature")?,
                    verifier: pem_verifier(&b64(
                        s,
                        &["signature", "publicKey", "content"],
                        "hashedrekord public key",
                    )?)?,
                },
            })
        }
        ("hashedrekord", "0.0.2") => {
            let s = &v["spec"]["hashedRekordV002"];
            if text(s, &["data", "algorithm"], "hashedrekord data algorithm")? != "SHA2_256" {
                return Err(malformed("entry digest algorithm is not SHA2_256"));
            }
            let sha256 = b64(s, &["data", "digest"], "hashedrekord data digest")?;
            if sha256.len() != 32 {
                return Err(malformed("hashedrekord data digest"));
            }
            let ver = &s["signature"]["verifier"];
            let key_details = text(ver, &["keyDetails"], "hashedrekord verifier keyDetails")?;
            let verifier = match (ver.get("x509Certificate"), ver.get("publicKey")) {
                (Some(_), None) => LoggedVerifier::Certificate(b64(
                    ver,
                    &["x509Certificate", "rawBytes"],
                    "hashedrekord verifier certificate",
                )?),
                (None, Some(_)) => LoggedVerifier::PublicKey(b64(
                    ver,
                    &["publicKey", "rawBytes"],
                    "hashedrekord verifier public key",
                )?),
                _ => return Err(malformed("hashedrekord verifier")),
            };
            // sigstore-go rebuilds this body with the key details its key implies; a body
            // naming others would not be the entry it checks.
            if Some(key_details) != v2_key_details(&verifier) {
                return Err(malformed(
                    "hashedrekord verifier keyDetails do not match its key",
                ));
            }
            Ok(LoggedContent::Digest {
                sha256,
                signature: LoggedSignature {
                    signature: b64(s, &["signature", "content"], "hashedrekord signature")?,
                    verifier,
                },
            })
        }
        ("dsse", "0.0.1") => {
            let s = &v["spec"];
            let sigs = s["signatures"]
                .as_array()
                .ok_or(malformed("dsse signatures"))?;
            let signatures = sigs
                .iter()
                .map(|sig| {
                    Ok(LoggedSignature {
                        signature: b64(sig, &["signature"], "dsse signature")?,
                        verifier: pem_verifier(&b64(sig, &["verifier"], "dsse verifier")?)?,
                    })
                })
                .collect::<Result<Vec<_>, TlogError>>()?;
            Ok(LoggedContent::Envelope {
                payload_sha256: sha256_hex(s, &["payloadHash"], "dsse payload hash")?,
                signatures,
                envelope: None,
            })
        }
        ("intoto", "0.0.2") => {
            let s = &v["spec"];
            let env = &s["content"]["envelope"];
            // Rekor stores the envelope's base64 strings base64-encoded once more.
            let twice = |v: &Value, path: &[&str], what: &'static str| {
                let once = b64(v, path, what)?;
                B64.decode(once).map_err(|_| malformed(what))
            };
            let sigs = env["signatures"]
                .as_array()
                .ok_or(malformed("intoto signatures"))?;
            let signatures = sigs
                .iter()
                .map(|sig| {
                    // Some entries hold the signature base64-encoded only once: keep
                    // those bytes as they are (compared exactly, they match nothing else).
                    let once = b64(sig, &["sig"], "intoto signature")?;
                    Ok(LoggedSignature {
                        signature: B64.decode(&once).unwrap_or(once),
                        verifier: pem_verifier(&b64(sig, &["publicKey"], "intoto public key")?)?,
                    })
                })
                .collect::<Result<Vec<_>, TlogError>>()?;
            let payload_type = text(env, &["payloadType"], "intoto payload type")?.to_string();
            // Rekor may leave the payload out of the stored envelope; its hash is always there.
            let envelope = match env.get("payload") {
                None => None,
                Some(_) => Some((payload_type, twice(env, &["payload"], "intoto payload")?)),
            };
            Ok(LoggedContent::Envelope {
                payload_sha256: sha256_hex(s, &["content", "payloadHash"], "intoto payload hash")?,
                signatures,
                envelope,
            })
        }
        _ => Err(TlogError::UnsupportedKind {
            kind: kind.to_string(),
            version: version.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::tlog::hashedrekord_body;

    const PEM: &str = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";

    #[test]
    fn a_rebuilt_hashedrekord_body_parses_back_to_its_fields() {
        let body = hashedrekord_body(&[7; 32], b"sig", PEM);
        let parsed = parse_body("hashedrekord", "0.0.1", &body).unwrap();
        assert_eq!(
            parsed,
            LoggedContent::Digest {
                sha256: vec![7; 32],
                signature: LoggedSignature {
                    signature: b"sig".to_vec(),
                    verifier: LoggedVerifier::PublicKey(vec![0, 0, 0]),
                }
            }
        );
    }

    #[test]
    fn non_canonical_or_mislabelled_bodies_are_refused() {
        let body = hashedrekord_body(&[7; 32], b"sig", PEM);
        let spaced = String::from_utf8(body.clone())
            .unwrap()
            .replacen(':', ": ", 1);
        assert_eq!(
            parse_body("hashedrekord", "0.0.1", spaced.as_bytes()),
            Err(malformed("body is not canonical JSON"))
        );
        let dup =
            String::from_utf8(body.clone())
                .unwrap()
                .replacen('{', r#"{"apiVersion":"0.0.1","#, 1);
        assert!(parse_body("hashedrekord", "0.0.1", dup.as_bytes()).is_err());
        assert!(parse_body("hashedrekord", "0.0.2", &body).is_err());
        assert!(matches!(
            parse_body("rekord", "0.0.1", &body),
            Err(TlogError::Malformed { .. })
        ));
    }

    fn rekor_v2_body() -> Vec<u8> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/conformance/bundle-verify/rekor2-happy-path/bundle.sigstore.json"
        );
        let bundle: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let body = bundle["verificationMaterial"]["tlogEntries"][0]["canonicalizedBody"]
            .as_str()
            .unwrap();
        B64.decode(body).unwrap()
    }

    #[test]
    fn a_real_rekor_v2_body_parses_and_its_key_details_must_fit_the_key() {
        let body = rekor_v2_body();
        let parsed = parse_body("hashedrekord", "0.0.2", &body).unwrap();
        assert!(matches!(
            parsed,
            LoggedContent::Digest {
                signature: LoggedSignature {
                    verifier: LoggedVerifier::Certificate(_),
                    ..
                },
                ..
            }
        ));
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains("PKIX_ECDSA_P256_SHA_256"));
        let other = text.replace("PKIX_ECDSA_P256_SHA_256", "PKIX_ECDSA_P384_SHA_384");
        assert_eq!(
            parse_body("hashedrekord", "0.0.2", other.as_bytes()),
            Err(malformed(
                "hashedrekord verifier keyDetails do not match its key"
            ))
        );
    }

    #[test]
    fn unknown_kinds_are_unsupported() {
        let body = br#"{"apiVersion":"0.0.1","kind":"rekord"}"#;
        assert!(matches!(
            parse_body("rekord", "0.0.1", body),
            Err(TlogError::UnsupportedKind { .. })
        ));
    }
}
