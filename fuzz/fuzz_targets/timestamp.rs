//! RFC 3161 TimeStampToken or TimeStampResp (core::tsa); no authority, so parsing is all that runs.
#![no_main]

use gitsign::core::tsa;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = tsa::verify_timestamp(data, b"signature", &[]);
});
