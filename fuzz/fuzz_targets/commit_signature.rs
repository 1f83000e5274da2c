//! A whole signed commit: split, then the signature checked as verify mode does up to the trust root (core::verify::check_signature).
#![no_main]

use gitsign::core::git::gitobj::{self, HashAlgo};
use gitsign::core::sigstore::trust::TrustedRoot;
use gitsign::core::verify;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(obj) = gitobj::split_commit(data, HashAlgo::Sha1) {
        let _ = verify::check_signature(&obj.payload, &obj.signature, TrustedRoot::production());
    }
});
