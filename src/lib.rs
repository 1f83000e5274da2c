//! gitsign-rs: keyless Sigstore signing and verification of Git commits and tags.
//!
//! Layers, dependencies pointing one way: `app` (one function per command) -> `io` (git,
//! config, Rekor, files) -> `core` (pure: bytes and time in, values out). `cli` turns argv
//! into a typed command without I/O.
#![forbid(unsafe_code)]

pub mod app;
pub mod cli;
pub mod core;
pub mod io;
