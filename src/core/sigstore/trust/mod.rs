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

use crate::core::asn1::pem::{self, PemError};
use crate::core::time::{TimeError, parse_rfc3339};
use crate::core::x509::cert::{CertError, Certificate};
use crate::core::x509::keys::{PublicKey, sha256};

const MEDIA_TYPES: &[&str] = &[
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
    "application/vnd.dev.sigstore.trustedroot.v0.1+json",
];

pub use crate::core::time::Validity;
pub use crate::core::x509::cert::CertificateAuthority;

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

/// At least one block: an override that replaces with nothing would silently trust nothing
/// (or, worse, look configured when it is not).
fn pem_blocks(text: &[u8], label: &str) -> Result<Vec<Vec<u8>>, TrustError> {
    let blocks = pem::decode_all(text, label).map_err(TrustError::Pem)?;
    if blocks.is_empty() {
        return Err(TrustError::Pem(PemError::NoBlock {
            label: label.to_string(),
        }));
    }
    Ok(blocks)
}

fn logs_from_pem(pem_text: &[u8], what: &str) -> Result<Vec<TransparencyLog>, TrustError> {
    pem_blocks(pem_text, "PUBLIC KEY")?
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
    /// `GITSIGN_FULCIO_ROOT` does (see [`authorities_from_pem`]).
    pub fn with_fulcio_roots_pem(mut self, pem_text: &[u8]) -> Result<Self, TrustError> {
        self.certificate_authorities = authorities_from_pem(pem_text)?;
        Ok(self)
    }

    /// Adds the timestamp authorities of a PEM chain (TSA certificate first, up to its root),
    /// as gitsign's `gitsign.timestampCertChain` does for private deployments.
    pub fn with_tsa_chain_pem(mut self, pem_text: &[u8]) -> Result<Self, TrustError> {
        self.timestamp_authorities
            .extend(authorities_from_pem(pem_text)?);
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

/// The authorities of a PEM file: self-signed certificates are roots, the others
/// intermediates (or, for a TSA, its own certificate). Each certificate that issued none of
/// the others starts one authority whose chain runs up to a root; it is valid while all its
/// certificates are.
fn authorities_from_pem(pem_text: &[u8]) -> Result<Vec<CertificateAuthority>, TrustError> {
    let certs = pem_blocks(pem_text, "CERTIFICATE")?
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
            j != i && c.issuer_raw() != c.subject_raw() && c.issuer_raw() == bottom.subject_raw()
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
    Ok(cas)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::testcert as tc;

    const PROD: &str = include_str!("production-trusted-root.json");

    fn edited(f: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
        let mut v: serde_json::Value = serde_json::from_str(PROD).unwrap();
        f(&mut v);
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn parses_the_production_root() {
        let root = TrustedRoot::production();
        assert_eq!(root.certificate_authorities.len(), 2);
        assert_eq!(root.certificate_authorities[1].certs.len(), 2);
        assert_eq!(
            root.certificate_authorities[1].certs[0].describe(),
            "\"CN=sigstore-intermediate,O=sigstore.dev\""
        );
        assert_eq!(root.tlogs.len(), 2);
        assert_eq!(root.ctlogs.len(), 2);
        assert_eq!(root.timestamp_authorities.len(), 1);
        for log in root.tlogs.iter().chain(&root.ctlogs) {
            assert!(log.key.is_some(), "{}", log.base_url);
        }
        // Rekor v1 and CT log ids are the SHA-256 of the key.
        let rekor = &root.tlogs[0];
        assert_eq!(rekor.log_id, sha256(&rekor.key_der));
        assert!(root.tlog(&rekor.log_id).is_some());
        assert!(root.ctlog(&rekor.log_id).is_none());
        assert!(matches!(root.tlogs[1].key, Some(PublicKey::Ed25519(_))));
        let start = parse_rfc3339("2022-10-20T00:00:00Z").unwrap();
        assert_eq!(root.ctlogs[1].valid_for, Validity { start, end: None });
    }

    #[test]
    fn accepts_the_other_media_type_spelling() {
        let json = edited(|v| {
            v["mediaType"] = "application/vnd.dev.sigstore.trustedroot.v0.1+json".into()
        });
        TrustedRoot::from_json(&json).unwrap();
        let json = edited(|v| v["mediaType"] = "application/json".into());
        assert!(matches!(
            TrustedRoot::from_json(&json),
            Err(TrustError::UnsupportedMediaType(_))
        ));
    }

    #[test]
    fn rejects_a_validity_without_start() {
        let json = edited(|v| {
            v["ctlogs"][0]["publicKey"]["validFor"]
                .as_object_mut()
                .unwrap()
                .remove("start");
        });
        let err = TrustedRoot::from_json(&json).unwrap_err();
        assert!(
            matches!(&err, TrustError::Missing { what } if what == "ctlogs[0] publicKey validFor.start"),
            "{err}"
        );
        let json = edited(|v| {
            v["certificateAuthorities"][1]
                .as_object_mut()
                .unwrap()
                .remove("validFor");
        });
        assert!(matches!(
            TrustedRoot::from_json(&json),
            Err(TrustError::Missing { .. })
        ));
    }

    #[test]
    fn rejects_bad_base64_certificates_and_mismatched_keys() {
        let json = edited(|v| {
            v["certificateAuthorities"][0]["certChain"]["certificates"][0]["rawBytes"] =
                "not base64!".into()
        });
        assert!(matches!(
            TrustedRoot::from_json(&json),
            Err(TrustError::Base64 { .. })
        ));
        let json = edited(|v| {
            v["certificateAuthorities"][0]["certChain"]["certificates"][0]["rawBytes"] =
                "MAA=".into()
        });
        assert!(matches!(
            TrustedRoot::from_json(&json),
            Err(TrustError::Cert { .. })
        ));
        let json = edited(|v| v["tlogs"][0]["publicKey"]["keyDetails"] = "PKIX_ED25519".into());
        assert!(matches!(
            TrustedRoot::from_json(&json),
            Err(TrustError::KeyMismatch { .. })
        ));
        // A key type we do not know is kept, unusable.
        let json = edited(|v| {
            v["tlogs"][0]["publicKey"]["keyDetails"] = "PKIX_RSA_PKCS1V15_2048_SHA256".into()
        });
        assert!(
            TrustedRoot::from_json(&json).unwrap().tlogs[0]
                .key
                .is_none()
        );
        let json = edited(|v| {
            v["certificateAuthorities"][0]["certChain"]["certificates"] =
                serde_json::Value::Array(vec![])
        });
        assert!(matches!(
            TrustedRoot::from_json(&json),
            Err(TrustError::EmptyChain { .. })
        ));
        assert!(matches!(
            TrustedRoot::from_json(b"{\"mediaType\": 1}"),
            Err(TrustError::Json(_))
        ));
    }

    #[test]
    fn ignores_unknown_fields() {
        let json = edited(|v| v["futureField"] = serde_json::json!({"x": [1, 2]}));
        TrustedRoot::from_json(&json).unwrap();
    }

    #[test]
    fn validity_is_inclusive_at_both_ends() {
        let v = Validity {
            start: 10,
            end: Some(20),
        };
        assert!(!v.contains(9) && v.contains(10) && v.contains(20) && !v.contains(21));
        assert!(Validity::ALWAYS.contains(i64::MAX));
    }

    #[test]
    fn fulcio_roots_pem_builds_a_ca_per_chain() {
        let pem = [
            pem::encode("CERTIFICATE", &tc::root(None)),
            pem::encode("CERTIFICATE", &tc::intermediate()),
        ]
        .concat();
        let root = TrustedRoot::production()
            .clone()
            .with_fulcio_roots_pem(pem.as_bytes())
            .unwrap();
        assert_eq!(root.certificate_authorities.len(), 1);
        let ca = &root.certificate_authorities[0];
        assert_eq!(ca.uri, "");
        let names: Vec<String> = ca.certs.iter().map(|c| c.describe()).collect();
        assert_eq!(names, ["\"CN=Test Intermediate\"", "\"CN=Test Root\""]);
        assert_eq!(ca.valid_for.start, ca.certs[0].not_before());
        assert_eq!(ca.valid_for.end, Some(ca.certs[0].not_after()));
        // Other parts of the root are kept.
        assert_eq!(root.ctlogs.len(), 2);

        let leaf = crate::core::x509::cert::Certificate::from_der(&tc::leaf(
            "Test Intermediate",
            2,
            tc::leaf_exts("a@example.com"),
        ))
        .unwrap();
        crate::core::x509::cert::verify_chain(&leaf, &root.certificate_authorities, tc::T0)
            .unwrap();

        // A root alone is a CA too.
        let root_only = TrustedRoot::production()
            .clone()
            .with_fulcio_roots_pem(pem::encode("CERTIFICATE", &tc::root(None)).as_bytes())
            .unwrap();
        assert_eq!(root_only.certificate_authorities[0].certs.len(), 1);
    }

    #[test]
    fn fulcio_roots_pem_rejects_an_intermediate_without_its_root() {
        let pem = pem::encode("CERTIFICATE", &tc::intermediate());
        assert!(matches!(
            TrustedRoot::production()
                .clone()
                .with_fulcio_roots_pem(pem.as_bytes()),
            Err(TrustError::IncompleteChain { .. })
        ));
        assert!(matches!(
            TrustedRoot::production().clone().with_fulcio_roots_pem(b""),
            Err(TrustError::Pem(_))
        ));
    }

    #[test]
    fn rekor_and_ct_key_pems_replace_the_logs() {
        let spki = tc::spki(&tc::key(7));
        let pem = pem::encode("PUBLIC KEY", &spki);
        let root = TrustedRoot::production()
            .clone()
            .with_rekor_key_pem(pem.as_bytes())
            .unwrap()
            .with_ctlog_key_pem(pem.as_bytes())
            .unwrap();
        for logs in [&root.tlogs, &root.ctlogs] {
            assert_eq!(logs.len(), 1);
            assert_eq!(logs[0].log_id, sha256(&spki));
            assert_eq!(logs[0].key_details, "PKIX_ECDSA_P256_SHA_256");
            assert_eq!(logs[0].valid_for, Validity::ALWAYS);
        }
        assert!(root.tlog(&sha256(&spki)).is_some());
        let junk = pem::encode("PUBLIC KEY", b"\x30\x00");
        assert!(matches!(
            TrustedRoot::production()
                .clone()
                .with_rekor_key_pem(junk.as_bytes()),
            Err(TrustError::UnsupportedKey { .. })
        ));
    }
}
