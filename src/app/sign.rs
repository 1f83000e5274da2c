//! git's sign mode (`--status-fd=2 -bsau KEY`, jj's `-abu KEY`): one keyless signature.
//!
//! token -> ephemeral key -> Fulcio certificate (checked against the trusted root) -> CMS
//! signed attributes signed -> Rekor entry (checked, embedded in offline mode; over the
//! object id in gitsign's online mode) -> PEM on stdout. stdout gets the signature and
//! nothing else, only once everything succeeded; any failure is one line naming the step
//! and the server, exit 1, and git creates no commit.

use std::io::{Read, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::app::{AppError, OK, Reporter};
use crate::cli::GpgSign;
use crate::core::cert::Certificate;
use crate::core::cms_builder::{self, Signer};
use crate::core::gitobj::{self, HashAlgo};
use crate::core::keys::sha256;
use crate::core::signing;
use crate::core::status::Status;
use crate::core::tlog;
use crate::core::{pem, trust::TrustedRoot};
use crate::io::config::Settings;
use crate::io::fulcio::FulcioClient;
use crate::io::git::Repo;
use crate::io::key::EphemeralKey;
use crate::io::oidc;
use crate::io::rekor::RekorClient;

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
    if settings.rekor_version.trim() != "1" {
        return Err(AppError::usage(format!(
            "gitsign.rekorVersion {:?} is not supported for signing (only Rekor v1); nothing was signed",
            settings.rekor_version
        )));
    }
    let trust: TrustedRoot = crate::io::trust::load(settings, None)
        .map_err(|e| AppError::failed(format!("cannot load the trusted root: {e}")))?;
    let token = oidc::id_token(settings, ui)
        .map_err(|e| AppError::failed(format!("cannot get an identity token: {e}")))?;
    let identity = token.identity().to_string();
    let token_issuer = token.issuer().to_string();

    if settings.match_committer {
        let committer = signing::payload_signer_email(payload).or(settings.committer_email.clone());
        if committer.as_deref() != Some(identity.as_str()) {
            return Err(AppError::failed(format!(
                "gitsign.matchCommitter: the identity {identity:?} is not the committer's email {}; nothing was signed",
                committer.map_or("(none)".to_string(), |c| format!("{c:?}"))
            )));
        }
    }

    let key = EphemeralKey::generate().map_err(AppError::failed)?;
    let fulcio = FulcioClient::new(&settings.fulcio, settings.rekor_timeout)
        .map_err(|e| AppError::failed(e.to_string()))?;
    let chain = fulcio
        .signing_cert(&token, &key)
        .map_err(|e| AppError::failed(e.to_string()))?;
    drop(token);
    let leaf = signing::check_issued_certificate(
        &chain,
        &trust,
        now(),
        &key.public_key_der(),
        &identity,
        &token_issuer,
    )
    .map_err(|e| {
        AppError::failed(format!(
            "Fulcio at {} issued a certificate that does not check out: {e}",
            fulcio.url()
        ))
    })?;
    let leaf_pem = pem::encode("CERTIFICATE", leaf.der());

    let signed_attrs = cms_builder::signed_attributes(&sha256(payload), now())
        .map_err(|e| AppError::failed(e.to_string()))?;
    let signature = key.sign(&signed_attrs);

    let rekor = RekorClient::new(&settings.rekor, settings.rekor_timeout)
        .map_err(|e| AppError::failed(e.to_string()))?;
    let log = |body: Vec<u8>| -> Result<tlog::LogEntry, AppError> {
        let entry = rekor
            .upload(&body)
            .map_err(|e| AppError::failed(format!("cannot log the signature: {e}")))?;
        signing::check_logged_entry(&entry, &body, &leaf, &trust).map_err(|e| {
            AppError::failed(format!(
                "Rekor at {} returned an entry that does not check out: {e}",
                rekor.url()
            ))
        })?;
        Ok(entry)
    };

    let (unsigned, offline_index) = if online {
        (Vec::new(), None)
    } else {
        let body = tlog::hashedrekord_body(&sha256(&signed_attrs), &signature, &leaf_pem);
        let entry = log(body)?;
        let attr = cms_builder::tlog_entry_attribute(&entry)
            .map_err(|e| AppError::failed(e.to_string()))?;
        (vec![attr], Some(entry.log_index))
    };
    let der = cms_builder::assemble(&Signer {
        certificates: &[leaf.der()],
        issuer: leaf.issuer_raw(),
        serial: leaf.serial(),
        signed_attrs: &signed_attrs,
        signature: &signature,
        unsigned_attrs: &unsigned,
    });
    let pem_sig = pem::encode("SIGNED MESSAGE", &der);

    let log_index = if let Some(index) = offline_index {
        index
    } else {
        // gitsign's online mode logs the id of the object git is about to write.
        let kind = gitobj::kind_of_payload(payload).ok_or_else(|| {
            AppError::failed(
                "gitsign.rekorMode=online needs a commit or tag to sign (the log entry is keyed on its object id)",
            )
        })?;
        let raw = gitobj::join(kind, payload, pem_sig.as_bytes(), algo)
            .map_err(|e| AppError::failed(format!("cannot compute the object id: {e}")))?;
        let id = algo.object_id(kind, &raw);
        let id_sig = key.sign(id.as_bytes());
        let body = tlog::hashedrekord_body(&sha256(id.as_bytes()), &id_sig, &leaf_pem);
        let entry = log(body)?;
        ui.say(&format!(
            "gitsign: logged {} {id} in Rekor at {} (entry {}, online mode: not embedded)",
            kind.name(),
            rekor.url(),
            entry.log_index
        ));
        entry.log_index
    };
    ui.say(&format!(
        "gitsign: signed as {identity} (certificate from Fulcio at {}, Rekor entry {log_index} at {})",
        fulcio.url(),
        rekor.url()
    ));
    Ok(Signature {
        pem: pem_sig,
        leaf,
        log_index,
    })
}
