//! `gitsign --verify` (git's verify mode), `gitsign verify [REV]`, `gitsign verify-tag TAG`.

use std::io::{Read, Write};
use std::path::Path;

use crate::app::{AppError, FAILED, OK, Reporter};
use crate::cli::{GpgVerify, OutputFormat, VerifyArgs};
use crate::core::git::gitobj::{self, HashAlgo, ObjectKind};
use crate::core::git::status::{self, Status};
use crate::core::time::format_rfc3339;
use crate::core::verify::policy::{IdentityPolicy, Policy};
use crate::core::verify::times::TimeSource;
use crate::core::verify::{
    self, Failure, FailureKind, Log, Options, Proof, Verified, Verifier, VerifyError,
};
use crate::io::config::Settings;
use crate::io::git::Repo;
use crate::io::rekor::RekorClient;

/// What verification checks against: configuration (for online lookups) and the verifier.
pub(crate) struct Context<'a> {
    pub settings: &'a Settings,
    pub verifier: Verifier<'a>,
    /// Never contact the log: online-mode signatures cannot be verified.
    pub offline: bool,
    /// One Rekor client per run, made on first use: a history's lookups share its
    /// connections (the workers bound how many run at once).
    pub rekor: std::sync::OnceLock<Result<RekorClient, String>>,
}

impl<'a> Context<'a> {
    pub fn new(settings: &'a Settings, verifier: Verifier<'a>, offline: bool) -> Self {
        Context {
            settings,
            verifier,
            offline,
            rekor: std::sync::OnceLock::new(),
        }
    }
}

/// One signed object as git handed it to us.
pub(crate) struct Signed<'a> {
    pub kind: ObjectKind,
    /// Known when we read the object ourselves; recomputed in git's verify mode.
    pub id: Option<&'a str>,
    pub payload: &'a [u8],
    pub signature: &'a [u8],
    pub algo: HashAlgo,
}

/// Verifies one signature over one payload: offline when the entry is embedded (or the log
/// check is skipped), otherwise through a Rekor lookup bounded by `settings.rekor_timeout`.
pub(crate) fn verify_object(
    obj: &Signed<'_>,
    cx: &Context<'_>,
    policy: &Policy,
) -> Result<Verified, Failure> {
    let verifier = &cx.verifier;
    // The chain is checked here, before any network lookup.
    let checked = verifier.check(obj.payload, obj.signature)?;
    if checked.embedded_entry.is_some() || !verifier.options().check_tlog {
        return verifier.verify(&checked, Log::Embedded, policy);
    }
    if cx.offline {
        return Err(checked.fail(VerifyError::LogUnavailable {
            reason: format!(
                "{} has no embedded transparency log entry (gitsign online mode), and --offline forbids the lookup",
                obj.kind.name()
            ),
        }));
    }
    // gitsign online mode: Rekor logged the object id; recompute it from what git gave us.
    let id = match obj.id {
        Some(id) => id.to_string(),
        None => {
            let raw = gitobj::join(obj.kind, obj.payload, obj.signature, obj.algo)
                .map_err(|e| checked.fail(VerifyError::Object(e)))?;
            obj.algo.object_id(obj.kind, &raw)
        }
    };
    let client = cx.rekor.get_or_init(|| {
        RekorClient::new(&cx.settings.rekor, cx.settings.rekor_timeout).map_err(|e| e.to_string())
    });
    let lookup = client.as_ref().map_err(String::clone).and_then(|c| {
        c.entries_for(
            &checked.leaf_pem(),
            &crate::core::x509::keys::sha256(id.as_bytes()),
        )
        .map_err(|e| e.to_string())
    });
    match lookup {
        Ok(entries) => verifier.verify(
            &checked,
            Log::Online {
                object_id: &id,
                candidates: &entries,
            },
            policy,
        ),
        Err(e) => Err(checked.fail(VerifyError::LogUnavailable {
            reason: format!(
                "{kind} {id} has no embedded transparency log entry (gitsign online mode) and {e}",
                kind = obj.kind.name()
            ),
        })),
    }
}

fn describe_proof(v: &Verified) -> String {
    let log = match &v.proof {
        Proof::EmbeddedEntry(e) | Proof::OnlineEntry(e) => {
            let place = if matches!(v.proof, Proof::EmbeddedEntry(_)) {
                "embedded in the signature"
            } else {
                "found online"
            };
            match e.trusted_time() {
                Some(t) => format!(
                    "transparency log {} (Rekor v{}) entry {} integrated {} ({place}; SET, inclusion proof and checkpoint verified)",
                    e.base_url,
                    e.log_version(),
                    e.log_index,
                    format_rfc3339(t),
                ),
                None => format!(
                    "transparency log {} (Rekor v{}) entry {} ({place}; inclusion proof and checkpoint verified; the log signs no time)",
                    e.base_url,
                    e.log_version(),
                    e.log_index,
                ),
            }
        }
        Proof::Unchecked if v.time_verified() => {
            "WARNING: the transparency log was NOT checked (--insecure-ignore-tlog)".to_string()
        }
        Proof::Unchecked => format!(
            "WARNING: the transparency log was NOT checked (--insecure-ignore-tlog), so the signing time is UNVERIFIED: {}",
            describe_unverified_time(v)
        ),
    };
    let stamps: Vec<String> = v
        .trusted_times
        .iter()
        .filter_map(|t| match &t.source {
            TimeSource::Tsa { subject } => Some(format!(
                "RFC 3161 timestamp {} by {subject} verified",
                format_rfc3339(t.time)
            )),
            TimeSource::Log { .. } => None,
        })
        .collect();
    if stamps.is_empty() {
        log
    } else {
        format!("{log}; {}", stamps.join("; "))
    }
}

/// Where the chain-check time of an unlogged signature came from: the signer's claim, or
/// the certificate's notBefore when the claim precedes it (a signer's clock behind Fulcio's).
fn describe_unverified_time(v: &Verified) -> String {
    match v.signing_time {
        Some(claimed) if claimed < v.verified_at => format!(
            "the signer claims {}, {}s before the certificate's notBefore; the certificate chain was checked at its notBefore {}",
            format_rfc3339(claimed),
            v.verified_at - claimed,
            format_rfc3339(v.verified_at)
        ),
        _ => format!(
            "the certificate chain was checked at {}, the time the signer claims",
            format_rfc3339(v.verified_at)
        ),
    }
}

/// The `time_source` of the JSON report: what `verified_at` is.
fn time_source(v: &Verified) -> &'static str {
    match (v.trusted_times.first(), v.signing_time) {
        (Some(t), _) => match t.source {
            TimeSource::Log { .. } => "tlog-integrated-time",
            TimeSource::Tsa { .. } => "rfc3161-timestamp",
        },
        (None, Some(claimed)) if claimed < v.verified_at => "certificate-not-before",
        (None, _) => "cms-signing-time",
    }
}

fn has_timestamp(v: &Verified) -> bool {
    v.trusted_times
        .iter()
        .any(|t| matches!(t.source, TimeSource::Tsa { .. }))
}

fn summary(v: &Verified, reporter: &mut Reporter) {
    reporter.say(&format!(
        "gitsign: Good signature from {} (OIDC issuer {})",
        v.identity,
        v.issuer.as_deref().unwrap_or("unknown")
    ));
    reporter.say(&format!(
        "gitsign: certificate {} issued by {}, valid {} to {}",
        v.fingerprint,
        v.certificate_issuer,
        format_rfc3339(v.not_before),
        format_rfc3339(v.not_after)
    ));
    reporter.say(&format!("gitsign: {}", describe_proof(v)));
    let mut checked = vec!["signature", "certificate chain"];
    let mut unchecked = vec![];
    if v.sct_verified {
        checked.push("SCT")
    } else {
        unchecked.push("SCT")
    }
    if matches!(v.proof, Proof::Unchecked) {
        unchecked.push("transparency log");
    } else {
        checked.push("transparency log")
    }
    if has_timestamp(v) {
        checked.push("RFC 3161 timestamp")
    }
    if !v.time_verified() {
        unchecked.push("signing time")
    }
    let mut line = format!("gitsign: checked: {}", checked.join(", "));
    if !unchecked.is_empty() {
        line.push_str(&format!("; NOT checked: {}", unchecked.join(", ")));
    }
    reporter.say(&line);
}

fn help_for(f: &Failure) -> &'static str {
    match f.error {
        VerifyError::LogUnavailable { .. } | VerifyError::NoMatchingOnlineEntry { .. } => {
            " (to check only the signature and certificate chain: gitsign verify --insecure-ignore-tlog)"
        }
        VerifyError::Sct(_) => " (to skip the SCT check: --insecure-ignore-sct)",
        _ => "",
    }
}

fn read_input(path: Option<&Path>) -> Result<Vec<u8>, AppError> {
    let mut buf = Vec::new();
    match path {
        Some(p) => {
            buf = std::fs::read(p)
                .map_err(|e| AppError::failed(format!("cannot read {}: {e}", p.display())))?
        }
        None => {
            std::io::stdin().read_to_end(&mut buf).map_err(|e| {
                AppError::failed(format!("cannot read the signed data from stdin: {e}"))
            })?;
        }
    }
    Ok(buf)
}

fn settings_here() -> Result<(Settings, Option<Repo>), AppError> {
    let repo = Repo::discover().ok();
    // libgit2 cannot open a SHA-256 repository, but its config still applies.
    let git_dir = repo
        .as_ref()
        .map(Repo::git_dir)
        .or_else(crate::io::git::discover_git_dir);
    let settings = Settings::load(git_dir.as_deref()).map_err(AppError::usage)?;
    Ok((settings, repo))
}

/// git's verify mode: `--status-fd=1 --verify SIGFILE -`. Whatever happens after the status
/// fd is open, git gets NEWSIG and exactly one of GOODSIG, BADSIG or ERRSIG: without them it
/// shows a signed object as unsigned (`%G?` = N).
pub fn gpg_verify(args: &GpgVerify) -> Result<i32, AppError> {
    let mut status = crate::app::report::status_writer(args.status_fd)?;
    let (lines, result) = match gpg_verify_outcome(args) {
        Ok((outcome, reporter)) => (status_lines(&outcome), Ok((outcome, reporter))),
        // Config, trust root or input unreadable: nothing is known of the signer.
        Err(e) => (
            vec![
                Status::NewSig,
                Status::ErrSig {
                    key_id: "0".repeat(16),
                    time: 0,
                    rc: 9,
                    fingerprint: None,
                },
            ],
            Err(e),
        ),
    };
    // Status first: git needs it whatever the human text says.
    status
        .write_all(status::render(&lines).as_bytes())
        .and_then(|()| status.flush())
        .map_err(|e| AppError::failed(format!("cannot write status lines: {e}")))?;
    let (outcome, mut reporter) = result?;
    match &outcome {
        Ok(v) => summary(v, &mut reporter),
        Err(f) => {
            let bad = if f.kind() == FailureKind::Bad {
                "BAD signature"
            } else {
                "cannot verify signature"
            };
            let who = f
                .identity
                .as_deref()
                .map(|i| format!(" from {i}"))
                .unwrap_or_default();
            reporter.say(&format!("gitsign: {bad}{who}: {f}{}", help_for(f)));
        }
    }
    Ok(if outcome.is_ok() { OK } else { FAILED })
}

type Outcome = Result<Verified, Failure>;

fn gpg_verify_outcome(args: &GpgVerify) -> Result<(Outcome, Reporter), AppError> {
    let (settings, repo) = settings_here()?;
    let reporter = Reporter::new(settings.log_path.as_deref());
    let signature = std::fs::read(&args.signature_file).map_err(|e| {
        AppError::failed(format!(
            "cannot read signature file {}: {e}",
            args.signature_file.display()
        ))
    })?;
    let payload = read_input(args.data_file.as_deref())?;
    let trust = crate::io::trust::load(&settings, None).map_err(AppError::usage)?;
    // The payload names its object format; libgit2 cannot open SHA-256 repositories.
    let algo = crate::core::verify::signing::payload_hash_algo(&payload)
        .unwrap_or_else(|| repo.as_ref().map_or(HashAlgo::Sha1, Repo::hash_algo));
    let kind = gitobj::kind_of_payload(&payload).unwrap_or(ObjectKind::Commit);
    let signed = Signed {
        kind,
        id: None,
        payload: &payload,
        signature: &signature,
        algo,
    };
    let cx = Context::new(&settings, Verifier::new(&trust, Options::default()), false);
    // git decides what to make of the signer (gpg.x509 has no identity policy).
    Ok((
        verify_object(&signed, &cx, &Policy::AnyFulcioIdentity),
        reporter,
    ))
}

/// The one mapping of an outcome to status lines.
fn status_lines(outcome: &Outcome) -> Vec<Status> {
    let mut lines = vec![Status::NewSig];
    match outcome {
        Ok(v) => {
            lines.push(Status::GoodSig {
                key_id: status::key_id(&v.fingerprint),
                uid: v.identity.clone(),
            });
            // The time the log established, not the one the signer wrote.
            lines.push(Status::ValidSig {
                fingerprint: v.fingerprint.clone(),
                time: v.verified_at,
            });
            lines.push(Status::TrustFully);
        }
        Err(f) => {
            let key_id = f
                .fingerprint
                .as_deref()
                .map_or_else(|| "0".repeat(16), status::key_id);
            lines.push(match (f.kind(), &f.identity) {
                // Only a certificate a trusted CA issued names anyone (check_signature).
                (FailureKind::Bad, Some(uid)) => Status::BadSig {
                    key_id,
                    uid: uid.clone(),
                },
                _ => Status::ErrSig {
                    key_id,
                    time: f.signing_time.unwrap_or(0),
                    rc: if f.fingerprint.is_some() { 4 } else { 9 },
                    fingerprint: f.fingerprint.clone(),
                },
            });
        }
    }
    lines
}

/// One commit (a history goes to `app::history`).
pub fn verify_commit(args: &VerifyArgs) -> Result<i32, AppError> {
    verify_in_repo(args, ObjectKind::Commit)
}

pub fn verify_tag(args: &VerifyArgs) -> Result<i32, AppError> {
    if args.is_history() {
        return Err(AppError::usage(
            "verify-tag takes one tag; to verify every tag: gitsign verify --tags --policy FILE",
        ));
    }
    verify_in_repo(args, ObjectKind::Tag)
}

fn verify_in_repo(args: &VerifyArgs, kind: ObjectKind) -> Result<i32, AppError> {
    let policy = Policy::Identity(
        IdentityPolicy::new(
            args.certificate_identity.as_deref(),
            args.certificate_identity_regexp.as_deref(),
            args.certificate_oidc_issuer.as_deref(),
            args.certificate_oidc_issuer_regexp.as_deref(),
        )
        .map_err(|e| AppError::usage(e.to_string()))?,
    );
    let repo = Repo::discover().map_err(AppError::usage)?;
    let settings = Settings::load(Some(&repo.git_dir())).map_err(AppError::usage)?;
    let trust =
        crate::io::trust::load(&settings, args.trusted_root.as_deref()).map_err(AppError::usage)?;
    let object = match kind {
        ObjectKind::Commit => repo.read_commit(args.revs.first().map_or("HEAD", String::as_str)),
        ObjectKind::Tag => match args.revs.first().map(String::as_str) {
            Some(t) => repo.read_tag(t),
            None => return Err(AppError::usage("verify-tag needs a tag name")),
        },
    }
    .map_err(AppError::failed)?;
    let opts = Options {
        check_tlog: !args.insecure_ignore_tlog,
        require_sct: !args.insecure_ignore_sct,
    };
    let algo = repo.hash_algo();
    let outcome = gitobj::split(kind, &object.raw, algo)
        .map_err(|e| verify::bare(VerifyError::Object(e)))
        .and_then(|s| {
            let signed = Signed {
                kind,
                id: Some(&object.id),
                payload: &s.payload,
                signature: &s.signature,
                algo,
            };
            let cx = Context::new(&settings, Verifier::new(&trust, opts), false);
            verify_object(&signed, &cx, &policy)
        });
    let name = kind.name();
    match args.output {
        OutputFormat::Json => {
            println!("{}", json_report(name, &object.id, &outcome));
        }
        OutputFormat::Text | OutputFormat::Github => match &outcome {
            Ok(v) => {
                let mut out = Reporter::new(None);
                out.say(&format!("gitsign: {name} {}: verified", object.id));
                summary(v, &mut out);
            }
            Err(f) => {
                Reporter::new(None).say(&format!(
                    "gitsign: {name} {} NOT verified: {f}{}",
                    object.id,
                    help_for(f)
                ));
            }
        },
    }
    Ok(if outcome.is_ok() { OK } else { FAILED })
}

fn json_report(kind: &str, id: &str, outcome: &Result<Verified, Failure>) -> serde_json::Value {
    use serde_json::json;
    match outcome {
        Ok(v) => {
            let tlog = match &v.proof {
                Proof::EmbeddedEntry(e) | Proof::OnlineEntry(e) => json!({
                    "checked": true,
                    "source": if matches!(v.proof, Proof::EmbeddedEntry(_)) { "embedded" } else { "online" },
                    "log": e.base_url,
                    "log_version": e.log_version(),
                    "log_index": e.log_index,
                    "integrated_time": e.trusted_time().map(format_rfc3339),
                    "set_verified": e.set_verified,
                    "inclusion_verified": e.inclusion_verified,
                }),
                Proof::Unchecked => json!({"checked": false}),
            };
            json!({
                "verified": true,
                "object": {"type": kind, "id": id},
                "identity": v.identity,
                "issuer": v.issuer,
                "certificate": {
                    "sha1_fingerprint": v.fingerprint,
                    "issuer": v.certificate_issuer,
                    "not_before": format_rfc3339(v.not_before),
                    "not_after": format_rfc3339(v.not_after),
                },
                "verified_at": format_rfc3339(v.verified_at),
                "time_source": time_source(v),
                "time_verified": v.time_verified(),
                "trusted_times": v.trusted_times.iter().map(|t| match &t.source {
                    TimeSource::Log { base_url } => json!({
                        "time": format_rfc3339(t.time), "source": "tlog", "log": base_url,
                    }),
                    TimeSource::Tsa { subject } => json!({
                        "time": format_rfc3339(t.time), "source": "rfc3161", "tsa": subject,
                    }),
                }).collect::<Vec<_>>(),
                "signing_time_claimed": v.signing_time.map(format_rfc3339),
                "tlog": tlog,
                "sct_checked": v.sct_verified,
            })
        }
        Err(f) => json!({
            "verified": false,
            "object": {"type": kind, "id": id},
            "identity": f.identity,
            "failure": if f.kind() == FailureKind::Bad { "bad-signature" } else { "cannot-verify" },
            "reason": f.error.code(),
            "error": f.to_string(),
        }),
    }
}
