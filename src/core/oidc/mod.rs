//! OpenID Connect ID tokens: the JWS signature against the provider's JWK set and the claim
//! checks of OIDC Core §3.1.3.7, in one call ([`jwt::verify`]). The HTTP half (discovery,
//! the code exchange, device flow) lives in `io::oidc`.

pub mod jwt;
