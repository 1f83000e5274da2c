//! Rekor TransparencyLogEntry protobuf, as embedded in signatures (core::tlog::proto).
#![no_main]

use gitsign::core::tlog;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = tlog::decode_transparency_log_entry(data);
});
