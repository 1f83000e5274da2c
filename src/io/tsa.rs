//! RFC 3161 timestamp authorities: one request per signature, over the hash of the CMS
//! signature value. The reply is checked by the core (status, nonce, imprint, token against
//! the trusted root's authorities) before anything embeds it.

use std::fmt;
use std::time::Duration;

use crate::core::sigstore::trust::CertificateAuthority;
use crate::core::sigstore::tsa::{TsaError, VerifiedTimestamp, request};
use crate::io::http::{self, BodyError, root_cause};

#[derive(Debug)]
pub enum TimestampError {
    Unreachable {
        url: String,
        error: String,
    },
    TimedOut {
        url: String,
        after: Duration,
    },
    Status {
        url: String,
        status: u16,
    },
    BadResponse {
        url: String,
        error: String,
    },
    /// The reply was read but does not check out.
    Refused {
        url: String,
        source: TsaError,
    },
}

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimestampError::Unreachable { url, error } => {
                write!(
                    f,
                    "the timestamp authority at {url} cannot be reached ({error})"
                )
            }
            TimestampError::TimedOut { url, after } => write!(
                f,
                "the timestamp authority at {url} did not answer within {}s",
                after.as_secs()
            ),
            TimestampError::Status { url, status } => {
                write!(f, "the timestamp authority at {url} answered HTTP {status}")
            }
            TimestampError::BadResponse { url, error } => {
                write!(
                    f,
                    "the timestamp authority at {url} sent an unreadable answer ({error})"
                )
            }
            TimestampError::Refused { url, source } => write!(
                f,
                "the timestamp authority at {url} returned a timestamp that does not check out: {source}"
            ),
        }
    }
}

impl std::error::Error for TimestampError {}

pub struct TsaClient {
    url: String,
    timeout: Duration,
    client: reqwest::blocking::Client,
}

impl TsaClient {
    /// `url` is the full timestamp endpoint (`.../api/v1/timestamp`), as signing configs and
    /// `gitsign.timestampServerURL` give it.
    pub fn new(url: &str, timeout: Duration) -> Result<TsaClient, TimestampError> {
        let url = http::service_url(url).map_err(|error| TimestampError::Unreachable {
            url: url.to_string(),
            error,
        })?;
        let client =
            http::service_client(&url, timeout).map_err(|e| TimestampError::Unreachable {
                url: url.clone(),
                error: root_cause(&e),
            })?;
        Ok(TsaClient {
            url,
            timeout,
            client,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// A timestamp over `signature` (the CMS SignerInfo's signature value), verified
    /// against `authorities`: the TimeStampToken's DER and its time.
    pub fn timestamp(
        &self,
        signature: &[u8],
        authorities: &[CertificateAuthority],
    ) -> Result<(Vec<u8>, VerifiedTimestamp), TimestampError> {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).map_err(|e| TimestampError::Unreachable {
            url: self.url.clone(),
            error: format!("no randomness for the nonce: {e}"),
        })?;
        let req = request::timestamp_request(signature, &nonce);
        let resp = self
            .client
            .post(&self.url)
            .header("content-type", "application/timestamp-query")
            .header("accept", "application/timestamp-reply")
            .body(req)
            .send()
            .map_err(|e| {
                if e.is_timeout() {
                    TimestampError::TimedOut {
                        url: self.url.clone(),
                        after: self.timeout,
                    }
                } else {
                    TimestampError::Unreachable {
                        url: self.url.clone(),
                        error: root_cause(&e),
                    }
                }
            })?;
        let status = resp.status().as_u16();
        let body = http::read_body(resp).map_err(|e| match e {
            BodyError::TimedOut => TimestampError::TimedOut {
                url: self.url.clone(),
                after: self.timeout,
            },
            BodyError::TooLarge => TimestampError::BadResponse {
                url: self.url.clone(),
                error: format!("answer larger than {} bytes", http::MAX_RESPONSE),
            },
            BodyError::Io(error) => TimestampError::BadResponse {
                url: self.url.clone(),
                error,
            },
        })?;
        if status != 200 {
            return Err(TimestampError::Status {
                url: self.url.clone(),
                status,
            });
        }
        request::check_response(&body, signature, &nonce, authorities).map_err(|source| {
            TimestampError::Refused {
                url: self.url.clone(),
                source,
            }
        })
    }
}
