//! Who may have signed: the certificate identity and OIDC issuer a verifier expects.
//! Regular expressions are anchored at both ends, as in gitsign and cosign.

use std::fmt;

use regex::Regex;

#[derive(Debug, Clone)]
pub enum Matcher {
    Exact(String),
    /// `regex` is `pattern` anchored at both ends.
    Regex {
        pattern: String,
        regex: Regex,
    },
}

impl Matcher {
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Exact(s) => s == value,
            Matcher::Regex { regex, .. } => regex.is_match(value),
        }
    }

    fn describe(&self) -> String {
        match self {
            Matcher::Exact(s) => format!("{s:?}"),
            Matcher::Regex { pattern, .. } => format!("regexp {pattern:?}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyError {
    /// Neither or both of the exact and regexp forms were given.
    NeedOneOf {
        what: &'static str,
    },
    BadRegex {
        what: &'static str,
        error: String,
    },
    IdentityMismatch {
        expected: String,
        found: String,
    },
    IssuerMismatch {
        expected: String,
        found: String,
    },
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::NeedOneOf { what } => {
                write!(f, "give exactly one of --{what} or --{what}-regexp")
            }
            PolicyError::BadRegex { what, error } => write!(f, "invalid --{what}-regexp: {error}"),
            PolicyError::IdentityMismatch { expected, found } => write!(
                f,
                "certificate identity {found:?} does not match the expected {expected}"
            ),
            PolicyError::IssuerMismatch { expected, found } => write!(
                f,
                "certificate OIDC issuer {found:?} does not match the expected {expected}"
            ),
        }
    }
}

impl std::error::Error for PolicyError {}

pub fn matcher(
    what: &'static str,
    exact: Option<&str>,
    regexp: Option<&str>,
) -> Result<Matcher, PolicyError> {
    match (exact, regexp) {
        (Some(s), None) => Ok(Matcher::Exact(s.to_string())),
        (None, Some(r)) => {
            let bad = |e: regex::Error| PolicyError::BadRegex {
                what,
                error: e
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            };
            // Compiled alone first: anchoring by concatenation would let `a)|(.*` close the
            // group we wrap it in and match everything. A pattern that compiles alone has
            // balanced groups, so the wrapped one anchors the whole pattern (or, when a
            // trailing `(?x)` comment swallows the wrapper, fails to compile).
            Regex::new(r).map_err(bad)?;
            Regex::new(&format!(r"\A(?:{r})\z"))
                .map(|regex| Matcher::Regex {
                    pattern: r.to_string(),
                    regex,
                })
                .map_err(bad)
        }
        _ => Err(PolicyError::NeedOneOf { what }),
    }
}

/// The expected signer.
/// Whose signature is acceptable: every verification names one, there is no default.
#[derive(Debug, Clone)]
pub enum Policy {
    /// Any identity a Fulcio CA of the trusted root vouched for. git's verify mode uses it:
    /// git shows the identity (GOODSIG's uid) and the user or a later policy judges it, as
    /// sigstore-go's `WithoutIdentitiesUnsafe` and sigstore-python's `UnsafeNoOp` allow.
    AnyFulcioIdentity,
    Identity(IdentityPolicy),
}

impl Policy {
    pub fn check(&self, identity: &str, issuer: Option<&str>) -> Result<(), PolicyError> {
        match self {
            Policy::AnyFulcioIdentity => Ok(()),
            Policy::Identity(p) => p.check(identity, issuer),
        }
    }
}

#[derive(Debug, Clone)]
pub struct IdentityPolicy {
    pub identity: Matcher,
    pub issuer: Matcher,
}

impl IdentityPolicy {
    pub fn new(
        identity: Option<&str>,
        identity_regexp: Option<&str>,
        issuer: Option<&str>,
        issuer_regexp: Option<&str>,
    ) -> Result<Self, PolicyError> {
        Ok(IdentityPolicy {
            identity: matcher("certificate-identity", identity, identity_regexp)?,
            issuer: matcher("certificate-oidc-issuer", issuer, issuer_regexp)?,
        })
    }

    /// Checks a certificate's identity (SAN value) and issuer.
    pub fn check(&self, identity: &str, issuer: Option<&str>) -> Result<(), PolicyError> {
        if !self.identity.matches(identity) {
            return Err(PolicyError::IdentityMismatch {
                expected: self.identity.describe(),
                found: identity.to_string(),
            });
        }
        let issuer = issuer.unwrap_or("");
        if !self.issuer.matches(issuer) {
            return Err(PolicyError::IssuerMismatch {
                expected: self.issuer.describe(),
                found: issuer.to_string(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regexps_are_anchored() {
        let p = IdentityPolicy::new(
            None,
            Some(".*@chainguard.dev"),
            Some("https://accounts.google.com"),
            None,
        )
        .unwrap();
        assert!(
            p.check("billy@chainguard.dev", Some("https://accounts.google.com"))
                .is_ok()
        );
        assert!(
            p.check(
                "billy@chainguard.dev.evil.com",
                Some("https://accounts.google.com")
            )
            .is_err()
        );
        let p = IdentityPolicy::new(
            Some("a@b.c"),
            None,
            None,
            Some("https://github.com/login/oauth"),
        )
        .unwrap();
        assert!(
            p.check("a@b.c", Some("https://github.com/login/oauth/x"))
                .is_err()
        );
    }

    #[test]
    fn exactly_one_form_of_each_is_required() {
        assert_eq!(
            IdentityPolicy::new(None, None, Some("x"), None).unwrap_err(),
            PolicyError::NeedOneOf {
                what: "certificate-identity"
            }
        );
        assert!(IdentityPolicy::new(Some("a"), Some("b"), Some("x"), None).is_err());
        assert!(matches!(
            IdentityPolicy::new(Some("a"), None, None, Some("(")),
            Err(PolicyError::BadRegex { .. })
        ));
    }

    #[test]
    fn a_regexp_that_closes_the_anchoring_group_is_refused_not_matched_against_everyone() {
        // Review #8 item 6: `^(?:` + r + `)$` made this `^(?:nobody@example\.com)|(.*)$`.
        let r = IdentityPolicy::new(
            None,
            Some(r"nobody@example\.com)|(.*"),
            Some("https://x"),
            None,
        );
        assert!(matches!(r, Err(PolicyError::BadRegex { .. })), "{r:?}");
        let r = IdentityPolicy::new(Some("a"), None, None, Some(r"https://x)|(.*"));
        assert!(matches!(r, Err(PolicyError::BadRegex { .. })), "{r:?}");
        // A verbose-mode comment must not swallow the anchors either.
        let r = IdentityPolicy::new(None, Some("(?x)nobody|.*#"), Some("https://x"), None);
        assert!(r.is_err() || r.unwrap().check("mallory@evil", Some("https://x")).is_err(),);
    }

    #[test]
    fn regexps_accept_case_insensitivity_and_other_common_syntax() {
        let p = IdentityPolicy::new(
            None,
            Some(r"(?i)[\w.]+@EXAMPLE\.com"),
            None,
            Some(r"https://(accounts\.google\.com|github\.com/login/oauth)"),
        )
        .unwrap();
        assert!(
            p.check("Ann.B@example.COM", Some("https://github.com/login/oauth"))
                .is_ok()
        );
        assert!(
            p.check("ann@example.com.evil", Some("https://accounts.google.com"))
                .is_err()
        );
        assert!(
            p.check("ann@example.com", Some("https://accounts.google.com/x"))
                .is_err()
        );
        for pattern in [
            r"\p{L}+@x\.org",
            r"[[:alpha:]]+@x\.org",
            r"\bann\b@x\.org",
            "ann@x[.]org|bob@x[.]org",
        ] {
            let p = IdentityPolicy::new(None, Some(pattern), Some("i"), None).unwrap();
            assert!(p.check("ann@x.org", Some("i")).is_ok(), "{pattern}");
            assert!(p.check("ann@x.org.evil", Some("i")).is_err(), "{pattern}");
        }
        // The mismatch message names the pattern as given.
        let e = IdentityPolicy::new(None, Some("a.*"), Some("i"), None)
            .unwrap()
            .check("b", Some("i"))
            .unwrap_err();
        assert!(e.to_string().ends_with(r#"regexp "a.*""#), "{e}");
    }

    #[test]
    fn missing_issuer_never_matches_a_real_issuer() {
        let p = IdentityPolicy::new(Some("a"), None, Some("https://x"), None).unwrap();
        assert!(matches!(
            p.check("a", None),
            Err(PolicyError::IssuerMismatch { .. })
        ));
    }
}
