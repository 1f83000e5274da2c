//! Corrupt any byte of a good signature: it must be rejected. For every embedded-entry
//! vector, every byte of the payload and every byte of the CMS signature (which carries the
//! certificate, the signed attributes, the signature and the embedded Rekor entry with its
//! proofs) is flipped in turn and handed to the real binary in git's verify mode. Each run
//! must exit 1 with BADSIG or ERRSIG, never GOODSIG, never a crash.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{BIN, text, vectors};
use gitsign::core::{asn1::pem, git::gitobj};

struct Case {
    payload: Vec<u8>,
    signature_pem: Vec<u8>,
}

fn run(dir: &std::path::Path, n: usize, case: &Case) -> (Option<i32>, String, String) {
    let sig = dir.join(format!("sig{n}"));
    std::fs::write(&sig, &case.signature_pem).unwrap();
    let mut child = Command::new(BIN)
        .args(["--status-fd=1", "--verify", sig.to_str().unwrap(), "-"])
        .current_dir(dir)
        .env_clear()
        .env("HOME", dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_DIR", dir.join("no-repo"))
        .env("GITSIGN_REKOR_URL", "http://127.0.0.1:9")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&case.payload)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

fn check_all_mutations(file: &str) -> usize {
    let v = vectors().into_iter().find(|v| v.file == file).unwrap();
    let kind = if v.kind == "tag" {
        gitobj::ObjectKind::Tag
    } else {
        gitobj::ObjectKind::Commit
    };
    let obj = gitobj::split(kind, &v.raw(), gitobj::HashAlgo::Sha1).unwrap();
    let der = pem::decode_one(&obj.signature, "SIGNED MESSAGE").unwrap();
    let dir = tempfile::tempdir().unwrap();

    // The unmodified object verifies: the test can fail.
    let good = Case {
        payload: obj.payload.clone(),
        signature_pem: obj.signature.clone(),
    };
    let (code, stdout, stderr) = run(dir.path(), 0, &good);
    assert_eq!(
        code,
        Some(0),
        "{file} must verify unmodified: {stdout}{stderr}"
    );
    assert!(stdout.contains("\n[GNUPG:] GOODSIG "));

    let mut cases = Vec::new();
    for i in 0..obj.payload.len() {
        let mut p = obj.payload.clone();
        p[i] ^= 0x01;
        cases.push((
            format!("payload byte {i}"),
            Case {
                payload: p,
                signature_pem: obj.signature.clone(),
            },
        ));
    }
    for i in 0..der.len() {
        let mut d = der.clone();
        d[i] ^= 0x01;
        cases.push((
            format!("signature byte {i} of {}", der.len()),
            Case {
                payload: obj.payload.clone(),
                signature_pem: pem::encode("SIGNED MESSAGE", &d).into_bytes(),
            },
        ));
    }
    let total = cases.len();
    let chunks: Vec<Vec<(String, Case)>> = {
        let mut a = Vec::new();
        let mut b = Vec::new();
        for (n, c) in cases.into_iter().enumerate() {
            if n % 2 == 0 { a.push(c) } else { b.push(c) }
        }
        vec![a, b]
    };
    std::thread::scope(|scope| {
        for (t, chunk) in chunks.iter().enumerate() {
            let dir = dir.path();
            scope.spawn(move || {
                for (what, case) in chunk {
                    let (code, stdout, stderr) = run(dir, t + 1, case);
                    assert_eq!(
                        code,
                        Some(1),
                        "{file}: {what} was not rejected: {stdout}{stderr}"
                    );
                    assert!(!stdout.contains("GOODSIG"), "{file}: {what}: {stdout}");
                    assert!(
                        stdout.starts_with("[GNUPG:] NEWSIG\n"),
                        "{file}: {what}: {stdout}"
                    );
                    assert!(
                        stdout.contains("\n[GNUPG:] BADSIG ")
                            || stdout.contains("\n[GNUPG:] ERRSIG "),
                        "{file}: {what}: {stdout}"
                    );
                    assert!(!stderr.contains("panicked"), "{file}: {what}: {stderr}");
                }
            });
        }
    });
    total
}

#[test]
fn every_flipped_byte_of_an_offline_mode_commit_is_rejected() {
    let n = check_all_mutations("fe1e62346d3c346a343d089e8b4c3fb57716bc94.commit");
    assert!(n > 2000, "{n}");
}

#[test]
fn every_flipped_byte_of_an_offline_mode_tag_is_rejected() {
    let n = check_all_mutations("138f9d7cb3097a5f04192621a186e54f86390df0.tag");
    assert!(n > 2000, "{n}");
}

#[test]
fn every_flipped_byte_of_an_older_shard_commit_is_rejected() {
    let n = check_all_mutations("529ee14c05ac4640c599d6b34298b940d8a977f3.commit");
    assert!(n > 2000, "{n}");
}
