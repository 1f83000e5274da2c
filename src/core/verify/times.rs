//! Trusted times: when a signature existed, as something other than the signer vouches for
//! it. Two sources, as in sigstore-go: a transparency log's signed entry timestamp (SET) over
//! its integrated time, and an RFC 3161 timestamp over the signature value by a timestamp
//! authority of the trusted root. The certificate must be valid at every trusted time.
//!
//! The rule (sigstore-go's `WithTransparencyLog(1)` + `WithObserverTimestamps(1)`): at least
//! one log entry and at least one trusted time from either source. Stricter than
//! sigstore-go, which skips a timestamp that fails while enough others verify: every
//! timestamp a signature carries must verify (gitsign refuses a token it cannot check too).
//! A log entry without a SET (Rekor v2) gives no time: it needs a timestamp, and its log key
//! must have been valid at every timestamp's time. [`establish`] is that rule, for bundles and
//! git signatures alike.

use crate::core::sigstore::trust::TrustedRoot;
use crate::core::sigstore::tsa::{self, TsaError};
use crate::core::time::UnixTime;

/// Where a trusted time came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeSource {
    /// A log's signed entry timestamp.
    Log { base_url: String },
    /// An RFC 3161 timestamp authority.
    Tsa { subject: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedTime {
    pub time: UnixTime,
    pub source: TimeSource,
}

/// Verifies every RFC 3161 token over `signature` against the trusted root's timestamp
/// authorities; the first failure (with its index) fails them all.
pub fn timestamps<'a>(
    tokens: impl IntoIterator<Item = &'a [u8]>,
    signature: &[u8],
    trust: &TrustedRoot,
) -> Result<Vec<TrustedTime>, (usize, TsaError)> {
    tokens
        .into_iter()
        .enumerate()
        .map(|(index, token)| {
            let ts = tsa::verify_timestamp(token, signature, &trust.timestamp_authorities)
                .map_err(|e| (index, e))?;
            Ok(TrustedTime {
                time: ts.time,
                source: TimeSource::Tsa {
                    subject: ts.tsa_subject,
                },
            })
        })
        .collect()
}

/// A verified log entry, as far as trusted times are concerned.
#[derive(Debug, Clone, Copy)]
pub struct LogTime<'a> {
    /// The integrated time, when a SET vouches for it.
    pub integrated_time: Option<UnixTime>,
    pub base_url: &'a str,
    /// The log key's validity (inclusive); `None` at the start means never valid.
    pub valid_from: Option<UnixTime>,
    pub valid_until: Option<UnixTime>,
}

impl LogTime<'_> {
    fn valid_at(&self, t: UnixTime) -> bool {
        self.valid_from
            .is_some_and(|from| from <= t && self.valid_until.is_none_or(|u| t <= u))
    }
}

/// Why no trusted time could be established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeError {
    /// Timestamp `index` does not verify.
    Timestamp { index: usize, source: TsaError },
    /// Neither a SET nor a timestamp, or a log entry without a SET and no timestamp.
    NoTrustedTime,
    /// A log entry without a SET, whose key was not valid at a timestamp's time.
    LogKeyNotValidAt { time: UnixTime, base_url: String },
}

/// The trusted times of a signature with these verified log entries and RFC 3161 `tokens`
/// over `signature`: the SET-backed integrated times, then the timestamps' times.
pub fn establish<'a>(
    logs: &[LogTime<'_>],
    tokens: impl IntoIterator<Item = &'a [u8]>,
    signature: &[u8],
    trust: &TrustedRoot,
) -> Result<Vec<TrustedTime>, TimeError> {
    let mut out: Vec<TrustedTime> = logs
        .iter()
        .filter_map(|l| {
            Some(TrustedTime {
                time: l.integrated_time?,
                source: TimeSource::Log {
                    base_url: l.base_url.to_string(),
                },
            })
        })
        .collect();
    let tsa = timestamps(tokens, signature, trust)
        .map_err(|(index, source)| TimeError::Timestamp { index, source })?;
    for log in logs.iter().filter(|l| l.integrated_time.is_none()) {
        if tsa.is_empty() {
            return Err(TimeError::NoTrustedTime);
        }
        if let Some(t) = tsa.iter().find(|t| !log.valid_at(t.time)) {
            return Err(TimeError::LogKeyNotValidAt {
                time: t.time,
                base_url: log.base_url.to_string(),
            });
        }
    }
    out.extend(tsa);
    if out.is_empty() {
        return Err(TimeError::NoTrustedTime);
    }
    Ok(out)
}
