//! The pure core: bytes and `now` in, values out. Nothing here touches the network, files,
//! the environment, processes or the clock.

pub mod cms;
pub mod der;
pub mod gitobj;
pub mod keys;
pub mod pem;
pub mod policy;
pub mod status;
pub mod time;
