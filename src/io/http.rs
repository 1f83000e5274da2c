//! What every exchange with a Sigstore service (Fulcio, Rekor) shares: one client profile
//! (rustls with aws-lc-rs, timeouts, **no redirects**: a 307 would replay an ID token to another
//! host), one URL rule (https, or plain http only to a loopback address), bounded reads.

use std::io::Read;
use std::time::Duration;

/// No Fulcio or Rekor answer we read is anywhere near this.
pub const MAX_RESPONSE: u64 = 4 << 20;

/// Installs the ring crypto provider for rustls once per process.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// A blocking client with our timeouts, no redirects and no idle connections kept: a
/// process makes a handful of requests, seconds apart while it polls a device flow, and a
/// server closing an idle keep-alive connection just as it is reused fails the request
/// ("connection closed before message completed").
pub fn client(timeout: Duration) -> Result<reqwest::blocking::Client, reqwest::Error> {
    builder(timeout).build()
}

fn builder(timeout: Duration) -> reqwest::blocking::ClientBuilder {
    install_crypto_provider();
    reqwest::blocking::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("gitsign-rs/", env!("CARGO_PKG_VERSION")))
}

/// [`client`] for one service whose base URL [`service_url`] has checked. A plain-http
/// (loopback) service gets no trust store: loading the platform's roots reads every file
/// of /etc/ssl/certs (~10 ms, most of a warm-cache signature), and that client never speaks TLS.
pub fn service_client(
    base: &str,
    timeout: Duration,
) -> Result<reqwest::blocking::Client, reqwest::Error> {
    if base.starts_with("http://") {
        builder(timeout).tls_certs_only(Vec::new()).build()
    } else {
        builder(timeout).build()
    }
}

/// `localhost` or a loopback IP address (tests and local stacks may use plain http there).
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The service's base URL without a trailing slash, if it is https or loopback http.
pub fn service_url(url: &str) -> Result<String, String> {
    let base = url.trim_end_matches('/').to_string();
    let parsed = reqwest::Url::parse(&base).map_err(|e| format!("{url:?} is not a URL ({e})"))?;
    match parsed.scheme() {
        "https" => Ok(base),
        "http" if parsed.host_str().is_some_and(is_loopback_host) => Ok(base),
        _ => Err(format!(
            "{base} is not https (plain http is allowed only to 127.0.0.1 or localhost)"
        )),
    }
}

/// Why a body could not be read.
pub enum BodyError {
    TimedOut,
    TooLarge,
    Io(String),
}

/// Reads at most [`MAX_RESPONSE`] bytes of a response body.
pub fn read_body(resp: reqwest::blocking::Response) -> Result<Vec<u8>, BodyError> {
    let mut buf = Vec::new();
    resp.take(MAX_RESPONSE + 1)
        .read_to_end(&mut buf)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::TimedOut || root_cause(&e).contains("timed out") {
                BodyError::TimedOut
            } else {
                BodyError::Io(root_cause(&e))
            }
        })?;
    if buf.len() as u64 > MAX_RESPONSE {
        return Err(BodyError::TooLarge);
    }
    Ok(buf)
}

/// The innermost cause of an error, which is the one a user can act on.
pub fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_urls_must_be_https_or_loopback_http() {
        assert_eq!(
            service_url("https://rekor.sigstore.dev/").unwrap(),
            "https://rekor.sigstore.dev"
        );
        assert!(service_url("http://127.0.0.1:3000").is_ok());
        assert!(service_url("http://localhost:3000").is_ok());
        assert!(service_url("http://rekor.example.com").is_err());
        assert!(service_url("ftp://127.0.0.1").is_err());
        assert!(service_url("not a url").is_err());
    }
}
