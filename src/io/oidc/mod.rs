//! Who the user is: an OpenID Connect ID token for Fulcio.
//!
//! Sources, chosen by `gitsign.tokenProvider` / `GITSIGN_TOKEN_PROVIDER`, else detected in
//! this order (as cosign's providers, which gitsign uses):
//!
//! 1. `envvar`: a raw JWT in `SIGSTORE_ID_TOKEN`;
//! 2. `github-actions`: the Actions OIDC endpoint (`ACTIONS_ID_TOKEN_REQUEST_URL` /
//!    `_TOKEN`), audience `sigstore`;
//! 3. `filesystem`: `gitsign.tokenFile` / `GITSIGN_TOKEN_FILE`, else cosign's
//!    `/var/run/sigstore/cosign/oidc-token` when it exists;
//! 4. `interactive`: the browser flow (authorization code + PKCE S256 + state + nonce, a
//!    loopback redirect listener, then a copy-and-paste fallback);
//! 5. `device` (only when asked for): the device authorization grant, RFC 8628.
//!
//! Tokens from the flows we run are verified fully (JWKS signature, issuer, audience, expiry,
//! nonce). Ambient tokens are checked for shape and expiry only: Fulcio verifies them against
//! their issuer, which we may not even be able to reach.
//!
//! The raw token is never printed, logged or `Debug`-formatted, and is zeroized on drop.

mod browser;
mod device;
mod http;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

use crate::io::config::Settings;
use crate::io::progress::Progress;

use crate::core::oidc::jwt::{self, Expectations, Jwt, JwtError};
pub use browser::{PasteInput, Pkce, opener_command};
pub use device::{PollAction, poll_action};

/// cosign's `filesystem` provider reads this file.
pub const COSIGN_TOKEN_FILE: &str = "/var/run/sigstore/cosign/oidc-token";

/// The audience gitsign asks GitHub Actions for.
pub const GITHUB_ACTIONS_AUDIENCE: &str = "sigstore";

/// An ID token and what we read from it.
pub struct IdToken {
    raw: Zeroizing<String>,
    identity: String,
    issuer: String,
    expires_at: u64,
}

impl IdToken {
    /// The compact JWT, for Fulcio. Do not print it.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The `email` claim, else `sub`.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `exp`, seconds since the epoch.
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// Reads identity and issuer from an (already verified, or ambient) token.
    fn from_jwt(raw: String, jwt: &Jwt) -> Result<IdToken, JwtError> {
        let raw = Zeroizing::new(raw);
        let identity = jwt
            .identity()
            .ok_or(JwtError::MissingClaim("email or sub"))?
            .to_string();
        let issuer = jwt
            .str_claim("iss")
            .filter(|s| !s.is_empty())
            .ok_or(JwtError::MissingClaim("iss"))?
            .to_string();
        Ok(IdToken {
            raw,
            identity,
            issuer,
            expires_at: jwt.expires_at()?,
        })
    }
}

impl fmt::Debug for IdToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdToken")
            .field("identity", &self.identity)
            .field("issuer", &self.issuer)
            .field("expires_at", &self.expires_at)
            .field("raw", &"<redacted>")
            .finish()
    }
}

/// Checks an ambient token (environment, CI, file): a well-formed JWT, not expired, with an
/// issuer and an identity. Its signature is Fulcio's to check.
pub fn ambient_token(raw: &str, now: u64) -> Result<IdToken, JwtError> {
    let raw = raw.trim();
    let jwt = Jwt::parse(raw)?;
    jwt.check_times(now)?;
    IdToken::from_jwt(raw.to_string(), &jwt)
}

/// Where an OIDC step went wrong. Each renders as one line naming the step and the server;
/// none carries a token.
#[derive(Debug)]
pub enum OidcError {
    UnknownProvider(String),
    /// The provider asked for is not available here.
    Unavailable {
        provider: &'static str,
        reason: String,
    },
    /// The token from an ambient source is unusable.
    AmbientToken {
        source: String,
        error: JwtError,
    },
    TokenFile {
        path: PathBuf,
        error: String,
    },
    ClientSecret {
        path: PathBuf,
        error: String,
    },
    /// A plain-http URL that is not loopback.
    Insecure {
        step: &'static str,
        url: String,
    },
    Unreachable {
        step: &'static str,
        url: String,
        error: String,
    },
    TimedOut {
        step: &'static str,
        url: String,
        after: Duration,
    },
    /// An HTTP error status, with the OAuth `error` code when the server sent one.
    Status {
        step: &'static str,
        url: String,
        status: u16,
        error: Option<String>,
    },
    BadResponse {
        step: &'static str,
        url: String,
        reason: String,
    },
    /// The user or the server refused (`access_denied`, `expired_token`, ...).
    Denied {
        step: &'static str,
        url: String,
        error: String,
        description: Option<String>,
    },
    /// The ID token the issuer gave us does not check out.
    InvalidIdToken {
        url: String,
        error: JwtError,
    },
    Listener {
        addr: String,
        error: String,
    },
    /// The browser flow ended without an authorization code.
    NoCode {
        issuer: String,
        after: Duration,
    },
    /// The pasted text is neither a code nor a redirect URL of this flow.
    BadPaste(String),
    HttpClient(String),
}

/// One line, no control characters (server-provided text included).
fn clean(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect();
    s.trim().to_string()
}

impl fmt::Display for OidcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OidcError::UnknownProvider(p) => write!(
                f,
                "unknown OIDC token provider {:?} (known: envvar, github-actions, filesystem, interactive, device)",
                clean(p)
            ),
            OidcError::Unavailable { provider, reason } => {
                write!(
                    f,
                    "OIDC token provider {provider} is not available: {}",
                    clean(reason)
                )
            }
            OidcError::AmbientToken { source, error } => {
                write!(
                    f,
                    "the ID token from {} is unusable: {error}",
                    clean(source)
                )
            }
            OidcError::TokenFile { path, error } => write!(
                f,
                "cannot read the ID token file {}: {}",
                path.display(),
                clean(error)
            ),
            OidcError::ClientSecret { path, error } => write!(
                f,
                "cannot read the OIDC client secret file {}: {}",
                path.display(),
                clean(error)
            ),
            OidcError::Insecure { step, url } => write!(
                f,
                "OIDC {step}: refusing plain http to {} (only loopback may use http)",
                clean(url)
            ),
            OidcError::Unreachable { step, url, error } => write!(
                f,
                "OIDC {step}: {} cannot be reached ({})",
                clean(url),
                clean(error)
            ),
            OidcError::TimedOut { step, url, after } => write!(
                f,
                "OIDC {step}: {} did not answer within {}s",
                clean(url),
                after.as_secs()
            ),
            OidcError::Status {
                step,
                url,
                status,
                error,
            } => match error {
                Some(e) => write!(
                    f,
                    "OIDC {step}: {} answered HTTP {status} ({})",
                    clean(url),
                    clean(e)
                ),
                None => write!(f, "OIDC {step}: {} answered HTTP {status}", clean(url)),
            },
            OidcError::BadResponse { step, url, reason } => write!(
                f,
                "OIDC {step}: unreadable answer from {} ({})",
                clean(url),
                clean(reason)
            ),
            OidcError::Denied {
                step,
                url,
                error,
                description,
            } => match description {
                Some(d) => write!(
                    f,
                    "OIDC {step} at {} was refused: {} ({})",
                    clean(url),
                    clean(error),
                    clean(d)
                ),
                None => write!(
                    f,
                    "OIDC {step} at {} was refused: {}",
                    clean(url),
                    clean(error)
                ),
            },
            OidcError::InvalidIdToken { url, error } => write!(
                f,
                "OIDC token verification: the ID token from {} is invalid: {error}",
                clean(url)
            ),
            OidcError::Listener { addr, error } => write!(
                f,
                "OIDC browser flow: cannot listen on {} for the redirect ({})",
                clean(addr),
                clean(error)
            ),
            OidcError::NoCode { issuer, after } => write!(
                f,
                "OIDC browser flow with {}: no authorization code within {}s",
                clean(issuer),
                after.as_secs()
            ),
            OidcError::HttpClient(e) => {
                write!(f, "OIDC: cannot set up an HTTP client ({})", clean(e))
            }
            OidcError::BadPaste(why) => {
                write!(
                    f,
                    "OIDC browser flow: the pasted text is not usable ({})",
                    clean(why)
                )
            }
        }
    }
}

impl std::error::Error for OidcError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OidcError::AmbientToken { error, .. } | OidcError::InvalidIdToken { error, .. } => {
                Some(error)
            }
            _ => None,
        }
    }
}

/// Where a token comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provider {
    EnvVar,
    GithubActions,
    File(PathBuf),
    Interactive,
    Device,
}

impl Provider {
    pub fn name(&self) -> &'static str {
        match self {
            Provider::EnvVar => "envvar",
            Provider::GithubActions => "github-actions",
            Provider::File(_) => "filesystem",
            Provider::Interactive => "interactive",
            Provider::Device => "device",
        }
    }
}

/// What the process around us offers: the environment, the clock, the terminal. Tests
/// pass their own.
pub struct Ambient<'a> {
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Whether a path exists (for cosign's token file).
    pub exists: &'a dyn Fn(&Path) -> bool,
    pub now: &'a dyn Fn() -> u64,
    /// Where a pasted code comes from after the browser flow's timeout: `/dev/tty` in
    /// real use, `None` when there is no terminal.
    pub paste: Option<PasteInput>,
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Chooses the token source: the configured one, else the first available.
pub fn select_provider(settings: &Settings, ambient: &Ambient) -> Result<Provider, OidcError> {
    let env = |k: &str| (ambient.env)(k).filter(|v| !v.trim().is_empty());
    let has_env = env("SIGSTORE_ID_TOKEN").is_some();
    let has_actions = env("ACTIONS_ID_TOKEN_REQUEST_URL").is_some()
        && env("ACTIONS_ID_TOKEN_REQUEST_TOKEN").is_some();
    let file = settings
        .token_file
        .clone()
        .unwrap_or_else(|| PathBuf::from(COSIGN_TOKEN_FILE));
    let explicit_file = settings.token_file.is_some();
    match settings
        .token_provider
        .as_deref()
        .map(|p| p.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") => {
            if has_env {
                Ok(Provider::EnvVar)
            } else if has_actions {
                Ok(Provider::GithubActions)
            } else if explicit_file || (ambient.exists)(&file) {
                // A configured file that is missing is an error, not a reason to fall
                // through to a browser.
                Ok(Provider::File(file))
            } else {
                Ok(Provider::Interactive)
            }
        }
        Some("envvar" | "env") if has_env => Ok(Provider::EnvVar),
        Some("envvar" | "env") => Err(OidcError::Unavailable {
            provider: "envvar",
            reason: "SIGSTORE_ID_TOKEN is not set".into(),
        }),
        Some("github-actions" | "github") if has_actions => Ok(Provider::GithubActions),
        Some("github-actions" | "github") => Err(OidcError::Unavailable {
            provider: "github-actions",
            reason: "ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not both set (does the job have `permissions: id-token: write`?)".into(),
        }),
        Some("filesystem" | "file") => Ok(Provider::File(file)),
        Some("interactive" | "browser") => Ok(Provider::Interactive),
        Some("device") => Ok(Provider::Device),
        Some(_) => Err(OidcError::UnknownProvider(
            settings.token_provider.clone().unwrap_or_default(),
        )),
    }
}

/// An ID token for Fulcio, from the configured or detected source.
pub fn id_token(settings: &Settings, ui: &mut dyn Progress) -> Result<IdToken, OidcError> {
    let env = |k: &str| std::env::var(k).ok();
    let ambient = Ambient {
        env: &env,
        exists: &|p: &Path| p.is_file(),
        now: &unix_now,
        paste: PasteInput::tty(),
    };
    id_token_with(settings, ui, ambient)
}

/// [`id_token`] with the process around it made explicit.
pub fn id_token_with(
    settings: &Settings,
    ui: &mut dyn Progress,
    mut ambient: Ambient,
) -> Result<IdToken, OidcError> {
    let provider = select_provider(settings, &ambient)?;
    let now = (ambient.now)();
    match provider {
        Provider::EnvVar => {
            let raw = (ambient.env)("SIGSTORE_ID_TOKEN").unwrap_or_default();
            ambient_token(&raw, now).map_err(|error| OidcError::AmbientToken {
                source: "SIGSTORE_ID_TOKEN".into(),
                error,
            })
        }
        Provider::GithubActions => {
            let url = (ambient.env)("ACTIONS_ID_TOKEN_REQUEST_URL").unwrap_or_default();
            let bearer =
                Zeroizing::new((ambient.env)("ACTIONS_ID_TOKEN_REQUEST_TOKEN").unwrap_or_default());
            let raw = http::Http::new()?.github_actions_token(&url, &bearer)?;
            ambient_token(&raw, now).map_err(|error| OidcError::AmbientToken {
                source: format!("GitHub Actions ({})", http::origin(&url)),
                error,
            })
        }
        Provider::File(path) => {
            let raw = Zeroizing::new(std::fs::read_to_string(&path).map_err(|e| {
                OidcError::TokenFile {
                    path: path.clone(),
                    error: e.to_string(),
                }
            })?);
            ambient_token(&raw, now).map_err(|error| OidcError::AmbientToken {
                source: path.display().to_string(),
                error,
            })
        }
        Provider::Interactive => browser::run(settings, ui, &mut ambient),
        Provider::Device => device::run(settings, ui, &ambient),
    }
}

/// Fetches the issuer's keys and verifies an ID token from a flow we ran.
fn verify_id_token(
    client: &http::Http,
    discovery: &http::Discovery,
    settings: &Settings,
    raw: String,
    nonce: Option<&str>,
    now: u64,
) -> Result<IdToken, OidcError> {
    let raw = Zeroizing::new(raw);
    let invalid = |error| OidcError::InvalidIdToken {
        url: settings.issuer.clone(),
        error,
    };
    let jwks = client.jwks(&discovery.jwks_uri)?;
    let expect = Expectations {
        issuer: &discovery.issuer,
        client_id: &settings.client_id,
        nonce,
        now,
    };
    let verified = jwt::verify(&raw, &jwks, &expect).map_err(invalid)?;
    IdToken::from_jwt(raw.to_string(), &verified).map_err(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(provider: Option<&str>, token_file: Option<&str>) -> Settings {
        let mut s = Settings::resolve(&HashMap::new(), &|_| None).unwrap();
        s.token_provider = provider.map(str::to_string);
        s.token_file = token_file.map(PathBuf::from);
        s
    }

    fn select(
        provider: Option<&str>,
        token_file: Option<&str>,
        env: &[(&str, &str)],
        cosign_file_exists: bool,
    ) -> Result<Provider, OidcError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |k: &str| env.get(k).cloned();
        let ambient = Ambient {
            env: &lookup,
            exists: &|p: &Path| cosign_file_exists && p == Path::new(COSIGN_TOKEN_FILE),
            now: &|| 0,
            paste: None,
        };
        select_provider(&settings(provider, token_file), &ambient)
    }

    const ACTIONS: [(&str, &str); 2] = [
        ("ACTIONS_ID_TOKEN_REQUEST_URL", "https://x/?a=1"),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "t"),
    ];

    #[test]
    fn detection_prefers_environment_then_actions_then_file_then_browser() {
        let all = [ACTIONS[0], ACTIONS[1], ("SIGSTORE_ID_TOKEN", "a.b.c")];
        assert_eq!(select(None, None, &all, true).unwrap(), Provider::EnvVar);
        assert_eq!(
            select(None, None, &ACTIONS, true).unwrap(),
            Provider::GithubActions
        );
        assert_eq!(
            select(None, None, &[], true).unwrap(),
            Provider::File(COSIGN_TOKEN_FILE.into())
        );
        assert_eq!(
            select(None, None, &[], false).unwrap(),
            Provider::Interactive
        );
        assert_eq!(
            select(None, Some("/t"), &[], false).unwrap(),
            Provider::File("/t".into())
        );
        // Half of the Actions pair, or an empty variable, is not a source.
        assert_eq!(
            select(None, None, &[ACTIONS[0], ("SIGSTORE_ID_TOKEN", " ")], false).unwrap(),
            Provider::Interactive
        );
    }

    #[test]
    fn an_explicit_provider_wins_over_detection_and_must_be_available() {
        let env = [("SIGSTORE_ID_TOKEN", "a.b.c")];
        assert_eq!(
            select(Some("device"), None, &env, false).unwrap(),
            Provider::Device
        );
        assert_eq!(
            select(Some("interactive"), None, &env, false).unwrap(),
            Provider::Interactive
        );
        assert_eq!(
            select(Some("filesystem"), None, &env, false).unwrap(),
            Provider::File(COSIGN_TOKEN_FILE.into())
        );
        assert!(matches!(
            select(Some("github-actions"), None, &env, false),
            Err(OidcError::Unavailable { .. })
        ));
        assert!(matches!(
            select(Some("envvar"), None, &[], false),
            Err(OidcError::Unavailable { .. })
        ));
        let err = select(Some("spiffe"), None, &[], false).unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown OIDC token provider \"spiffe\"")
        );
    }

    #[test]
    fn ambient_tokens_must_be_well_formed_and_unexpired() {
        use base64::Engine;
        let b = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let tok = |claims: serde_json::Value| {
            format!(
                "{}.{}.c2ln",
                b(serde_json::json!({"alg": "RS256"})),
                b(claims)
            )
        };
        let good = tok(
            serde_json::json!({"iss": "https://i", "sub": "repo:o/r", "exp": 2000, "aud": "sigstore"}),
        );
        let t = ambient_token(&format!("{good}\n"), 1000).unwrap();
        assert_eq!((t.identity(), t.issuer()), ("repo:o/r", "https://i"));
        assert_eq!(t.raw(), good);
        assert!(matches!(
            ambient_token(&good, 3000),
            Err(JwtError::Expired { .. })
        ));
        assert!(ambient_token("not a jwt", 0).is_err());
        assert_eq!(
            ambient_token(&tok(serde_json::json!({"sub": "x", "exp": 2000})), 0).unwrap_err(),
            JwtError::MissingClaim("iss")
        );
    }

    #[test]
    fn debug_output_and_errors_never_show_the_token() {
        use base64::Engine;
        let b = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let raw = format!(
            "{}.{}.U0VDUkVU",
            b(serde_json::json!({"alg": "ES256"})),
            b(serde_json::json!({"iss": "https://i", "email": "a@b", "exp": 10}))
        );
        let t = ambient_token(&raw, 0).unwrap();
        let dbg = format!("{t:?}");
        assert!(!dbg.contains("U0VDUkVU") && dbg.contains("a@b"), "{dbg}");
        let err = ambient_token(&raw, 1000).unwrap_err();
        let shown = OidcError::AmbientToken {
            source: "SIGSTORE_ID_TOKEN".into(),
            error: err,
        }
        .to_string();
        assert!(
            !shown.contains("U0VDUkVU") && !shown.contains('\n'),
            "{shown}"
        );
    }

    #[test]
    fn error_lines_strip_control_characters_from_server_text() {
        let e = OidcError::Denied {
            step: "token exchange",
            url: "https://issuer".into(),
            error: "access_denied\n\u{1b}[31mfake".into(),
            description: None,
        };
        let line = e.to_string();
        assert!(!line.contains('\n') && !line.contains('\u{1b}'), "{line}");
        assert!(line.starts_with("OIDC token exchange at https://issuer was refused"));
    }
}
