//! Verification speed. Prints figures and ratios; run with `scripts/bench` (release build).
//!
//! 1. One `gitsign --status-fd=1 --verify SIG -` call on an embedded-entry commit, as git
//!    makes it: process start included, 200 runs, median and p90. Target: under 3 ms. In the
//!    same run, when `scripts/bench` prepared it (`BENCH_GPGSM_SIG`, `BENCH_GPGSM_PAYLOAD`,
//!    `GNUPGHOME`), the same call to gpgsm, git's default X.509 verifier, on a commit it
//!    signed, and the ratio.
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

/// Median, p90 and min in ms of `RUNS` calls of `program --status-fd=1 --verify SIG -` with
/// `payload` on stdin, after 10 warm-up calls (they warm the page cache); each must print
/// GOODSIG.
fn time_verify_calls(
    program: &Path,
    sig: &Path,
    payload: &[u8],
    dir: &Path,
    env: &[(&str, &std::ffi::OsStr)],
) -> (f64, f64, f64) {
    let mut times = Vec::with_capacity(RUNS);
    for i in 0..RUNS + 10 {
        let start = Instant::now();
        let mut cmd = Command::new(program);
        cmd.args(["--status-fd=1", "--verify", sig.to_str().unwrap(), "-"])
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        child.stdin.take().unwrap().write_all(payload).unwrap();
        let out = child.wait_with_output().unwrap();
        let elapsed = start.elapsed();
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("GOODSIG"),
            "{}: {}",
            program.display(),
            String::from_utf8_lossy(&out.stdout)
        );
        if i >= 10 {
            times.push(elapsed);
        }
    }
    times.sort();
    (
        percentile(&times, 0.5),
        percentile(&times, 0.9),
        percentile(&times, 0.0),
    )
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

    let none = dir.path().join("none");
    let env: [(&str, &std::ffi::OsStr); 3] = [
        ("GIT_DIR", none.as_os_str()),
        ("GIT_CONFIG_NOSYSTEM", "1".as_ref()),
        ("GIT_CONFIG_GLOBAL", "/dev/null".as_ref()),
    ];
    let (median, p90, min) = time_verify_calls(bin, &sig, &obj.payload, dir.path(), &env);
    println!(
        "verify-call: median {median:.2} ms, p90 {p90:.2} ms, min {min:.2} ms over {RUNS} runs (process start included)"
    );
    println!(
        "verify-call: {:.2}x the {TARGET_MS} ms target",
        median / TARGET_MS
    );
    match (
        std::env::var_os("BENCH_GPGSM_SIG"),
        std::env::var_os("BENCH_GPGSM_PAYLOAD"),
    ) {
        (Some(gsig), Some(gpayload)) => {
            let gpayload = std::fs::read(gpayload).unwrap();
            let (g_median, g_p90, g_min) = time_verify_calls(
                Path::new("gpgsm"),
                Path::new(&gsig),
                &gpayload,
                dir.path(),
                &[],
            );
            println!(
                "gpgsm verify-call (same run, a gpgsm-signed commit, local CA): median {g_median:.2} ms, p90 {g_p90:.2} ms, min {g_min:.2} ms over {RUNS} runs"
            );
            println!(
                "verify-call: gitsign-rs / gpgsm = {:.2} (medians; below 1 is faster)",
                median / g_median
            );
        }
        _ => println!("gpgsm: not measured (scripts/bench prepares it)"),
    }

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

    // The same objects through one verifier per options set, as a history run has it: each
    // certificate's chain and SCT are proven once and remembered (core::verify::certificate).
    let verifiers: Vec<Verifier<'_>> = options.iter().map(|o| Verifier::new(trust, *o)).collect();
    let start = Instant::now();
    let mut shared = 0;
    for _ in 0..rounds {
        for (((name, kind, raw), _), verifier) in all.iter().zip(&options).zip(&verifiers) {
            let obj = gitobj::split(*kind, raw, HashAlgo::Sha1).unwrap();
            let checked = verifier.check(&obj.payload, &obj.signature).unwrap();
            verifier
                .verify(&checked, Log::Embedded, &Policy::AnyFulcioIdentity)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            shared += 1;
        }
    }
    let shared_secs = start.elapsed().as_secs_f64();
    println!(
        "in-process, certificates remembered across rounds: {shared} verifications in {shared_secs:.3} s = {:.0} objects/s; {:.2}x the fresh-verifier figure",
        shared as f64 / shared_secs,
        secs / shared_secs
    );
}
