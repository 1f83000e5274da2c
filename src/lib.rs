//! gitsign-rs: keyless Sigstore signing and verification of Git commits and tags.
#![forbid(unsafe_code)]

pub mod cli;
pub mod core;
