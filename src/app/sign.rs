//! git's sign mode (`--status-fd=2 -bsau KEY`, jj's `-abu KEY`): one keyless signature.
//!
//! token -> ephemeral key -> Fulcio certificate (checked against the trusted root) -> CMS
//! signed attributes signed -> Rekor entry (checked, embedded in offline mode; over the
//! object id in gitsign's online mode) -> PEM on stdout. stdout gets the signature and
//! nothing else, only once everything succeeded; any failure is one line naming the step
//! and the server, exit 1, and git creates no commit.

use std::io::{Read, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::app::credential::{Credential, Obtainer, Source};
use crate::app::{AppError, OK, Reporter};
use crate::cli::GpgSign;
use crate::core::cms::{self, builder::Signer};
use crate::core::git::gitobj::{self, HashAlgo};
use crate::core::git::status::Status;
use crate::core::time::format_rfc3339;
use crate::core::tlog;
use crate::core::verify::policy::Policy;
use crate::core::verify::signing;
use crate::core::verify::{Log, Options, Verifier};
use crate::core::x509::cert::Certificate;
use crate::core::x509::keys::{HashAlg, PublicKey, sha256};
use crate::core::{asn1::pem, sigstore::trust::TrustedRoot};
use crate::io::config::Settings;
use crate::io::git::Repo;
use crate::io::rekor::RekorClient;
use crate::io::services::LogService;
use crate::io::tsa::TsaClient;

/// Where status lines go: git passes `--status-fd=2`.
struct StatusOut(Option<Box<dyn Write>>);

impl StatusOut {
    fn open(fd: Option<i32>) -> Result<StatusOut, AppError> {
        // stdout carries the signature and nothing else.
        if fd == Some(1) {
            return Err(AppError::usage(
                "--status-fd=1 would mix status lines into the signature on stdout; use another fd (git uses 2)",
            ));
        }
        Ok(StatusOut(match fd {
            None => None,
            Some(_) => Some(crate::app::report::status_writer(fd)?),
        }))
    }

    fn write(&mut self, s: Status) {
        if let Some(w) = self.0.as_mut() {
            let _ = writeln!(w, "{s}");
            let _ = w.flush();
        }
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn read_payload(args: &GpgSign) -> Result<Vec<u8>, AppError> {
    let mut payload = Vec::new();
    match &args.data_file {
        Some(p) => {
            payload = std::fs::read(p).map_err(|e| {
                AppError::failed(format!("cannot read the data to sign {}: {e}", p.display()))
            })?
        }
        None => {
            std::io::stdin()
                .read_to_end(&mut payload)
                .map_err(|e| AppError::failed(format!("cannot read the data to sign: {e}")))?;
        }
    }
    Ok(payload)
}

/// The result of a successful signing, before anything is written.
pub struct Signature {
    pub pem: String,
    pub leaf: Certificate,
    pub log_index: u64,
}

pub fn gpg_sign(args: &GpgSign) -> Result<i32, AppError> {
    let mut status = StatusOut::open(args.status_fd)?;
    status.write(Status::BeginSigning);
    let payload = read_payload(args)?;
    let repo = Repo::discover().ok();
    let git_dir = repo
        .as_ref()
        .map(Repo::git_dir)
        .or_else(crate::io::git::discover_git_dir);
    let settings = Settings::load(git_dir.as_deref())
        .map_err(|e| AppError::failed(format!("cannot read git configuration: {e}")))?;
    let mut reporter = Reporter::new(settings.log_path.as_deref());
    let algo = signing::payload_hash_algo(&payload)
        .unwrap_or_else(|| repo.as_ref().map_or(HashAlgo::Sha1, Repo::hash_algo));
    let result = sign(&payload, algo, &settings, &mut reporter);
    let sig = match result {
        Ok(sig) => sig,
        Err(e) => {
            reporter.note(&format!("gitsign: {e}"));
            return Err(e);
        }
    };
    let mut out = std::io::stdout().lock();
    out.write_all(sig.pem.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| AppError::failed(format!("cannot write the signature: {e}")))?;
    status.write(Status::SigCreated {
        time: now(),
        fingerprint: gitobj::hex(&sha1_of(sig.leaf.der())),
    });
    Ok(OK)
}

fn sha1_of(data: &[u8]) -> Vec<u8> {
    use sha1::Digest as _;
    sha1::Sha1::digest(data).to_vec()
}

/// Signs `payload`; writes progress to `ui` only.
pub fn sign(
    payload: &[u8],
    algo: HashAlgo,
    settings: &Settings,
    ui: &mut Reporter,
) -> Result<Signature, AppError> {
    // Configuration mistakes end here, before any server sees a token.
    let online = settings.rekor_mode.eq_ignore_ascii_case("online");
    if !online && !settings.rekor_mode.eq_ignore_ascii_case("offline") {
        return Err(AppError::usage(format!(
            "gitsign.rekorMode must be online or offline, not {:?}; nothing was signed",
            settings.rekor_mode
        )));
    }
    let services = crate::io::services::choose(settings, now())
        .map_err(|e| AppError::usage(format!("{e}; nothing was signed")))?;
    let settings = &Settings {
        fulcio: services.fulcio.clone(),
        issuer: services.issuer.clone(),
        ..settings.clone()
    };
    let trust: TrustedRoot = crate::io::trust::load(settings, None)
        .map_err(|e| AppError::failed(format!("cannot load the trusted root: {e}")))?;
    let committer = signing::payload_signer_email(payload).or(settings.committer_email.clone());
    let mut credentials = Obtainer::new(settings, &trust, committer);
    let mut cred = credentials.obtain(ui)?;
    // Every use of the key comes before any log entry is written, so a credential cache
    // that fails here (the agent went away) costs a sign-in, not a half-logged signature.
    let signed = match sign_with(&cred, payload, algo, online) {
        Ok(s) => s,
        Err(e) if !matches!(cred.source, Source::SignedIn) => {
            credentials.fall_back(&e, ui);
            cred = credentials.sign_in(ui)?;
            sign_with(&cred, payload, algo, online).map_err(AppError::failed)?
        }
        Err(e) => return Err(AppError::failed(e)),
    };
    let leaf = &cred.leaf;
    let identity = &cred.identity;

    // The timestamp first: it is over the signature value, and a failure here logs nothing.
    let mut unsigned = Vec::new();
    let mut stamped = None;
    for url in &services.tsas {
        let tsa = TsaClient::new(url, settings.rekor_timeout)
            .map_err(|e| AppError::failed(e.to_string()))?;
        let (token, ts) = tsa
            .timestamp(&signed.signature, &trust.timestamp_authorities)
            .map_err(|e| AppError::failed(format!("cannot timestamp the signature: {e}")))?;
        if !leaf.valid_at(ts.time) {
            return Err(AppError::failed(format!(
                "the timestamp authority at {url} dated the signature {}, outside the certificate's validity; nothing was logged",
                format_rfc3339(ts.time)
            )));
        }
        unsigned.push(cms::builder::timestamp_attribute(&token));
        stamped = Some((ts, url.clone()));
    }

    let mut logged_at = Vec::new();
    let mut log_index = 0;
    let pem_sig = match &signed.object {
        None => {
            for log in &services.logs {
                let entry = log_signature(log, &signed, leaf, &trust, settings)?;
                log_index = entry.log_index;
                logged_at.push(format!(
                    "Rekor v{} entry {} at {}",
                    log.version, entry.log_index, log.url
                ));
                unsigned.push(
                    cms::builder::tlog_entry_attribute(&entry)
                        .map_err(|e| AppError::failed(e.to_string()))?,
                );
            }
            let pem_sig = assemble(leaf, &signed, &unsigned);
            // What leaves here verifies as any verifier of ours will check it.
            let verifier = Verifier::new(&trust, Options::default());
            verifier
                .check(payload, pem_sig.as_bytes())
                .and_then(|c| verifier.verify(&c, Log::Embedded, &Policy::AnyFulcioIdentity))
                .map_err(|e| {
                    AppError::failed(format!(
                        "the finished signature does not verify ({e}); it was logged but is not written"
                    ))
                })?;
            pem_sig
        }
        Some(object) => {
            // gitsign's online mode logs the id of the object git is about to write.
            let log = &services.logs[0];
            let rekor = RekorClient::new(&log.url, settings.rekor_timeout)
                .map_err(|e| AppError::failed(e.to_string()))?;
            let leaf_pem = pem::encode("CERTIFICATE", leaf.der());
            let body = tlog::hashedrekord_body(
                &sha256(object.id.as_bytes()),
                &object.id_signature,
                &leaf_pem,
            );
            let entry = log_v1(&rekor, &body, leaf, &trust)?;
            ui.say(&format!(
                "gitsign: logged {} {} in Rekor at {} (entry {}, online mode: not embedded)",
                object.kind.name(),
                object.id,
                rekor.url(),
                entry.log_index
            ));
            log_index = entry.log_index;
            logged_at.push(format!(
                "Rekor entry {} at {}",
                entry.log_index,
                rekor.url()
            ));
            object.pem.clone()
        }
    };
    let via = match cred.source {
        Source::SignedIn => "signed in",
        Source::Agent => "cached by the credential cache",
        Source::StoredInAgent => "signed in; now cached by the credential cache",
        Source::AgentNotStored => "signed in; not cached",
        Source::Keyring => "cached in the keyring",
        Source::StoredInKeyring => "signed in; now cached in the keyring",
    };
    let time = match &stamped {
        Some((ts, url)) => format!("; timestamp {} by {url}", format_rfc3339(ts.time)),
        None => String::new(),
    };
    ui.say(&format!(
        "gitsign: signed as {identity} (certificate from Fulcio at {}, {via}, valid {} s more; {}{time})",
        settings.fulcio,
        leaf.not_after() - now(),
        logged_at.join(", "),
    ));
    Ok(Signature {
        pem: pem_sig,
        leaf: cred.leaf,
        log_index,
    })
}

/// Logs an offline-mode signature in `log` and checks what the log returned before it is
/// embedded.
fn log_signature(
    log: &LogService,
    signed: &Signed,
    leaf: &Certificate,
    trust: &TrustedRoot,
    settings: &Settings,
) -> Result<tlog::LogEntry, AppError> {
    let rekor = RekorClient::new(&log.url, settings.rekor_timeout)
        .map_err(|e| AppError::failed(e.to_string()))?;
    let digest = sha256(&signed.signed_attrs);
    if log.version == 1 {
        let leaf_pem = pem::encode("CERTIFICATE", leaf.der());
        let body = tlog::hashedrekord_body(&digest, &signed.signature, &leaf_pem);
        return log_v1(&rekor, &body, leaf, trust);
    }
    let request = tlog::hashedrekord_v002_request(&digest, &signed.signature, leaf.der());
    let entry = rekor
        .upload_v2(&request)
        .map_err(|e| AppError::failed(format!("cannot log the signature: {e}")))?;
    tlog::verify_embedded_v2(
        &entry,
        &digest,
        &signed.signature,
        leaf.der(),
        &tlog::trusted_log_keys(trust),
    )
    .map_err(|e| {
        AppError::failed(format!(
            "Rekor v2 at {} returned an entry that does not check out: {e}",
            rekor.url()
        ))
    })?;
    Ok(entry)
}

fn log_v1(
    rekor: &RekorClient,
    body: &[u8],
    leaf: &Certificate,
    trust: &TrustedRoot,
) -> Result<tlog::LogEntry, AppError> {
    let entry = rekor
        .upload(body)
        .map_err(|e| AppError::failed(format!("cannot log the signature: {e}")))?;
    signing::check_logged_entry(&entry, body, leaf, trust).map_err(|e| {
        AppError::failed(format!(
            "Rekor at {} returned an entry that does not check out: {e}",
            rekor.url()
        ))
    })?;
    Ok(entry)
}

/// The signatures one git object needs, made before anything is logged.
struct Signed {
    signed_attrs: Vec<u8>,
    signature: Vec<u8>,
    /// Online mode: the finished signature and the object id, signed too.
    object: Option<OnlineObject>,
}

struct OnlineObject {
    kind: gitobj::ObjectKind,
    id: String,
    id_signature: Vec<u8>,
    pem: String,
}

fn sign_with(
    cred: &Credential,
    payload: &[u8],
    algo: HashAlgo,
    online: bool,
) -> Result<Signed, String> {
    let signed_attrs =
        cms::builder::signed_attributes(&sha256(payload), now()).map_err(|e| e.to_string())?;
    let signature = cred.key.sign(&signed_attrs)?;
    // The signature must verify with the certificate's key: whatever holds the key (this
    // process, the agent, the keyring), nothing leaves here that the certificate disowns.
    PublicKey::from_spki_der(cred.leaf.spki_der())
        .and_then(|k| k.verify(HashAlg::Sha256, &signed_attrs, &signature))
        .map_err(|e| format!("the key's signature does not verify with the certificate ({e})"))?;
    let mut signed = Signed {
        signed_attrs,
        signature,
        object: None,
    };
    if online {
        let kind = gitobj::kind_of_payload(payload).ok_or(
            "gitsign.rekorMode=online needs a commit or tag to sign (the log entry is keyed on its object id)",
        )?;
        let pem = assemble(&cred.leaf, &signed, &[]);
        let raw = gitobj::join(kind, payload, pem.as_bytes(), algo)
            .map_err(|e| format!("cannot compute the object id: {e}"))?;
        let id = algo.object_id(kind, &raw);
        let id_signature = cred.key.sign(id.as_bytes())?;
        signed.object = Some(OnlineObject {
            kind,
            id,
            id_signature,
            pem,
        });
    }
    Ok(signed)
}

fn assemble(
    leaf: &Certificate,
    signed: &Signed,
    unsigned: &[cms::builder::AttributeValue],
) -> String {
    let der = cms::builder::assemble(&Signer {
        certificates: &[leaf.der()],
        issuer: leaf.issuer_raw(),
        serial: leaf.serial(),
        signed_attrs: &signed.signed_attrs,
        signature: &signed.signature,
        unsigned_attrs: unsigned,
    });
    pem::encode("SIGNED MESSAGE", &der)
}
