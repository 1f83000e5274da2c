//! The checks signing makes on what the servers hand back, before anything is used:
//! Fulcio's certificate (chain to the trusted root, embedded SCT, our key, the token's
//! identity) and Rekor's entry (the body we sent, SET and inclusion proof by a trusted log
//! key). Also gitsign's `matchCommitter` rule. Pure: bytes, trust root and `now` in.

use std::fmt;

use crate::core::git::gitobj::HashAlgo;
use crate::core::sigstore::trust::TrustedRoot;
use crate::core::time::UnixTime;
use crate::core::tlog::{self, LogEntry, TlogError, VerifiedEntry};
use crate::core::verify::certificate::{self, CertificateError, Memo, Sct};
use crate::core::x509::cert::{CertError, Certificate, Identity, San};
use crate::core::x509::sct::SctError;

/// How far in the future a fresh certificate's notBefore may be (the CA's clock and ours).
pub const CLOCK_SKEW: i64 = 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueError {
    /// The leaf does not parse.
    Leaf(CertError),
    /// The certificate is for a key other than the one we generated.
    NotOurKey,
    /// The certificate names another identity than the token.
    WrongIdentity {
        expected: String,
        found: String,
    },
    Chain(CertError),
    Sct(SctError),
}

impl fmt::Display for IssueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IssueError::Leaf(e) => write!(f, "unreadable certificate: {e}"),
            IssueError::NotOurKey => f.write_str("the certificate is not for our key"),
            IssueError::WrongIdentity { expected, found } => write!(
                f,
                "the certificate is for {found:?}, the token for {expected:?}"
            ),
            IssueError::Chain(e) => {
                write!(f, "the certificate does not chain to the trusted root: {e}")
            }
            IssueError::Sct(e) => write!(f, "the certificate's SCT does not verify: {e}"),
        }
    }
}

impl std::error::Error for IssueError {}

/// Whether the certificate names the token's signer (`identity` = the token's email, else its
/// subject). Fulcio writes an `email` claim as an email SAN. For tokens without one (CI
/// workloads such as GitHub Actions) it derives a URI SAN from issuer-specific claims (the
/// workflow URL), which cannot be rebuilt from the subject here: such a SAN is accepted when
/// the certificate's OIDC issuer is the token's.
fn names_token_signer(found: &Identity, identity: &str, token_issuer: &str) -> bool {
    let looks_like_email = identity.contains('@') && !identity.contains(':');
    match &found.san {
        San::Email(e) => e == identity,
        San::Uri(u) => {
            u == identity || (!looks_like_email && found.issuer.as_deref() == Some(token_issuer))
        }
    }
}

/// Checks Fulcio's chain (leaf first; only the leaf is used, the trusted root supplies the
/// issuers) and returns the leaf.
pub fn check_issued_certificate(
    chain: &[Vec<u8>],
    trust: &TrustedRoot,
    now: UnixTime,
    our_spki_der: &[u8],
    identity: &str,
    token_issuer: &str,
) -> Result<Certificate, IssueError> {
    let leaf_der = chain.first().ok_or(IssueError::Leaf(CertError::Malformed {
        what: "empty chain",
    }))?;
    let leaf = Certificate::from_der(leaf_der).map_err(IssueError::Leaf)?;
    if leaf.spki_der() != our_spki_der {
        return Err(IssueError::NotOurKey);
    }
    let found = leaf.identity().map_err(IssueError::Leaf)?;
    if !names_token_signer(&found, identity, token_issuer) {
        return Err(IssueError::WrongIdentity {
            expected: identity.to_string(),
            found: found.san.to_string(),
        });
    }
    // A certificate issued a moment ago may start a second after our clock's now.
    let at = if leaf.not_before() > now && leaf.not_before() - now <= CLOCK_SKEW {
        leaf.not_before()
    } else {
        now
    };
    certificate::verify_certificate(&leaf, trust, &[at], Sct::Required, &Memo::default()).map_err(
        |e| match e {
            CertificateError::Chain { source, .. } => IssueError::Chain(source),
            CertificateError::Sct(e) => IssueError::Sct(e),
            CertificateError::Identity(e) => IssueError::Leaf(e),
            CertificateError::NoTime => IssueError::Chain(CertError::NoCaValidAt { at }),
        },
    )?;
    Ok(leaf)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryError {
    /// The log stored something other than what we sent.
    BodyMismatch,
    Tlog(TlogError),
    /// The certificate was not valid when the log integrated the entry.
    CertificateNotValidAt {
        integrated_time: i64,
    },
}

impl fmt::Display for EntryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EntryError::BodyMismatch => f.write_str("the logged entry is not the one we sent"),
            EntryError::Tlog(e) => write!(f, "the log entry does not verify: {e}"),
            EntryError::CertificateNotValidAt { integrated_time } => write!(
                f,
                "the certificate was not valid at the entry's integrated time {integrated_time}"
            ),
        }
    }
}

impl std::error::Error for EntryError {}

/// Checks the entry Rekor returned for `body` (the canonical hashedrekord we uploaded):
/// same body, SET and inclusion proof with checkpoint by a log key of the trusted root,
/// integrated while the certificate was valid.
pub fn check_logged_entry(
    entry: &LogEntry,
    body: &[u8],
    leaf: &Certificate,
    trust: &TrustedRoot,
) -> Result<VerifiedEntry, EntryError> {
    if entry.canonicalized_body.as_deref() != Some(body) {
        return Err(EntryError::BodyMismatch);
    }
    let verified = tlog::verify_entry(entry, body, &tlog::trusted_log_keys(trust))
        .map_err(EntryError::Tlog)?;
    if !leaf.valid_at(entry.integrated_time) {
        return Err(EntryError::CertificateNotValidAt {
            integrated_time: entry.integrated_time,
        });
    }
    Ok(verified)
}

/// The object format of the repository a payload comes from, read from the object id on its
/// first line (`tree` of a commit, `object` of a tag): 40 hex digits SHA-1, 64 SHA-256. git
/// hands us only the payload, and libgit2 cannot open SHA-256 repositories.
pub fn payload_hash_algo(payload: &[u8]) -> Option<HashAlgo> {
    let line = payload.split(|b| *b == b'\n').next()?;
    let id = line
        .strip_prefix(b"tree ")
        .or_else(|| line.strip_prefix(b"object "))?;
    if !id.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    match id.len() {
        40 => Some(HashAlgo::Sha1),
        64 => Some(HashAlgo::Sha256),
        _ => None,
    }
}

/// The email of the payload's `committer` (commit) or `tagger` (tag) header, if any.
pub fn payload_signer_email(payload: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(payload);
    let headers = text.split("\n\n").next()?;
    headers.lines().find_map(|line| {
        let rest = line
            .strip_prefix("committer ")
            .or_else(|| line.strip_prefix("tagger "))?;
        let start = rest.rfind('<')? + 1;
        let end = start + rest[start..].find('>')?;
        Some(rest[start..end].to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::x509::cert;

    #[test]
    fn finds_the_committer_or_tagger_email_in_the_headers_only() {
        let commit =
            b"tree 1\nauthor A <a@x> 1 +0000\ncommitter C D <c@x> 1 +0000\n\ncommitter M <m@x>\n";
        assert_eq!(payload_signer_email(commit).as_deref(), Some("c@x"));
        let tag = b"object 1\ntype commit\ntag v1\ntagger T <t@x> 1 +0000\n\nmsg\n";
        assert_eq!(payload_signer_email(tag).as_deref(), Some("t@x"));
        assert_eq!(payload_signer_email(b"tree 1\n\ncommitter M <m@x>\n"), None);
        assert_eq!(payload_signer_email(b"committer broken"), None);
    }

    #[test]
    fn the_object_format_comes_from_the_first_object_id() {
        let sha1 = format!("tree {}\n\nm\n", "a".repeat(40));
        let sha256 = format!("object {}\ntype commit\n", "0".repeat(64));
        assert_eq!(payload_hash_algo(sha1.as_bytes()), Some(HashAlgo::Sha1));
        assert_eq!(payload_hash_algo(sha256.as_bytes()), Some(HashAlgo::Sha256));
        assert_eq!(payload_hash_algo(b"tree abc\n"), None);
        assert_eq!(
            payload_hash_algo(format!("tree {}\n", "g".repeat(40)).as_bytes()),
            None
        );
        assert_eq!(payload_hash_algo(b"hello"), None);
    }

    #[test]
    fn workload_certificates_match_by_issuer_and_email_certificates_by_email() {
        use crate::core::asn1::der::{encode, tag};
        use crate::core::testcert as tc;
        let uri_exts = |uri: &str, issuer: &str| {
            let mut e = tc::leaf_exts("x@example.com");
            e[2] = tc::ext(
                cert::oid::SUBJECT_ALT_NAME,
                true,
                &encode(tag::SEQUENCE, &encode(0x86, uri.as_bytes())),
            );
            e[3] = tc::ext(
                cert::oid::FULCIO_ISSUER_V2,
                false,
                &encode(tag::UTF8_STRING, issuer.as_bytes()),
            );
            e
        };
        let ours = tc::spki(&tc::key(3));
        let trust = TrustedRoot::production();
        let check = |leaf: Vec<u8>, identity: &str, issuer: &str| {
            check_issued_certificate(&[leaf], trust, tc::T0, &ours, identity, issuer)
        };
        let gha = "https://token.actions.githubusercontent.com";
        let workflow = "https://github.com/o/r/.github/workflows/w.yml@refs/heads/main";
        let wl = || tc::leaf("Test Intermediate", 2, uri_exts(workflow, gha));
        // The identity check passes, so the (test-made) chain is what fails.
        assert!(matches!(
            check(wl(), "repo:o/r:ref:refs/heads/main", gha),
            Err(IssueError::Chain(_))
        ));
        assert!(matches!(
            check(
                wl(),
                "repo:o/r:ref:refs/heads/main",
                "https://other.example"
            ),
            Err(IssueError::WrongIdentity { .. })
        ));
        assert!(matches!(
            check(wl(), "dev@example.com", gha),
            Err(IssueError::WrongIdentity { .. })
        ));
        let email = || tc::leaf("Test Intermediate", 2, tc::leaf_exts("a@example.com"));
        assert!(matches!(
            check(email(), "a@example.com", "https://issuer.example"),
            Err(IssueError::Chain(_))
        ));
        assert!(matches!(
            check(email(), "b@example.com", "https://issuer.example"),
            Err(IssueError::WrongIdentity { .. })
        ));
    }

    #[test]
    fn an_empty_chain_is_an_error() {
        let e =
            check_issued_certificate(&[], TrustedRoot::production(), 0, &[], "a@x", "https://i");
        assert!(matches!(e, Err(IssueError::Leaf(_))));
    }

    #[test]
    fn a_real_leaf_for_another_key_or_identity_is_refused() {
        use crate::core::{asn1::pem, cms, git::gitobj};
        let raw = include_bytes!(
            "../../../tests/data/vectors/real/fe1e62346d3c346a343d089e8b4c3fb57716bc94.commit"
        );
        let obj = gitobj::split_commit(raw, gitobj::HashAlgo::Sha1).unwrap();
        let der = pem::decode_one(&obj.signature, "SIGNED MESSAGE").unwrap();
        let sd = cms::parse(&der, cms::Profile::Gitsign).unwrap();
        let leaf = Certificate::from_der(sd.certificates[0]).unwrap();
        let chain = vec![leaf.der().to_vec()];
        let trust = TrustedRoot::production();
        let now = leaf.not_before();
        assert_eq!(
            check_issued_certificate(&chain, trust, now, &[1, 2], "x", "https://i"),
            Err(IssueError::NotOurKey)
        );
        let identity = leaf.identity().unwrap().san.to_string();
        let issuer = leaf.identity().unwrap().issuer.unwrap();
        assert!(matches!(
            check_issued_certificate(&chain, trust, now, leaf.spki_der(), "someone@else", &issuer),
            Err(IssueError::WrongIdentity { .. })
        ));
        // The genuine leaf passes at its issuance time and fails an hour later.
        check_issued_certificate(&chain, trust, now, leaf.spki_der(), &identity, &issuer).unwrap();
        assert!(matches!(
            check_issued_certificate(
                &chain,
                trust,
                now + 3600,
                leaf.spki_der(),
                &identity,
                &issuer
            ),
            Err(IssueError::Chain(_))
        ));
    }

    #[test]
    fn a_real_logged_entry_checks_out_only_for_its_own_body_and_certificate() {
        use crate::core::{asn1::pem, git::gitobj, verify};
        let raw = include_bytes!(
            "../../../tests/data/vectors/real/fe1e62346d3c346a343d089e8b4c3fb57716bc94.commit"
        );
        let obj = gitobj::split_commit(raw, gitobj::HashAlgo::Sha1).unwrap();
        let sig = verify::check_signature_untrusted(&obj.payload, &obj.signature)
            .map_err(|_| "check")
            .unwrap();
        let mut entry =
            tlog::decode_transparency_log_entry(sig.embedded_entry.as_deref().unwrap()).unwrap();
        let body = tlog::hashedrekord_body(
            &sig.signed_attrs_digest,
            &sig.signature,
            &pem::encode("CERTIFICATE", sig.leaf.der()),
        );
        let trust = TrustedRoot::production();
        // Rekor's answer carries the body; an embedded entry does not.
        assert_eq!(
            check_logged_entry(&entry, &body, &sig.leaf, trust),
            Err(EntryError::BodyMismatch)
        );
        entry.canonicalized_body = Some(body.clone());
        check_logged_entry(&entry, &body, &sig.leaf, trust).unwrap();

        let mut other = body.clone();
        other[body.len() - 3] ^= 1;
        assert_eq!(
            check_logged_entry(&entry, &other, &sig.leaf, trust),
            Err(EntryError::BodyMismatch)
        );
        let mut lying = entry.clone();
        lying.canonicalized_body = Some(other.clone());
        assert!(matches!(
            check_logged_entry(&lying, &other, &sig.leaf, trust),
            Err(EntryError::Tlog(_))
        ));
        let mut late = entry.clone();
        late.integrated_time += 3600;
        assert!(check_logged_entry(&late, &body, &sig.leaf, trust).is_err());
    }
}
