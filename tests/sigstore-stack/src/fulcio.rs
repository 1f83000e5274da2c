//! Fulcio: `POST /api/v2/signingCert` (and gitsign's legacy `POST /api/v1/signingCert`),
//! `GET /api/v2/trustBundle`, and `GET /stats` for the whole stack.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use gitsign::core::asn1::pem;
use gitsign::core::x509::keys::PublicKey;
use serde_json::{Value, json};

use crate::ca::San;
use crate::http::{Request, Response};
use crate::{Fault, Stack, now};

pub fn handle(stack: &Stack, req: &Request, fault: Fault) -> Response {
    match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/api/v2/signingCert") => signing_cert_v2(stack, req, fault),
        ("POST", "/api/v1/signingCert") => signing_cert_v1(stack, req, fault),
        ("GET", "/api/v2/trustBundle") => Response::json(
            200,
            &json!({"chains": [{"certificates": stack.ca.chain_pem()}]}),
        ),
        (_, path) => Response::error(404, &format!("no such endpoint {path}")),
    }
}

/// A refusal: HTTP status and the one-line reason.
type Refusal = (u16, String);

/// What a valid request asks for: the key to certify and the token's identity.
fn check_request(stack: &Stack, token: &str, spki: &[u8], proof: &[u8]) -> Result<San, Refusal> {
    let claims = stack.verify_token(token).map_err(|e| (401, e))?;
    // Fulcio's email issuers: the identity is the verified email; otherwise the subject.
    let (san, signed) = match claims["email"].as_str() {
        Some(email) => {
            if claims["email_verified"] != true {
                return Err((400, "the token's email is not verified".into()));
            }
            (San::Email(email.to_string()), email.to_string())
        }
        None => {
            let sub = claims["sub"]
                .as_str()
                .ok_or((400, "the token has neither email nor sub".to_string()))?;
            if !sub.contains("://") {
                return Err((400, format!("the token subject {sub:?} is not a URI")));
            }
            (San::Uri(sub.to_string()), sub.to_string())
        }
    };
    let key = PublicKey::from_spki_der(spki).map_err(|_| {
        (
            400,
            "the public key is not an ECDSA P-256/P-384 key".to_string(),
        )
    })?;
    if matches!(key, PublicKey::Ed25519(_)) {
        return Err((400, "only ECDSA keys are certified".into()));
    }
    key.verify(key.default_hash(), signed.as_bytes(), proof)
        .map_err(|_| {
            (
                400,
                "the proof of possession is not a signature by the key over the token's identity"
                    .to_string(),
            )
        })?;
    Ok(san)
}

/// Issues the chain (leaf first) for a checked request; the wrong-chain fault issues from a
/// CA nobody trusts, wrong-key and wrong-identity certify something else than was asked.
fn issue(stack: &Stack, spki: &[u8], san: &San, fault: Fault) -> Result<Vec<String>, Refusal> {
    let ca = if fault == Fault::WrongChain {
        &stack.rogue_ca
    } else {
        &stack.ca
    };
    let other_key;
    let spki = if fault == Fault::WrongKey {
        other_key = crate::keys::SigningKey::ephemeral(crate::keys::Curve::P256)
            .map_err(|e| (500, e.to_string()))?;
        other_key.spki_der()
    } else {
        spki
    };
    let other_san = San::Email("someone-else@gitsign-rs.test".into());
    let san = if fault == Fault::WrongIdentity {
        &other_san
    } else {
        san
    };
    let issued = ca
        .issue(
            spki,
            san,
            &stack.urls.oidc,
            &stack.ctlog_key,
            now(),
            stack.cert_lifetime,
        )
        .map_err(|e| (500, e.to_string()))?;
    stack.log_precert(&issued.precert_der);
    stack.stats.count_certificate();
    let mut chain = vec![pem::encode("CERTIFICATE", &issued.leaf_der)];
    chain.extend(ca.chain_pem());
    Ok(chain)
}

fn signing_cert_v2(stack: &Stack, req: &Request, fault: Fault) -> Response {
    let result = (|| -> Result<Vec<String>, Refusal> {
        let body = req.json().map_err(|e| (400, e))?;
        let text = |v: &Value, what: &str| -> Result<String, Refusal> {
            v.as_str()
                .map(str::to_string)
                .ok_or((400, format!("{what} is missing")))
        };
        let token = text(
            &body["credentials"]["oidcIdentityToken"],
            "credentials.oidcIdentityToken",
        )?;
        let pkr = &body["publicKeyRequest"];
        if pkr.is_null() {
            return Err((
                400,
                "publicKeyRequest is missing (certificate signing requests are not supported)"
                    .into(),
            ));
        }
        let key_pem = text(
            &pkr["publicKey"]["content"],
            "publicKeyRequest.publicKey.content",
        )?;
        let spki = pem::decode_one(key_pem.as_bytes(), "PUBLIC KEY")
            .map_err(|e| (400, format!("publicKey.content: {e}")))?;
        let proof = B64
            .decode(text(&pkr["proofOfPossession"], "proofOfPossession")?)
            .map_err(|_| (400, "proofOfPossession is not base64".to_string()))?;
        let san = check_request(stack, &token, &spki, &proof)?;
        issue(stack, &spki, &san, fault)
    })();
    match result {
        Ok(chain) => Response::json(
            201,
            &json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": chain}}}),
        ),
        Err((status, msg)) => Response::error(status, &msg),
    }
}

/// gitsign (Go) still calls v1: bearer token, `{"publicKey": {"content": b64 DER, "algorithm":
/// "ecdsa"}, "signedEmailAddress": b64}`, answer = the PEM chain.
fn signing_cert_v1(stack: &Stack, req: &Request, fault: Fault) -> Response {
    let result = (|| -> Result<Vec<String>, Refusal> {
        let token = req
            .header("authorization")
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or((401, "no bearer token".to_string()))?;
        let body = req.json().map_err(|e| (400, e))?;
        let b64 = |v: &Value, what: &str| -> Result<Vec<u8>, Refusal> {
            v.as_str()
                .and_then(|s| B64.decode(s).ok())
                .ok_or((400, format!("{what} is missing or not base64")))
        };
        let spki = b64(&body["publicKey"]["content"], "publicKey.content")?;
        let proof = b64(&body["signedEmailAddress"], "signedEmailAddress")?;
        let san = check_request(stack, token, &spki, &proof)?;
        issue(stack, &spki, &san, fault)
    })();
    match result {
        Ok(chain) => Response::new(201, "application/pem-certificate-chain", chain.concat()),
        Err((status, msg)) => Response::error(status, &msg),
    }
}
