//! Trusted times: when a signature existed, as something other than the signer vouches for
//! it. Two sources, as in sigstore-go: a transparency log's signed entry timestamp (SET) over
//! its integrated time, and an RFC 3161 timestamp over the signature value by a timestamp
//! authority of the trusted root. The certificate must be valid at every trusted time.
//!
//! The rule (sigstore-go's `WithTransparencyLog(1)` + `WithObserverTimestamps(1)`): at least
//! one log entry and at least one trusted time from either source. Stricter than
//! sigstore-go, which skips a timestamp that fails while enough others verify: every
//! timestamp a signature carries must verify (gitsign refuses a token it cannot check too).

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
