//! Sigstore's formats: the bundle, DSSE envelopes, the trusted root, RFC 3161 timestamps,
//! and the export of a gitsign signature as a bundle.

pub mod bundle;
pub mod dsse;
pub mod export;
pub mod signing_config;
pub mod trust;
pub mod tsa;
