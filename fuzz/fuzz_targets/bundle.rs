//! Sigstore bundle JSON, v0.1 to v0.3 (core::sigstore::bundle).
#![no_main]

use gitsign::core::sigstore::bundle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = bundle::parse(data);
});
