//! DSSE envelopes (Dead Simple Signing Envelope, secure-systems-lab/dsse v1) and the in-toto
//! statements Sigstore bundles carry in them.
//!
//! The signature covers the pre-authentication encoding (PAE) of the payload type and the
//! payload, never the envelope's JSON: `"DSSEv1" SP len(type) SP type SP len(body) SP body`,
//! lengths in ASCII decimal. An in-toto statement binds the envelope to artifacts through its
//! subjects' digests: the artifact must be one of them.

use std::fmt;

use serde::Deserialize;

use crate::core::tlog::hex;
use crate::core::x509::keys::{KeyError, PublicKey};

/// The payload type of in-toto statements.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// The statement types accepted (v0.1 and v1 share the subject layout).
const STATEMENT_TYPES: &[&str] = &[
    "https://in-toto.io/Statement/v1",
    "https://in-toto.io/Statement/v0.1",
];

/// A decoded envelope: base64 already removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub payload_type: String,
    pub payload: Vec<u8>,
    pub signatures: Vec<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DsseError {
    /// Sigstore bundles carry exactly one envelope signature.
    SignatureCount {
        found: usize,
    },
    Signature(KeyError),
    NotInToto {
        payload_type: String,
    },
    Statement {
        what: String,
    },
    /// No subject of the statement has the artifact's SHA-256 digest.
    SubjectMismatch {
        artifact_sha256: String,
    },
}

impl fmt::Display for DsseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DsseError::SignatureCount { found } => write!(
                f,
                "DSSE envelope has {found} signatures, exactly one is supported"
            ),
            DsseError::Signature(e) => write!(f, "DSSE envelope signature invalid: {e}"),
            DsseError::NotInToto { payload_type } => write!(
                f,
                "DSSE payload type {payload_type:?} is not an in-toto statement: nothing binds it to the artifact"
            ),
            DsseError::Statement { what } => write!(f, "in-toto statement: {what}"),
            DsseError::SubjectMismatch { artifact_sha256 } => write!(
                f,
                "in-toto statement has no subject with the artifact's digest sha256:{artifact_sha256}"
            ),
        }
    }
}

impl std::error::Error for DsseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DsseError::Signature(e) => Some(e),
            _ => None,
        }
    }
}

/// The pre-authentication encoding the signature covers.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

impl Envelope {
    /// The one signature (Sigstore bundles carry exactly one).
    pub fn signature(&self) -> Result<&[u8], DsseError> {
        match self.signatures.as_slice() {
            [one] => Ok(one),
            other => Err(DsseError::SignatureCount { found: other.len() }),
        }
    }

    /// Verifies the envelope's signature over PAE with `key` (ECDSA with the key's default
    /// hash, Ed25519 over the PAE itself).
    pub fn verify(&self, key: &PublicKey) -> Result<(), DsseError> {
        let sig = self.signature()?;
        key.verify(
            key.default_hash(),
            &pae(&self.payload_type, &self.payload),
            sig,
        )
        .map_err(DsseError::Signature)
    }

    /// Checks that the payload is an in-toto statement with a subject whose `sha256` digest is
    /// `artifact_sha256`.
    pub fn check_subject(&self, artifact_sha256: &[u8; 32]) -> Result<(), DsseError> {
        if self.payload_type != IN_TOTO_PAYLOAD_TYPE {
            return Err(DsseError::NotInToto {
                payload_type: self.payload_type.clone(),
            });
        }
        let statement: Statement =
            serde_json::from_slice(&self.payload).map_err(|e| DsseError::Statement {
                what: format!("not valid JSON of the expected shape: {e}"),
            })?;
        if !STATEMENT_TYPES.contains(&statement.type_.as_str()) {
            return Err(DsseError::Statement {
                what: format!("unknown statement type {:?}", statement.type_),
            });
        }
        if statement.subject.is_empty() {
            return Err(DsseError::Statement {
                what: "no subjects".into(),
            });
        }
        let want = hex(artifact_sha256);
        let found = statement.subject.iter().any(|s| {
            s.digest
                .get("sha256")
                .is_some_and(|d| d.eq_ignore_ascii_case(&want))
        });
        if found {
            Ok(())
        } else {
            Err(DsseError::SubjectMismatch {
                artifact_sha256: want,
            })
        }
    }
}

#[derive(Deserialize)]
struct Statement {
    #[serde(rename = "_type")]
    type_: String,
    #[serde(default)]
    subject: Vec<Subject>,
}

#[derive(Deserialize)]
struct Subject {
    #[serde(default)]
    digest: std::collections::BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::x509::keys::sha256;
    use ecdsa::signature::Signer;

    fn key() -> (p256::ecdsa::SigningKey, PublicKey) {
        let sk = p256::ecdsa::SigningKey::from_slice(&[9u8; 32]).unwrap();
        let spki = p256::pkcs8::EncodePublicKey::to_public_key_der(sk.verifying_key()).unwrap();
        (sk, PublicKey::from_spki_der(spki.as_bytes()).unwrap())
    }

    fn statement(digest_hex: &str) -> Vec<u8> {
        format!(
            r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"a","digest":{{"sha256":"{digest_hex}"}}}}],"predicateType":"x","predicate":{{}}}}"#
        )
        .into_bytes()
    }

    fn signed(payload: Vec<u8>) -> (Envelope, PublicKey) {
        let (sk, pk) = key();
        let sig: p256::ecdsa::DerSignature = sk.sign(&pae(IN_TOTO_PAYLOAD_TYPE, &payload));
        (
            Envelope {
                payload_type: IN_TOTO_PAYLOAD_TYPE.into(),
                payload,
                signatures: vec![sig.as_bytes().to_vec()],
            },
            pk,
        )
    }

    #[test]
    fn pae_matches_the_dsse_specification_example() {
        // From the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn an_envelope_verifies_and_binds_its_subject() {
        let digest = sha256(b"artifact");
        let (env, pk) = signed(statement(&hex(&digest)));
        env.verify(&pk).unwrap();
        env.check_subject(&digest).unwrap();
        assert!(matches!(
            env.check_subject(&sha256(b"other")),
            Err(DsseError::SubjectMismatch { .. })
        ));
    }

    #[test]
    fn a_changed_payload_or_type_breaks_the_signature() {
        let digest = sha256(b"artifact");
        let (env, pk) = signed(statement(&hex(&digest)));
        let mut changed = env.clone();
        changed.payload.push(b' ');
        assert!(matches!(changed.verify(&pk), Err(DsseError::Signature(_))));
        let mut changed = env.clone();
        changed.payload_type = "application/json".into();
        assert!(changed.verify(&pk).is_err());
        assert!(matches!(
            changed.check_subject(&digest),
            Err(DsseError::NotInToto { .. })
        ));
    }

    #[test]
    fn envelopes_with_zero_or_two_signatures_are_refused() {
        let (mut env, pk) = signed(statement("00"));
        env.signatures.push(env.signatures[0].clone());
        assert_eq!(env.verify(&pk), Err(DsseError::SignatureCount { found: 2 }));
        env.signatures.clear();
        assert_eq!(env.verify(&pk), Err(DsseError::SignatureCount { found: 0 }));
    }

    #[test]
    fn statements_of_the_wrong_shape_are_refused() {
        let digest = sha256(b"artifact");
        for payload in [
            b"not json".to_vec(),
            br#"{"_type":"https://example.com/other","subject":[]}"#.to_vec(),
            br#"{"_type":"https://in-toto.io/Statement/v1","subject":[]}"#.to_vec(),
        ] {
            let (env, _) = signed(payload);
            assert!(matches!(
                env.check_subject(&digest),
                Err(DsseError::Statement { .. })
            ));
        }
    }
}
