//! The pure core: bytes and `now` in, values out. Nothing here touches the network, files,
//! the environment, processes or the clock.

pub mod der;
pub mod keys;
pub mod pem;
pub mod time;
pub mod tlog;
