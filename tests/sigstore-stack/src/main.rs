//! sigstore-stack: **test and evaluation infrastructure**, not part of gitsign-rs. A local
//! Sigstore stack on 127.0.0.1 so keyless signing runs end to end on one machine with no
//! internet: an OIDC issuer that approves one configured identity, Fulcio v2 (with embedded
//! SCTs from its own CT log key), Rekor v1 (a Merkle tree kept on disk) and Rekor v2 (a
//! tile-based log in the C2SP tlog-tiles layout, Ed25519 checkpoints; see `rekor_v2.rs`) and
//! an RFC 3161 timestamp authority (a P-384 leaf under its own root; see `tsa.rs`).
//!
//! `sigstore-stack --dir DIR` writes `DIR/trusted_root.json`, `DIR/identity` and `DIR/env`,
//! prints one line per service URL (`oidc`, `fulcio`, `rekor`, then `rekor2` and `tsa`) and
//! serves until SIGTERM or SIGINT. Keys, the CAs and the logs persist in DIR across restarts. `sigstore-stack open URL` is a scripted user agent for
//! `gitsign.urlOpener`: it fetches the URL and follows redirects (to the program's loopback
//! listener), completing a browser login with nobody at the keyboard.
//! `sigstore-stack generate-history` writes a history of gitsign-signed commits made with
//! DIR's keys and logged in DIR's log, without serving (see `generate.rs`).
//!
//! Fault injection (for failure tests), on each service: `POST /admin/fault` with
//! `{"mode": "none" | "status500" | "garbage" | "wrong-chain" | "slow" | "wrong-key" |
//! "wrong-identity" | "wrong-entry" | "wrong-nonce" | "wrong-imprint"}`. See [`Fault`] and
//! README.md.
//!
//! Non-goals: TLS, CSRs, other entry kinds (Rekor v2: hashedrekord 0.0.2 with P-256 keys
//! only; no witnesses), TSA policies and extensions, performance beyond tests.
#![forbid(unsafe_code)]

mod ca;
mod fulcio;
mod generate;
mod http;
mod keys;
mod oidc;
mod rekor;
mod rekor_v2;
mod tsa;

use std::fmt;
use std::fs;
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use clap::{Parser, Subcommand};
use gitsign::core::asn1::pem;
use gitsign::core::time::format_rfc3339;
use gitsign::core::x509::keys::sha256;
use serde_json::json;

use crate::ca::Ca;
use crate::http::{Request, Response};
use crate::keys::{Curve, SigningKey};

#[derive(Debug)]
pub enum StackError {
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file in DIR that does not hold what the stack wrote there.
    State {
        path: PathBuf,
        what: &'static str,
    },
    Crypto(&'static str),
    Bind {
        port: u16,
        source: std::io::Error,
    },
    /// The repository a history is generated into (libgit2 or git).
    Git(String),
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StackError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            StackError::State { path, what } => write!(f, "{}: {what}", path.display()),
            StackError::Crypto(what) => write!(f, "crypto: {what}"),
            StackError::Bind { port, source } => {
                write!(f, "cannot listen on 127.0.0.1:{port}: {source}")
            }
            StackError::Git(e) => write!(f, "git: {e}"),
        }
    }
}

impl std::error::Error for StackError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StackError::Io { source, .. } | StackError::Bind { source, .. } => Some(source),
            _ => None,
        }
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// An injected misbehaviour of one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Every answer is HTTP 500.
    Status500,
    /// Every answer is HTTP 200 with bytes that are not JSON.
    Garbage,
    /// Well-formed answers signed by keys nobody trusts: Fulcio issues from a rogue CA with
    /// the same names, Rekor signs SETs and checkpoints with a foreign key, the OIDC issuer
    /// signs ID tokens with a key not in its JWKS.
    WrongChain,
    /// Sleep 30 s, then answer normally.
    Slow,
    /// Fulcio: a trusted certificate for another key than the one submitted. Rekor v2:
    /// checkpoints signed by a foreign key under the log's name and key hint.
    WrongKey,
    /// Fulcio: a trusted certificate for another identity than the token's.
    WrongIdentity,
    /// Rekor: logs and returns a valid entry for another digest than the one submitted
    /// (signature unchecked), as a lying log would. Rekor v2: logs the entry, but proves it
    /// with a signed checkpoint over a tree holding another leaf at its index.
    WrongEntry,
    /// TSA: a correctly signed token echoing another nonce than the request's.
    WrongNonce,
    /// TSA: a correctly signed token over another message imprint than the request's.
    WrongImprint,
}

impl Fault {
    fn parse(s: &str) -> Option<Fault> {
        Some(match s {
            "none" => Fault::None,
            "status500" => Fault::Status500,
            "garbage" => Fault::Garbage,
            "wrong-chain" => Fault::WrongChain,
            "slow" => Fault::Slow,
            "wrong-key" => Fault::WrongKey,
            "wrong-identity" => Fault::WrongIdentity,
            "wrong-entry" => Fault::WrongEntry,
            "wrong-nonce" => Fault::WrongNonce,
            "wrong-imprint" => Fault::WrongImprint,
            _ => return None,
        })
    }
    fn name(self) -> &'static str {
        match self {
            Fault::None => "none",
            Fault::Status500 => "status500",
            Fault::Garbage => "garbage",
            Fault::WrongChain => "wrong-chain",
            Fault::Slow => "slow",
            Fault::WrongKey => "wrong-key",
            Fault::WrongIdentity => "wrong-identity",
            Fault::WrongEntry => "wrong-entry",
            Fault::WrongNonce => "wrong-nonce",
            Fault::WrongImprint => "wrong-imprint",
        }
    }
}

#[derive(Default)]
pub struct Stats {
    tokens: AtomicU64,
    certificates: AtomicU64,
    entries: AtomicU64,
}

impl Stats {
    pub fn count_token(&self) {
        self.tokens.fetch_add(1, Ordering::Relaxed);
    }
    pub fn count_certificate(&self) {
        self.certificates.fetch_add(1, Ordering::Relaxed);
    }
    pub fn count_entry(&self) {
        self.entries.fetch_add(1, Ordering::Relaxed);
    }
}

pub struct Urls {
    pub oidc: String,
    pub fulcio: String,
    pub rekor: String,
}

pub struct Stack {
    pub identity: String,
    pub urls: Urls,
    pub device_auto_approve: bool,
    /// Seconds from a leaf's notBefore to its notAfter (Fulcio's is 600).
    pub cert_lifetime: i64,
    pub oidc_key: SigningKey,
    /// Never trusted by anyone: signs whatever the wrong-chain fault and bad test tokens need.
    pub foreign_key: SigningKey,
    pub ca: Ca,
    pub rogue_ca: Ca,
    pub ctlog_key: SigningKey,
    pub rekor_key: SigningKey,
    pub log: Mutex<rekor::Log>,
    /// Rekor v2: its URL, Ed25519 key and tiled log.
    pub rekor2: rekor_v2::Rekor2,
    /// The RFC 3161 timestamp authority.
    pub tsa: tsa::Tsa,
    pub oidc: Mutex<oidc::OidcState>,
    pub stats: Stats,
    faults: [Mutex<Fault>; 5],
    precerts: Mutex<Option<fs::File>>,
}

#[derive(Clone, Copy)]
enum Service {
    Oidc = 0,
    Fulcio = 1,
    Rekor = 2,
    Rekor2 = 3,
    Tsa = 4,
}

impl Stack {
    /// Appends a precertificate to the CT log file (`DIR/ctlog/precerts.pem`); best effort,
    /// the SCT is what clients check.
    pub fn log_precert(&self, der: &[u8]) {
        let mut file = self.precerts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = file.as_mut() {
            let _ = f.write_all(pem::encode("CERTIFICATE", der).as_bytes());
        }
    }

    fn fault(&self, s: Service) -> Fault {
        *self.faults[s as usize]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn dispatch(&self, s: Service, req: Request) -> Response {
        match (req.method.as_str(), req.path.as_str()) {
            ("POST", "/admin/fault") => {
                let mode = req
                    .json()
                    .ok()
                    .and_then(|v| v["mode"].as_str().and_then(Fault::parse));
                let Some(mode) = mode else {
                    return Response::error(
                        400,
                        r#"expected {"mode": "none"|"status500"|"garbage"|"wrong-chain"|"slow"|"wrong-key"|"wrong-identity"|"wrong-entry"|"wrong-nonce"|"wrong-imprint"}"#,
                    );
                };
                *self.faults[s as usize]
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = mode;
                return Response::json(200, &json!({"mode": mode.name()}));
            }
            ("GET", "/admin/fault") => {
                return Response::json(200, &json!({"mode": self.fault(s).name()}));
            }
            ("GET", "/stats") if matches!(s, Service::Fulcio) => {
                let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
                return Response::json(
                    200,
                    &json!({
                        "tokens": get(&self.stats.tokens),
                        "certificates": get(&self.stats.certificates),
                        "entries": get(&self.stats.entries),
                    }),
                );
            }
            _ => {}
        }
        let fault = self.fault(s);
        match fault {
            Fault::Status500 => return Response::error(500, "injected fault: status500"),
            Fault::Garbage => {
                return Response::new(200, "application/json", &b"\x00\xffnot json {{{"[..]);
            }
            Fault::Slow => std::thread::sleep(Duration::from_secs(30)),
            Fault::None
            | Fault::WrongChain
            | Fault::WrongKey
            | Fault::WrongIdentity
            | Fault::WrongEntry
            | Fault::WrongNonce
            | Fault::WrongImprint => {}
        }
        match s {
            Service::Oidc => oidc::handle(self, &req, fault),
            Service::Fulcio => fulcio::handle(self, &req, fault),
            Service::Rekor => rekor::handle(self, &req, fault),
            Service::Rekor2 => rekor_v2::handle(&self.rekor2, &req, fault),
            Service::Tsa => tsa::handle(&self.tsa, &req, fault),
        }
    }

    /// `DIR/trusted_root.json`: protobuf-specs TrustedRoot with the CA, the logs (Rekor v1,
    /// then v2), the CT log key and the timestamp authority.
    fn trusted_root(&self) -> serde_json::Value {
        let mut root = trusted_root(&self.ca, &self.ctlog_key, &self.rekor_key, &self.urls);
        let v2 = self
            .rekor2
            .trusted_root_log(&format_rfc3339(self.ca.not_before));
        if let Some(tlogs) = root["tlogs"].as_array_mut() {
            tlogs.push(v2);
        }
        root["timestampAuthorities"] = json!([self
            .tsa
            .trusted_root_entry(&format_rfc3339(self.tsa.not_before))]);
        root
    }
}

/// The TrustedRoot naming `ca`, the CT log key and the Rekor key, at these URLs.
pub fn trusted_root(
    ca: &Ca,
    ctlog_key: &SigningKey,
    rekor_key: &SigningKey,
    urls: &Urls,
) -> serde_json::Value {
    let start = format_rfc3339(ca.not_before);
    let log = |key: &SigningKey, url: &str| {
        json!({
            "baseUrl": url,
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": B64.encode(key.spki_der()),
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                "validFor": {"start": start},
            },
            "logId": {"keyId": B64.encode(sha256(key.spki_der()))},
        })
    };
    json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [log(rekor_key, &urls.rekor)],
        "certificateAuthorities": [{
            "subject": {"organization": ca::ORGANIZATION, "commonName": "sigstore"},
            "uri": urls.fulcio,
            "certChain": {"certificates": [
                {"rawBytes": B64.encode(&ca.intermediate_der)},
                {"rawBytes": B64.encode(&ca.root_der)},
            ]},
            "validFor": {"start": start},
        }],
        "ctlogs": [log(ctlog_key, &urls.fulcio)],
        "timestampAuthorities": [],
    })
}

impl Stack {
    /// `DIR/signing_config.json`: protobuf-specs SigningConfig v0.2 naming the stack's services
    /// (Rekor v2 before v1: clients pick the highest API version they support) and the TSA.
    fn signing_config(&self) -> serde_json::Value {
        let entry = |url: &str, version: u32| {
            json!({
                "url": url,
                "majorApiVersion": version,
                "validFor": {"start": format_rfc3339(self.ca.not_before)},
                "operator": "sigstore-stack.test",
            })
        };
        let service = |url: &str| json!([entry(url, 1)]);
        json!({
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": service(&self.urls.fulcio),
            "oidcUrls": service(&self.urls.oidc),
            "rekorTlogUrls": [entry(&self.rekor2.url, 2), entry(&self.urls.rekor, 1)],
            "tsaUrls": [entry(&self.tsa.timestamp_url(), 1)],
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"},
        })
    }
}

#[derive(Parser)]
#[command(
    name = "sigstore-stack",
    about = "A local Sigstore stack (OIDC issuer, Fulcio v2, Rekor v1 and v2, a TSA) on 127.0.0.1, for tests",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Directory for keys, the CA, the log, trusted_root.json, identity and env.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The identity (email) the OIDC issuer approves.
    #[arg(long, default_value = "dev@gitsign-rs.test")]
    identity: String,
    /// Ports (0 = any free port).
    #[arg(long, default_value_t = 0)]
    oidc_port: u16,
    #[arg(long, default_value_t = 0)]
    fulcio_port: u16,
    #[arg(long, default_value_t = 0)]
    rekor_port: u16,
    #[arg(long, default_value_t = 0)]
    rekor2_port: u16,
    #[arg(long, default_value_t = 0)]
    tsa_port: u16,
    /// Approve device codes when issued, not when the verification URI is fetched.
    #[arg(long)]
    device_auto_approve: bool,
    /// Lifetime of issued certificates in seconds (short ones test expiry).
    #[arg(long, default_value_t = crate::ca::LEAF_LIFETIME, value_parser = clap::value_parser!(i64).range(1..=86400))]
    cert_lifetime: i64,
}

#[derive(Subcommand)]
enum Command {
    /// Fetch URL and follow its redirects: a scripted user agent for gitsign.urlOpener.
    Open { url: String },
    /// Write a linear history of gitsign-signed commits made with DIR's CA and log keys and
    /// logged in DIR's log (offline: nothing is served; not while a stack serves DIR).
    GenerateHistory(generate::GenerateArgs),
}

fn bind(port: u16) -> Result<(TcpListener, String), StackError> {
    let l = TcpListener::bind(("127.0.0.1", port))
        .map_err(|source| StackError::Bind { port, source })?;
    let addr = l
        .local_addr()
        .map_err(|source| StackError::Bind { port, source })?;
    Ok((l, format!("http://{addr}")))
}

fn write_file(path: &Path, text: &str) -> Result<(), StackError> {
    // Write then rename so a reader never sees half a file.
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, text)
        .and_then(|()| fs::rename(&tmp, path))
        .map_err(|source| StackError::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// The program path as one word of a `gitsign.urlOpener` command line (quoted if needed).
fn opener_word(exe: &str) -> String {
    if exe
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+,:@".contains(&b))
    {
        exe.to_string()
    } else {
        sh_quote(exe)
    }
}

/// Single-quotes a value for the shell.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Creates DIR and its subdirectories; returns its canonical path.
fn prepare_dir(dir: &Path) -> Result<PathBuf, StackError> {
    let mkdir = |p: &Path| {
        fs::create_dir_all(p).map_err(|source| StackError::Io {
            path: p.to_path_buf(),
            source,
        })
    };
    mkdir(dir)?;
    let dir = fs::canonicalize(dir).map_err(|source| StackError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for sub in ["keys", "ca", "rekor", "ctlog"] {
        mkdir(&dir.join(sub))?;
    }
    Ok(dir)
}

/// Two processes appending to one log would interleave entries: one stack (or generator) per
/// DIR. The lock goes with the returned file, however the process ends.
fn lock_dir(dir: &Path) -> Result<fs::File, StackError> {
    let lock_path = dir.join("lock");
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|source| StackError::Io {
            path: lock_path.clone(),
            source,
        })?;
    if lock.try_lock().is_err() {
        return Err(StackError::State {
            path: lock_path,
            what: "another sigstore-stack is serving (or generating into) this directory",
        });
    }
    Ok(lock)
}

fn serve(cli: &Cli, dir: &Path) -> Result<(), StackError> {
    let dir = prepare_dir(dir)?;
    let _lock = lock_dir(&dir)?;
    // DIR/env exists while a stack serves: scripts wait for it to appear.
    let env_path = dir.join("env");
    let _ = fs::remove_file(&env_path);
    let now = now();
    let keys = dir.join("keys");
    let (oidc_l, oidc_url) = bind(cli.oidc_port)?;
    let (fulcio_l, fulcio_url) = bind(cli.fulcio_port)?;
    let (rekor_l, rekor_url) = bind(cli.rekor_port)?;
    let (rekor2_l, rekor2_url) = bind(cli.rekor2_port)?;
    let (tsa_l, tsa_url) = bind(cli.tsa_port)?;
    let precerts = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("ctlog/precerts.pem"))
        .ok();
    let stack = Arc::new(Stack {
        identity: cli.identity.clone(),
        urls: Urls {
            oidc: oidc_url,
            fulcio: fulcio_url,
            rekor: rekor_url,
        },
        device_auto_approve: cli.device_auto_approve,
        cert_lifetime: cli.cert_lifetime,
        oidc_key: SigningKey::load_or_generate(&keys.join("oidc.p8"), Curve::P256)?,
        foreign_key: SigningKey::ephemeral(Curve::P256)?,
        ca: Ca::load_or_create(&dir.join("ca"), now)?,
        rogue_ca: Ca::rogue(now)?,
        ctlog_key: SigningKey::load_or_generate(&keys.join("ctlog.p8"), Curve::P256)?,
        rekor_key: SigningKey::load_or_generate(&keys.join("rekor.p8"), Curve::P256)?,
        log: Mutex::new(rekor::Log::open(&dir.join("rekor"))?),
        rekor2: rekor_v2::Rekor2::open(&dir, rekor2_url)?,
        tsa: tsa::Tsa::load_or_create(&dir.join("tsa"), tsa_url, now)?,
        oidc: Mutex::new(oidc::OidcState::default()),
        stats: Stats::default(),
        faults: std::array::from_fn(|_| Mutex::new(Fault::None)),
        precerts: Mutex::new(precerts),
    });

    write_file(
        &dir.join("trusted_root.json"),
        &serde_json::to_string_pretty(&stack.trusted_root()).unwrap_or_default(),
    )?;
    write_file(
        &dir.join("signing_config.json"),
        &serde_json::to_string_pretty(&stack.signing_config()).unwrap_or_default(),
    )?;
    // What `sigstore --trust-config FILE` (sigstore-python) reads: root and signing config.
    write_file(
        &dir.join("trust_config.json"),
        &serde_json::to_string_pretty(&json!({
            "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
            "trustedRoot": stack.trusted_root(),
            "signingConfig": stack.signing_config(),
        }))
        .unwrap_or_default(),
    )?;
    write_file(&dir.join("identity"), &format!("{}\n", stack.identity))?;
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "sigstore-stack".into());
    let u = &stack.urls;
    let vars = [
        ("GITSIGN_FULCIO_URL", u.fulcio.clone()),
        ("GITSIGN_REKOR_URL", u.rekor.clone()),
        ("GITSIGN_OIDC_ISSUER", u.oidc.clone()),
        ("GITSIGN_OIDC_CLIENT_ID", oidc::CLIENT_ID.to_string()),
        (
            "GITSIGN_TRUSTED_ROOT",
            dir.join("trusted_root.json").display().to_string(),
        ),
        ("GITSIGN_TOKEN_PROVIDER", "interactive".to_string()),
        ("GITSIGN_URL_OPENER", format!("{} open", opener_word(&exe))),
        ("SIGSTORE_STACK_DIR", dir.display().to_string()),
        ("SIGSTORE_STACK_IDENTITY", stack.identity.clone()),
        ("SIGSTORE_STACK_OIDC_URL", u.oidc.clone()),
        ("SIGSTORE_STACK_FULCIO_URL", u.fulcio.clone()),
        ("SIGSTORE_STACK_REKOR_URL", u.rekor.clone()),
        ("SIGSTORE_STACK_REKOR2_URL", stack.rekor2.url.clone()),
        ("SIGSTORE_STACK_TSA_URL", stack.tsa.timestamp_url()),
        (
            "SIGSTORE_STACK_TSA_CHAIN",
            dir.join("tsa/chain.pem").display().to_string(),
        ),
    ];
    let mut env =
        String::from("# Written by sigstore-stack (test infrastructure). Source it: . DIR/env\n");
    for (k, v) in vars {
        env.push_str(&format!("export {k}={}\n", sh_quote(&v)));
    }

    let term = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, term.clone()).map_err(|source| StackError::Io {
            path: PathBuf::from("<signal handler>"),
            source,
        })?;
    }
    for (listener, service) in [
        (oidc_l, Service::Oidc),
        (fulcio_l, Service::Fulcio),
        (rekor_l, Service::Rekor),
        (rekor2_l, Service::Rekor2),
        (tsa_l, Service::Tsa),
    ] {
        let stack = stack.clone();
        http::serve(listener, Arc::new(move |req| stack.dispatch(service, req)));
    }
    write_file(&env_path, &env)?;
    {
        let log = stack.log.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "oidc {}", u.oidc);
        let _ = writeln!(out, "fulcio {}", u.fulcio);
        let _ = writeln!(out, "rekor {}", u.rekor);
        let _ = writeln!(out, "rekor2 {}", stack.rekor2.url);
        let _ = writeln!(out, "tsa {}", stack.tsa.url);
        let _ = out.flush();
        eprintln!(
            "sigstore-stack: serving {} (log size {}, v2 log size {}, identity {}); env in {}",
            dir.display(),
            log.size(),
            stack.rekor2.size(),
            stack.identity,
            dir.join("env").display()
        );
    }
    while !term.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
    }
    // Entries are fsynced before they are acknowledged: there is nothing left to flush.
    let _ = fs::remove_file(&env_path);
    eprintln!("sigstore-stack: stopping");
    Ok(())
}

/// `open URL`: GET it, following redirects, as a browser would after an automatic login.
fn open(url: &str) -> Result<(), String> {
    gitsign::io::rekor::install_crypto_provider();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::limited(10))
        .build()
        .map_err(|e| e.to_string())?;
    let resp = client.get(url).send().map_err(|e| format!("{url}: {e}"))?;
    let status = resp.status();
    if !status.is_success() {
        let body = resp.text().unwrap_or_default();
        return Err(format!(
            "{url}: HTTP {} {}",
            status.as_u16(),
            body.lines().next().unwrap_or_default()
        ));
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match (&cli.command, &cli.dir) {
        (Some(Command::Open { url }), _) => open(url),
        (Some(Command::GenerateHistory(args)), _) => generate::run(args).map_err(|e| e.to_string()),
        (None, Some(dir)) => serve(&cli, dir).map_err(|e| e.to_string()),
        (None, None) => Err("--dir DIR is required (or: sigstore-stack open URL)".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sigstore-stack: {e}");
            ExitCode::FAILURE
        }
    }
}
