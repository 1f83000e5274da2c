//! History policy files (`gitsign verify --policy FILE`): TOML parsing, every value check and
//! the line/column of each mistake; then judging a signer against whatever parsed.
#![no_main]

use gitsign::core::history::policy::{GithubClaims, HistoryPolicy, SignerFacts};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match HistoryPolicy::parse(text) {
        Ok(p) => {
            let github = GithubClaims::default();
            let facts = SignerFacts {
                identity: "dev@example.com",
                issuer: Some("https://issuer.example"),
                trusted_times: &[1_800_000_000],
                github: &github,
            };
            let _ = p.judge_signer(Some("refs/heads/main"), &facts);
            let _ = p.key_rules(false, Some("refs/tags/v1"));
        }
        Err(e) => {
            assert!(e.line >= 1 && e.column >= 1);
            assert!(!e.message.contains('\n'));
        }
    }
});
