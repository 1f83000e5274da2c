//! Rekor entry bodies of every supported kind and version (core::tlog::parse_body).
#![no_main]

use gitsign::core::tlog;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for (kind, version) in [
        ("hashedrekord", "0.0.1"),
        ("hashedrekord", "0.0.2"),
        ("dsse", "0.0.1"),
        ("intoto", "0.0.2"),
    ] {
        let _ = tlog::parse_body(kind, version, data);
    }
});
