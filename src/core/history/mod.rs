//! Judging a history: each commit or tag in scope, with what its signature proved, against a
//! [`policy::HistoryPolicy`]. Pure: the walk, verification and key checks come in as values.

pub mod policy;

use std::collections::HashSet;

use crate::core::time::UnixTime;
use policy::{HistoryPolicy, SignerFacts, Since};

/// What kind of signature an object carries, by its armour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureFormat {
    /// gitsign's X.509 CMS (`-----BEGIN SIGNED MESSAGE-----`).
    Gitsign,
    Ssh,
    OpenPgp,
    /// Some other armour: verified by no one here.
    Unknown,
}

impl SignatureFormat {
    pub fn of(signature: &[u8]) -> SignatureFormat {
        let head = signature.trim_ascii_start();
        if head.starts_with(b"-----BEGIN SIGNED MESSAGE-----") {
            SignatureFormat::Gitsign
        } else if head.starts_with(b"-----BEGIN SSH SIGNATURE-----") {
            SignatureFormat::Ssh
        } else if head.starts_with(b"-----BEGIN PGP SIGNATURE-----")
            || head.starts_with(b"-----BEGIN PGP MESSAGE-----")
        {
            SignatureFormat::OpenPgp
        } else {
            SignatureFormat::Unknown
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SignatureFormat::Gitsign => "gitsign",
            SignatureFormat::Ssh => "ssh",
            SignatureFormat::OpenPgp => "openpgp",
            SignatureFormat::Unknown => "unknown",
        }
    }
}

/// The outcome of one object, as reports show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Signed, verified, and the signer is allowed.
    Verified,
    /// Not signed, and the policy allows that here (before the cut-off, or an unsigned merge
    /// where merges need no signature).
    Allowed,
    Violation,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Verified => "verified",
            Outcome::Allowed => "allowed",
            Outcome::Violation => "violation",
        }
    }
}

/// History-level reason codes, next to the verifier's ([`crate::core::verify::REASON_CODES`]).
pub const HISTORY_REASON_CODES: [&str; 6] = [
    "unsigned",
    "outside-signer-window",
    "signature-format-not-allowed",
    "key-not-allowed",
    "unsupported-signature-format",
    "before-cutoff",
];

/// A judgement: the outcome, a stable reason code (None when verified) and one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    pub outcome: Outcome,
    pub code: Option<&'static str>,
    pub message: String,
    /// The policy signer or key rule that allowed it.
    pub signer: Option<String>,
}

impl Judgement {
    fn violation(code: &'static str, message: impl Into<String>) -> Self {
        Judgement {
            outcome: Outcome::Violation,
            code: Some(code),
            message: message.into(),
            signer: None,
        }
    }
}

/// What verifying one object found.
pub enum Found<'a> {
    Unsigned,
    /// A gitsign signature: verified (any Fulcio identity) with these facts, or the verifier's
    /// reason code and message.
    Gitsign(Result<SignerFacts<'a>, (&'static str, String)>),
    /// An SSH or OpenPGP signature: `None` when no key rule applies to this ref, else which
    /// rule's key verified it, or why none did.
    Other {
        format: SignatureFormat,
        checked: Option<Result<String, String>>,
    },
}

/// Where an object sits in the history.
pub struct Place<'a> {
    pub ref_name: Option<&'a str>,
    pub is_merge: bool,
    /// Provably older than the policy's cut-off ([`Cutoff`]).
    pub before_cutoff: bool,
}

/// Judges one object.
pub fn judge(policy: &HistoryPolicy, place: &Place<'_>, found: Found<'_>) -> Judgement {
    match found {
        Found::Unsigned if place.before_cutoff => Judgement {
            outcome: Outcome::Allowed,
            code: Some("before-cutoff"),
            message: "unsigned, before the policy's cut-off (since)".into(),
            signer: None,
        },
        Found::Unsigned if place.is_merge && !policy.require_signed_merges => Judgement {
            outcome: Outcome::Allowed,
            code: Some("unsigned"),
            message: "unsigned merge; the policy does not require merges to be signed".into(),
            signer: None,
        },
        Found::Unsigned => Judgement::violation(
            "unsigned",
            if place.is_merge {
                "merge commit is not signed"
            } else {
                "not signed"
            },
        ),
        Found::Gitsign(Err((code, message))) => Judgement::violation(code, message),
        Found::Gitsign(Ok(facts)) => match policy.judge_signer(place.ref_name, &facts) {
            Ok(signer) => Judgement {
                outcome: Outcome::Verified,
                code: None,
                message: format!(
                    "signed by {} (OIDC issuer {})",
                    facts.identity,
                    facts.issuer.unwrap_or("unknown")
                ),
                signer: Some(signer),
            },
            Err(r) => Judgement::violation(r.code(), r.message()),
        },
        Found::Other {
            format: SignatureFormat::Unknown,
            ..
        } => Judgement::violation(
            "unsupported-signature-format",
            "signed in a format gitsign does not know",
        ),
        Found::Other {
            format,
            checked: None,
        } => Judgement::violation(
            "signature-format-not-allowed",
            format!(
                "{} signature, and the policy names no {} keys{}",
                format.name(),
                format.name(),
                place
                    .ref_name
                    .map(|r| format!(" for {r}"))
                    .unwrap_or_default()
            ),
        ),
        Found::Other {
            format,
            checked: Some(Ok(rule)),
        } => Judgement {
            outcome: Outcome::Verified,
            code: None,
            message: format!("{} signature verified with {rule}", format.name()),
            signer: Some(rule),
        },
        Found::Other {
            checked: Some(Err(why)),
            ..
        } => Judgement::violation("key-not-allowed", why),
    }
}

/// Tracks which commits are provably older than the policy's `since`. Fed commits children
/// first (a topological walk): a commit is before the cut-off when it is the cut-off commit,
/// an ancestor of it, or an ancestor of a commit whose trusted time precedes a cut-off time.
/// Holds only the frontier of marked commits not yet seen.
#[derive(Debug, Default)]
pub struct Cutoff {
    since: Option<Since>,
    marked: HashSet<String>,
}

impl Cutoff {
    pub fn new(since: Option<Since>) -> Self {
        Cutoff {
            since,
            marked: HashSet::new(),
        }
    }

    /// Whether `id` is before the cut-off. `trusted_times` are those its own verified
    /// signature carries (empty if none). Marks its parents when it is, or when it was
    /// signed before a cut-off time.
    pub fn observe(&mut self, id: &str, parents: &[String], trusted_times: &[UnixTime]) -> bool {
        let before = self.marked.remove(id)
            || matches!(&self.since, Some(Since::Commit(c)) if id.starts_with(c.as_str()));
        let signed_before = matches!(&self.since, Some(Since::Time(d))
            if !trusted_times.is_empty() && trusted_times.iter().all(|t| t < d));
        if before || signed_before {
            self.marked.extend(parents.iter().cloned());
        }
        before
    }
}

#[cfg(test)]
mod tests {
    use super::policy::{GithubClaims, HistoryPolicy};
    use super::*;

    fn policy() -> HistoryPolicy {
        HistoryPolicy::parse(
            "[merges]\nrequire_signature = false\n[[signer]]\nidentity = \"a@x\"\nissuer = \"https://i\"\n",
        )
        .unwrap()
    }

    fn place(is_merge: bool, before_cutoff: bool) -> Place<'static> {
        Place {
            ref_name: Some("refs/heads/main"),
            is_merge,
            before_cutoff,
        }
    }

    #[test]
    fn formats_by_armour() {
        assert_eq!(
            SignatureFormat::of(b"-----BEGIN SIGNED MESSAGE-----\n"),
            SignatureFormat::Gitsign
        );
        assert_eq!(
            SignatureFormat::of(b"-----BEGIN SSH SIGNATURE-----\n"),
            SignatureFormat::Ssh
        );
        assert_eq!(
            SignatureFormat::of(b"-----BEGIN PGP SIGNATURE-----\n"),
            SignatureFormat::OpenPgp
        );
        assert_eq!(SignatureFormat::of(b"junk"), SignatureFormat::Unknown);
    }

    #[test]
    fn unsigned_commits_are_violations_unless_allowed() {
        let p = policy();
        let j = judge(&p, &place(false, false), Found::Unsigned);
        assert_eq!((j.outcome, j.code), (Outcome::Violation, Some("unsigned")));
        let j = judge(&p, &place(false, true), Found::Unsigned);
        assert_eq!(j.outcome, Outcome::Allowed);
        let j = judge(&p, &place(true, false), Found::Unsigned);
        assert_eq!(j.outcome, Outcome::Allowed);
        let strict =
            HistoryPolicy::parse("[[signer]]\nidentity = \"a@x\"\nissuer = \"https://i\"\n")
                .unwrap();
        let j = judge(&strict, &place(true, false), Found::Unsigned);
        assert_eq!(j.message, "merge commit is not signed");
    }

    #[test]
    fn verified_signatures_are_judged_by_signer() {
        let p = policy();
        let g = GithubClaims::default();
        let facts = |id| SignerFacts {
            identity: id,
            issuer: Some("https://i"),
            trusted_times: &[],
            github: &g,
        };
        let j = judge(&p, &place(false, false), Found::Gitsign(Ok(facts("a@x"))));
        assert_eq!(j.outcome, Outcome::Verified);
        assert_eq!(j.signer.as_deref(), Some("signer 1"));
        let j = judge(&p, &place(false, false), Found::Gitsign(Ok(facts("b@x"))));
        assert_eq!(j.code, Some("identity-mismatch"));
        let j = judge(
            &p,
            &place(false, true),
            Found::Gitsign(Err(("signature-mismatch", "bad".into()))),
        );
        assert_eq!(
            j.outcome,
            Outcome::Violation,
            "a bad signature is never excused by the cut-off"
        );
    }

    #[test]
    fn other_formats_need_a_key_rule_and_a_good_check() {
        let p = policy();
        let other = |checked| Found::Other {
            format: SignatureFormat::Ssh,
            checked,
        };
        assert_eq!(
            judge(&p, &place(false, false), other(None)).code,
            Some("signature-format-not-allowed")
        );
        assert_eq!(
            judge(
                &p,
                &place(false, false),
                other(Some(Err("unknown key".into())))
            )
            .code,
            Some("key-not-allowed")
        );
        assert_eq!(
            judge(&p, &place(false, false), other(Some(Ok("forge".into())))).outcome,
            Outcome::Verified
        );
    }

    #[test]
    fn cutoff_by_commit_marks_ancestors_in_topological_order() {
        let mut c = Cutoff::new(Some(Since::Commit("c2".into())));
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(!c.observe("c4", &s(&["c3"]), &[]));
        assert!(!c.observe("c3", &s(&["c2"]), &[]));
        assert!(c.observe("c2ff", &s(&["c1"]), &[]));
        assert!(c.observe("c1", &s(&["c0"]), &[]));
        assert!(c.observe("c0", &[], &[]));
        assert!(c.marked.is_empty());
    }

    #[test]
    fn cutoff_by_time_needs_a_descendant_signed_before_it() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut c = Cutoff::new(Some(Since::Time(1000)));
        // Signed after the cut-off: its parents prove nothing.
        assert!(!c.observe("d", &s(&["c"]), &[2000]));
        // Signed before: the commit itself is judged by its signature, its parents are old.
        assert!(!c.observe("c", &s(&["b"]), &[500]));
        assert!(c.observe("b", &s(&["a"]), &[]));
        assert!(c.observe("a", &[], &[]));
        // A commit with no trusted time marks nothing.
        let mut c = Cutoff::new(Some(Since::Time(1000)));
        assert!(!c.observe("x", &s(&["y"]), &[]));
        assert!(!c.observe("y", &[], &[]));
    }
}
