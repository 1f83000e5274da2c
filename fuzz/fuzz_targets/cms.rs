//! CMS SignedData (core::cms), in both profiles: gitsign signatures and RFC 3161 tokens.
#![no_main]

use gitsign::core::cms;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = cms::parse(data, cms::Profile::Gitsign);
    let _ = cms::parse(data, cms::Profile::Timestamp);
});
