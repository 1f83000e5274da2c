//! X.509 certificates: parse, then read what verification reads (core::x509::cert).
#![no_main]

use gitsign::core::x509::cert::Certificate;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(c) = Certificate::from_der(data) {
        let _ = c.identity();
        let _ = c.describe();
    }
});
