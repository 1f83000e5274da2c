//! Rekor: uploads (v1 and v2) and v1 lookups for gitsign's online mode: search the index by certificate, then fetch
//! the entries. Every request shares one deadline, so an unreachable or slow Rekor fails in
//! bounded time. Keys from Rekor are never used: entries are verified against the trusted
//! root by the core.

use std::fmt;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::core::tlog::{self, LogEntry};

#[derive(Debug)]
pub enum RekorError {
    Unreachable {
        url: String,
        error: String,
    },
    TimedOut {
        url: String,
        after: Duration,
    },
    /// The server has no search index (404/501 on `/api/v1/index/retrieve`).
    NoSearchIndex {
        url: String,
        status: u16,
    },
    Status {
        url: String,
        status: u16,
    },
    BadResponse {
        url: String,
        error: String,
    },
    /// Rekor v2 already holds this entry (HTTP 409) and returns no proof for it.
    AlreadyLogged {
        url: String,
        log_index: Option<u64>,
    },
}

impl fmt::Display for RekorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RekorError::Unreachable { url, error } => {
                write!(f, "Rekor at {url} cannot be reached ({error})")
            }
            RekorError::TimedOut { url, after } => write!(
                f,
                "Rekor at {url} did not answer within {}s",
                after.as_secs()
            ),
            RekorError::NoSearchIndex { url, status } => {
                write!(f, "Rekor at {url} has no search index (HTTP {status})")
            }
            RekorError::Status { url, status } => {
                write!(f, "Rekor at {url} answered HTTP {status}")
            }
            RekorError::BadResponse { url, error } => {
                write!(f, "Rekor at {url} sent an unreadable answer ({error})")
            }
            RekorError::AlreadyLogged { url, log_index } => {
                write!(f, "Rekor v2 at {url} already holds this signature")?;
                if let Some(i) = log_index {
                    write!(f, " (entry {i})")?;
                }
                f.write_str(" and gives no proof for a duplicate; sign again (a new signature is a new entry)")
            }
        }
    }
}

impl std::error::Error for RekorError {}

/// How long a Rekor v2 log may take to answer a write: it replies once its next checkpoint
/// covers the entry (rekor-tiles advises clients to allow 20 s or more).
pub const V2_MIN_TIMEOUT: Duration = Duration::from_secs(30);

pub struct RekorClient {
    base: String,
    timeout: Duration,
    client: reqwest::blocking::Client,
}

pub use crate::io::http::install_crypto_provider;
use crate::io::http::{self, BodyError, root_cause};

impl RekorClient {
    pub fn new(base: &str, timeout: Duration) -> Result<RekorClient, RekorError> {
        let base = http::service_url(base).map_err(|error| RekorError::Unreachable {
            url: base.to_string(),
            error,
        })?;
        let client = http::service_client(&base, timeout).map_err(|e| RekorError::Unreachable {
            url: base.clone(),
            error: root_cause(&e),
        })?;
        Ok(RekorClient {
            base,
            timeout,
            client,
        })
    }

    fn body_error(&self, e: BodyError) -> RekorError {
        match e {
            BodyError::TimedOut => self.timed_out(),
            BodyError::TooLarge => RekorError::BadResponse {
                url: self.base.clone(),
                error: format!("answer larger than {} bytes", http::MAX_RESPONSE),
            },
            BodyError::Io(error) => RekorError::BadResponse {
                url: self.base.clone(),
                error,
            },
        }
    }

    fn post(
        &self,
        path: &str,
        body: serde_json::Value,
        deadline: Instant,
    ) -> Result<(u16, serde_json::Value), RekorError> {
        let url = format!("{}{path}", self.base);
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(RekorError::TimedOut {
                url: self.base.clone(),
                after: self.timeout,
            });
        }
        let resp = self
            .client
            .post(&url)
            .timeout(remaining)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(body.to_string())
            .send()
            .map_err(|e| {
                if e.is_timeout() {
                    RekorError::TimedOut {
                        url: self.base.clone(),
                        after: self.timeout,
                    }
                } else {
                    RekorError::Unreachable {
                        url: self.base.clone(),
                        error: root_cause(&e),
                    }
                }
            })?;
        let status = resp.status().as_u16();
        let text = http::read_body(resp).map_err(|e| self.body_error(e))?;
        if !(200..300).contains(&status) {
            return Ok((status, serde_json::Value::Null));
        }
        let json = serde_json::from_slice(&text).map_err(|e| RekorError::BadResponse {
            url: self.base.clone(),
            error: e.to_string(),
        })?;
        Ok((status, json))
    }

    /// Entries logged with this certificate over this hash (gitsign online mode),
    /// unverified. Searching by both (GHSA-8pmp-678w-c8xx): one cached certificate signs
    /// many commits, and the entry of *this* commit is the one whose hash is its id's.
    pub fn entries_for(
        &self,
        cert_pem: &str,
        logged_hash: &[u8; 32],
    ) -> Result<Vec<LogEntry>, RekorError> {
        let deadline = Instant::now() + self.timeout;
        let query = serde_json::json!({
            "publicKey": {"format": "x509", "content": STANDARD.encode(cert_pem)},
            "hash": format!("sha256:{}", crate::core::git::gitobj::hex(logged_hash)),
            "operator": "and",
        });
        let (status, uuids) = self.post("/api/v1/index/retrieve", query, deadline)?;
        match status {
            404 | 501 => {
                return Err(RekorError::NoSearchIndex {
                    url: self.base.clone(),
                    status,
                });
            }
            200..=299 => {}
            _ => {
                return Err(RekorError::Status {
                    url: self.base.clone(),
                    status,
                });
            }
        }
        let bad = |error: String| RekorError::BadResponse {
            url: self.base.clone(),
            error,
        };
        let uuids: Vec<String> = serde_json::from_value(uuids).map_err(|e| bad(e.to_string()))?;
        if uuids.is_empty() {
            return Ok(Vec::new());
        }
        // Bounded: a certificate lives ten minutes; thousands of entries are not plausible.
        let uuids: Vec<String> = uuids.into_iter().take(100).collect();
        let (status, found) = self.post(
            "/api/v1/log/entries/retrieve",
            serde_json::json!({"entryUUIDs": &uuids}),
            deadline,
        )?;
        if !(200..300).contains(&status) {
            return Err(RekorError::Status {
                url: self.base.clone(),
                status,
            });
        }
        let list = found
            .as_array()
            .filter(|l| l.len() <= uuids.len())
            .ok_or_else(|| {
                bad("entries/retrieve did not return a list of the entries asked for".into())
            })?;
        let mut out = Vec::new();
        for map in list {
            let obj = map
                .as_object()
                .ok_or_else(|| bad("entry is not an object".into()))?;
            for value in obj.values() {
                out.push(tlog::entry_from_rekor_json(value).map_err(|e| bad(e.to_string()))?);
            }
        }
        Ok(out)
    }
}

/// Uploads (signing).
impl RekorClient {
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Logs a hashedrekord `body` (its canonical JSON is also the proposed entry) and returns
    /// the entry as Rekor reports it, unverified. On 409 Conflict (already logged) the existing
    /// entry is fetched instead.
    pub fn upload(&self, body: &[u8]) -> Result<LogEntry, RekorError> {
        let deadline = Instant::now() + self.timeout;
        let send = |req: reqwest::blocking::RequestBuilder| -> Result<_, RekorError> {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(self.timed_out());
            }
            let resp = req.timeout(remaining).send().map_err(|e| self.failure(e))?;
            let status = resp.status().as_u16();
            let location = resp
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let text = http::read_body(resp).map_err(|e| self.body_error(e))?;
            Ok((status, location, text))
        };
        let (status, location, text) = send(
            self.client
                .post(format!("{}/api/v1/log/entries", self.base))
                .header("content-type", "application/json")
                .header("accept", "application/json")
                .body(body.to_vec()),
        )?;
        let (status, text) = match status {
            201 | 200 => (status, text),
            409 => {
                // Rekor names the existing entry in Location; its UUID is also the leaf hash.
                // Only a Location on this server is followed (whatever it serves is verified).
                let url = match location {
                    Some(l) if l.starts_with(&format!("{}/", self.base)) => l,
                    Some(l) if l.starts_with('/') && !l.starts_with("//") => {
                        format!("{}{l}", self.base)
                    }
                    _ => format!(
                        "{}/api/v1/log/entries/{}",
                        self.base,
                        tlog::hex(&tlog::leaf_hash(body))
                    ),
                };
                let (status, _, text) =
                    send(self.client.get(url).header("accept", "application/json"))?;
                (status, text)
            }
            _ => return Err(self.status(status)),
        };
        if !(200..300).contains(&status) {
            return Err(self.status(status));
        }
        let bad = |error: String| RekorError::BadResponse {
            url: self.base.clone(),
            error,
        };
        let json: serde_json::Value =
            serde_json::from_slice(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
        let map = json
            .as_object()
            .filter(|m| m.len() == 1)
            .ok_or_else(|| bad("expected one entry keyed by its UUID".into()))?;
        let value = map.values().next().ok_or_else(|| bad("no entry".into()))?;
        tlog::entry_from_rekor_json(value).map_err(|e| bad(e.to_string()))
    }

    /// Logs a `hashedRekordRequestV002` with a Rekor v2 log and returns the entry it
    /// reports, unverified. A v2 log answers only once a checkpoint covers the entry, so the
    /// deadline is at least [`V2_MIN_TIMEOUT`].
    pub fn upload_v2(&self, request: &[u8]) -> Result<LogEntry, RekorError> {
        let resp = self
            .client
            .post(format!("{}/api/v2/log/entries", self.base))
            .timeout(self.timeout.max(V2_MIN_TIMEOUT))
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(request.to_vec())
            .send()
            .map_err(|e| self.failure(e))?;
        let status = resp.status().as_u16();
        let log_index = resp
            .headers()
            .get("x-log-index")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let text = http::read_body(resp).map_err(|e| self.body_error(e))?;
        match status {
            201 | 200 => {}
            409 => {
                return Err(RekorError::AlreadyLogged {
                    url: self.base.clone(),
                    log_index,
                });
            }
            _ => return Err(self.status(status)),
        }
        crate::core::sigstore::bundle::log_entry_from_json(&text).map_err(|e| {
            RekorError::BadResponse {
                url: self.base.clone(),
                error: e.to_string(),
            }
        })
    }

    fn timed_out(&self) -> RekorError {
        RekorError::TimedOut {
            url: self.base.clone(),
            after: self.timeout,
        }
    }

    fn status(&self, status: u16) -> RekorError {
        RekorError::Status {
            url: self.base.clone(),
            status,
        }
    }

    fn failure(&self, e: reqwest::Error) -> RekorError {
        if e.is_timeout() {
            self.timed_out()
        } else if e.is_connect() || e.is_request() {
            RekorError::Unreachable {
                url: self.base.clone(),
                error: root_cause(&e),
            }
        } else {
            RekorError::BadResponse {
                url: self.base.clone(),
                error: root_cause(&e),
            }
        }
    }
}
