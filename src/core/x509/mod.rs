//! X.509: certificates and their chains, signed certificate timestamps (Fulcio's SCTs),
//! public keys and signature checks.

pub mod cert;
pub mod keys;
pub mod name;
pub mod sct;
