//! A scratch repository signing against the local Sigstore stack: git with gitsign-rs as
//! its X.509 program and the stack's URLs and trust root in its environment.
#![allow(dead_code)]

use std::process::{Command, Output};

use crate::common::{BIN, Scratch, text};
use crate::stack::Stack;

pub struct Signing {
    pub s: Scratch,
    pub stack: Stack,
    pub env: Vec<(String, String)>,
}

impl Signing {
    /// A fresh stack, with a token from it in `SIGSTORE_ID_TOKEN`.
    pub fn new() -> Signing {
        let stack = Stack::start();
        let env = stack.signing_env();
        Signing::on(stack, env)
    }

    /// A repository signing against `stack` with `env` (the stack's variables, and whichever
    /// token source the caller chose).
    pub fn on(stack: Stack, env: Vec<(String, String)>) -> Signing {
        let s = Scratch::new();
        let r = Signing { s, stack, env };
        let id = r.stack.identity().to_string();
        r.git(&["config", "user.email", &id]);
        r.git(&["config", "user.name", "Dev"]);
        // An unsigned first commit: git writes the (empty) tree before it asks for a
        // signature, so from here on a failed signing must add no object at all.
        let out = r.s.git(
            &["commit", "-q", "--allow-empty", "-m", "base"],
            &r.s.repo(),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        r
    }

    pub fn command(&self, program: &str, extra: &[(&str, &str)]) -> Command {
        let mut c = self.s.command(program, &self.s.repo());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c.env("GIT_COMMITTER_EMAIL", self.stack.identity())
            .env("GIT_AUTHOR_EMAIL", self.stack.identity());
        for (k, v) in extra {
            c.env(k, v);
        }
        c
    }

    pub fn git(&self, args: &[&str]) -> Output {
        self.git_env(args, &[])
    }

    pub fn git_env(&self, args: &[&str], extra: &[(&str, &str)]) -> Output {
        let program = format!("gpg.x509.program={BIN}");
        let mut all = vec!["-c", "gpg.format=x509", "-c", &program];
        all.extend_from_slice(args);
        self.command("git", extra).args(&all).output().unwrap()
    }

    pub fn gitsign(&self, args: &[&str]) -> Output {
        self.command(BIN, &[]).args(args).output().unwrap()
    }

    pub fn ok(&self, args: &[&str], extra: &[(&str, &str)]) -> Output {
        let out = self.git_env(args, extra);
        assert!(
            out.status.success(),
            "git {args:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        out
    }

    pub fn commit(&self, msg: &str, extra: &[(&str, &str)]) -> String {
        self.ok(&["commit", "-S", "--allow-empty", "-q", "-m", msg], extra);
        text(&self.git(&["rev-parse", "HEAD"]).stdout)
            .trim()
            .to_string()
    }

    pub fn verify_with_gitsign(&self, sub: &str, target: &str) -> Output {
        self.gitsign(&[
            sub,
            target,
            "--certificate-identity",
            self.stack.identity(),
            "--certificate-oidc-issuer",
            self.stack.issuer(),
        ])
    }

    /// HEAD and the object count: what a failed signing must leave as it was.
    pub fn state(&self) -> (String, String, String) {
        (
            text(&self.git(&["rev-parse", "-q", "--verify", "HEAD"]).stdout),
            text(&self.git(&["count-objects", "-v"]).stdout),
            text(&self.git(&["tag", "-l"]).stdout),
        )
    }

    /// A signing that must fail: returns git's stderr.
    pub fn failed(&self, args: &[&str], extra: &[(&str, &str)]) -> String {
        let before = self.state();
        let out = self.git_env(args, extra);
        assert!(!out.status.success(), "git {args:?} succeeded");
        assert_eq!(self.state(), before, "git {args:?} changed the repository");
        text(&out.stderr)
    }
}

pub fn gitsign_line(stderr: &str) -> String {
    stderr
        .lines()
        .rfind(|l| l.starts_with("gitsign: "))
        .unwrap_or_else(|| panic!("no gitsign line in {stderr:?}"))
        .to_string()
}
