//! The pure core: bytes and `now` in, values out. Nothing here touches the network, files,
//! the environment, processes or the clock.

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
