//! `sigstore-stack generate-history --dir DIR --repo REPO --commits N [--shape own|shared]
//! [--run 50]`: a linear history of N commits signed as gitsign-rs signs them against a stack
//! serving DIR, made in-process and fast (benchmarks want 100,000 commits):
//!
//! - per commit (`own`), or per run of `--run` commits (`shared`, what a credential cache
//!   produces): an ephemeral P-256 key and a leaf from DIR's CA exactly as the stack's Fulcio
//!   issues it ([`Ca::issue_leaf`]: same extensions, SCT from DIR's CT log key), except that the
//!   precertificate is neither signed nor appended to `ctlog/precerts.pem`;
//! - the CMS signature from gitsign's own builder ([`gitsign::core::cms::builder`]) with the
//!   Rekor v1 hashedrekord entry embedded as gitsign's offline mode embeds it: SET, inclusion
//!   proof and signed checkpoint for the tree the entry was appended to, which is what the
//!   stack answers the upload with;
//! - the entries appended to `DIR/rekor/entries.jsonl`, so the stack serving DIR afterwards
//!   serves them (and `DIR/trusted_root.json` written if missing, placeholder URLs);
//! - commit objects (the empty tree, real parent links, author = committer = the identity)
//!   streamed into packs, `refs/heads/main` set to the last (continuing from it if it exists),
//!   then `git repack -adfq`: one pack with deltas between commits, as `git gc` leaves a
//!   repository (`-f`: without it git keeps the generated packs' whole objects as they are).
//!
//! Times: commit `i` at `start + i / 4` (four commits a second), the last a minute before now;
//! a certificate starts at its first commit's time (notBefore = integrated time to the second,
//! as in real objects) and lives ten minutes, like Fulcio's.
//!
//! Certificates are issued on `--jobs` threads ahead of the signing thread (their P-384
//! signature is the dearest step); the signing chain is sequential by nature: a commit's payload
//! names its parent, whose id covers the parent's signature.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::Instant;

use clap::{Args, ValueEnum};
use gitsign::core::asn1::pem;
use gitsign::core::cms::builder::{self, Signer};
use gitsign::core::git::gitobj::{self, HashAlgo, ObjectKind};
use gitsign::core::tlog::{self, InclusionProof, LogEntry};
use gitsign::core::x509::cert::Certificate;
use gitsign::core::x509::keys::sha256;

use crate::ca::{Ca, LEAF_LIFETIME, San};
use crate::keys::{Curve, SigningKey};
use crate::rekor::{Log, checkpoint_note};
use crate::{StackError, Urls, now};

/// Commits per second of generated time.
const RATE: i64 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shape {
    /// A key and certificate per commit (gitsign without a credential cache).
    Own,
    /// One key and certificate per run of `--run` commits (with a credential cache).
    Shared,
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::Own => "own",
            Shape::Shared => "shared",
        }
    }
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The stack directory whose CA, CT log and Rekor keys sign, and whose log records.
    #[arg(long)]
    dir: PathBuf,
    /// The repository (created if missing).
    #[arg(long)]
    repo: PathBuf,
    /// How many commits to add.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    commits: u64,
    #[arg(long, value_enum, default_value_t = Shape::Own)]
    shape: Shape,
    /// Commits per certificate in the shared shape.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
    run: u64,
    /// The identity certificates name (email, or a URI for a workload).
    #[arg(long, default_value = "dev@gitsign-rs.test")]
    identity: String,
    /// The OIDC issuer certificates name.
    #[arg(long, default_value = "https://oidc.sigstore-stack.test")]
    issuer: String,
    /// Author and committer name.
    #[arg(long, default_value = "Dev")]
    name: String,
    /// Threads issuing certificates (default: one per core).
    #[arg(long)]
    jobs: Option<usize>,
    /// Leave the packs as written, without deltas (no `git repack -adfq`).
    #[arg(long)]
    no_repack: bool,
}

/// A key and the certificate for it, as a signer holds them.
struct Credential {
    key: SigningKey,
    leaf: Certificate,
    leaf_pem: String,
}

fn git_err(e: git2::Error) -> StackError {
    StackError::Git(e.message().to_string())
}

pub fn run(args: &GenerateArgs) -> Result<(), StackError> {
    let started = Instant::now();
    let dir = crate::prepare_dir(&args.dir)?;
    let _lock = crate::lock_dir(&dir)?;
    let keys = dir.join("keys");
    let ca = Ca::load_or_create(&dir.join("ca"), now())?;
    let ctlog = SigningKey::load_or_generate(&keys.join("ctlog.p8"), Curve::P256)?;
    let rekor = SigningKey::load_or_generate(&keys.join("rekor.p8"), Curve::P256)?;
    let root_path = dir.join("trusted_root.json");
    if !root_path.exists() {
        let urls = Urls {
            oidc: args.issuer.clone(),
            fulcio: "http://127.0.0.1".into(),
            rekor: "http://127.0.0.1".into(),
        };
        let root = crate::trusted_root(&ca, &ctlog, &rekor, &urls);
        crate::write_file(
            &root_path,
            &serde_json::to_string_pretty(&root).unwrap_or_default(),
        )?;
    }
    let mut log = Log::open(&dir.join("rekor"))?;
    let first_index = log.size();

    let repo = open_repo(&args.repo)?;
    let parent = repo.refname_to_id("refs/heads/main").ok();
    let tree = repo
        .treebuilder(None)
        .and_then(|b| b.write())
        .map_err(git_err)?;

    let n = args.commits;
    let run = match args.shape {
        Shape::Own => 1,
        Shape::Shared => args.run,
    };
    let groups = n.div_ceil(run);
    let span = i64::try_from(n).unwrap_or(i64::MAX) / RATE + 1;
    let start = now() - 60 - span;
    if start < ca.not_before {
        return Err(StackError::State {
            path: dir.join("ca"),
            what: "the CA is too young for this many commits at four a second (it was back-dated one day when made)",
        });
    }
    let time = |i: u64| start + i64::try_from(i).unwrap_or(i64::MAX) / RATE;
    let san = if args.identity.contains("://") {
        San::Uri(args.identity.clone())
    } else {
        San::Email(args.identity.clone())
    };
    let issue = |g: u64| -> Result<Credential, StackError> {
        let key = SigningKey::ephemeral(Curve::P256)?;
        let der = ca.issue_leaf(
            key.spki_der(),
            &san,
            &args.issuer,
            &ctlog,
            time(g * run),
            LEAF_LIFETIME,
        )?;
        let leaf = Certificate::from_der(&der)
            .map_err(|_| StackError::Crypto("an issued leaf does not parse"))?;
        Ok(Credential {
            key,
            leaf_pem: pem::encode("CERTIFICATE", &der),
            leaf,
        })
    };
    let workers = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1) as u64;
    let log_id = sha256(rekor.spki_der());
    let person = format!("{} <{}>", args.name, args.identity);

    let (repo, head) = std::thread::scope(|scope| -> Result<_, StackError> {
        // Worker w issues the certificates of groups w, w + workers, ...: received in order
        // from the channels in turn, at most a few dozen ahead.
        let mut credentials = Vec::new();
        for w in 0..workers {
            let (tx, rx) = mpsc::sync_channel(32);
            credentials.push(rx);
            let issue = &issue;
            scope.spawn(move || {
                let mut g = w;
                while g < groups && tx.send(issue(g)).is_ok() {
                    g += workers;
                }
            });
        }
        let (objects, received) = mpsc::sync_channel::<Vec<u8>>(256);
        let writer = scope.spawn(move || -> Result<git2::Repository, git2::Error> {
            write_packed(&repo, n, received)?;
            Ok(repo)
        });

        let mut parent = parent.map(|p| p.to_string());
        let mut cred: Option<Credential> = None;
        for i in 0..n {
            if i % run == 0 {
                let g = i / run;
                let next = credentials[(g % workers) as usize]
                    .recv()
                    .map_err(|_| StackError::Crypto("a certificate worker stopped"))??;
                cred = Some(next);
            }
            let Some(c) = cred.as_ref() else {
                return Err(StackError::Crypto("no credential"));
            };
            let t = time(i);
            let mut payload = format!("tree {tree}\n");
            if let Some(p) = &parent {
                payload.push_str(&format!("parent {p}\n"));
            }
            payload.push_str(&format!(
                "author {person} {t} +0000\ncommitter {person} {t} +0000\n\nGenerated commit {} of {n} ({} certificate)\n",
                i + 1,
                args.shape.name()
            ));
            let raw = sign_commit(payload.as_bytes(), t, c, &rekor, &log_id, &mut log)?;
            let id = HashAlgo::Sha1.object_id(ObjectKind::Commit, &raw);
            if objects.send(raw).is_err() {
                break; // the writer failed: its error is reported below
            }
            parent = Some(id);
        }
        drop(objects);
        let repo = writer
            .join()
            .map_err(|_| StackError::Git("the object writer panicked".into()))?
            .map_err(git_err)?;
        Ok((repo, parent))
    })?;
    log.sync()?;

    let head = head.ok_or(StackError::Crypto("no commit made"))?;
    let oid = git2::Oid::from_str(&head).map_err(git_err)?;
    repo.reference(
        "refs/heads/main",
        oid,
        true,
        "sigstore-stack generate-history",
    )
    .map_err(git_err)?;
    let generated = started.elapsed().as_secs_f64();
    if !args.no_repack {
        let status = Command::new("git")
            .arg("-C")
            .arg(repo.path())
            .args(["repack", "-adfq"])
            .status()
            .map_err(|e| StackError::Git(format!("cannot run git repack: {e}")))?;
        if !status.success() {
            return Err(StackError::Git(format!("git repack -adfq: {status}")));
        }
    }
    println!(
        "generated {n} commits ({} shape, {groups} certificates) in {generated:.1} s{}: {} main = {head}; log {} entries {first_index}..{}",
        args.shape.name(),
        if args.no_repack {
            String::new()
        } else {
            format!(
                ", repacked in {:.1} s",
                started.elapsed().as_secs_f64() - generated
            )
        },
        args.repo.display(),
        dir.join("rekor").display(),
        log.size() - 1
    );
    Ok(())
}

/// Objects per pack written.
const PACK_CHUNK: u64 = 10_000;

/// Streams the `n` commits received into packs of [`PACK_CHUNK`] objects (undeltified, zlib
/// at git's default level) that libgit2 indexes into the object database as they come.
/// Loose objects would be 100,000 files, and the file system's inode allocation would then
/// cost more than everything else; libgit2's own pack builder spends its time on deltas,
/// which `git repack -f` finds afterwards.
fn write_packed(
    repo: &git2::Repository,
    n: u64,
    received: mpsc::Receiver<Vec<u8>>,
) -> Result<(), git2::Error> {
    use std::io::Write as _;
    let io = |e: std::io::Error| git2::Error::from_str(&format!("cannot write a pack: {e}"));
    let odb = repo.odb()?;
    let mut received = received.into_iter();
    // One compressor for all objects: a fresh zlib state per object costs more than its data.
    let mut zlib = flate2::Compress::new(flate2::Compression::default(), true);
    let mut done = 0;
    while done < n {
        let count = PACK_CHUNK.min(n - done);
        let mut pack = odb.packwriter()?;
        let mut sha1 = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
        let mut bytes = Vec::with_capacity(8 << 10);
        bytes.extend_from_slice(b"PACK");
        bytes.extend_from_slice(&2u32.to_be_bytes());
        bytes.extend_from_slice(&(count as u32).to_be_bytes());
        for _ in 0..count {
            // The sender stops early only on an error of its own, which it reports.
            let Some(raw) = received.next() else {
                return Ok(());
            };
            // Type 1 (commit) and the size: 4 bits, then 7 per byte, low bits first.
            let mut size = raw.len();
            let mut byte = 0x10 | (size & 0x0f) as u8;
            size >>= 4;
            while size > 0 {
                bytes.push(byte | 0x80);
                byte = (size & 0x7f) as u8;
                size >>= 7;
            }
            bytes.push(byte);
            bytes.reserve(raw.len() + raw.len() / 8 + 64);
            let status = zlib
                .compress_vec(&raw, &mut bytes, flate2::FlushCompress::Finish)
                .map_err(|e| io(e.into()))?;
            if status != flate2::Status::StreamEnd {
                return Err(git2::Error::from_str("zlib did not finish an object"));
            }
            zlib.reset();
            sha1.update(&bytes);
            pack.write_all(&bytes).map_err(io)?;
            bytes.clear();
        }
        pack.write_all(sha1.finish().as_ref()).map_err(io)?;
        pack.commit()?;
        done += count;
    }
    Ok(())
}

fn open_repo(path: &Path) -> Result<git2::Repository, StackError> {
    match git2::Repository::open(path) {
        Ok(r) => Ok(r),
        Err(e) if e.code() == git2::ErrorCode::NotFound => {
            fs::create_dir_all(path).map_err(|source| StackError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            git2::Repository::init_opts(
                path,
                git2::RepositoryInitOptions::new().initial_head("main"),
            )
            .map_err(git_err)
        }
        Err(e) => Err(git_err(e)),
    }
}

fn crypto<E>(what: &'static str) -> impl FnOnce(E) -> StackError {
    move |_| StackError::Crypto(what)
}

/// The commit object `payload` becomes once gitsign-rs signs it at time `t` with `cred` in
/// offline mode against a stack whose log is `log` (which the entry is appended to).
fn sign_commit(
    payload: &[u8],
    t: i64,
    cred: &Credential,
    rekor: &SigningKey,
    log_id: &[u8; 32],
    log: &mut Log,
) -> Result<Vec<u8>, StackError> {
    // What app::sign does: signed attributes, the key's signature, the hashedrekord body.
    let signed_attrs = builder::signed_attributes(&sha256(payload), t)
        .map_err(crypto("signing time out of range"))?;
    let signature = cred.key.sign_der(&signed_attrs)?;
    let body = tlog::hashedrekord_body(&sha256(&signed_attrs), &signature, &cred.leaf_pem);
    // What the stack's Rekor does on upload (rekor::create_entry, entry_json).
    let index = log.size();
    let set = rekor.sign_der(
        &tlog::set_payload(&body, t, log_id, index as u64).map_err(crypto("SET payload"))?,
    )?;
    log.append(body, t, set.clone(), false)?;
    let size = index + 1;
    let root = log.tree().root(size);
    let entry = LogEntry {
        log_index: index as u64,
        log_id: log_id.to_vec(),
        kind: "hashedrekord".into(),
        version: "0.0.1".into(),
        integrated_time: t,
        signed_entry_timestamp: Some(set),
        inclusion_proof: Some(InclusionProof {
            log_index: index as u64,
            root_hash: root.to_vec(),
            tree_size: size as u64,
            hashes: log
                .tree()
                .audit_path(index, size)
                .iter()
                .map(|h| h.to_vec())
                .collect(),
            checkpoint: Some(checkpoint_note(log.tree_id, size, &root, rekor)?),
        }),
        canonicalized_body: None,
    };
    // And what app::sign assembles from the entry.
    let attr = builder::tlog_entry_attribute(&entry).map_err(crypto("log entry encoding"))?;
    let der = builder::assemble(&Signer {
        certificates: &[cred.leaf.der()],
        issuer: cred.leaf.issuer_raw(),
        serial: cred.leaf.serial(),
        signed_attrs: &signed_attrs,
        signature: &signature,
        unsigned_attrs: &[attr],
    });
    let pem = pem::encode("SIGNED MESSAGE", &der);
    gitobj::join(ObjectKind::Commit, payload, pem.as_bytes(), HashAlgo::Sha1)
        .map_err(crypto("payload without a header end"))
}
