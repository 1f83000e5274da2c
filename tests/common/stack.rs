//! The local Sigstore stack (`tests/sigstore-stack`) for binary-level signing tests: started
//! in a temporary directory, its `env` file read into a map the tests put in front of git.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Stack {
    child: Child,
    pub dir: tempfile::TempDir,
    pub env: HashMap<String, String>,
    client: reqwest::blocking::Client,
}

fn stack_binary() -> PathBuf {
    crate::common::workspace_binary("sigstore-stack", "sigstore-stack")
}

impl Stack {
    pub fn start() -> Stack {
        Stack::start_with(&[])
    }

    /// Started with extra command-line flags (e.g. `--device-auto-approve`).
    pub fn start_with(flags: &[&str]) -> Stack {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(stack_binary())
            .args(flags)
            .arg("--dir")
            .arg(dir.path().join("stack"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // It prints its three URLs once serving.
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for _ in 0..3 {
            lines.next().expect("sigstore-stack exited").unwrap();
        }
        let text = std::fs::read_to_string(dir.path().join("stack/env")).unwrap();
        let env = text
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
            .collect();
        gitsign::io::rekor::install_crypto_provider();
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        Stack {
            child,
            dir,
            env,
            client,
        }
    }

    pub fn var(&self, k: &str) -> &str {
        &self.env[k]
    }

    pub fn identity(&self) -> &str {
        self.var("SIGSTORE_STACK_IDENTITY")
    }

    pub fn issuer(&self) -> &str {
        self.var("SIGSTORE_STACK_OIDC_URL")
    }

    pub fn fulcio(&self) -> &str {
        self.var("SIGSTORE_STACK_FULCIO_URL")
    }

    pub fn rekor(&self) -> &str {
        self.var("SIGSTORE_STACK_REKOR_URL")
    }

    pub fn trusted_root(&self) -> &str {
        self.var("GITSIGN_TRUSTED_ROOT")
    }

    /// A fresh ID token from the stack's issuer, with optional claim overrides.
    pub fn token_with(&self, claims: serde_json::Value) -> String {
        let resp: serde_json::Value = self
            .client
            .post(format!("{}/test/token", self.issuer()))
            .header("content-type", "application/json")
            .body(claims.to_string())
            .send()
            .and_then(|r| r.bytes())
            .map(|b| serde_json::from_slice(&b).unwrap())
            .unwrap();
        resp["id_token"].as_str().unwrap().to_string()
    }

    pub fn token(&self) -> String {
        self.token_with(serde_json::json!({}))
    }

    /// Makes one service (`fulcio`, `rekor`, `oidc`) misbehave: none, status500, garbage,
    /// wrong-chain, slow.
    pub fn fault(&self, service_url: &str, mode: &str) {
        let resp = self
            .client
            .post(format!("{service_url}/admin/fault"))
            .body(serde_json::json!({ "mode": mode }).to_string())
            .send()
            .unwrap();
        assert!(
            resp.status().is_success(),
            "fault {mode}: {}",
            resp.status()
        );
    }

    pub fn get_json(&self, url: &str) -> serde_json::Value {
        let resp = self.client.get(url).send().unwrap();
        assert!(resp.status().is_success(), "{url}: {}", resp.status());
        serde_json::from_slice(&resp.bytes().unwrap()).unwrap()
    }

    pub fn stats(&self) -> serde_json::Value {
        self.client
            .get(format!("{}/stats", self.fulcio()))
            .send()
            .and_then(|r| r.bytes())
            .map(|b| serde_json::from_slice(&b).unwrap())
            .unwrap()
    }

    /// The variables a signing git needs: the stack's URLs and trust root, a token from the
    /// environment (no browser).
    pub fn signing_env(&self) -> Vec<(String, String)> {
        let mut v = self.services_env();
        v.push(("SIGSTORE_ID_TOKEN".into(), self.token()));
        v
    }

    /// The stack's URLs and trust root, and no token source: neither a token nor the
    /// provider and URL opener of its env file.
    pub fn services_env(&self) -> Vec<(String, String)> {
        self.env
            .iter()
            .filter(|(k, _)| {
                k.as_str() != "GITSIGN_TOKEN_PROVIDER" && k.as_str() != "GITSIGN_URL_OPENER"
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The stack's CA certificates as PEM (for `openssl -CAfile`).
    pub fn ca_pem(&self) -> String {
        use base64::Engine as _;
        let root: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.trusted_root()).unwrap()).unwrap();
        root["certificateAuthorities"][0]["certChain"]["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let der = base64::engine::general_purpose::STANDARD
                    .decode(c["rawBytes"].as_str().unwrap())
                    .unwrap();
                gitsign::core::asn1::pem::encode("CERTIFICATE", &der)
            })
            .collect()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
