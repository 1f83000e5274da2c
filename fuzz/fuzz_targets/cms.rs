//! CMS SignedData as gitsign signatures carry it (core::cms).
#![no_main]

use gitsign::core::cms;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = cms::parse(data);
});
