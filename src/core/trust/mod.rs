//! The Sigstore trusted root (protobuf-specs `TrustedRoot`, JSON form): Fulcio CAs,
//! transparency logs, CT logs and timestamp authorities, each with its validity window.
//!
//! The public-good root is compiled in ([`TrustedRoot::production`]). Private deployments
//! replace parts of it with the PEM files gitsign and its dependencies read
//! (`GITSIGN_FULCIO_ROOT`, `SIGSTORE_REKOR_PUBLIC_KEY`, `SIGSTORE_CT_LOG_PUBLIC_KEY_FILE`);
//! the io layer reads the files and hands their bytes to the `with_*` methods.

use std::fmt;
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use crate::core::cert::{CertError, Certificate};
use crate::core::keys::{PublicKey, sha256};
use crate::core::pem::{self, PemError};
use crate::core::time::{TimeError, UnixTime, parse_rfc3339};

const MEDIA_TYPES: &[&str] = &[
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
    "application/vnd.dev.sigstore.trustedroot.v0.1+json",
];

/// A validity window; both ends inclusive, no end = open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub start: UnixTime,
    pub end: Option<UnixTime>,
}

impl Validity {
    pub const ALWAYS: Validity = Validity {
        start: 0,
        end: None,
    };

    pub fn contains(&self, t: UnixTime) -> bool {
        self.start <= t && self.end.is_none_or(|e| t <= e)
    }
}

#[derive(Debug, Clone)]
pub struct CertificateAuthority {
    pub uri: String,
    /// As listed: the issuing (intermediate) certificate first, the root last.
    pub certs: Vec<Certificate>,
    pub valid_for: Validity,
}

#[derive(Debug, Clone)]
pub struct TransparencyLog {
    pub base_url: String,
    pub log_id: Vec<u8>,
    /// The SubjectPublicKeyInfo DER.
    pub key_der: Vec<u8>,
    /// `None` when the key type is one we cannot verify with.
    pub key: Option<PublicKey>,
    pub key_details: String,
    pub valid_for: Validity,
}

#[derive(Debug, Clone)]
pub struct TrustedRoot {
    pub certificate_authorities: Vec<CertificateAuthority>,
    pub tlogs: Vec<TransparencyLog>,
    pub ctlogs: Vec<TransparencyLog>,
    pub timestamp_authorities: Vec<CertificateAuthority>,
}

#[derive(Debug)]
pub enum TrustError {
    Json(serde_json::Error),
    UnsupportedMediaType(String),
    Missing {
        what: String,
    },
    Base64 {
        what: String,
    },
    Time {
        what: String,
        source: TimeError,
    },
    Cert {
        what: String,
        source: CertError,
    },
    /// keyDetails names a key type the key bytes do not hold.
    KeyMismatch {
        what: String,
        key_details: String,
    },
    UnsupportedKey {
        what: String,
    },
    EmptyChain {
        what: String,
    },
    Pem(PemError),
    /// A PEM certificate whose issuer is not in the same file.
    IncompleteChain {
        subject: String,
    },
}

impl fmt::Display for TrustError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use TrustError::*;
        match self {
            Json(e) => write!(
                f,
                "trusted root is not valid JSON of the expected shape: {e}"
            ),
            UnsupportedMediaType(m) => write!(f, "trusted root has unsupported mediaType {m:?}"),
            Missing { what } => write!(f, "trusted root: {what} is missing"),
            Base64 { what } => write!(f, "trusted root: {what} is not valid base64"),
            Time { what, source } => write!(f, "trusted root: {what}: {source}"),
            Cert { what, source } => write!(f, "trusted root: {what}: {source}"),
            KeyMismatch { what, key_details } => {
                write!(f, "trusted root: {what} is not a {key_details} key")
            }
            UnsupportedKey { what } => write!(f, "{what}: unsupported or malformed public key"),
            EmptyChain { what } => write!(f, "trusted root: {what} has no certificates"),
            Pem(e) => write!(f, "{e}"),
            IncompleteChain { subject } => write!(
                f,
                "certificate {subject} has no issuer among the given root certificates"
            ),
        }
    }
}

impl std::error::Error for TrustError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TrustError::Json(e) => Some(e),
            TrustError::Time { source, .. } => Some(source),
            TrustError::Cert { source, .. } => Some(source),
            TrustError::Pem(e) => Some(e),
            _ => None,
        }
    }
}

// The JSON shape (protobuf-specs). Only what we use is declared; unknown fields are ignored.
// Protobuf JSON parsers also accept the proto field names, hence the aliases.

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonRoot {
    #[serde(alias = "media_type")]
    media_type: Option<String>,
    #[serde(default)]
    tlogs: Vec<JsonLog>,
    #[serde(default, alias = "certificate_authorities")]
    certificate_authorities: Vec<JsonCa>,
    #[serde(default)]
    ctlogs: Vec<JsonLog>,
    #[serde(default, alias = "timestamp_authorities")]
    timestamp_authorities: Vec<JsonCa>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonLog {
    #[serde(default, alias = "base_url")]
    base_url: String,
    #[serde(alias = "public_key")]
    public_key: Option<JsonKey>,
    #[serde(alias = "log_id")]
    log_id: Option<JsonLogId>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonKey {
    #[serde(alias = "raw_bytes")]
    raw_bytes: Option<String>,
    #[serde(default, alias = "key_details")]
    key_details: String,
    #[serde(alias = "valid_for")]
    valid_for: Option<JsonValidity>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonLogId {
    #[serde(alias = "key_id")]
    key_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonCa {
    #[serde(default)]
    uri: String,
    #[serde(alias = "cert_chain")]
    cert_chain: Option<JsonChain>,
    #[serde(alias = "valid_for")]
    valid_for: Option<JsonValidity>,
}

#[derive(Deserialize)]
struct JsonChain {
    #[serde(default)]
    certificates: Vec<JsonCert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonCert {
    #[serde(alias = "raw_bytes")]
    raw_bytes: Option<String>,
}

#[derive(Deserialize)]
struct JsonValidity {
    start: Option<String>,
    end: Option<String>,
}

fn missing(what: &str) -> TrustError {
    TrustError::Missing {
        what: what.to_string(),
    }
}

fn b64(s: Option<&String>, what: &str) -> Result<Vec<u8>, TrustError> {
    let s = s.ok_or_else(|| missing(what))?;
    STANDARD.decode(s).map_err(|_| TrustError::Base64 {
        what: what.to_string(),
    })
}

fn validity(v: Option<&JsonValidity>, what: &str) -> Result<Validity, TrustError> {
    let what = format!("{what} validFor");
    let v = v.ok_or_else(|| missing(&what))?;
    let time = |s: &str, which: &str| {
        parse_rfc3339(s).map_err(|source| TrustError::Time {
            what: format!("{what}.{which}"),
            source,
        })
    };
    let start = time(
        v.start
            .as_deref()
            .ok_or_else(|| missing(&format!("{what}.start")))?,
        "start",
    )?;
    let end = v.end.as_deref().map(|e| time(e, "end")).transpose()?;
    Ok(Validity { start, end })
}

fn details_for(key: &PublicKey) -> &'static str {
    match key {
        PublicKey::P256(_) => "PKIX_ECDSA_P256_SHA_256",
        PublicKey::P384(_) => "PKIX_ECDSA_P384_SHA_384",
        PublicKey::Ed25519(_) => "PKIX_ED25519",
    }
}

fn parse_log(j: &JsonLog, what: &str) -> Result<TransparencyLog, TrustError> {
    let pk = j
        .public_key
        .as_ref()
        .ok_or_else(|| missing(&format!("{what} publicKey")))?;
    let key_der = b64(pk.raw_bytes.as_ref(), &format!("{what} publicKey.rawBytes"))?;
    let log_id = b64(
        j.log_id.as_ref().and_then(|l| l.key_id.as_ref()),
        &format!("{what} logId.keyId"),
    )?;
    let known = [
        "PKIX_ECDSA_P256_SHA_256",
        "PKIX_ECDSA_P384_SHA_384",
        "PKIX_ED25519",
    ];
    let key = if known.contains(&pk.key_details.as_str()) {
        match PublicKey::from_spki_der(&key_der) {
            Ok(k) if details_for(&k) == pk.key_details => Some(k),
            _ => {
                return Err(TrustError::KeyMismatch {
                    what: format!("{what} publicKey"),
                    key_details: pk.key_details.clone(),
                });
            }
        }
    } else {
        None
    };
    Ok(TransparencyLog {
        base_url: j.base_url.clone(),
        log_id,
        key_der,
        key,
        key_details: pk.key_details.clone(),
        valid_for: validity(pk.valid_for.as_ref(), &format!("{what} publicKey"))?,
    })
}

fn parse_ca(j: &JsonCa, what: &str) -> Result<CertificateAuthority, TrustError> {
    let chain = j
        .cert_chain
        .as_ref()
        .ok_or_else(|| missing(&format!("{what} certChain")))?;
    if chain.certificates.is_empty() {
        return Err(TrustError::EmptyChain {
            what: what.to_string(),
        });
    }
    let certs = chain
        .certificates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let w = format!("{what} certificate {i}");
            let der = b64(c.raw_bytes.as_ref(), &w)?;
            Certificate::from_der(&der).map_err(|source| TrustError::Cert { what: w, source })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CertificateAuthority {
        uri: j.uri.clone(),
        certs,
        valid_for: validity(j.valid_for.as_ref(), what)?,
    })
}

fn logs_from_pem(pem_text: &[u8], what: &str) -> Result<Vec<TransparencyLog>, TrustError> {
    pem::decode_all(pem_text, "PUBLIC KEY")
        .map_err(TrustError::Pem)?
        .into_iter()
        .map(|key_der| {
            let key =
                PublicKey::from_spki_der(&key_der).map_err(|_| TrustError::UnsupportedKey {
                    what: what.to_string(),
                })?;
            Ok(TransparencyLog {
                base_url: String::new(),
                log_id: sha256(&key_der).to_vec(),
                key_details: details_for(&key).to_string(),
                key: Some(key),
                key_der,
                valid_for: Validity::ALWAYS,
            })
        })
        .collect()
}

impl TrustedRoot {
    /// Parses a protobuf-specs JSON `TrustedRoot`. Everything used is checked (base64, keys,
    /// certificates, validity starts); fields we do not use are ignored.
    pub fn from_json(bytes: &[u8]) -> Result<Self, TrustError> {
        let j: JsonRoot = serde_json::from_slice(bytes).map_err(TrustError::Json)?;
        let media_type = j.media_type.ok_or_else(|| missing("mediaType"))?;
        if !MEDIA_TYPES.contains(&media_type.as_str()) {
            return Err(TrustError::UnsupportedMediaType(media_type));
        }
        let logs = |list: &[JsonLog], name: &str| {
            list.iter()
                .enumerate()
                .map(|(i, l)| parse_log(l, &format!("{name}[{i}]")))
                .collect::<Result<Vec<_>, _>>()
        };
        let cas = |list: &[JsonCa], name: &str| {
            list.iter()
                .enumerate()
                .map(|(i, c)| parse_ca(c, &format!("{name}[{i}]")))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(TrustedRoot {
            certificate_authorities: cas(&j.certificate_authorities, "certificateAuthorities")?,
            tlogs: logs(&j.tlogs, "tlogs")?,
            ctlogs: logs(&j.ctlogs, "ctlogs")?,
            timestamp_authorities: cas(&j.timestamp_authorities, "timestampAuthorities")?,
        })
    }

    /// The public-good Sigstore trusted root compiled into the program.
    pub fn production() -> &'static TrustedRoot {
        static ROOT: OnceLock<TrustedRoot> = OnceLock::new();
        ROOT.get_or_init(|| {
            TrustedRoot::from_json(include_bytes!("production-trusted-root.json"))
                .expect("the embedded production trusted root parses (checked by a unit test)")
        })
    }

    /// The transparency log with this log id.
    pub fn tlog(&self, log_id: &[u8]) -> Option<&TransparencyLog> {
        self.tlogs.iter().find(|l| l.log_id == log_id)
    }

    /// The certificate transparency log with this log id.
    pub fn ctlog(&self, log_id: &[u8]) -> Option<&TransparencyLog> {
        self.ctlogs.iter().find(|l| l.log_id == log_id)
    }

    /// Replaces the Fulcio CAs with the certificates of a PEM file, as gitsign's
    /// `GITSIGN_FULCIO_ROOT` does: self-signed certificates are roots, the others
    /// intermediates. Each certificate that issued none of the others starts one CA whose
    /// chain runs up to a root; the CA is valid while all its certificates are.
    pub fn with_fulcio_roots_pem(mut self, pem_text: &[u8]) -> Result<Self, TrustError> {
        let certs = pem::decode_all(pem_text, "CERTIFICATE")
            .map_err(TrustError::Pem)?
            .iter()
            .enumerate()
            .map(|(i, der)| {
                Certificate::from_der(der).map_err(|source| TrustError::Cert {
                    what: format!("PEM certificate {i}"),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut cas = Vec::new();
        for (i, bottom) in certs.iter().enumerate() {
            // Start only from certificates that issued none of the others (a re-keyed root
            // with the same name is self-signed and does not count as issued).
            let issued_some = certs.iter().enumerate().any(|(j, c)| {
                j != i
                    && c.issuer_raw() != c.subject_raw()
                    && c.issuer_raw() == bottom.subject_raw()
            });
            if issued_some {
                continue;
            }
            let mut chains = Vec::new();
            extend_chains(&certs, vec![i], &mut chains);
            if chains.is_empty() {
                return Err(TrustError::IncompleteChain {
                    subject: bottom.describe(),
                });
            }
            for chain in chains {
                let certs: Vec<Certificate> = chain.iter().map(|&k| certs[k].clone()).collect();
                let start = certs.iter().map(|c| c.not_before()).max().unwrap_or(0);
                let end = certs.iter().map(|c| c.not_after()).min();
                cas.push(CertificateAuthority {
                    uri: String::new(),
                    certs,
                    valid_for: Validity { start, end },
                });
            }
        }
        self.certificate_authorities = cas;
        Ok(self)
    }

    /// Replaces the transparency logs with the key(s) of a PEM file
    /// (`SIGSTORE_REKOR_PUBLIC_KEY`): log id = SHA-256 of the key's DER, always valid.
    pub fn with_rekor_key_pem(mut self, pem_text: &[u8]) -> Result<Self, TrustError> {
        self.tlogs = logs_from_pem(pem_text, "Rekor public key")?;
        Ok(self)
    }

    /// Replaces the CT logs with the key(s) of a PEM file (`SIGSTORE_CT_LOG_PUBLIC_KEY_FILE`).
    pub fn with_ctlog_key_pem(mut self, pem_text: &[u8]) -> Result<Self, TrustError> {
        self.ctlogs = logs_from_pem(pem_text, "CT log public key")?;
        Ok(self)
    }
}

/// Extends `path` (indices into `certs`, last = current top) up to self-signed roots by
/// issuer/subject name, collecting every complete path.
fn extend_chains(certs: &[Certificate], path: Vec<usize>, out: &mut Vec<Vec<usize>>) {
    let top = &certs[*path.last().expect("path is never empty")];
    if top.issuer_raw() == top.subject_raw() {
        out.push(path);
        return;
    }
    for (k, c) in certs.iter().enumerate() {
        if !path.contains(&k) && c.subject_raw() == top.issuer_raw() {
            let mut p = path.clone();
            p.push(k);
            extend_chains(certs, p, out);
        }
    }
}
