//! RFC 3161 TimeStampToken or TimeStampResp (core::sigstore::tsa); no authority, so parsing is all that runs.
#![no_main]

use gitsign::core::sigstore::tsa;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = tsa::verify_timestamp(data, b"signature", &[]);
});
