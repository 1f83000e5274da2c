//! Blocking HTTP for the OIDC steps: discovery, JWKS, form posts to the token and device
//! endpoints, the GitHub Actions token request. Every request has a timeout; every failure
//! names the step and the server.

use std::time::Duration;

use reqwest::Url;
use reqwest::blocking::{Client, RequestBuilder};
use serde_json::Value;

use super::OidcError;

/// One request, connection included.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Scheme, host and port of a URL, for messages (never its query: it may carry secrets).
pub fn origin(url: &str) -> String {
    match Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{}://{h}:{p}", u.scheme()),
            (Some(h), None) => format!("{}://{h}", u.scheme()),
            _ => u.scheme().to_string(),
        },
        Err(_) => "an invalid URL".to_string(),
    }
}

/// `scheme://host[:port]/path`, without query or fragment.
fn show(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

pub use crate::io::http::is_loopback_host;

/// https, or http to a loopback address (tests, local stacks).
pub fn checked_url(step: &'static str, url: &str) -> Result<Url, OidcError> {
    let u = Url::parse(url).map_err(|e| OidcError::BadResponse {
        step,
        url: url.chars().take(100).collect(),
        reason: format!("not a URL: {e}"),
    })?;
    match u.scheme() {
        "https" => Ok(u),
        "http" if u.host_str().is_some_and(is_loopback_host) => Ok(u),
        _ => Err(OidcError::Insecure {
            step,
            url: show(&u),
        }),
    }
}

/// `application/x-www-form-urlencoded` of the pairs.
pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut u = Url::parse("http://form.invalid/").expect("constant URL parses");
    u.query_pairs_mut().extend_pairs(pairs);
    u.query().unwrap_or_default().to_string()
}

/// The parts of the issuer's discovery document we use.
#[derive(Debug, Clone)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: String,
    pub jwks_uri: String,
    pub device_authorization_endpoint: Option<String>,
    pub token_auth_methods: Vec<String>,
}

pub struct Http {
    client: Client,
}

/// A token or device endpoint's answer: the JSON body, whatever the status.
pub struct FormResponse {
    pub status: u16,
    pub body: Value,
}

impl Http {
    pub fn new() -> Result<Http, OidcError> {
        // The endpoints come from discovery; a redirect elsewhere is not followed (the
        // shared profile follows none).
        let client = crate::io::http::client(HTTP_TIMEOUT)
            .map_err(|e| OidcError::HttpClient(e.to_string()))?;
        Ok(Http { client })
    }

    fn send(
        &self,
        step: &'static str,
        url: &Url,
        req: RequestBuilder,
    ) -> Result<(u16, String), OidcError> {
        let fail = |e: reqwest::Error| {
            if e.is_timeout() {
                OidcError::TimedOut {
                    step,
                    url: show(url),
                    after: HTTP_TIMEOUT,
                }
            } else {
                OidcError::Unreachable {
                    step,
                    url: show(url),
                    error: root_cause(&e),
                }
            }
        };
        let resp = req.send().map_err(fail)?;
        let status = resp.status().as_u16();
        // Bounded: a JWKS or token response is a few kilobytes.
        let bytes = resp.bytes().map_err(fail)?;
        if bytes.len() > 1 << 20 {
            return Err(OidcError::BadResponse {
                step,
                url: show(url),
                reason: "answer larger than 1 MiB".into(),
            });
        }
        Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    }

    fn get_json(&self, step: &'static str, url: &str) -> Result<Value, OidcError> {
        let u = checked_url(step, url)?;
        let (status, text) = self.send(
            step,
            &u,
            self.client
                .get(u.clone())
                .header("accept", "application/json"),
        )?;
        if !(200..300).contains(&status) {
            return Err(OidcError::Status {
                step,
                url: show(&u),
                status,
                error: None,
            });
        }
        serde_json::from_str(&text).map_err(|e| OidcError::BadResponse {
            step,
            url: show(&u),
            reason: e.to_string(),
        })
    }

    /// OIDC Discovery 1.0 §4; the document's `issuer` must be the configured one.
    pub fn discover(&self, issuer: &str) -> Result<Discovery, OidcError> {
        let step = "discovery";
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let doc = self.get_json(step, &url)?;
        let bad = |reason: String| OidcError::BadResponse {
            step,
            url: url.clone(),
            reason,
        };
        let s = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_string);
        let found = s("issuer").ok_or_else(|| bad("no issuer".into()))?;
        if found.trim_end_matches('/') != issuer.trim_end_matches('/') {
            return Err(bad(format!(
                "it describes issuer {found:?}, not {issuer:?}"
            )));
        }
        let token_endpoint = s("token_endpoint").ok_or_else(|| bad("no token_endpoint".into()))?;
        let jwks_uri = s("jwks_uri").ok_or_else(|| bad("no jwks_uri".into()))?;
        let token_auth_methods = doc
            .get("token_endpoint_auth_methods_supported")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Discovery {
            issuer: found,
            authorization_endpoint: s("authorization_endpoint"),
            token_endpoint,
            jwks_uri,
            device_authorization_endpoint: s("device_authorization_endpoint"),
            token_auth_methods,
        })
    }

    pub fn jwks(&self, url: &str) -> Result<Value, OidcError> {
        self.get_json("JWKS fetch", url)
    }

    /// POSTs a form; returns the JSON body with the status (OAuth errors are 400 with a
    /// JSON body the caller interprets). `basic` is HTTP Basic client authentication.
    pub fn post_form(
        &self,
        step: &'static str,
        url: &str,
        pairs: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<FormResponse, OidcError> {
        let u = checked_url(step, url)?;
        let mut req = self
            .client
            .post(u.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(form(pairs));
        if let Some((user, pass)) = basic {
            // RFC 6749 §2.3.1: both parts form-urlencoded before Basic encoding.
            let enc = |s: &str| form(&[("x", s)])[2..].to_string();
            req = req.basic_auth(enc(user), Some(enc(pass)));
        }
        let (status, text) = self.send(step, &u, req)?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !(200..300).contains(&status) && body.get("error").is_none() {
            return Err(OidcError::Status {
                step,
                url: show(&u),
                status,
                error: None,
            });
        }
        if body.is_null() {
            return Err(OidcError::BadResponse {
                step,
                url: show(&u),
                reason: "not JSON".into(),
            });
        }
        Ok(FormResponse { status, body })
    }

    /// GitHub Actions' OIDC endpoint: `GET $URL&audience=sigstore` with the request token
    /// as bearer; the answer is `{"value": JWT}`.
    pub fn github_actions_token(&self, url: &str, bearer: &str) -> Result<String, OidcError> {
        let step = "GitHub Actions token request";
        let mut u = checked_url(step, url)?;
        u.query_pairs_mut()
            .append_pair("audience", super::GITHUB_ACTIONS_AUDIENCE);
        let (status, text) = self.send(
            step,
            &u,
            self.client
                .get(u.clone())
                .header("authorization", format!("bearer {bearer}"))
                .header("accept", "application/json"),
        )?;
        let text = zeroize::Zeroizing::new(text);
        if !(200..300).contains(&status) {
            return Err(OidcError::Status {
                step,
                url: show(&u),
                status,
                error: None,
            });
        }
        let v: Value = serde_json::from_str(&text).map_err(|e| OidcError::BadResponse {
            step,
            url: show(&u),
            reason: e.to_string(),
        })?;
        v.get("value")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| OidcError::BadResponse {
                step,
                url: show(&u),
                reason: "no \"value\" in the answer".into(),
            })
    }
}

use crate::io::http::root_cause;

/// The OAuth `error` (and description) of an error response, if it is one.
pub fn oauth_error(body: &Value) -> Option<(String, Option<String>)> {
    let e = body.get("error")?.as_str()?.to_string();
    let d = body
        .get("error_description")
        .and_then(Value::as_str)
        .map(str::to_string);
    Some((e, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_refused_except_to_loopback() {
        assert!(checked_url("s", "https://issuer.example/x").is_ok());
        assert!(checked_url("s", "http://127.0.0.1:5556/x").is_ok());
        assert!(checked_url("s", "http://localhost/x").is_ok());
        assert!(checked_url("s", "http://[::1]:80/").is_ok());
        assert!(matches!(
            checked_url("s", "http://issuer.example/x?secret=1"),
            Err(OidcError::Insecure { url, .. }) if url == "http://issuer.example/x"
        ));
        assert!(checked_url("s", "file:///etc/passwd").is_err());
        assert!(checked_url("s", "not a url").is_err());
    }

    #[test]
    fn forms_are_percent_encoded() {
        assert_eq!(
            form(&[("a", "b c"), ("r", "http://x/?y=1&z")]),
            "a=b+c&r=http%3A%2F%2Fx%2F%3Fy%3D1%26z"
        );
    }

    #[test]
    fn messages_show_the_origin_not_the_query() {
        assert_eq!(
            origin("https://pipelines.actions.example/abc?api-version=2&sig=SECRET"),
            "https://pipelines.actions.example"
        );
        assert_eq!(origin("::"), "an invalid URL");
    }
}
