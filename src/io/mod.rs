//! The edges: git, configuration, Rekor, the trusted root on disk. No verification logic.

pub mod cache;
pub mod config;
pub mod fulcio;
pub mod git;
pub mod http;
pub mod key;
pub mod keyring;
pub mod oidc;
pub mod otherkeys;
pub mod progress;
pub mod rekor;
pub mod services;
pub mod trust;
pub mod tsa;
pub mod verdicts;
