//! Sigstore signing config JSON (core::sigstore::signing_config), then selection at a fixed time.
#![no_main]

use gitsign::core::sigstore::signing_config::SigningConfig;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(c) = SigningConfig::from_json(data) {
        let now = 1_767_225_600; // 2026-01-01
        let _ = c.select_ca(&[1], now);
        let _ = c.select_oidc(&[1], now);
        let _ = c.select_tlogs(&[1, 2], now);
        let _ = c.select_tsas(&[1], now);
    }
});
