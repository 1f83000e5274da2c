//! TEMPORARY placeholder for RFC 3161 timestamp verification (branch `tsa` provides the real
//! module with this exact signature; this file is replaced when that branch is merged).
//! It accepts nothing: every timestamp is refused.

use std::fmt;

use crate::core::time::UnixTime;
use crate::core::trust::CertificateAuthority;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedTimestamp {
    pub time: UnixTime,
    pub tsa_subject: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TsaError {
    NotImplemented,
}

impl fmt::Display for TsaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RFC 3161 timestamp verification is not available in this build")
    }
}

impl std::error::Error for TsaError {}

pub fn verify_timestamp(
    _token: &[u8],
    _signed: &[u8],
    _authorities: &[CertificateAuthority],
) -> Result<VerifiedTimestamp, TsaError> {
    Err(TsaError::NotImplemented)
}
