//! `gitsign verify` over a history (ranges, several refs, `--all`, `--tags`): every commit
//! and annotated tag in scope, verified in parallel in batches (memory stays bounded whatever
//! the history's size), judged against a policy in walk order, reported in a stable order.
//!
//! Exit codes: 0 every object satisfies the policy, 1 a violation (or the history could not
//! be read), 2 usage or policy error, 3 trust material unusable.

use std::collections::{BTreeMap, HashSet};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::app::verify::{Context, Signed, verify_object};
use crate::app::{AppError, FAILED, OK};
use crate::cli::{OutputFormat, VerifyArgs};
use crate::core::git::gitobj::{self, HashAlgo, ObjectError, ObjectKind};
use crate::core::history::policy::{HistoryPolicy, MergeSide, SignerFacts, Since};
use crate::core::history::{Cutoff, Found, Judgement, Outcome, Place, SignatureFormat, judge};
use crate::core::time::{UnixTime, format_rfc3339, parse_rfc3339};
use crate::core::verify::policy::{IdentityPolicy, Policy};
use crate::core::verify::times::TimeSource;
use crate::core::verify::{Failure, Options, Proof, Verified, Verifier};
use crate::io::config::Settings;
use crate::io::git::Repo;
use crate::io::verdicts::Known;

/// Exit code: the trusted root cannot be read or used.
pub const TRUST_UNUSABLE: i32 = 3;

/// Objects verified together: enough to keep every core busy, few enough to bound memory.
const BATCH: usize = 512;

/// GitHub shows at most 10 annotations of a type per step; the rest go to the job summary.
const MAX_ANNOTATIONS: usize = 10;

/// One object's verdict: a line of `--output json` (schema: `schemas/verify-history.schema.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    #[serde(rename = "type")]
    kind: String,
    id: String,
    #[serde(rename = "ref")]
    ref_name: Option<String>,
    outcome: String,
    reason: Option<String>,
    message: String,
    signature: String,
    signer: Option<String>,
    identity: Option<String>,
    issuer: Option<String>,
    log_url: Option<String>,
    log_index: Option<u64>,
    /// The Rekor API version of the log (1 or 2).
    #[serde(default)]
    log_version: Option<u8>,
    trusted_time: Option<String>,
    time_source: Option<String>,
    trusted_times: Vec<TrustedTimeRecord>,
    shallow_boundary: bool,
    #[serde(default)]
    cached: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TrustedTimeRecord {
    time: String,
    source: String,
}

impl Record {
    fn times(&self) -> Vec<UnixTime> {
        self.trusted_times
            .iter()
            .filter_map(|t| parse_rfc3339(&t.time).ok())
            .collect()
    }
}

/// What checking one object found, before the policy (which needs walk order) judges it.
enum Check {
    Cached(Box<Record>),
    Unsigned,
    Malformed(String),
    Gitsign(Box<Result<Verified, Failure>>),
    Other {
        format: SignatureFormat,
        checked: Option<Result<String, String>>,
    },
}

struct Item {
    kind: ObjectKind,
    id: String,
    raw: Vec<u8>,
    parents: Vec<String>,
}

/// Everything a worker needs; shared by reference across threads.
struct Env<'a> {
    cx: Context<'a>,
    policy: &'a HistoryPolicy,
    policy_dir: PathBuf,
    algo: HashAlgo,
    verdicts: Option<&'a Known>,
}

fn check(item: &Item, ref_name: Option<&str>, env: &Env<'_>) -> Check {
    if let Some(v) = env.verdicts.and_then(|c| c.get(ref_name, &item.id))
        && let Ok(r) = serde_json::from_value::<Record>(v.clone())
    {
        return Check::Cached(Box::new(r));
    }
    let split = match item.kind {
        ObjectKind::Tag => gitobj::split_tag_any_format(&item.raw),
        ObjectKind::Commit => gitobj::split_commit(&item.raw, env.algo),
    };
    let split = match split {
        Ok(s) => s,
        Err(ObjectError::Unsigned { .. }) => return Check::Unsigned,
        Err(e) => return Check::Malformed(e.to_string()),
    };
    let format = SignatureFormat::of(&split.signature);
    match format {
        SignatureFormat::Gitsign => {
            let signed = Signed {
                kind: item.kind,
                id: Some(&item.id),
                payload: &split.payload,
                signature: &split.signature,
                algo: env.algo,
            };
            // The signer is judged by the history policy, after the verifier has proven it.
            Check::Gitsign(Box::new(verify_object(
                &signed,
                &env.cx,
                &Policy::AnyFulcioIdentity,
            )))
        }
        SignatureFormat::Ssh | SignatureFormat::OpenPgp => {
            let openpgp = format == SignatureFormat::OpenPgp;
            let rules = env.policy.key_rules(openpgp, ref_name);
            if rules.is_empty() {
                return Check::Other {
                    format,
                    checked: None,
                };
            }
            let mut last = String::new();
            for rule in rules {
                let file = env.policy_dir.join(&rule.file);
                let result = if openpgp {
                    crate::io::otherkeys::verify_openpgp(&file, &split.signature, &split.payload)
                } else {
                    crate::io::otherkeys::verify_ssh(&file, &split.signature, &split.payload)
                };
                match result {
                    Ok(who) => {
                        return Check::Other {
                            format,
                            checked: Some(Ok(format!("{} ({who})", rule.name))),
                        };
                    }
                    Err(e) => last = e,
                }
            }
            Check::Other {
                format,
                checked: Some(Err(last)),
            }
        }
        SignatureFormat::Unknown => Check::Other {
            format,
            checked: None,
        },
    }
}

fn trusted_times(v: &Verified) -> Vec<TrustedTimeRecord> {
    v.trusted_times
        .iter()
        .map(|t| TrustedTimeRecord {
            time: format_rfc3339(t.time),
            source: match t.source {
                TimeSource::Log { .. } => "tlog".into(),
                TimeSource::Tsa { .. } => "rfc3161".into(),
            },
        })
        .collect()
}

/// Judges a checked object in walk order and makes its record.
fn record(
    item: &Item,
    ref_name: Option<&str>,
    check: Check,
    policy: &HistoryPolicy,
    cutoff: Option<&mut Cutoff>,
) -> Record {
    // First-parent judging: merged-in commits are out of scope, so is their ancestry.
    let parents = match policy.merge_side {
        MergeSide::FirstParent => &item.parents[..item.parents.len().min(1)],
        MergeSide::All => &item.parents[..],
    };
    let own_times: Vec<UnixTime> = match &check {
        Check::Gitsign(v) => v
            .as_ref()
            .as_ref()
            .map_or(vec![], |v| v.trusted_times.iter().map(|t| t.time).collect()),
        Check::Cached(r) => r.times(),
        _ => vec![],
    };
    let before_cutoff = cutoff.is_some_and(|c| c.observe(&item.id, parents, &own_times));
    let place = Place {
        ref_name,
        is_merge: item.parents.len() > 1,
        before_cutoff,
    };
    let mut r = Record {
        kind: item.kind.name().into(),
        id: item.id.clone(),
        ref_name: ref_name.map(str::to_string),
        outcome: String::new(),
        reason: None,
        message: String::new(),
        signature: "none".into(),
        signer: None,
        identity: None,
        issuer: None,
        log_url: None,
        log_index: None,
        log_version: None,
        trusted_time: None,
        time_source: None,
        trusted_times: vec![],
        shallow_boundary: false,
        cached: false,
    };
    let judgement: Judgement = match check {
        Check::Cached(mut cached) => {
            cached.cached = true;
            return *cached;
        }
        Check::Unsigned => judge(policy, &place, Found::Unsigned),
        Check::Malformed(e) => {
            r.signature = "unknown".into();
            Judgement {
                outcome: Outcome::Violation,
                code: Some("malformed-object"),
                message: e,
                signer: None,
            }
        }
        Check::Gitsign(outcome) => {
            r.signature = "gitsign".into();
            match *outcome {
                Ok(v) => {
                    r.identity = Some(v.identity.clone());
                    r.issuer = v.issuer.clone();
                    if let Proof::EmbeddedEntry(e) | Proof::OnlineEntry(e) = &v.proof {
                        r.log_url = Some(e.base_url.clone());
                        r.log_index = Some(e.log_index);
                        r.log_version = Some(e.log_version());
                    }
                    r.trusted_times = trusted_times(&v);
                    if let Some(t) = r.trusted_times.first() {
                        r.trusted_time = Some(t.time.clone());
                        r.time_source = Some(t.source.clone());
                    }
                    judge(
                        policy,
                        &place,
                        Found::Gitsign(Ok(SignerFacts {
                            identity: &v.identity,
                            issuer: v.issuer.as_deref(),
                            trusted_times: &own_times,
                            github: &v.github,
                        })),
                    )
                }
                Err(f) => {
                    r.identity = f.identity.clone();
                    judge(
                        policy,
                        &place,
                        Found::Gitsign(Err((f.error.code(), f.to_string()))),
                    )
                }
            }
        }
        Check::Other { format, checked } => {
            r.signature = format.name().into();
            judge(policy, &place, Found::Other { format, checked })
        }
    };
    r.outcome = judgement.outcome.name().into();
    r.reason = judgement.code.map(str::to_string);
    r.message = judgement.message;
    r.signer = judgement.signer;
    r
}

/// Totals for the summary line, the table and `--output json`'s last record.
#[derive(Default)]
struct Totals {
    commits: usize,
    tags: usize,
    verified: usize,
    allowed: usize,
    violations: usize,
    cached: usize,
    reasons: BTreeMap<String, usize>,
    shallow: Vec<String>,
}

/// Where records go, in the chosen format.
struct Report {
    format: OutputFormat,
    verbose: bool,
    color: bool,
    out: std::io::BufWriter<std::io::Stdout>,
    totals: Totals,
    annotations: usize,
    /// Violations for `$GITHUB_STEP_SUMMARY` (GitHub output only).
    summary_rows: Vec<String>,
}

const MAX_SUMMARY_ROWS: usize = 1000;

impl Report {
    fn add(&mut self, r: &Record) -> std::io::Result<()> {
        let t = &mut self.totals;
        if r.kind == "tag" {
            t.tags += 1
        } else {
            t.commits += 1
        }
        match r.outcome.as_str() {
            "verified" => t.verified += 1,
            "allowed" => t.allowed += 1,
            _ => t.violations += 1,
        }
        if r.cached {
            t.cached += 1;
        }
        if r.outcome != "verified"
            && let Some(code) = &r.reason
        {
            *t.reasons.entry(code.clone()).or_default() += 1;
        }
        if r.shallow_boundary {
            t.shallow.push(r.id.clone());
        }
        let violation = r.outcome == "violation";
        match self.format {
            OutputFormat::Json => {
                serde_json::to_writer(&mut self.out, r)?;
                writeln!(self.out)?;
            }
            OutputFormat::Text => {
                if violation || self.verbose {
                    let (word, paint) = match r.outcome.as_str() {
                        "verified" => ("ok", "32"),
                        "allowed" => ("allowed", "33"),
                        _ => ("FAIL", "31"),
                    };
                    let word = if self.color {
                        format!("\x1b[{paint}m{word:<7}\x1b[0m")
                    } else {
                        format!("{word:<7}")
                    };
                    let reason = r
                        .reason
                        .as_deref()
                        .filter(|_| r.outcome != "verified")
                        .map(|c| format!("{c}: "))
                        .unwrap_or_default();
                    writeln!(
                        self.out,
                        "{word} {} {:<6} {} {reason}{}",
                        r.id,
                        r.kind,
                        r.ref_name.as_deref().unwrap_or("-"),
                        crate::app::report::printable(&r.message)
                    )?;
                }
            }
            OutputFormat::Github => {
                if violation {
                    let text = format!(
                        "{} {} ({}): {}",
                        r.kind,
                        r.id,
                        r.ref_name.as_deref().unwrap_or("-"),
                        r.message
                    );
                    if self.annotations < MAX_ANNOTATIONS {
                        writeln!(
                            self.out,
                            "::error title={}::{}",
                            escape_property(&format!(
                                "gitsign: {}",
                                r.reason.as_deref().unwrap_or("violation")
                            )),
                            escape_data(&text)
                        )?;
                    }
                    self.annotations += 1;
                    if self.summary_rows.len() < MAX_SUMMARY_ROWS {
                        self.summary_rows.push(format!(
                            "| `{}` | {} | {} | `{}` | {} |",
                            r.id,
                            r.kind,
                            markdown_cell(r.ref_name.as_deref().unwrap_or("-")),
                            r.reason.as_deref().unwrap_or("-"),
                            markdown_cell(&r.message)
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self, seconds: f64, exit_code: i32) -> std::io::Result<()> {
        let t = &self.totals;
        let objects = t.commits + t.tags;
        let headline = format!(
            "{objects} objects ({} commits, {} tags) in {seconds:.2} s: {} verified, {} allowed, {} violations{}",
            t.commits,
            t.tags,
            t.verified,
            t.allowed,
            t.violations,
            if t.cached > 0 {
                format!(" ({} from the cache)", t.cached)
            } else {
                String::new()
            }
        );
        let shallow = (!t.shallow.is_empty()).then(|| {
            format!(
                "the history stops at {} (shallow clone: their parents are not in this repository; fetch with --unshallow to verify further)",
                t.shallow.join(", ")
            )
        });
        match self.format {
            OutputFormat::Json => {
                let summary = serde_json::json!({
                    "type": "summary",
                    "objects": objects,
                    "commits": t.commits,
                    "tags": t.tags,
                    "verified": t.verified,
                    "allowed": t.allowed,
                    "violations": t.violations,
                    "cached": t.cached,
                    "reasons": t.reasons,
                    "shallow_boundary": t.shallow,
                    "seconds": (seconds * 1000.0).round() / 1000.0,
                    "exit_code": exit_code,
                });
                writeln!(self.out, "{summary}")?;
            }
            OutputFormat::Text => {
                writeln!(self.out, "gitsign: {headline}")?;
                if !t.reasons.is_empty() {
                    writeln!(self.out, "  {:<32} {:>8}", "reason", "count")?;
                    for (code, n) in &t.reasons {
                        writeln!(self.out, "  {code:<32} {n:>8}")?;
                    }
                }
                if let Some(s) = &shallow {
                    writeln!(self.out, "gitsign: {s}")?;
                }
            }
            OutputFormat::Github => {
                if self.annotations > MAX_ANNOTATIONS {
                    writeln!(
                        self.out,
                        "::error title={}::{}",
                        escape_property("gitsign: more violations"),
                        escape_data(&format!(
                            "{} more violations than annotations can show: see the job summary",
                            self.annotations - MAX_ANNOTATIONS
                        ))
                    )?;
                }
                if let Some(s) = &shallow {
                    writeln!(
                        self.out,
                        "::warning title={}::{}",
                        escape_property("gitsign: shallow clone"),
                        escape_data(s)
                    )?;
                }
                writeln!(
                    self.out,
                    "::notice title=gitsign::{}",
                    escape_data(&headline)
                )?;
                if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") {
                    let mut md = format!("## gitsign verify\n\n{headline}\n\n");
                    if let Some(s) = &shallow {
                        md.push_str(&format!("**Warning:** {s}\n\n"));
                    }
                    if !self.summary_rows.is_empty() {
                        md.push_str(
                            "| object | type | ref | reason | message |\n|---|---|---|---|---|\n",
                        );
                        for row in &self.summary_rows {
                            md.push_str(row);
                            md.push('\n');
                        }
                        if self.annotations > self.summary_rows.len() {
                            md.push_str(&format!(
                                "\n… and {} more (run with `--output json` for all)\n",
                                self.annotations - self.summary_rows.len()
                            ));
                        }
                    }
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&path)
                        .and_then(|mut f| f.write_all(md.as_bytes()))?;
                }
            }
        }
        self.out.flush()
    }
}

/// A workflow command's message: `%`, CR and LF escaped (GitHub's toolkit `escapeData`).
pub(crate) fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: also `:` and `,` (`escapeProperty`).
pub(crate) fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

fn markdown_cell(s: &str) -> String {
    crate::app::report::printable(s)
        .replace('|', "\\|")
        .replace('`', "'")
}

fn load_policy(args: &VerifyArgs) -> Result<(HistoryPolicy, PathBuf, Vec<u8>), AppError> {
    let flags = args.certificate_identity.is_some()
        || args.certificate_identity_regexp.is_some()
        || args.certificate_oidc_issuer.is_some()
        || args.certificate_oidc_issuer_regexp.is_some();
    match &args.policy {
        Some(_) if flags => Err(AppError::usage(
            "give either --policy FILE or the --certificate-* identity flags, not both",
        )),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                AppError::usage(format!("cannot read policy {}: {e}", path.display()))
            })?;
            let policy = HistoryPolicy::parse(&text)
                .map_err(|e| AppError::usage(format!("policy {}:{e}", path.display())))?;
            let dir = path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."));
            let mut digest = b"policy-file\n".to_vec();
            digest.extend_from_slice(text.as_bytes());
            Ok((policy, dir, digest))
        }
        None => {
            let p = IdentityPolicy::new(
                args.certificate_identity.as_deref(),
                args.certificate_identity_regexp.as_deref(),
                args.certificate_oidc_issuer.as_deref(),
                args.certificate_oidc_issuer_regexp.as_deref(),
            )
            .map_err(|e| {
                AppError::usage(format!(
                    "{e} (or give --policy FILE: a history needs to know who may sign)"
                ))
            })?;
            let digest = format!(
                "flags\n{:?}\n{:?}\n{:?}\n{:?}\n",
                args.certificate_identity,
                args.certificate_identity_regexp,
                args.certificate_oidc_issuer,
                args.certificate_oidc_issuer_regexp
            )
            .into_bytes();
            Ok((
                HistoryPolicy::one_signer(p.identity, p.issuer),
                PathBuf::from("."),
                digest,
            ))
        }
    }
}

fn cache_key(policy: &[u8], trust: &str, args: &VerifyArgs) -> String {
    use sha2::Digest;
    let mut d = sha2::Sha256::new();
    d.update(format!(
        "gitsign-rs {} verdicts 1\n",
        env!("CARGO_PKG_VERSION")
    ));
    d.update(crate::core::x509::keys::sha256(policy));
    d.update(trust.as_bytes());
    d.update(format!(
        "tlog={} sct={} offline={}",
        !args.insecure_ignore_tlog, !args.insecure_ignore_sct, args.offline
    ));
    crate::core::asn1::der::hex(&d.finalize()[..16])
}

fn io_failed(e: std::io::Error) -> AppError {
    AppError::failed(format!("cannot write the report: {e}"))
}

/// Objects of one walk start, in walk order.
struct Batch {
    start: usize,
    items: Vec<Item>,
}

/// Walks every start (each without what earlier starts reached) and sends its objects in
/// batches; stops when the receiver is gone.
fn read_batches(
    git_dir: &Path,
    starts: &[crate::io::git::Start],
    mut hidden: Vec<git2::Oid>,
    first_parent: bool,
    tx: &std::sync::mpsc::SyncSender<Result<Batch, String>>,
) -> Result<(), String> {
    let repo = Repo::open(git_dir)?;
    for (i, start) in starts.iter().enumerate() {
        let mut items: Vec<Item> = Vec::with_capacity(BATCH);
        // An annotated tag's own signature is judged first, under its ref.
        if let Some(tag) = start.tag {
            let raw = repo.read_tag_object(tag)?;
            items.push(Item {
                kind: ObjectKind::Tag,
                id: raw.id,
                raw: raw.raw,
                parents: vec![],
            });
        }
        for w in repo.walk(start.commit, &hidden, first_parent)? {
            let w = w?;
            items.push(Item {
                kind: ObjectKind::Commit,
                id: w.id.to_string(),
                raw: w.raw,
                parents: w.parents.iter().map(|p| p.to_string()).collect(),
            });
            if items.len() == BATCH {
                let full = std::mem::replace(&mut items, Vec::with_capacity(BATCH));
                if tx
                    .send(Ok(Batch {
                        start: i,
                        items: full,
                    }))
                    .is_err()
                {
                    return Ok(());
                }
            }
        }
        if !items.is_empty() && tx.send(Ok(Batch { start: i, items })).is_err() {
            return Ok(());
        }
        hidden.push(start.commit);
    }
    Ok(())
}

pub fn verify_history(args: &VerifyArgs) -> Result<i32, AppError> {
    let started = Instant::now();
    let (policy, policy_dir, policy_bytes) = load_policy(args)?;
    crate::io::git::limit_memory();
    let repo = Repo::discover().map_err(AppError::usage)?;
    let settings = Settings::load(Some(&repo.git_dir())).map_err(AppError::usage)?;
    let (trust, trust_digest) =
        crate::io::trust::load_with_digest(&settings, args.trusted_root.as_deref()).map_err(
            |e| AppError {
                message: format!("trust material unusable: {e}"),
                code: TRUST_UNUSABLE,
            },
        )?;
    let scope = repo
        .scope(&args.revs, args.all, args.tags)
        .map_err(AppError::usage)?;
    let since = match &policy.since {
        Some(Since::Commit(prefix)) => {
            Some(Since::Commit(repo.commit_id(prefix).map_err(|e| {
                AppError::usage(format!(
                    "the policy's since: {e} (in a shallow clone, fetch deeper)"
                ))
            })?))
        }
        other => other.clone(),
    };
    let (known, mut writer) = match &args.cache {
        Some(dir) => {
            let (k, w) =
                crate::io::verdicts::open(dir, &cache_key(&policy_bytes, &trust_digest, args))
                    .map_err(AppError::failed)?;
            (Some(k), Some(w))
        }
        None => (None, None),
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.unwrap_or(0))
        .build()
        .map_err(|e| AppError::failed(format!("cannot start worker threads: {e}")))?;
    let opts = Options {
        check_tlog: !args.insecure_ignore_tlog,
        require_sct: !args.insecure_ignore_sct,
    };
    // One verifier for the whole run: certificates shared by commits are proven once.
    let env = Env {
        cx: Context::new(&settings, Verifier::new(&trust, opts), args.offline),
        policy: &policy,
        policy_dir,
        algo: repo.hash_algo(),
        verdicts: known.as_ref(),
    };
    let stdout_tty = std::io::stdout().is_terminal();
    let mut report = Report {
        format: args.output,
        verbose: args.verbose,
        color: stdout_tty && std::env::var_os("NO_COLOR").is_none(),
        out: std::io::BufWriter::new(std::io::stdout()),
        totals: Totals::default(),
        annotations: 0,
        summary_rows: vec![],
    };
    let progress =
        (args.output == OutputFormat::Text && std::io::stderr().is_terminal()).then(|| {
            let pb = indicatif::ProgressBar::new_spinner();
            pb.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {pos} objects verified ({per_sec})",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            pb
        });
    let shallow: HashSet<git2::Oid> = repo.shallow_boundary().into_iter().collect();
    let mut cutoff = Cutoff::new(since);
    // A reader thread walks the history and reads the objects (with its own repository
    // handle: libgit2's are not shared across threads) while the workers verify the batch
    // before: reading is serial, so it must not leave the cores idle.
    let first_parent = policy.merge_side == MergeSide::FirstParent;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Batch, String>>(2);
    let git_dir = repo.git_dir();
    let starts = &scope.starts;
    let hidden = scope.hidden.clone();
    std::thread::scope(|threads| -> Result<(), AppError> {
        threads.spawn(move || {
            if let Err(e) = read_batches(&git_dir, starts, hidden, first_parent, &tx) {
                let _ = tx.send(Err(e));
            }
        });
        for batch in rx {
            let batch = batch.map_err(AppError::failed)?;
            let label = starts[batch.start].label.as_deref();
            let checks: Vec<Check> = pool.install(|| {
                batch
                    .items
                    .par_iter()
                    .map(|item| check(item, label, &env))
                    .collect()
            });
            for (item, c) in batch.items.iter().zip(checks) {
                let cut = (item.kind == ObjectKind::Commit).then_some(&mut cutoff);
                let mut r = record(item, label, c, &policy, cut);
                // Not from the cache: the same commit may since have been deepened.
                r.shallow_boundary = item.kind == ObjectKind::Commit
                    && git2::Oid::from_str(&item.id).is_ok_and(|o| shallow.contains(&o));
                if let Some(w) = writer.as_mut()
                    && !r.cached
                    && r.outcome == "verified"
                {
                    let v = serde_json::to_value(&r)
                        .map_err(|e| AppError::failed(format!("cannot record a verdict: {e}")))?;
                    w.put(&v).map_err(AppError::failed)?;
                }
                report.add(&r).map_err(io_failed)?;
            }
            if let Some(pb) = &progress {
                pb.inc(batch.items.len() as u64);
            }
            report.out.flush().map_err(io_failed)?;
            if let Some(w) = writer.as_mut() {
                w.flush().map_err(AppError::failed)?;
            }
        }
        Ok(())
    })?;
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    let code = if report.totals.violations > 0 {
        FAILED
    } else {
        OK
    };
    report
        .finish(started.elapsed().as_secs_f64(), code)
        .map_err(io_failed)?;
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_command_text_is_escaped_as_githubs_toolkit_does() {
        assert_eq!(escape_data("100% bad\r\nnext"), "100%25 bad%0D%0Anext");
        assert_eq!(escape_data("a: b, c"), "a: b, c", "data keeps : and ,");
        assert_eq!(escape_property("gitsign: a,b%\n"), "gitsign%3A a%2Cb%25%0A");
        // `%` first: an escape sequence in the input is not decoded by GitHub.
        assert_eq!(escape_data("%0A"), "%250A");
    }

    #[test]
    fn markdown_cells_cannot_break_the_table() {
        assert_eq!(markdown_cell("a|b`c"), "a\\|b'c");
        assert!(!markdown_cell("line\nbreak").contains('\n'));
    }
}
