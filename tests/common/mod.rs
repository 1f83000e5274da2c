//! Shared helpers for binary-level tests: a scratch git repository with a cleared
//! environment, the real vectors, and the built `gitsign` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_gitsign");

pub fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/vectors/real")
}

/// One row of `tests/data/vectors/real/INDEX.tsv`.
#[derive(Debug, Clone)]
pub struct Vector {
    pub file: String,
    pub id: String,
    pub kind: &'static str,
    pub identity: String,
    pub issuer: String,
    pub embedded: bool,
    pub has_sct: bool,
}

impl Vector {
    pub fn raw(&self) -> Vec<u8> {
        std::fs::read(vectors_dir().join(&self.file)).unwrap()
    }
}

pub fn vectors() -> Vec<Vector> {
    let index = std::fs::read_to_string(vectors_dir().join("INDEX.tsv")).unwrap();
    let mut lines = index.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let file = f[col("file")].to_string();
            let (id, ext) = file.split_once('.').unwrap();
            Vector {
                id: id.to_string(),
                kind: if ext == "tag" { "tag" } else { "commit" },
                identity: f[col("signer_identity")]
                    .trim_start_matches("email:")
                    .to_string(),
                issuer: f[col("oidc_issuer")].to_string(),
                embedded: f[col("tlog_entry_embedded")] == "yes",
                has_sct: f[col("embedded_sct")] == "True",
                file,
            }
        })
        .collect()
}

/// A scratch repository and a home directory, with nothing of the user's config.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        let s = Scratch { dir };
        std::fs::create_dir_all(s.home()).unwrap();
        let out = s.git(&["init", "-q", "repo"], s.dir.path());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        s
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    /// A command with a cleared, deterministic environment. Rekor points at a closed port
    /// so nothing leaves the machine.
    pub fn command(&self, program: &str, cwd: &Path) -> Command {
        let mut c = Command::new(program);
        c.current_dir(cwd)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "T")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "T")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .env("GITSIGN_REKOR_URL", "http://127.0.0.1:9")
            .stdin(Stdio::null());
        c
    }

    pub fn git(&self, args: &[&str], cwd: &Path) -> Output {
        self.command("git", cwd).args(args).output().unwrap()
    }

    /// git with gitsign-rs as its X.509 program.
    pub fn git_x509(&self, args: &[&str]) -> Output {
        let program = format!("gpg.x509.program={BIN}");
        let mut all = vec!["-c", "gpg.format=x509", "-c", &program];
        all.extend_from_slice(args);
        self.git(&all, &self.repo())
    }

    pub fn gitsign(&self, args: &[&str]) -> Output {
        self.command(BIN, &self.repo()).args(args).output().unwrap()
    }

    /// Writes a vector into the object database as git stores it.
    pub fn load(&self, v: &Vector) -> String {
        let path = vectors_dir().join(&v.file);
        let out = self.git(
            &[
                "hash-object",
                "-t",
                v.kind,
                "-w",
                "--literally",
                path.to_str().unwrap(),
            ],
            &self.repo(),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let id = String::from_utf8(out.stdout).unwrap().trim().to_string();
        assert_eq!(id, v.id);
        id
    }
}

/// A binary of another workspace package, built here so it is never missing or stale
/// (`cargo test` builds only the package under test's own binaries). Once per test process.
pub fn workspace_binary(package: &str, name: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if !built.iter().any(|p| p == package) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = Command::new(cargo)
            .args(["build", "--quiet", "-p", package])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap()
            .success();
        assert!(ok, "cannot build {package}");
        built.push(package.to_string());
    }
    Path::new(BIN).with_file_name(name)
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
