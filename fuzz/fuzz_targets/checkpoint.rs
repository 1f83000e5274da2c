//! Signed-note checkpoints (core::tlog::checkpoint).
#![no_main]

use gitsign::core::tlog;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = tlog::parse_checkpoint(text);
    }
});
