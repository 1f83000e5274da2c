//! OIDC ID tokens for signing. Placeholder until the full token sources land: only
//! `SIGSTORE_ID_TOKEN`, whose payload is decoded (not verified: Fulcio verifies it) for the
//! identity and issuer.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::app::Reporter;
use crate::io::config::Settings;

/// A raw ID token and the claims signing needs. Never printed: no Debug, no Display.
pub struct IdToken {
    raw: String,
    identity: String,
    issuer: String,
}

impl IdToken {
    /// The JWT, for Fulcio only.
    pub fn raw(&self) -> &str {
        &self.raw
    }
    /// The `email` claim, else `sub`: the identity Fulcio certifies.
    pub fn identity(&self) -> &str {
        &self.identity
    }
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
}

#[derive(Debug)]
pub enum OidcError {
    NoToken,
    Malformed { what: &'static str },
}

impl fmt::Display for OidcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OidcError::NoToken => f.write_str(
                "no OIDC identity token: set SIGSTORE_ID_TOKEN (other token sources are not available in this build)",
            ),
            OidcError::Malformed { what } => write!(f, "SIGSTORE_ID_TOKEN is not a usable JWT: {what}"),
        }
    }
}

impl std::error::Error for OidcError {}

/// The ID token to sign with.
pub fn id_token(_settings: &Settings, ui: &mut Reporter) -> Result<IdToken, OidcError> {
    let raw = std::env::var("SIGSTORE_ID_TOKEN")
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .ok_or(OidcError::NoToken)?;
    let token = parse_unverified(raw)?;
    ui.say(&format!(
        "gitsign: using the ID token from SIGSTORE_ID_TOKEN for {}",
        token.identity
    ));
    Ok(token)
}

fn parse_unverified(raw: String) -> Result<IdToken, OidcError> {
    let payload = raw.split('.').nth(1).ok_or(OidcError::Malformed {
        what: "not three dot-separated parts",
    })?;
    let json = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| OidcError::Malformed {
            what: "payload is not base64url",
        })?;
    let claims: serde_json::Value =
        serde_json::from_slice(&json).map_err(|_| OidcError::Malformed {
            what: "payload is not JSON",
        })?;
    let claim = |k: &str| claims.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let identity = claim("email")
        .or_else(|| claim("sub"))
        .ok_or(OidcError::Malformed {
            what: "no email or sub claim",
        })?;
    let issuer = claim("iss").ok_or(OidcError::Malformed {
        what: "no iss claim",
    })?;
    Ok(IdToken {
        raw,
        identity,
        issuer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(claims))
    }

    #[test]
    fn identity_is_the_email_claim_else_the_subject() {
        let t = parse_unverified(jwt(r#"{"iss":"https://i","sub":"s","email":"a@b"}"#)).unwrap();
        assert_eq!((t.identity(), t.issuer()), ("a@b", "https://i"));
        let t = parse_unverified(jwt(r#"{"iss":"https://i","sub":"s"}"#)).unwrap();
        assert_eq!(t.identity(), "s");
    }

    #[test]
    fn tokens_without_claims_are_refused() {
        assert!(parse_unverified("abc".into()).is_err());
        assert!(parse_unverified(jwt(r#"{"sub":"s"}"#)).is_err());
        assert!(parse_unverified(jwt("[]")).is_err());
    }
}
