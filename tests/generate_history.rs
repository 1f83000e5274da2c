//! `sigstore-stack generate-history` (the benchmark histories): what it writes verifies with
//! gitsign-rs against the trusted root in the stack directory, both as a history
//! (`gitsign verify --all`) and through git (`git verify-commit` with gitsign-rs as its X.509
//! program); the shared shape reuses certificates; and the stack serving that directory
//! afterwards serves the entries the commits embed, under the same tree head.

mod common;

use std::collections::HashSet;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use common::{BIN, Scratch, text, workspace_binary};
use gitsign::core::asn1::pem;
use gitsign::core::cms;
use gitsign::core::git::gitobj::{self, HashAlgo};
use gitsign::core::sigstore::trust::TrustedRoot;
use gitsign::core::tlog::{self, LogEntry};

const IDENTITY: &str = "dev@gitsign-rs.test";
const ISSUER: &str = "https://oidc.sigstore-stack.test";

/// The certificate and the embedded log entry of a commit's signature.
fn signature_parts(s: &Scratch, repo: &Path, rev: &str) -> (Vec<u8>, LogEntry) {
    let out = s.git(&["cat-file", "commit", rev], repo);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let split = gitobj::split_commit(&out.stdout, HashAlgo::Sha1).unwrap();
    let der = pem::decode_one(&split.signature, "SIGNED MESSAGE").unwrap();
    let sd = cms::parse(&der, cms::Profile::Gitsign).unwrap();
    assert_eq!(sd.certificates.len(), 1, "gitsign carries the leaf only");
    let entry = tlog::decode_transparency_log_entry(sd.signer.tlog_entry().unwrap()).unwrap();
    (sd.certificates[0].to_vec(), entry)
}

#[test]
fn generated_histories_of_both_shapes_verify_and_their_entries_are_served() {
    let s = Scratch::new();
    let stack_bin = workspace_binary("sigstore-stack", "sigstore-stack");
    let dir = s.dir.path().join("stack");
    let trusted_root = dir.join("trusted_root.json");
    // Both histories in one log: 20 + 20 entries.
    for (shape, certificates) in [("own", 20), ("shared", 3)] {
        let repo = s.dir.path().join(shape);
        let out = s
            .command(stack_bin.to_str().unwrap(), s.dir.path())
            .args(["generate-history", "--commits", "20", "--run", "8"])
            .args(["--shape", shape, "--identity", IDENTITY, "--issuer", ISSUER])
            .arg("--dir")
            .arg(&dir)
            .arg("--repo")
            .arg(&repo)
            .output()
            .unwrap();
        assert!(out.status.success(), "{shape}: {}", text(&out.stderr));

        let out = s
            .command(BIN, &repo)
            .args([
                "verify",
                "--output",
                "json",
                "--certificate-identity",
                IDENTITY,
            ])
            .args(["--certificate-oidc-issuer", ISSUER, "--trusted-root"])
            .arg(&trusted_root)
            .arg("--all")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{shape}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        let stdout = text(&out.stdout);
        let summary: serde_json::Value =
            serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
        assert_eq!(summary["type"], "summary");
        assert_eq!(
            (summary["objects"].as_u64(), summary["verified"].as_u64()),
            (Some(20), Some(20)),
            "{shape}: {stdout}"
        );

        let ids = text(&s.git(&["rev-list", "main"], &repo).stdout);
        let ids: Vec<&str> = ids.lines().collect();
        assert_eq!(
            ids.len(),
            20,
            "{shape}: a linear history from the first commit"
        );
        let leaves: HashSet<Vec<u8>> = ids
            .iter()
            .map(|id| signature_parts(&s, &repo, id).0)
            .collect();
        assert_eq!(leaves.len(), certificates, "{shape}");

        // git's own verification, the trusted root from git config.
        let program = format!("gpg.x509.program={BIN}");
        let root_config = format!("gitsign.trustedRoot={}", trusted_root.display());
        let out = s.git(
            &[
                "-c",
                &program,
                "-c",
                &root_config,
                "verify-commit",
                "main~3",
            ],
            &repo,
        );
        assert!(out.status.success(), "{shape}: {}", text(&out.stderr));
    }

    // The stack serving the directory has the 40 entries; the last commit's embedded entry
    // is the one it serves at that index, proven against the same tree head.
    let mut child = Command::new(&stack_bin)
        .arg("--dir")
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let urls: Vec<String> = (0..3).map(|_| lines.next().unwrap().unwrap()).collect();
    let rekor = urls[2].strip_prefix("rekor ").unwrap().to_string();
    gitsign::io::rekor::install_crypto_provider();
    let client = reqwest::blocking::Client::new();
    let get = |path: &str| -> serde_json::Value {
        let body = client
            .get(format!("{rekor}{path}"))
            .send()
            .unwrap()
            .bytes()
            .unwrap();
        serde_json::from_slice(&body).unwrap()
    };
    let info = get("/api/v1/log");
    let (_, embedded) = signature_parts(&s, &s.dir.path().join("shared"), "main");
    assert_eq!(info["treeSize"], 40);
    assert_eq!(embedded.log_index, 39);
    let proof = embedded.inclusion_proof.as_ref().unwrap();
    assert_eq!(proof.tree_size, 40);
    assert_eq!(info["rootHash"], gitobj::hex(&proof.root_hash));
    let served = get("/api/v1/log/entries?logIndex=39");
    let served = served.as_object().unwrap().values().next().unwrap();
    let entry = tlog::entry_from_rekor_json(served).unwrap();
    assert_eq!(
        entry.signed_entry_timestamp,
        embedded.signed_entry_timestamp
    );
    assert_eq!(entry.inclusion_proof.as_ref().unwrap().hashes, proof.hashes);
    let root = TrustedRoot::from_json(&std::fs::read(&trusted_root).unwrap()).unwrap();
    let body = entry.canonicalized_body.clone().unwrap();
    tlog::verify_entry(&entry, &body, &tlog::trusted_log_keys(&root)).unwrap();
    let _ = child.kill();
    let _ = child.wait();
}
