//! JSON Web Tokens as OpenID Connect uses them: compact JWS parsing, signature checks against
//! a JWK set (ES256, ES384, RS256, PS256, EdDSA, all through ring), and the ID-token claim
//! checks of OIDC Core §3.1.3.7. Pure: bytes and `now` in, values out.

use std::fmt;

use aws_lc_rs::signature;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// How far clocks may disagree, in seconds, when checking `exp`, `nbf` and `iat`.
pub const LEEWAY_SECS: u64 = 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtError {
    /// Not three base64url parts of JSON objects.
    Malformed(&'static str),
    /// The header names an algorithm we do not accept (`none`, HS256, ...).
    UnsupportedAlg(String),
    /// No key in the set matches the header's `kid`/algorithm.
    NoMatchingKey {
        kid: Option<String>,
        alg: String,
    },
    /// The JWK set itself is unreadable.
    BadKeySet(String),
    BadSignature,
    MissingClaim(&'static str),
    WrongIssuer {
        expected: String,
        found: String,
    },
    WrongAudience {
        expected: String,
    },
    WrongAuthorizedParty {
        expected: String,
        found: String,
    },
    Expired {
        exp: u64,
        now: u64,
    },
    NotYetValid {
        nbf: u64,
        now: u64,
    },
    IssuedInFuture {
        iat: u64,
        now: u64,
    },
    WrongNonce,
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwtError::Malformed(what) => write!(f, "not a well-formed JWT ({what})"),
            JwtError::UnsupportedAlg(a) => write!(f, "unsupported signature algorithm {a:?}"),
            JwtError::NoMatchingKey { kid, alg } => match kid {
                Some(k) => write!(f, "no {alg} key with kid {k:?} in the issuer's JWKS"),
                None => write!(f, "no {alg} key in the issuer's JWKS"),
            },
            JwtError::BadKeySet(e) => write!(f, "unreadable JWKS ({e})"),
            JwtError::BadSignature => f.write_str("signature does not verify"),
            JwtError::MissingClaim(c) => write!(f, "claim {c:?} is missing"),
            JwtError::WrongIssuer { expected, found } => {
                write!(f, "issued by {found:?}, expected {expected:?}")
            }
            JwtError::WrongAudience { expected } => {
                write!(f, "audience does not include the client id {expected:?}")
            }
            JwtError::WrongAuthorizedParty { expected, found } => {
                write!(
                    f,
                    "authorized party {found:?} is not the client id {expected:?}"
                )
            }
            JwtError::Expired { exp, now } => write!(f, "expired at {exp} (now {now})"),
            JwtError::NotYetValid { nbf, now } => write!(f, "not valid before {nbf} (now {now})"),
            JwtError::IssuedInFuture { iat, now } => {
                write!(f, "issued in the future at {iat} (now {now})")
            }
            JwtError::WrongNonce => f.write_str("nonce does not match the one we sent"),
        }
    }
}

impl std::error::Error for JwtError {}

/// The signature algorithms accepted (RFC 7518 names); `none` and HMAC never are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Es256,
    Es384,
    Rs256,
    Rs384,
    Rs512,
    Ps256,
    Ps384,
    Ps512,
    EdDsa,
}

impl Alg {
    pub fn from_name(name: &str) -> Result<Alg, JwtError> {
        Ok(match name {
            "ES256" => Alg::Es256,
            "ES384" => Alg::Es384,
            "RS256" => Alg::Rs256,
            "RS384" => Alg::Rs384,
            "RS512" => Alg::Rs512,
            "PS256" => Alg::Ps256,
            "PS384" => Alg::Ps384,
            "PS512" => Alg::Ps512,
            "EdDSA" => Alg::EdDsa,
            other => return Err(JwtError::UnsupportedAlg(other.to_string())),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Alg::Es256 => "ES256",
            Alg::Es384 => "ES384",
            Alg::Rs256 => "RS256",
            Alg::Rs384 => "RS384",
            Alg::Rs512 => "RS512",
            Alg::Ps256 => "PS256",
            Alg::Ps384 => "PS384",
            Alg::Ps512 => "PS512",
            Alg::EdDsa => "EdDSA",
        }
    }

    /// The JWK `kty` of this algorithm's keys.
    fn kty(self) -> &'static str {
        match self {
            Alg::Es256 | Alg::Es384 => "EC",
            Alg::EdDsa => "OKP",
            _ => "RSA",
        }
    }
}

/// What an ID token must say (OIDC Core §3.1.3.7): who issued it, for whom, the nonce of
/// this sign-in, and the time to check it at.
#[derive(Debug, Clone, Copy)]
pub struct Expectations<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: Option<&'a str>,
    pub now: u64,
}

/// An ID token whose signature and claims verified.
#[derive(Clone)]
pub struct VerifiedClaims {
    pub alg: Alg,
    pub token: Jwt,
}

impl std::ops::Deref for VerifiedClaims {
    type Target = Jwt;
    fn deref(&self) -> &Jwt {
        &self.token
    }
}

/// The one ID-token check: parse `token`, verify its signature with a key of `jwks`, then
/// its claims against `expect`.
pub fn verify(
    token: &str,
    jwks: &Value,
    expect: &Expectations<'_>,
) -> Result<VerifiedClaims, JwtError> {
    let jwt = Jwt::parse(token)?;
    let alg = jwt.verify_signature(token, jwks)?;
    jwt.check_id_token_claims(expect.issuer, expect.client_id, expect.nonce, expect.now)?;
    Ok(VerifiedClaims { alg, token: jwt })
}

/// A compact JWS split and decoded, not yet verified.
#[derive(Clone)]
pub struct Jwt {
    pub alg: String,
    pub kid: Option<String>,
    pub claims: Map<String, Value>,
    signing_input_len: usize,
    signature: Vec<u8>,
}

fn b64(part: &str, what: &'static str) -> Result<Vec<u8>, JwtError> {
    // Padding is not allowed in JWS compact serialisation; the decoder refuses it.
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed(what))
}

fn json_object(bytes: &[u8], what: &'static str) -> Result<Map<String, Value>, JwtError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(JwtError::Malformed(what)),
    }
}

impl Jwt {
    pub fn parse(token: &str) -> Result<Jwt, JwtError> {
        let token = token.trim();
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed("expected three dot-separated parts"));
        };
        let header = json_object(
            &b64(h, "header is not base64url")?,
            "header is not a JSON object",
        )?;
        let claims = json_object(
            &b64(c, "claims are not base64url")?,
            "claims are not a JSON object",
        )?;
        let signature = b64(s, "signature is not base64url")?;
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .ok_or(JwtError::Malformed("header has no alg"))?
            .to_string();
        if header.contains_key("crit") {
            // RFC 7515 §4.1.11: we understand no extensions, so a critical one is fatal.
            return Err(JwtError::Malformed("header has critical extensions"));
        }
        let kid = header
            .get("kid")
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(Jwt {
            alg,
            kid,
            claims,
            signing_input_len: h.len() + 1 + c.len(),
            signature,
        })
    }

    pub fn str_claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    fn num_claim(&self, name: &'static str) -> Result<Option<u64>, JwtError> {
        match self.claims.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
                .map(Some)
                .ok_or(JwtError::Malformed("a time claim is negative")),
            Some(_) => Err(JwtError::Malformed("a time claim is not a number")),
        }
    }

    /// `email` if present, else `sub` (what Fulcio puts in the certificate for email
    /// issuers).
    pub fn identity(&self) -> Option<&str> {
        self.str_claim("email")
            .filter(|e| !e.is_empty())
            .or_else(|| self.str_claim("sub").filter(|s| !s.is_empty()))
    }

    pub fn expires_at(&self) -> Result<u64, JwtError> {
        self.num_claim("exp")?.ok_or(JwtError::MissingClaim("exp"))
    }

    /// `exp` (required), `nbf` and `iat` (when present) against `now`, with leeway.
    pub fn check_times(&self, now: u64) -> Result<(), JwtError> {
        let exp = self.expires_at()?;
        if exp.saturating_add(LEEWAY_SECS) <= now {
            return Err(JwtError::Expired { exp, now });
        }
        if let Some(nbf) = self.num_claim("nbf")?
            && nbf > now.saturating_add(LEEWAY_SECS)
        {
            return Err(JwtError::NotYetValid { nbf, now });
        }
        if let Some(iat) = self.num_claim("iat")?
            && iat > now.saturating_add(LEEWAY_SECS)
        {
            return Err(JwtError::IssuedInFuture { iat, now });
        }
        Ok(())
    }

    /// OIDC Core §3.1.3.7 steps 2-4, 9-11: issuer, audience (and `azp` when there are
    /// several audiences), times, nonce.
    fn check_id_token_claims(
        &self,
        issuer: &str,
        client_id: &str,
        nonce: Option<&str>,
        now: u64,
    ) -> Result<(), JwtError> {
        let iss = self.str_claim("iss").ok_or(JwtError::MissingClaim("iss"))?;
        if iss != issuer {
            return Err(JwtError::WrongIssuer {
                expected: issuer.to_string(),
                found: iss.to_string(),
            });
        }
        let auds: Vec<&str> = match self.claims.get("aud") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => return Err(JwtError::MissingClaim("aud")),
        };
        if !auds.contains(&client_id) {
            return Err(JwtError::WrongAudience {
                expected: client_id.to_string(),
            });
        }
        match self.str_claim("azp") {
            Some(azp) if azp != client_id => {
                return Err(JwtError::WrongAuthorizedParty {
                    expected: client_id.to_string(),
                    found: azp.to_string(),
                });
            }
            None if auds.len() > 1 => return Err(JwtError::MissingClaim("azp")),
            _ => {}
        }
        if self.str_claim("sub").is_none_or(str::is_empty) {
            return Err(JwtError::MissingClaim("sub"));
        }
        self.check_times(now)?;
        if let Some(expected) = nonce {
            match self.str_claim("nonce") {
                Some(n) if n == expected => {}
                Some(_) => return Err(JwtError::WrongNonce),
                None => return Err(JwtError::MissingClaim("nonce")),
            }
        }
        Ok(())
    }

    /// Checks the signature of `token` (the exact string this was parsed from) against the
    /// keys of a JWK set. A `kid` in the header must name a key; without one, every key of
    /// the algorithm's type is tried.
    fn verify_signature(&self, token: &str, jwks: &Value) -> Result<Alg, JwtError> {
        let token = token.trim();
        let input = token
            .as_bytes()
            .get(..self.signing_input_len)
            .ok_or(JwtError::Malformed("token changed since parsing"))?;
        let alg = Alg::from_name(&self.alg)?;
        let kty = alg.kty();
        let keys = jwks
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| JwtError::BadKeySet("no \"keys\" array".into()))?;
        let mut candidates = keys.iter().filter(|k| {
            k.get("kty").and_then(Value::as_str) == Some(kty)
                && k.get("use")
                    .and_then(Value::as_str)
                    .is_none_or(|u| u == "sig")
                && k.get("alg")
                    .and_then(Value::as_str)
                    .is_none_or(|a| a == self.alg)
                && match &self.kid {
                    Some(kid) => k.get("kid").and_then(Value::as_str) == Some(kid.as_str()),
                    None => true,
                }
        });
        let mut tried = false;
        for key in candidates.by_ref() {
            tried = true;
            if verify_with_jwk(alg, key, input, &self.signature)? {
                return Ok(alg);
            }
        }
        if tried {
            Err(JwtError::BadSignature)
        } else {
            Err(JwtError::NoMatchingKey {
                kid: self.kid.clone(),
                alg: self.alg.clone(),
            })
        }
    }
}

fn jwk_field(key: &Value, name: &str) -> Result<Vec<u8>, JwtError> {
    let s = key
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| JwtError::BadKeySet(format!("key without {name:?}")))?;
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| JwtError::BadKeySet(format!("key member {name:?} is not base64url")))
}

/// Ok(false) when the key is usable but the signature does not verify under it.
fn verify_with_jwk(alg: Alg, key: &Value, input: &[u8], sig: &[u8]) -> Result<bool, JwtError> {
    match alg {
        Alg::Es256 | Alg::Es384 => {
            let (crv, len, ring_alg) = if alg == Alg::Es256 {
                ("P-256", 32, &signature::ECDSA_P256_SHA256_FIXED)
            } else {
                ("P-384", 48, &signature::ECDSA_P384_SHA384_FIXED)
            };
            if key.get("crv").and_then(Value::as_str) != Some(crv) {
                return Ok(false);
            }
            let (x, y) = (jwk_field(key, "x")?, jwk_field(key, "y")?);
            if x.len() != len || y.len() != len {
                return Err(JwtError::BadKeySet(format!("{crv} key of the wrong size")));
            }
            let mut point = Vec::with_capacity(1 + 2 * len);
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            Ok(signature::UnparsedPublicKey::new(ring_alg, &point)
                .verify(input, sig)
                .is_ok())
        }
        Alg::EdDsa => {
            if key.get("crv").and_then(Value::as_str) != Some("Ed25519") {
                return Ok(false);
            }
            let x = jwk_field(key, "x")?;
            Ok(signature::UnparsedPublicKey::new(&signature::ED25519, &x)
                .verify(input, sig)
                .is_ok())
        }
        _ => {
            let params: &signature::RsaParameters = match alg {
                Alg::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                Alg::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                Alg::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                Alg::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
                Alg::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
                _ => &signature::RSA_PSS_2048_8192_SHA512,
            };
            let n = jwk_field(key, "n")?;
            let e = jwk_field(key, "e")?;
            Ok(signature::RsaPublicKeyComponents { n: &n, e: &e }
                .verify(params, input, sig)
                .is_ok())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair};
    use serde_json::json;

    fn enc(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    struct EsKey {
        pair: EcdsaKeyPair,
        kid: String,
    }

    impl EsKey {
        fn new(kid: &str) -> EsKey {
            let rng = SystemRandom::new();
            let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
            EsKey {
                pair: EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref()).unwrap(),
                kid: kid.to_string(),
            }
        }

        fn jwk(&self) -> Value {
            let p = self.pair.public_key().as_ref();
            json!({"kty": "EC", "crv": "P-256", "kid": self.kid, "use": "sig",
                   "x": URL_SAFE_NO_PAD.encode(&p[1..33]), "y": URL_SAFE_NO_PAD.encode(&p[33..])})
        }

        fn sign(&self, header: Value, claims: &Value) -> String {
            let input = format!("{}.{}", enc(&header), enc(claims));
            let sig = self
                .pair
                .sign(&SystemRandom::new(), input.as_bytes())
                .unwrap();
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
        }

        fn token(&self, claims: &Value) -> String {
            self.sign(
                json!({"alg": "ES256", "kid": self.kid, "typ": "JWT"}),
                claims,
            )
        }
    }

    const NOW: u64 = 1_800_000_000;

    fn claims() -> Value {
        json!({"iss": "https://issuer.example", "aud": "sigstore", "sub": "123",
               "email": "alice@example.com", "exp": NOW + 300, "iat": NOW - 5, "nonce": "n0nce"})
    }

    fn with(mut base: Value, key: &str, v: Value) -> Value {
        base[key] = v;
        base
    }

    fn check(claims: &Value) -> Result<(), JwtError> {
        let key = EsKey::new("k1");
        let t = key.token(claims);
        let expect = Expectations {
            issuer: "https://issuer.example",
            client_id: "sigstore",
            nonce: Some("n0nce"),
            now: NOW,
        };
        verify(&t, &json!({"keys": [key.jwk()]}), &expect).map(|v| {
            assert_eq!(v.alg, Alg::Es256);
        })
    }

    #[test]
    fn accepts_an_es256_id_token_signed_by_a_key_in_the_set() {
        assert_eq!(check(&claims()), Ok(()));
        let key = EsKey::new("k1");
        let jwt = Jwt::parse(&key.token(&claims())).unwrap();
        assert_eq!(jwt.identity(), Some("alice@example.com"));
    }

    #[test]
    fn identity_falls_back_to_sub_without_email() {
        let mut c = claims();
        c.as_object_mut().unwrap().remove("email");
        let jwt = Jwt::parse(&EsKey::new("k").token(&c)).unwrap();
        assert_eq!(jwt.identity(), Some("123"));
    }

    #[test]
    fn rejects_a_token_signed_by_another_key_with_the_same_kid() {
        let signer = EsKey::new("k1");
        let other = EsKey::new("k1");
        let t = signer.token(&claims());
        let jwt = Jwt::parse(&t).unwrap();
        assert_eq!(
            jwt.verify_signature(&t, &json!({"keys": [other.jwk()]})),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn rejects_a_token_whose_kid_is_not_in_the_set() {
        let signer = EsKey::new("k1");
        let t = signer.token(&claims());
        let mut jwk = signer.jwk();
        jwk["kid"] = json!("k2");
        let err = Jwt::parse(&t)
            .unwrap()
            .verify_signature(&t, &json!({"keys": [jwk]}))
            .unwrap_err();
        assert!(matches!(err, JwtError::NoMatchingKey { .. }));
    }

    #[test]
    fn rejects_a_token_with_modified_claims() {
        let key = EsKey::new("k1");
        let t = key.token(&claims());
        let parts: Vec<&str> = t.split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            enc(&with(claims(), "email", json!("mallory@example.com"))),
            parts[2]
        );
        let jwt = Jwt::parse(&forged).unwrap();
        assert_eq!(
            jwt.verify_signature(&forged, &json!({"keys": [key.jwk()]})),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn refuses_alg_none_and_hmac() {
        let key = EsKey::new("k1");
        for alg in ["none", "HS256"] {
            let t = format!("{}.{}.", enc(&json!({"alg": alg})), enc(&claims()));
            let jwt = Jwt::parse(&t).unwrap();
            assert_eq!(
                jwt.verify_signature(&t, &json!({"keys": [key.jwk()]})),
                Err(JwtError::UnsupportedAlg(alg.into()))
            );
        }
    }

    #[test]
    fn rejects_wrong_issuer_audience_nonce_and_expiry() {
        assert!(matches!(
            check(&with(claims(), "iss", json!("https://evil.example"))),
            Err(JwtError::WrongIssuer { .. })
        ));
        assert!(matches!(
            check(&with(claims(), "aud", json!("other"))),
            Err(JwtError::WrongAudience { .. })
        ));
        assert!(matches!(
            check(&with(claims(), "aud", json!(["other", "sigstore"]))),
            Err(JwtError::MissingClaim("azp"))
        ));
        assert_eq!(
            check(&with(
                with(claims(), "aud", json!(["other", "sigstore"])),
                "azp",
                json!("sigstore")
            )),
            Ok(())
        );
        assert_eq!(
            check(&with(claims(), "nonce", json!("replayed"))),
            Err(JwtError::WrongNonce)
        );
        assert!(matches!(
            check(&with(claims(), "exp", json!(NOW - LEEWAY_SECS - 1))),
            Err(JwtError::Expired { .. })
        ));
        assert_eq!(check(&with(claims(), "exp", json!(NOW - 10))), Ok(()));
        assert!(matches!(
            check(&with(claims(), "nbf", json!(NOW + 3600))),
            Err(JwtError::NotYetValid { .. })
        ));
        assert!(matches!(
            check(&with(claims(), "exp", json!("soon"))),
            Err(JwtError::Malformed(_))
        ));
    }

    #[test]
    fn verifies_rs256_and_eddsa_signatures() {
        let rng = SystemRandom::new();
        // EdDSA with a generated key.
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let ed = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let input = format!("{}.{}", enc(&json!({"alg": "EdDSA"})), enc(&claims()));
        let t = format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(ed.sign(input.as_bytes()))
        );
        let jwk =
            json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(ed.public_key())});
        assert_eq!(
            Jwt::parse(&t)
                .unwrap()
                .verify_signature(&t, &json!({"keys": [jwk]})),
            Ok(Alg::EdDsa)
        );
        // RS256: ring cannot generate RSA keys; this 2048-bit key was made with
        // `openssl genrsa 2048 | openssl pkcs8 -topk8 -nocrypt -outform DER | base64`.
        let der = base64::engine::general_purpose::STANDARD
            .decode(RSA_PKCS8_B64.replace('\n', ""))
            .unwrap();
        let rsa = signature::RsaKeyPair::from_pkcs8(&der).unwrap();
        let input = format!(
            "{}.{}",
            enc(&json!({"alg": "RS256", "kid": "r"})),
            enc(&claims())
        );
        let mut sig = vec![0; rsa.public_modulus_len()];
        rsa.sign(
            &signature::RSA_PKCS1_SHA256,
            &rng,
            input.as_bytes(),
            &mut sig,
        )
        .unwrap();
        let t = format!("{input}.{}", URL_SAFE_NO_PAD.encode(&sig));
        let pubkey = signature::RsaPublicKeyComponents::<Vec<u8>>::from(rsa.public_key());
        let (n, e) = (pubkey.n, pubkey.e);
        let jwk = json!({"kty": "RSA", "kid": "r", "n": URL_SAFE_NO_PAD.encode(&n), "e": URL_SAFE_NO_PAD.encode(&e)});
        let jwt = Jwt::parse(&t).unwrap();
        assert_eq!(
            jwt.verify_signature(&t, &json!({"keys": [jwk.clone()]})),
            Ok(Alg::Rs256)
        );
        // Flip one character well inside the signature (the last one carries padding bits).
        let mut tampered: Vec<char> = t.chars().collect();
        let at = tampered.len() - 20;
        tampered[at] = if tampered[at] == 'A' { 'B' } else { 'A' };
        let tampered: String = tampered.into_iter().collect();
        assert_eq!(
            Jwt::parse(&tampered)
                .unwrap()
                .verify_signature(&tampered, &json!({"keys": [jwk]})),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn malformed_tokens_are_errors_not_panics() {
        for t in [
            "",
            "a.b",
            "a.b.c.d",
            "!!.e30.",
            "e30.!!.",
            "W10.e30.",
            "e30.e30.",
            "eyJhbGciOiJFUzI1NiJ9.e30=.",
            "eyJhbGciOiJFUzI1NiIsImNyaXQiOlsiYiJdfQ.e30.",
        ] {
            assert!(Jwt::parse(t).is_err(), "{t:?} parsed");
        }
    }

    const RSA_PKCS8_B64: &str = include_str!("testdata/rsa2048.pk8.b64");
}
