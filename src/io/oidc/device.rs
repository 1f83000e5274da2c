//! The device authorization grant (RFC 8628): for machines without a browser. The user
//! opens the verification URI elsewhere and types the code; we poll the token endpoint.

use std::time::{Duration, Instant};

use serde_json::Value;
use zeroize::Zeroizing;

use super::browser::{self, OAuthError, opener_command};
use super::http::Http;
use super::{Ambient, IdToken, OidcError};
use crate::io::config::Settings;
use crate::io::progress::Progress;

/// RFC 8628 §3.2: the default polling interval.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// §3.5: `slow_down` adds five seconds.
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// However long the issuer lets the code live, we poll no longer than this.
const MAX_WAIT: Duration = Duration::from_secs(15 * 60);

/// What to do after one poll of the token endpoint.
#[derive(Debug, PartialEq, Eq)]
pub enum PollAction {
    /// Poll again after this interval (which becomes the new interval).
    Wait(Duration),
    /// The flow is over: the user refused, the code expired, or the issuer failed.
    Fail(OAuthError),
}

/// RFC 8628 §3.5, for an error answer of the token endpoint.
pub fn poll_action(error: OAuthError, interval: Duration) -> PollAction {
    match error.0.as_str() {
        "authorization_pending" => PollAction::Wait(interval),
        "slow_down" => PollAction::Wait(interval + SLOW_DOWN_STEP),
        _ => PollAction::Fail(error),
    }
}

pub fn run(
    settings: &Settings,
    ui: &mut dyn Progress,
    ambient: &Ambient,
) -> Result<IdToken, OidcError> {
    let step = "device authorization";
    let client = Http::new()?;
    let discovery = client.discover(&settings.issuer)?;
    let endpoint = discovery
        .device_authorization_endpoint
        .clone()
        .ok_or_else(|| OidcError::BadResponse {
            step: "discovery",
            url: settings.issuer.clone(),
            reason: "the issuer offers no device_authorization_endpoint".into(),
        })?;
    let resp = browser::authed_post(
        &client,
        &discovery,
        settings,
        step,
        &endpoint,
        &[("scope", "openid email")],
    )?;
    if let Some((error, description)) = super::http::oauth_error(&resp.body) {
        return Err(OidcError::Denied {
            step,
            url: endpoint,
            error,
            description,
        });
    }
    let bad = |reason: &str| OidcError::BadResponse {
        step,
        url: endpoint.clone(),
        reason: reason.to_string(),
    };
    let s = |k: &str| resp.body.get(k).and_then(Value::as_str);
    let device_code = Zeroizing::new(
        s("device_code")
            .ok_or_else(|| bad("no device_code"))?
            .to_string(),
    );
    let user_code = s("user_code").ok_or_else(|| bad("no user_code"))?;
    let uri = s("verification_uri")
        .or_else(|| s("verification_url"))
        .ok_or_else(|| bad("no verification_uri"))?;
    let complete = s("verification_uri_complete");
    let expires_in = resp
        .body
        .get("expires_in")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("no expires_in"))?;
    let mut interval = resp
        .body
        .get("interval")
        .and_then(Value::as_u64)
        .map(|n| Duration::from_secs(n.max(1)))
        .unwrap_or(DEFAULT_INTERVAL);

    ui.say(&format!(
        "To sign in, open {uri} and enter the code {user_code}"
    ));
    if let Some(c) = complete {
        ui.say(&format!("(or open {c})"));
    }
    if let Some(opener) = settings.url_opener.as_deref() {
        let url = complete.unwrap_or(uri);
        if let Err(e) = opener_command(opener, url).and_then(|argv| {
            std::process::Command::new(&argv[0])
                .args(&argv[1..])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .spawn()
                .map(|mut child| {
                    std::thread::spawn(move || {
                        let _ = child.wait();
                    });
                })
                .map_err(|e| format!("{}: {e}", argv[0]))
        }) {
            ui.say(&format!("Could not run gitsign.urlOpener ({e})"));
        }
    }

    let waited = Duration::from_secs(expires_in).min(MAX_WAIT);
    let deadline = Instant::now() + waited;
    let grant = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", device_code.as_str()),
    ];
    loop {
        let now = Instant::now();
        if now + interval > deadline {
            return Err(OidcError::Denied {
                step: "device token polling",
                url: discovery.token_endpoint.clone(),
                error: "expired_token".into(),
                description: Some(format!("nobody approved within {}s", waited.as_secs())),
            });
        }
        std::thread::sleep(interval);
        match browser::token_request(
            &client,
            &discovery,
            settings,
            "device token polling",
            &grant,
        )? {
            Ok(raw) => {
                return super::verify_id_token(
                    &client,
                    &discovery,
                    settings,
                    raw.to_string(),
                    None,
                    (ambient.now)(),
                );
            }
            Err(error) => match poll_action(error, interval) {
                PollAction::Wait(next) => interval = next,
                PollAction::Fail((error, description)) => {
                    return Err(OidcError::Denied {
                        step: "device token polling",
                        url: discovery.token_endpoint.clone(),
                        error,
                        description,
                    });
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(code: &str) -> OAuthError {
        (code.to_string(), None)
    }

    #[test]
    fn pending_keeps_the_interval_and_slow_down_adds_five_seconds() {
        let i = Duration::from_secs(5);
        assert_eq!(
            poll_action(e("authorization_pending"), i),
            PollAction::Wait(i)
        );
        assert_eq!(
            poll_action(e("slow_down"), i),
            PollAction::Wait(Duration::from_secs(10))
        );
    }

    #[test]
    fn expiry_denial_and_unknown_errors_end_the_flow() {
        for code in [
            "expired_token",
            "access_denied",
            "invalid_grant",
            "server_error",
        ] {
            assert_eq!(
                poll_action(e(code), DEFAULT_INTERVAL),
                PollAction::Fail(e(code))
            );
        }
    }
}
