//! OIDC ID tokens through the one core call (core::oidc::jwt::verify): compact JWS parsing,
//! the JWK set (the first line of the input, as JSON) and the claim checks.
#![no_main]

use gitsign::core::oidc::jwt::{self, Expectations};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (jwks, token) = text.split_once('\n').unwrap_or(("{\"keys\":[]}", text));
    let Ok(jwks) = serde_json::from_str(jwks) else {
        return;
    };
    let expect = Expectations {
        issuer: "https://issuer.example",
        client_id: "sigstore",
        nonce: Some("n0nce"),
        now: 1_800_000_000,
    };
    let _ = jwt::verify(token, &jwks, &expect);
    let _ = jwt::Jwt::parse(token);
});
