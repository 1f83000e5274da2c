//! A TSA's reply to our request (core::sigstore::tsa::request::check_response); no authority,
//! so status, nonce and imprint checks and parsing are what runs.
#![no_main]

use gitsign::core::sigstore::tsa::request;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = request::check_response(data, b"signature", &[7; 16], &[]);
});
