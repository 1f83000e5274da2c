//! What git hands us and expects back: signed objects split into payload and signature,
//! gpg status lines, and command lines split the way a shell would.

pub mod gitobj;
pub mod shellwords;
pub mod status;
pub mod wildmatch;
