//! The pure core: bytes and `now` in, values out. Nothing here touches the network, files,
//! the environment, processes or the clock.
//!
//! Clippy holds that rule: `clippy.toml` lists the std calls and types that do those things,
//! and they are denied here, for the non-test build (the tests read fixtures from disk).
//! Imports pointing the wrong way (core -> io/app/cli) are caught by `crate::tests`.
#![cfg_attr(
    not(test),
    deny(
        clippy::disallowed_methods,
        clippy::disallowed_types,
        clippy::disallowed_macros
    )
)]

pub mod asn1;
pub mod cms;
pub mod git;
pub mod history;
pub mod oidc;
pub mod sigstore;
#[cfg(test)]
pub(crate) mod testcert;
pub mod time;
pub mod tlog;
pub mod verify;
pub mod x509;
