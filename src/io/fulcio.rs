//! Fulcio v2: `POST {fulcio}/api/v2/signingCert` exchanges an ID token and a proof of
//! possession of our ephemeral key for a short-lived certificate. The answer is not trusted
//! here: the caller checks the chain against the trusted root (`core::verify::signing`).

use std::fmt;

use crate::io::http::{self, BodyError, root_cause};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::core::asn1::pem;
use crate::io::key::KeySigner;
use crate::io::oidc::IdToken;

#[derive(Debug)]
pub enum FulcioError {
    Unreachable {
        url: String,
        error: String,
    },
    TimedOut {
        url: String,
        after: Duration,
    },
    /// A non-2xx answer, with Fulcio's own message when it sent one.
    Status {
        url: String,
        status: u16,
        message: Option<String>,
    },
    BadResponse {
        url: String,
        error: String,
    },
    /// Fulcio answered with a detached SCT (a CT log outside the certificate), which
    /// gitsign's signature format cannot carry.
    DetachedSct {
        url: String,
    },
    /// The key could not sign the proof of possession (the credential cache went away).
    ProofOfPossession {
        url: String,
        error: String,
    },
}

impl fmt::Display for FulcioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FulcioError::Unreachable { url, error } => {
                write!(f, "Fulcio at {url} cannot be reached ({error})")
            }
            FulcioError::TimedOut { url, after } => write!(
                f,
                "Fulcio at {url} did not answer the certificate request within {}s",
                after.as_secs()
            ),
            FulcioError::Status {
                url,
                status,
                message,
            } => {
                write!(
                    f,
                    "Fulcio at {url} refused the certificate request: HTTP {status}"
                )?;
                if let Some(m) = message {
                    write!(f, " ({m})")?;
                }
                Ok(())
            }
            FulcioError::BadResponse { url, error } => write!(
                f,
                "Fulcio at {url} sent an unreadable certificate response ({error})"
            ),
            FulcioError::ProofOfPossession { url, error } => write!(
                f,
                "cannot sign the proof of possession for Fulcio at {url} ({error})"
            ),
            FulcioError::DetachedSct { url } => write!(
                f,
                "Fulcio at {url} issued a certificate with a detached SCT, which gitsign signatures cannot carry"
            ),
        }
    }
}

impl std::error::Error for FulcioError {}

/// The request body (REFERENCE.md §6). The proof of possession is the key's signature over
/// the identity the token names, which Fulcio checks with the submitted key.
pub fn request_body(token: &IdToken, key: &dyn KeySigner) -> Result<serde_json::Value, String> {
    let proof = key.sign(token.identity().as_bytes())?;
    Ok(serde_json::json!({
        "credentials": {"oidcIdentityToken": token.raw()},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": pem::encode("PUBLIC KEY", &key.public_key_der())},
            "proofOfPossession": STANDARD.encode(proof),
        }
    }))
}

/// Extracts the DER chain (leaf first) from a `signingCert` response.
pub fn parse_response(url: &str, body: &[u8]) -> Result<Vec<Vec<u8>>, FulcioError> {
    let bad = |error: String| FulcioError::BadResponse {
        url: url.to_string(),
        error,
    };
    let json: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| bad(format!("not JSON: {e}")))?;
    let Some(signed) = json.get("signedCertificateEmbeddedSct") else {
        if json.get("signedCertificateDetachedSct").is_some() {
            return Err(FulcioError::DetachedSct {
                url: url.to_string(),
            });
        }
        return Err(bad("no signedCertificateEmbeddedSct".into()));
    };
    let list = signed
        .pointer("/chain/certificates")
        .and_then(|c| c.as_array())
        .ok_or_else(|| bad("no chain.certificates list".into()))?;
    let mut chain = Vec::with_capacity(list.len());
    for item in list {
        let text = item
            .as_str()
            .ok_or_else(|| bad("a certificate is not a string".into()))?;
        let mut blocks = pem::decode_all(text.as_bytes(), "CERTIFICATE")
            .map_err(|e| bad(format!("certificate PEM: {e}")))?;
        if blocks.len() != 1 {
            return Err(bad(format!(
                "a chain element holds {} certificates",
                blocks.len()
            )));
        }
        chain.push(blocks.remove(0));
    }
    if chain.is_empty() {
        return Err(bad("empty certificate chain".into()));
    }
    Ok(chain)
}

pub struct FulcioClient {
    base: String,
    timeout: Duration,
    client: reqwest::blocking::Client,
}

impl FulcioClient {
    pub fn new(base: &str, timeout: Duration) -> Result<FulcioClient, FulcioError> {
        // The ID token travels in the request body: never in clear text to a remote host.
        let base = http::service_url(base).map_err(|error| FulcioError::Unreachable {
            url: base.to_string(),
            error,
        })?;
        let client =
            http::service_client(&base, timeout).map_err(|e| FulcioError::Unreachable {
                url: base.clone(),
                error: root_cause(&e),
            })?;
        Ok(FulcioClient {
            base,
            timeout,
            client,
        })
    }

    pub fn url(&self) -> &str {
        &self.base
    }

    /// Requests a certificate for `key` in the name of `token`. Returns the DER chain as
    /// Fulcio sent it, unverified.
    pub fn signing_cert(
        &self,
        token: &IdToken,
        key: &dyn KeySigner,
    ) -> Result<Vec<Vec<u8>>, FulcioError> {
        let body = request_body(token, key).map_err(|error| FulcioError::ProofOfPossession {
            url: self.base.clone(),
            error,
        })?;
        let timed_out = || FulcioError::TimedOut {
            url: self.base.clone(),
            after: self.timeout,
        };
        let resp = self
            .client
            .post(format!("{}/api/v2/signingCert", self.base))
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(body.to_string())
            .send()
            .map_err(|e| {
                if e.is_timeout() {
                    timed_out()
                } else {
                    FulcioError::Unreachable {
                        url: self.base.clone(),
                        error: root_cause(&e),
                    }
                }
            })?;
        let status = resp.status().as_u16();
        let body = http::read_body(resp).map_err(|e| match e {
            BodyError::TimedOut => timed_out(),
            BodyError::TooLarge => FulcioError::BadResponse {
                url: self.base.clone(),
                error: format!("answer larger than {} bytes", http::MAX_RESPONSE),
            },
            BodyError::Io(error) => FulcioError::BadResponse {
                url: self.base.clone(),
                error,
            },
        })?;
        if !(200..300).contains(&status) {
            return Err(FulcioError::Status {
                url: self.base.clone(),
                status,
                message: server_message(&body),
            });
        }
        parse_response(&self.base, &body)
    }
}

/// Fulcio's error message (`{"code":N,"message":"..."}`), one sanitized line, bounded.
fn server_message(body: &[u8]) -> Option<String> {
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    let m = json.get("message")?.as_str()?;
    let line: String = m
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    Some(line.trim().to_string()).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detached_sct_answers_are_refused() {
        let body = br#"{"signedCertificateDetachedSct":{"chain":{"certificates":[]},"signedCertificateTimestamp":"AA=="}}"#;
        assert!(matches!(
            parse_response("http://f", body),
            Err(FulcioError::DetachedSct { .. })
        ));
    }

    #[test]
    fn garbage_answers_are_bad_responses_not_panics() {
        for body in [
            &b"<html>"[..],
            b"{}",
            b"{\"signedCertificateEmbeddedSct\":{}}",
            b"{\"signedCertificateEmbeddedSct\":{\"chain\":{\"certificates\":[]}}}",
            b"{\"signedCertificateEmbeddedSct\":{\"chain\":{\"certificates\":[1]}}}",
            b"{\"signedCertificateEmbeddedSct\":{\"chain\":{\"certificates\":[\"x\"]}}}",
        ] {
            let e = parse_response("http://f", body).unwrap_err();
            assert!(matches!(e, FulcioError::BadResponse { .. }), "{e}");
            assert!(e.to_string().starts_with("Fulcio at http://f "));
        }
    }

    #[test]
    fn parses_a_chain_leaf_first() {
        let a = pem::encode("CERTIFICATE", &[0x30, 0x00]);
        let b = pem::encode("CERTIFICATE", &[0x30, 0x01, 0x05]);
        let body = serde_json::json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": [a, b]}}});
        let chain = parse_response("http://f", body.to_string().as_bytes()).unwrap();
        assert_eq!(chain, vec![vec![0x30, 0x00], vec![0x30, 0x01, 0x05]]);
    }

    #[test]
    fn status_errors_name_the_server_and_code() {
        let e = FulcioError::Status {
            url: "http://127.0.0.1:1234".into(),
            status: 500,
            message: server_message(br#"{"code":13,"message":"boom\nagain"}"#),
        };
        assert_eq!(
            e.to_string(),
            "Fulcio at http://127.0.0.1:1234 refused the certificate request: HTTP 500 (boom again)"
        );
    }
}
