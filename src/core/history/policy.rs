//! A history policy (`gitsign verify --policy FILE`, TOML): who may sign which refs, and
//! when by trusted time; how merges are judged; a cut-off before which unsigned commits are
//! allowed; which SSH and OpenPGP keys may sign. Parsing reports line and column for every
//! mistake; judging a verified signature against it is pure.
//!
//! ```toml
//! version = 1
//! since = "2026-01-01T00:00:00Z"      # or a commit id
//!
//! [merges]
//! require_signature = true           # the merge commit itself must be signed (default)
//! side = "all"                       # or "first-parent": merged-in commits are not judged
//!
//! [[signer]]
//! name = "maintainers"
//! identity_regexp = ".*@example\\.com"
//! issuer = "https://accounts.google.com"
//! valid_after = "2026-01-01T00:00:00Z"   # trusted time (log or RFC 3161), never the committer date
//! refs = ["refs/heads/main"]
//!
//! [[ssh]]
//! allowed_signers = "allowed_signers"   # relative to the policy file
//! ```

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use crate::core::git::wildmatch;
use crate::core::time::{UnixTime, format_rfc3339, parse_rfc3339};
use crate::core::verify::policy::{Matcher, PolicyError, matcher};

/// A policy mistake, with where it is (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFileError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for PolicyFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

/// Where a byte offset is: 1-based line and column (in characters).
fn position(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

fn error_at(text: &str, span: Range<usize>, message: impl Into<String>) -> PolicyFileError {
    let (line, column) = position(text, span.start);
    PolicyFileError {
        line,
        column,
        message: message.into(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: Option<Spanned<i64>>,
    since: Option<Spanned<String>>,
    merges: Option<MergesFile>,
    #[serde(default)]
    signer: Vec<Spanned<SignerFile>>,
    #[serde(default)]
    ssh: Vec<KeyFile>,
    #[serde(default)]
    openpgp: Vec<KeyFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MergesFile {
    require_signature: Option<bool>,
    side: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignerFile {
    name: Option<String>,
    identity: Option<Spanned<String>>,
    identity_regexp: Option<Spanned<String>>,
    issuer: Option<Spanned<String>>,
    issuer_regexp: Option<Spanned<String>>,
    valid_after: Option<Spanned<String>>,
    valid_before: Option<Spanned<String>>,
    refs: Option<Vec<Spanned<String>>>,
    github: Option<GithubFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GithubFile {
    repository: Option<String>,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    sha: Option<String>,
    workflow: Option<String>,
    trigger: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    name: Option<String>,
    #[serde(alias = "key_file")]
    allowed_signers: Option<Spanned<String>>,
    refs: Option<Vec<Spanned<String>>>,
}

/// How the commits a merge brought in are judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeSide {
    /// Every commit reachable from the refs in scope.
    All,
    /// Only the first-parent chain: merged-in commits are vouched for by the signed merge.
    FirstParent,
}

/// Before what unsigned commits are allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Since {
    /// This commit (a full id or a prefix, resolved against the repository) and its ancestors.
    Commit(String),
    /// Commits provably older than this: ancestors of a commit whose trusted time precedes it
    /// (a commit id is a hash over its parents, so they existed when it was signed). The
    /// committer date, which anyone can write, never counts.
    Time(UnixTime),
}

pub use crate::core::x509::cert::GithubClaims;

impl GithubClaims {
    fn is_empty(&self) -> bool {
        *self == GithubClaims::default()
    }

    /// The first claim `found` lacks or has another value for.
    fn mismatch(&self, found: &GithubClaims) -> Option<String> {
        let pairs = [
            ("repository", &self.repository, &found.repository),
            ("ref", &self.git_ref, &found.git_ref),
            ("sha", &self.sha, &found.sha),
            ("workflow", &self.workflow, &found.workflow),
            ("trigger", &self.trigger, &found.trigger),
        ];
        pairs
            .into_iter()
            .find_map(|(what, want, got)| match (want, got) {
                (Some(w), Some(g)) if w == g => None,
                (Some(w), g) => Some(format!(
                    "GitHub workflow {what} {} is not the expected {w:?}",
                    g.as_deref()
                        .map_or("(absent)".to_string(), |g| format!("{g:?}"))
                )),
                (None, _) => None,
            })
    }
}

#[derive(Debug, Clone)]
pub struct Signer {
    pub name: String,
    pub identity: Matcher,
    pub issuer: Matcher,
    pub valid_after: Option<UnixTime>,
    pub valid_before: Option<UnixTime>,
    /// Ref patterns (git wildmatch) this signer may sign for; empty: every ref.
    pub refs: Vec<String>,
    pub github: GithubClaims,
}

/// Keys of another signature format (SSH or OpenPGP) the policy allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRule {
    pub name: String,
    /// As written in the policy; relative paths are relative to the policy file.
    pub file: String,
    pub refs: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct HistoryPolicy {
    pub signers: Vec<Signer>,
    pub ssh: Vec<KeyRule>,
    pub openpgp: Vec<KeyRule>,
    pub require_signed_merges: bool,
    pub merge_side: MergeSide,
    pub since: Option<Since>,
}

fn refs_match(patterns: &[String], ref_name: Option<&str>) -> bool {
    patterns.is_empty()
        || ref_name.is_some_and(|r| patterns.iter().any(|p| wildmatch::matches(p, r, false)))
}

/// What the trusted-time and identity facts of a verified gitsign signature are.
pub struct SignerFacts<'a> {
    pub identity: &'a str,
    pub issuer: Option<&'a str>,
    /// Every trusted time (log, timestamp authorities); empty when none was verified.
    pub trusted_times: &'a [UnixTime],
    pub github: &'a GithubClaims,
}

/// Why a verified signature's signer is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignerRejection {
    /// No signer rule for this ref names this identity and issuer.
    NotAllowed(String),
    /// A rule names the signer, but the trusted time is outside its window.
    OutsideWindow(String),
    /// A rule with a window names the signer, but no trusted time was verified.
    NoTrustedTime(String),
}

impl SignerRejection {
    pub fn code(&self) -> &'static str {
        match self {
            SignerRejection::NotAllowed(_) => "identity-mismatch",
            SignerRejection::OutsideWindow(_) => "outside-signer-window",
            SignerRejection::NoTrustedTime(_) => "no-trusted-time",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            SignerRejection::NotAllowed(m)
            | SignerRejection::OutsideWindow(m)
            | SignerRejection::NoTrustedTime(m) => m,
        }
    }
}

impl HistoryPolicy {
    /// The one-signer shorthand of `--certificate-identity[-regexp]` and
    /// `--certificate-oidc-issuer[-regexp]`.
    pub fn one_signer(identity: Matcher, issuer: Matcher) -> HistoryPolicy {
        HistoryPolicy {
            signers: vec![Signer {
                name: "command line".into(),
                identity,
                issuer,
                valid_after: None,
                valid_before: None,
                refs: vec![],
                github: GithubClaims::default(),
            }],
            ssh: vec![],
            openpgp: vec![],
            require_signed_merges: true,
            merge_side: MergeSide::All,
            since: None,
        }
    }

    pub fn parse(text: &str) -> Result<HistoryPolicy, PolicyFileError> {
        let file: File = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            error_at(text, span, e.message().trim().replace('\n', " "))
        })?;
        if let Some(v) = &file.version
            && *v.get_ref() != 1
        {
            return Err(error_at(
                text,
                v.span(),
                format!(
                    "unsupported policy version {} (this gitsign reads version 1)",
                    v.get_ref()
                ),
            ));
        }
        let since = file
            .since
            .as_ref()
            .map(|s| parse_since(s.get_ref()).ok_or_else(|| error_at(text, s.span(), format!("since = {:?} is neither an RFC 3339 time (2026-01-01T00:00:00Z) nor a commit id (4 to 64 hex digits)", s.get_ref()))))
            .transpose()?;
        let (require_signed_merges, merge_side) = match &file.merges {
            None => (true, MergeSide::All),
            Some(m) => (
                m.require_signature.unwrap_or(true),
                match m.side.as_ref() {
                    None => MergeSide::All,
                    Some(s) => match s.get_ref().as_str() {
                        "all" => MergeSide::All,
                        "first-parent" => MergeSide::FirstParent,
                        other => {
                            return Err(error_at(
                                text,
                                s.span(),
                                format!("merges.side = {other:?}: use \"all\" or \"first-parent\""),
                            ));
                        }
                    },
                },
            ),
        };
        let mut signers = Vec::new();
        for (i, s) in file.signer.iter().enumerate() {
            signers.push(signer(text, i, s)?);
        }
        let keys = |rules: &[KeyFile], what: &str| -> Result<Vec<KeyRule>, PolicyFileError> {
            rules
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    let file = k.allowed_signers.as_ref().ok_or_else(|| {
                        error_at(
                            text,
                            0..0,
                            format!(
                                "[[{what}]] number {} names no key file ({})",
                                i + 1,
                                if what == "ssh" {
                                    "allowed_signers = \"FILE\""
                                } else {
                                    "key_file = \"FILE\""
                                }
                            ),
                        )
                    })?;
                    Ok(KeyRule {
                        name: k.name.clone().unwrap_or_else(|| file.get_ref().clone()),
                        file: file.get_ref().clone(),
                        refs: ref_patterns(text, k.refs.as_deref())?,
                    })
                })
                .collect()
        };
        let policy = HistoryPolicy {
            signers,
            ssh: keys(&file.ssh, "ssh")?,
            openpgp: keys(&file.openpgp, "openpgp")?,
            require_signed_merges,
            merge_side,
            since,
        };
        if policy.signers.is_empty() && policy.ssh.is_empty() && policy.openpgp.is_empty() {
            return Err(error_at(
                text,
                0..0,
                "the policy allows no one: add a [[signer]] (or [[ssh]], [[openpgp]]) table",
            ));
        }
        Ok(policy)
    }

    /// Judges the signer of a verified gitsign signature on `ref_name`: some rule for the ref
    /// must name the identity and issuer (and GitHub claims), with every trusted time inside
    /// its window.
    pub fn judge_signer(
        &self,
        ref_name: Option<&str>,
        facts: &SignerFacts<'_>,
    ) -> Result<String, SignerRejection> {
        let mut rejection = None;
        for s in &self.signers {
            if !refs_match(&s.refs, ref_name)
                || !s.identity.matches(facts.identity)
                || !facts.issuer.is_some_and(|i| s.issuer.matches(i))
            {
                continue;
            }
            if let Some(m) = s.github.mismatch(facts.github) {
                rejection.get_or_insert(SignerRejection::NotAllowed(format!(
                    "signer {:?} matches {} but {m}",
                    s.name, facts.identity
                )));
                continue;
            }
            if s.valid_after.is_none() && s.valid_before.is_none() {
                return Ok(s.name.clone());
            }
            if facts.trusted_times.is_empty() {
                rejection.get_or_insert(SignerRejection::NoTrustedTime(format!(
                    "signer {:?} may sign only within a time window, and no log or timestamp authority vouched for this signature's time",
                    s.name
                )));
                continue;
            }
            let outside = facts.trusted_times.iter().find(|&&t| {
                s.valid_after.is_some_and(|a| t < a) || s.valid_before.is_some_and(|b| t >= b)
            });
            match outside {
                None => return Ok(s.name.clone()),
                Some(&t) => {
                    rejection = Some(SignerRejection::OutsideWindow(format!(
                        "{} signed at {} (trusted time), outside signer {:?}'s window {}",
                        facts.identity,
                        format_rfc3339(t),
                        s.name,
                        window(s)
                    )))
                }
            }
        }
        Err(rejection.unwrap_or_else(|| {
            SignerRejection::NotAllowed(format!(
                "no signer in the policy{} allows {} (OIDC issuer {})",
                ref_name.map(|r| format!(" for {r}")).unwrap_or_default(),
                facts.identity,
                facts.issuer.unwrap_or("unknown")
            ))
        }))
    }

    /// The SSH (`openpgp` false) or OpenPGP key rules that apply to `ref_name`.
    pub fn key_rules(&self, openpgp: bool, ref_name: Option<&str>) -> Vec<&KeyRule> {
        let rules = if openpgp { &self.openpgp } else { &self.ssh };
        rules
            .iter()
            .filter(|r| refs_match(&r.refs, ref_name))
            .collect()
    }
}

fn window(s: &Signer) -> String {
    let a = s.valid_after.map(format_rfc3339);
    let b = s.valid_before.map(format_rfc3339);
    match (a, b) {
        (Some(a), Some(b)) => format!("[{a}, {b})"),
        (Some(a), None) => format!("from {a}"),
        (None, Some(b)) => format!("before {b}"),
        (None, None) => "(none)".into(),
    }
}

fn parse_since(s: &str) -> Option<Since> {
    if let Ok(t) = parse_rfc3339(s) {
        return Some(Since::Time(t));
    }
    let hex = s.len() >= 4 && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    hex.then(|| Since::Commit(s.to_ascii_lowercase()))
}

fn ref_patterns(
    text: &str,
    refs: Option<&[Spanned<String>]>,
) -> Result<Vec<String>, PolicyFileError> {
    refs.unwrap_or_default()
        .iter()
        .map(|r| {
            if r.get_ref().starts_with("refs/") {
                Ok(r.get_ref().clone())
            } else {
                Err(error_at(
                    text,
                    r.span(),
                    format!(
                        "ref pattern {:?} must be a full ref name such as refs/heads/main or refs/tags/v*",
                        r.get_ref()
                    ),
                ))
            }
        })
        .collect()
}

fn time_value(
    text: &str,
    v: Option<&Spanned<String>>,
) -> Result<Option<UnixTime>, PolicyFileError> {
    v.map(|v| {
        parse_rfc3339(v.get_ref()).map_err(|_| {
            error_at(
                text,
                v.span(),
                format!(
                    "{:?} is not an RFC 3339 time such as 2026-01-01T00:00:00Z",
                    v.get_ref()
                ),
            )
        })
    })
    .transpose()
}

fn signer(text: &str, i: usize, s: &Spanned<SignerFile>) -> Result<Signer, PolicyFileError> {
    let span = s.span();
    let s = s.get_ref();
    let one = |what: &'static str,
               exact: &Option<Spanned<String>>,
               regexp: &Option<Spanned<String>>|
     -> Result<Matcher, PolicyFileError> {
        let at = regexp
            .as_ref()
            .or(exact.as_ref())
            .map_or(span.clone(), |v| v.span());
        matcher(
            what,
            exact.as_ref().map(|v| v.get_ref().as_str()),
            regexp.as_ref().map(|v| v.get_ref().as_str()),
        )
        .map_err(|e| {
            error_at(
                text,
                at,
                match e {
                    PolicyError::NeedOneOf { .. } => {
                        format!(
                            "[[signer]] number {}: give exactly one of {what} or {what}_regexp",
                            i + 1
                        )
                    }
                    PolicyError::BadRegex { error, .. } => {
                        format!("invalid {what}_regexp: {error}")
                    }
                    other => other.to_string(),
                },
            )
        })
    };
    let identity = one("identity", &s.identity, &s.identity_regexp)?;
    let issuer = one("issuer", &s.issuer, &s.issuer_regexp)?;
    let valid_after = time_value(text, s.valid_after.as_ref())?;
    let valid_before = time_value(text, s.valid_before.as_ref())?;
    if let (Some(a), Some(b)) = (valid_after, valid_before)
        && a >= b
    {
        return Err(error_at(
            text,
            s.valid_before.as_ref().map_or(span.clone(), |v| v.span()),
            "valid_before must be later than valid_after",
        ));
    }
    let github = s
        .github
        .as_ref()
        .map(|g| GithubClaims {
            repository: g.repository.clone(),
            git_ref: g.git_ref.clone(),
            sha: g.sha.clone(),
            workflow: g.workflow.clone(),
            trigger: g.trigger.clone(),
        })
        .unwrap_or_default();
    Ok(Signer {
        name: s
            .name
            .clone()
            .unwrap_or_else(|| format!("signer {}", i + 1)),
        identity,
        issuer,
        valid_after,
        valid_before,
        refs: ref_patterns(text, s.refs.as_deref())?,
        github: if github.is_empty() {
            GithubClaims::default()
        } else {
            github
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> PolicyFileError {
        HistoryPolicy::parse(text).unwrap_err()
    }

    const GOOD: &str = r#"
version = 1
since = "2026-01-01T00:00:00Z"

[merges]
side = "first-parent"

[[signer]]
name = "maintainers"
identity_regexp = ".*@example\\.com"
issuer = "https://issuer.example"
valid_after = "2026-01-01T00:00:00Z"
valid_before = "2027-01-01T00:00:00Z"

[[signer]]
identity = "release@example.org"
issuer = "https://issuer.example"
refs = ["refs/tags/v*"]

[[ssh]]
allowed_signers = "allowed_signers"
"#;

    fn facts<'a>(identity: &'a str, times: &'a [UnixTime]) -> SignerFacts<'a> {
        static NONE: GithubClaims = GithubClaims {
            repository: None,
            git_ref: None,
            sha: None,
            workflow: None,
            trigger: None,
        };
        SignerFacts {
            identity,
            issuer: Some("https://issuer.example"),
            trusted_times: times,
            github: &NONE,
        }
    }

    #[test]
    fn parses_a_full_policy() {
        let p = HistoryPolicy::parse(GOOD).unwrap();
        assert_eq!(p.signers.len(), 2);
        assert_eq!(p.merge_side, MergeSide::FirstParent);
        assert!(p.require_signed_merges);
        assert_eq!(p.since, Some(Since::Time(1_767_225_600)));
        assert_eq!(p.ssh[0].file, "allowed_signers");
        assert_eq!(p.signers[1].name, "signer 2");
    }

    #[test]
    fn windows_are_judged_by_trusted_time_only() {
        let p = HistoryPolicy::parse(GOOD).unwrap();
        let inside = [1_780_000_000];
        assert_eq!(
            p.judge_signer(Some("refs/heads/main"), &facts("a@example.com", &inside)),
            Ok("maintainers".into())
        );
        let before = [1_700_000_000];
        let r = p
            .judge_signer(Some("refs/heads/main"), &facts("a@example.com", &before))
            .unwrap_err();
        assert_eq!(r.code(), "outside-signer-window");
        assert!(
            r.message().contains("2023-11-14T22:13:20Z"),
            "{}",
            r.message()
        );
        // Every trusted time must be inside: a log time inside and a timestamp outside fail.
        let mixed = [1_780_000_000, 1_900_000_000];
        assert!(
            p.judge_signer(None, &facts("a@example.com", &mixed))
                .is_err()
        );
        let r = p
            .judge_signer(None, &facts("a@example.com", &[]))
            .unwrap_err();
        assert_eq!(r.code(), "no-trusted-time");
    }

    #[test]
    fn ref_patterns_limit_signers() {
        let p = HistoryPolicy::parse(GOOD).unwrap();
        let t = [1_900_000_000];
        assert!(
            p.judge_signer(Some("refs/tags/v1.0"), &facts("release@example.org", &t))
                .is_ok()
        );
        let r = p
            .judge_signer(Some("refs/heads/main"), &facts("release@example.org", &t))
            .unwrap_err();
        assert_eq!(r.code(), "identity-mismatch");
        assert!(r.message().contains("for refs/heads/main"));
        assert_eq!(p.key_rules(false, Some("refs/heads/x")).len(), 1);
        assert!(p.key_rules(true, None).is_empty());
    }

    #[test]
    fn github_claims_must_all_match() {
        let text = r#"
[[signer]]
identity_regexp = "https://github.com/o/r/.*"
issuer = "https://token.actions.githubusercontent.com"
github = { repository = "o/r", ref = "refs/heads/main" }
"#;
        let p = HistoryPolicy::parse(text).unwrap();
        let good = GithubClaims {
            repository: Some("o/r".into()),
            git_ref: Some("refs/heads/main".into()),
            ..GithubClaims::default()
        };
        let bad = GithubClaims {
            git_ref: Some("refs/heads/dev".into()),
            ..good.clone()
        };
        let f = |g| SignerFacts {
            identity: "https://github.com/o/r/.github/workflows/w.yml@refs/heads/main",
            issuer: Some("https://token.actions.githubusercontent.com"),
            trusted_times: &[],
            github: g,
        };
        assert!(p.judge_signer(None, &f(&good)).is_ok());
        let r = p.judge_signer(None, &f(&bad)).unwrap_err();
        assert!(
            r.message().contains("ref \"refs/heads/dev\""),
            "{}",
            r.message()
        );
    }

    #[test]
    fn mistakes_carry_line_and_column() {
        let e = err("[[signer]]\nidentty = \"a\"\n");
        assert_eq!((e.line, e.column), (2, 1), "{e}");
        assert!(e.message.contains("identty"), "{e}");

        let e = err("[[signer]]\nidentity_regexp = \"(a\"\nissuer = \"i\"\n");
        assert_eq!((e.line, e.column), (2, 19), "{e}");
        assert!(e.message.starts_with("invalid identity_regexp"), "{e}");

        let e = err("[[signer]]\nidentity = \"a\"\nissuer = \"i\"\nvalid_after = \"yesterday\"\n");
        assert_eq!((e.line, e.column), (4, 15), "{e}");

        let e = err("since = \"not a commit\"\n[[signer]]\nidentity = \"a\"\nissuer = \"i\"\n");
        assert_eq!((e.line, e.column), (1, 9), "{e}");

        let e = err("[merges]\nside = \"second\"\n");
        assert_eq!((e.line, e.column), (2, 8), "{e}");

        let e = err("version = 2\n");
        assert_eq!((e.line, e.column), (1, 11), "{e}");

        let e = err("[[signer]]\nidentity = \"a\"\nissuer = \"i\"\nrefs = [\"main\"]\n");
        assert_eq!((e.line, e.column), (4, 9), "{e}");

        let e = err("[[signer]]\nissuer = \"i\"\n");
        assert!(e.message.contains("identity or identity_regexp"), "{e}");

        let e = err("[[signer]]\nidentity = 3\n");
        assert_eq!(e.line, 2, "{e}");

        let e = err("version = 1\n");
        assert!(e.message.contains("allows no one"), "{e}");

        let e = err("[[signer]\n");
        assert_eq!(e.line, 1, "{e}");
        assert!(!e.message.contains('\n'));
    }

    #[test]
    fn since_takes_a_time_or_a_commit() {
        assert_eq!(
            parse_since("ABCDEF12"),
            Some(Since::Commit("abcdef12".into()))
        );
        assert_eq!(
            parse_since("2026-01-01T00:00:00Z"),
            Some(Since::Time(1_767_225_600))
        );
        assert_eq!(parse_since("abc"), None);
        assert_eq!(parse_since("main"), None);
    }
}
