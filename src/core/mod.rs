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

pub mod bundle;
pub mod cert;
pub mod cms;
pub mod cms_builder;
pub mod der;
pub mod dsse;
pub mod export;
pub mod gitobj;
pub mod keys;
pub mod pem;
pub mod policy;
pub mod sct;
pub mod shellwords;
pub mod signing;
pub mod status;
#[cfg(test)]
pub(crate) mod testcert;
pub mod time;
pub mod tlog;
pub mod trust;
pub mod tsa;
pub mod verify;
