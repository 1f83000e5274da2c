//! The OIDC issuer: discovery, JWKS, authorization code + PKCE (S256 only), the device flow
//! (RFC 8628) and a direct token endpoint for tests. It approves one configured identity
//! without asking anybody.
//!
//! Device flow approval: a device code is approved when its verification URI is fetched
//! (`GET /device?user_code=...`, what a scripted user agent does with
//! `verification_uri_complete`), or at once when the stack runs with `--device-auto-approve`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use serde_json::{Value, json};

use crate::http::{Request, Response, lookup, percent_encode};
use crate::keys::{SigningKey, random_bytes};
use crate::{Fault, Stack, now};

pub const CLIENT_ID: &str = "sigstore";
const CODE_LIFETIME: Duration = Duration::from_secs(120);
const DEVICE_LIFETIME: Duration = Duration::from_secs(300);
/// Seconds between device polls (RFC 8628 §3.2); short, tests wait for it.
const DEVICE_INTERVAL: u64 = 1;
const TOKEN_LIFETIME: i64 = 300;

struct AuthCode {
    redirect_uri: String,
    challenge: String,
    nonce: Option<String>,
    expires: Instant,
}

struct DeviceGrant {
    user_code: String,
    approved: bool,
    expires: Instant,
    last_poll: Option<Instant>,
}

#[derive(Default)]
pub struct OidcState {
    codes: HashMap<String, AuthCode>,
    devices: HashMap<String, DeviceGrant>,
}

fn random_token() -> String {
    B64URL.encode(random_bytes(24))
}

/// The key id of a signing key in the JWKS.
fn kid(key: &SigningKey) -> String {
    B64URL.encode(&gitsign::core::x509::keys::sha256(key.spki_der())[..12])
}

/// The claims a test may ask for at `/test/token`; defaults make a valid token.
pub struct Claims {
    pub email: Option<String>,
    pub sub: String,
    pub aud: String,
    pub iss: String,
    pub exp_in: i64,
    pub nonce: Option<String>,
    pub email_verified: bool,
}

impl Stack {
    fn default_claims(&self, nonce: Option<String>) -> Claims {
        Claims {
            email: Some(self.identity.clone()),
            sub: format!("sigstore-stack|{}", self.identity),
            aud: CLIENT_ID.to_string(),
            iss: self.urls.oidc.clone(),
            exp_in: TOKEN_LIFETIME,
            nonce,
            email_verified: true,
        }
    }

    /// An ES256 JWT with `claims`, signed by the issuer key, or a foreign key with the same
    /// key id when `foreign` (a token whose signature cannot verify).
    pub fn mint(&self, claims: &Claims, foreign: bool) -> Result<String, String> {
        let now = now();
        let mut body = json!({
            "iss": claims.iss,
            "sub": claims.sub,
            "aud": claims.aud,
            "iat": now,
            "exp": now + claims.exp_in,
        });
        if let Some(email) = &claims.email {
            body["email"] = json!(email);
            body["email_verified"] = json!(claims.email_verified);
        }
        if let Some(nonce) = &claims.nonce {
            body["nonce"] = json!(nonce);
        }
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": kid(&self.oidc_key)});
        let signing_input = format!(
            "{}.{}",
            B64URL.encode(header.to_string()),
            B64URL.encode(body.to_string())
        );
        let key = if foreign {
            &self.foreign_key
        } else {
            &self.oidc_key
        };
        let sig = key
            .sign_es256(signing_input.as_bytes())
            .map_err(|e| e.to_string())?;
        self.stats.count_token();
        Ok(format!("{signing_input}.{}", B64URL.encode(sig)))
    }

    /// Checks an ID token as Fulcio does: ES256 signature by the issuer key, issuer, audience
    /// `sigstore`, expiry. Returns the claims.
    pub fn verify_token(&self, token: &str) -> Result<Value, String> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("the token is not a JWS compact serialization".into());
        };
        let decode = |part: &str, what: &str| {
            B64URL
                .decode(part)
                .map_err(|_| format!("the token's {what} is not base64url"))
        };
        let header: Value = serde_json::from_slice(&decode(h, "header")?)
            .map_err(|_| "the token header is not JSON".to_string())?;
        if header["alg"] != "ES256" {
            return Err(format!("unsupported token algorithm {}", header["alg"]));
        }
        let sig = decode(s, "signature")?;
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            self.oidc_key.public_point(),
        )
        .verify(format!("{h}.{p}").as_bytes(), &sig)
        .map_err(|_| "the token signature does not verify with the issuer's key".to_string())?;
        let claims: Value = serde_json::from_slice(&decode(p, "payload")?)
            .map_err(|_| "the token payload is not JSON".to_string())?;
        if claims["iss"] != self.urls.oidc.as_str() {
            return Err(format!("the token issuer {} is not trusted", claims["iss"]));
        }
        let aud_ok = match &claims["aud"] {
            Value::String(a) => a == CLIENT_ID,
            Value::Array(list) => list.iter().any(|a| a == CLIENT_ID),
            _ => false,
        };
        if !aud_ok {
            return Err(format!(
                "the token audience {} is not {CLIENT_ID:?}",
                claims["aud"]
            ));
        }
        let exp = claims["exp"]
            .as_i64()
            .ok_or("the token has no expiry".to_string())?;
        if exp <= now() {
            return Err(format!("the token expired at {exp}"));
        }
        Ok(claims)
    }
}

pub fn handle(stack: &Stack, req: &Request, fault: Fault) -> Response {
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/.well-known/openid-configuration") => discovery(stack),
        ("GET", "/jwks") => jwks(stack),
        ("GET", "/authorize") => authorize(stack, req),
        ("POST", "/token") => token(stack, req, fault),
        ("POST", "/device/code") => device_code(stack, req),
        ("GET", "/device") => device_verify(stack, req),
        ("POST", "/test/token") => test_token(stack, req),
        (_, path) => Response::error(404, &format!("no such endpoint {path}")),
    }
}

fn discovery(stack: &Stack) -> Response {
    let base = &stack.urls.oidc;
    Response::json(
        200,
        &json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/authorize"),
            "token_endpoint": format!("{base}/token"),
            "jwks_uri": format!("{base}/jwks"),
            "device_authorization_endpoint": format!("{base}/device/code"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "grant_types_supported": ["authorization_code", "urn:ietf:params:oauth:grant-type:device_code"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "email"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nonce", "email", "email_verified"],
            "token_endpoint_auth_methods_supported": ["none"],
        }),
    )
}

fn jwks(stack: &Stack) -> Response {
    let point = stack.oidc_key.public_point();
    Response::json(
        200,
        &json!({"keys": [{
            "kty": "EC",
            "crv": "P-256",
            "alg": "ES256",
            "use": "sig",
            "kid": kid(&stack.oidc_key),
            "x": B64URL.encode(&point[1..33]),
            "y": B64URL.encode(&point[33..65]),
        }]}),
    )
}

/// Loopback redirect URIs on any port (RFC 8252 §7.3), or the out-of-band URN.
fn redirect_allowed(uri: &str) -> bool {
    if uri == "urn:ietf:wg:oauth:2.0:oob" {
        return true;
    }
    let Some(rest) = uri.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty() => h,
        Some(_) => return false,
        None => authority,
    };
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

fn authorize(stack: &Stack, req: &Request) -> Response {
    let q = req.query_params();
    let get = |k: &str| lookup(&q, k);
    let Some(redirect_uri) = get("redirect_uri") else {
        return Response::error(400, "redirect_uri is required");
    };
    if get("client_id").as_deref() != Some(CLIENT_ID) {
        return Response::error(400, &format!("unknown client_id (only {CLIENT_ID:?})"));
    }
    if !redirect_allowed(&redirect_uri) {
        return Response::error(400, "redirect_uri must be a loopback http URI");
    }
    let state = get("state").unwrap_or_default();
    let fail = |error: &str, description: &str| {
        if redirect_uri.starts_with("urn:") {
            return Response::error(400, description);
        }
        let sep = if redirect_uri.contains('?') { '&' } else { '?' };
        Response::redirect(&format!(
            "{redirect_uri}{sep}error={error}&error_description={}&state={}",
            percent_encode(description),
            percent_encode(&state)
        ))
    };
    if get("response_type").as_deref() != Some("code") {
        return fail("unsupported_response_type", "response_type must be code");
    }
    if !get("scope").is_some_and(|s| s.split(' ').any(|s| s == "openid")) {
        return fail("invalid_scope", "scope must include openid");
    }
    if state.is_empty() {
        return fail("invalid_request", "state is required");
    }
    let challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (Some(c), Some(m)) if m == "S256" && c.len() == 43 => c,
        _ => {
            return fail(
                "invalid_request",
                "PKCE with code_challenge_method S256 is required",
            );
        }
    };
    let code = random_token();
    {
        let mut oidc = stack.oidc.lock().unwrap_or_else(|e| e.into_inner());
        oidc.codes.retain(|_, c| c.expires > Instant::now());
        oidc.codes.insert(
            code.clone(),
            AuthCode {
                redirect_uri: redirect_uri.clone(),
                challenge,
                nonce: get("nonce"),
                expires: Instant::now() + CODE_LIFETIME,
            },
        );
    }
    if redirect_uri.starts_with("urn:") {
        return Response::new(
            200,
            "text/plain; charset=utf-8",
            format!(
                "Approved {}. Paste this code into the program: {code}\n",
                stack.identity
            ),
        );
    }
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    Response::redirect(&format!(
        "{redirect_uri}{sep}code={}&state={}",
        percent_encode(&code),
        percent_encode(&state)
    ))
}

fn token_response(stack: &Stack, nonce: Option<String>, fault: Fault) -> Response {
    let claims = stack.default_claims(nonce);
    match stack.mint(&claims, fault == Fault::WrongChain) {
        Ok(id_token) => Response::json(
            200,
            &json!({
                "access_token": random_token(),
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME,
                "id_token": id_token,
                "scope": "openid email",
            }),
        ),
        Err(e) => Response::oauth_error(500, "server_error", &e),
    }
}

/// The client id from the form, or from HTTP Basic client authentication (RFC 6749 §2.3.1;
/// this public client's secret, if any, is not checked).
fn client_id(req: &Request, form: &[(String, String)]) -> Option<String> {
    lookup(form, "client_id").or_else(|| {
        let basic = req.header("authorization")?.strip_prefix("Basic ")?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(basic.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let id = text.split_once(':').map_or(text.as_str(), |(id, _)| id);
        Some(crate::http::percent_decode(id))
    })
}

fn token(stack: &Stack, req: &Request, fault: Fault) -> Response {
    let form = req.form();
    let get = |k: &str| lookup(&form, k);
    if client_id(req, &form).as_deref() != Some(CLIENT_ID) {
        return Response::oauth_error(401, "invalid_client", "unknown client_id");
    }
    match get("grant_type").as_deref() {
        Some("authorization_code") => {
            let Some(code) = get("code") else {
                return Response::oauth_error(400, "invalid_request", "code is required");
            };
            let grant = {
                let mut oidc = stack.oidc.lock().unwrap_or_else(|e| e.into_inner());
                oidc.codes.remove(&code)
            };
            let Some(grant) = grant.filter(|g| g.expires > Instant::now()) else {
                return Response::oauth_error(400, "invalid_grant", "unknown or expired code");
            };
            if get("redirect_uri").as_deref() != Some(grant.redirect_uri.as_str()) {
                return Response::oauth_error(400, "invalid_grant", "redirect_uri differs");
            }
            let Some(verifier) = get("code_verifier") else {
                return Response::oauth_error(400, "invalid_grant", "code_verifier is required");
            };
            let computed = B64URL.encode(gitsign::core::x509::keys::sha256(verifier.as_bytes()));
            if computed != grant.challenge {
                return Response::oauth_error(400, "invalid_grant", "PKCE verification failed");
            }
            token_response(stack, grant.nonce, fault)
        }
        Some("urn:ietf:params:oauth:grant-type:device_code") => {
            let Some(device_code) = get("device_code") else {
                return Response::oauth_error(400, "invalid_request", "device_code is required");
            };
            let mut oidc = stack.oidc.lock().unwrap_or_else(|e| e.into_inner());
            let Some(grant) = oidc.devices.get_mut(&device_code) else {
                return Response::oauth_error(400, "invalid_grant", "unknown device_code");
            };
            if grant.expires <= Instant::now() {
                oidc.devices.remove(&device_code);
                return Response::oauth_error(400, "expired_token", "the device code expired");
            }
            let too_soon = grant
                .last_poll
                .is_some_and(|t| t.elapsed() < Duration::from_millis(DEVICE_INTERVAL * 1000 - 200));
            grant.last_poll = Some(Instant::now());
            if too_soon {
                return Response::oauth_error(400, "slow_down", "polling too fast");
            }
            if !grant.approved {
                return Response::oauth_error(
                    400,
                    "authorization_pending",
                    "open the verification URI",
                );
            }
            oidc.devices.remove(&device_code);
            drop(oidc);
            token_response(stack, None, fault)
        }
        _ => Response::oauth_error(
            400,
            "unsupported_grant_type",
            "grant_type must be authorization_code or device_code",
        ),
    }
}

fn device_code(stack: &Stack, req: &Request) -> Response {
    let form = req.form();
    if lookup(&form, "client_id").as_deref() != Some(CLIENT_ID) {
        return Response::oauth_error(401, "invalid_client", "unknown client_id");
    }
    let device_code = random_token();
    // Eight letters from an alphabet without vowels or look-alikes (RFC 8628 §6.1).
    const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
    let user_code: String = random_bytes(8)
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    let base = &stack.urls.oidc;
    let mut oidc = stack.oidc.lock().unwrap_or_else(|e| e.into_inner());
    oidc.devices.retain(|_, d| d.expires > Instant::now());
    oidc.devices.insert(
        device_code.clone(),
        DeviceGrant {
            user_code: user_code.clone(),
            approved: stack.device_auto_approve,
            expires: Instant::now() + DEVICE_LIFETIME,
            last_poll: None,
        },
    );
    Response::json(
        200,
        &json!({
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": format!("{base}/device"),
            "verification_uri_complete": format!("{base}/device?user_code={user_code}"),
            "expires_in": DEVICE_LIFETIME.as_secs(),
            "interval": DEVICE_INTERVAL,
        }),
    )
}

fn device_verify(stack: &Stack, req: &Request) -> Response {
    let Some(user_code) = req.query_param("user_code") else {
        return Response::new(
            200,
            "text/plain; charset=utf-8",
            "sigstore-stack: open this page with ?user_code=CODE to approve a device\n",
        );
    };
    let mut oidc = stack.oidc.lock().unwrap_or_else(|e| e.into_inner());
    let now = Instant::now();
    match oidc
        .devices
        .values_mut()
        .find(|d| d.user_code == user_code.to_ascii_uppercase() && d.expires > now)
    {
        Some(d) => {
            d.approved = true;
            Response::new(
                200,
                "text/plain; charset=utf-8",
                format!("Device approved as {}.\n", stack.identity),
            )
        }
        None => Response::error(404, "unknown or expired user code"),
    }
}

/// `POST /test/token`: mints a token directly. JSON (or form) fields, all optional:
/// `email` (`""` for none), `sub`, `aud`, `iss`, `exp_in` (seconds, negative = expired),
/// `nonce`, `email_verified`, `key` (`"foreign"` signs with a key not in the JWKS).
fn test_token(stack: &Stack, req: &Request) -> Response {
    let body = if req
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
    {
        Value::Object(
            req.form()
                .into_iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v.parse::<i64>()) {
                        ("exp_in", Ok(n)) => json!(n),
                        ("email_verified", _) => json!(v == "true"),
                        _ => json!(v),
                    };
                    (k, v)
                })
                .collect(),
        )
    } else {
        match req.json() {
            Ok(v) if v.is_object() => v,
            Ok(_) => return Response::error(400, "expected a JSON object"),
            Err(e) => return Response::error(400, &e),
        }
    };
    let mut claims = stack.default_claims(None);
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
    if let Some(email) = text("email") {
        claims.email = (!email.is_empty()).then_some(email);
    }
    if let Some(sub) = text("sub") {
        claims.sub = sub;
    }
    if let Some(aud) = text("aud") {
        claims.aud = aud;
    }
    if let Some(iss) = text("iss") {
        claims.iss = iss;
    }
    claims.nonce = text("nonce");
    if let Some(v) = body.get("exp_in") {
        match v.as_i64() {
            Some(n) => claims.exp_in = n,
            None => return Response::error(400, "exp_in must be an integer"),
        }
    }
    if let Some(v) = body.get("email_verified") {
        claims.email_verified = v.as_bool().unwrap_or(false);
    }
    let foreign = match text("key").as_deref() {
        None | Some("issuer") => false,
        Some("foreign") => true,
        Some(other) => return Response::error(400, &format!("unknown key {other:?}")),
    };
    match stack.mint(&claims, foreign) {
        Ok(t) => Response::json(200, &json!({"id_token": t, "token_type": "Bearer"})),
        Err(e) => Response::error(500, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_redirects_are_allowed() {
        for ok in [
            "http://127.0.0.1:4567/auth/callback",
            "http://localhost:1/",
            "http://[::1]:80/cb?x=1",
            "http://localhost/",
            "urn:ietf:wg:oauth:2.0:oob",
        ] {
            assert!(redirect_allowed(ok), "{ok}");
        }
        for bad in [
            "https://127.0.0.1:4567/",
            "http://127.0.0.1.evil.test/",
            "http://example.com:80/",
            "http://127.0.0.1:x/",
            "http://localhost@evil.test/",
        ] {
            assert!(!redirect_allowed(bad), "{bad}");
        }
    }
}
