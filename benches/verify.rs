//! Verification speed. Prints figures and ratios; run with `scripts/bench` (release build).
//!
//! 1. One `gitsign --status-fd=1 --verify SIG -` call on an embedded-entry commit, as git
//!    makes it: process start included, 200 runs, median and p90. Target: under 3 ms (git's
//!    default X.509 verifier, gpgsm, costs about 4 ms per commit).
//! 2. Throughput of verifying all the real vectors in one process (the core, offline; the
//!    online-mode ones are verified with the log check skipped, since their proofs are
//!    only in the public Rekor).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gitsign::core::git::gitobj::{self, HashAlgo, ObjectKind};
use gitsign::core::sigstore::trust::TrustedRoot;
use gitsign::core::verify::policy::Policy;
use gitsign::core::verify::{Log, Options, Verifier};

const RUNS: usize = 200;
const TARGET_MS: f64 = 3.0;
const GPGSM_MS: f64 = 4.0;

fn vectors() -> Vec<(String, ObjectKind, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/vectors/real");
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let kind = match p.extension().and_then(|e| e.to_str()) {
            Some("commit") => ObjectKind::Commit,
            Some("tag") => ObjectKind::Tag,
            _ => continue,
        };
        out.push((
            p.file_name().unwrap().to_string_lossy().into_owned(),
            kind,
            std::fs::read(&p).unwrap(),
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1000.0
}

fn main() {
    // `cargo test --all-targets` runs bench targets without `--bench`: nothing to measure then.
    if !std::env::args().any(|a| a == "--bench") {
        println!("benches/verify.rs: run `scripts/bench` to measure");
        return;
    }
    // The binary cargo built for this bench run (bench profile, in CARGO_TARGET_DIR if set).
    let bin = Path::new(env!("CARGO_BIN_EXE_gitsign"));
    assert!(bin.exists(), "build first: cargo build --release");
    let all = vectors();
    let (_, kind, raw) = all
        .iter()
        .find(|(n, ..)| n.starts_with("fe1e6234"))
        .unwrap();
    let obj = gitobj::split(*kind, raw, HashAlgo::Sha1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sig = dir.path().join("sig");
    std::fs::write(&sig, &obj.signature).unwrap();

    let mut times = Vec::with_capacity(RUNS);
    for i in 0..RUNS + 10 {
        let start = Instant::now();
        let mut child = Command::new(bin)
            .args(["--status-fd=1", "--verify", sig.to_str().unwrap(), "-"])
            .current_dir(dir.path())
            .env("GIT_DIR", dir.path().join("none"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&obj.payload).unwrap();
        let out = child.wait_with_output().unwrap();
        let elapsed = start.elapsed();
        assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("GOODSIG"));
        if i >= 10 {
            times.push(elapsed); // the first 10 warm the page cache
        }
    }
    times.sort();
    let median = percentile(&times, 0.5);
    println!(
        "verify-call: median {median:.2} ms, p90 {:.2} ms, min {:.2} ms over {RUNS} runs (process start included)",
        percentile(&times, 0.9),
        percentile(&times, 0.0)
    );
    println!(
        "verify-call: {:.2}x the {TARGET_MS} ms target; {:.2}x gpgsm's ~{GPGSM_MS} ms per commit",
        median / TARGET_MS,
        median / GPGSM_MS
    );

    let trust = TrustedRoot::production();
    // Online-mode vectors are verified with the log check skipped (their proofs are in the
    // public Rekor only).
    let options: Vec<Options> = all
        .iter()
        .map(|(_, kind, raw)| {
            let obj = gitobj::split(*kind, raw, HashAlgo::Sha1).unwrap();
            let checked = Verifier::new(trust, Options::default())
                .check(&obj.payload, &obj.signature)
                .unwrap();
            Options {
                check_tlog: checked.embedded_entry.is_some(),
                require_sct: false,
            }
        })
        .collect();
    let rounds = 50;
    let start = Instant::now();
    let mut verified = 0;
    for _ in 0..rounds {
        for ((name, kind, raw), opts) in all.iter().zip(&options) {
            let obj = gitobj::split(*kind, raw, HashAlgo::Sha1).unwrap();
            // A fresh verifier per object, as one `gitsign --verify` process has: nothing
            // remembered from the previous object.
            let verifier = Verifier::new(trust, *opts);
            let checked = verifier.check(&obj.payload, &obj.signature).unwrap();
            verifier
                .verify(&checked, Log::Embedded, &Policy::AnyFulcioIdentity)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            verified += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "in-process: {verified} verifications of {} vectors in {secs:.3} s = {:.0} objects/s ({:.3} ms each)",
        all.len(),
        verified as f64 / secs,
        secs * 1000.0 / verified as f64
    );
}
