//! A whole signed commit through the one verifier as git's verify mode runs it: split, then
//! `Verifier::check` (CMS, certificate, chain, signature) and `Verifier::verify` (embedded
//! log entry, RFC 3161 token, certificate at the trusted times, SCT, policy).
#![no_main]

use gitsign::core::git::gitobj::{self, HashAlgo};
use gitsign::core::sigstore::trust::TrustedRoot;
use gitsign::core::verify::policy::Policy;
use gitsign::core::verify::{Log, Options, Verifier};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(obj) = gitobj::split_commit(data, HashAlgo::Sha1) {
        let v = Verifier::new(TrustedRoot::production(), Options::default());
        if let Ok(checked) = v.check(&obj.payload, &obj.signature) {
            let _ = v.verify(&checked, Log::Embedded, &Policy::AnyFulcioIdentity);
        }
    }
});
