//! PEM blocks (core::asn1::pem).
#![no_main]

use gitsign::core::asn1::pem;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = pem::decode_all(data, "SIGNED MESSAGE");
    let _ = pem::decode_one(data, "CERTIFICATE");
});
