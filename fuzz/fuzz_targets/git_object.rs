//! Raw commit and tag objects split into payload and signature as git does (core::git::gitobj).
#![no_main]

use gitsign::core::git::gitobj::{self, HashAlgo};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = gitobj::split_commit(data, HashAlgo::Sha1);
    let _ = gitobj::split_commit(data, HashAlgo::Sha256);
    let _ = gitobj::split_tag(data);
});
