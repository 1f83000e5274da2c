//! Embedded Signed Certificate Timestamps (RFC 6962 §3.2–3.3): proof that Fulcio logged the
//! precertificate of a leaf in a certificate transparency log.
//!
//! The log signed the precertificate's TBS, which is the leaf's TBS without the SCT list
//! extension (the poison extension it carried is gone from the final certificate). So the
//! signed data is rebuilt by dropping that one extension from the received TBS and fixing
//! the lengths around it; every other byte stays as received.

use std::fmt;

use crate::core::asn1::der::{self as tlv, DerError, tag};
use crate::core::sigstore::trust::TransparencyLog;
use crate::core::x509::cert::{self, Certificate, hex};
use crate::core::x509::keys::{HashAlg, PublicKey, sha256};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSct {
    pub log_id: Vec<u8>,
    pub timestamp_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SctError {
    /// The leaf has no SCT list extension.
    Missing,
    Malformed {
        what: &'static str,
    },
    Der(DerError),
    /// No SCT names a CT log of the trusted root valid at its timestamp.
    NoMatchingLog {
        log_ids: Vec<String>,
    },
    /// An SCT from a trusted log does not verify.
    BadSignature {
        log_id: String,
        timestamp_ms: u64,
    },
    UnsupportedAlgorithm {
        hash: u8,
        signature: u8,
    },
}

impl fmt::Display for SctError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SctError::Missing => f.write_str("certificate has no embedded SCT"),
            SctError::Malformed { what } => write!(f, "malformed embedded SCT: bad {what}"),
            SctError::Der(e) => write!(
                f,
                "malformed certificate while rebuilding the precertificate: {e}"
            ),
            SctError::NoMatchingLog { log_ids } => write!(
                f,
                "no embedded SCT is from a trusted CT log valid at its time (log ids: {})",
                log_ids.join(", ")
            ),
            SctError::BadSignature {
                log_id,
                timestamp_ms,
            } => write!(
                f,
                "SCT from CT log {log_id} at {timestamp_ms} ms does not verify"
            ),
            SctError::UnsupportedAlgorithm { hash, signature } => write!(
                f,
                "SCT uses unsupported algorithm (hash {hash}, signature {signature})"
            ),
        }
    }
}

impl std::error::Error for SctError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SctError::Der(e) => Some(e),
            _ => None,
        }
    }
}

impl From<DerError> for SctError {
    fn from(e: DerError) -> Self {
        SctError::Der(e)
    }
}

/// One parsed `SignedCertificateTimestamp` (v1).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sct<'a> {
    log_id: &'a [u8],
    timestamp_ms: u64,
    extensions: &'a [u8],
    hash: u8,
    sig_alg: u8,
    signature: &'a [u8],
}

/// A bounds-checked cursor over TLS presentation-language bytes.
struct Tls<'a> {
    data: &'a [u8],
}

impl<'a> Tls<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], SctError> {
        if self.data.len() < n {
            return Err(SctError::Malformed { what });
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(head)
    }
    fn uint(&mut self, n: usize, what: &'static str) -> Result<u64, SctError> {
        Ok(self
            .take(n, what)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }
    /// `opaque<0..2^(8n)-1>`: an n-byte length then that many bytes.
    fn vec(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], SctError> {
        let len = self.uint(n, what)? as usize;
        self.take(len, what)
    }
    fn finish(&self, what: &'static str) -> Result<(), SctError> {
        if self.data.is_empty() {
            Ok(())
        } else {
            Err(SctError::Malformed { what })
        }
    }
}

/// Parses a `SignedCertificateTimestampList` (RFC 6962 §3.3).
fn parse_list(list: &[u8]) -> Result<Vec<Sct<'_>>, SctError> {
    let mut outer = Tls { data: list };
    let body = outer.vec(2, "SCT list length")?;
    outer.finish("SCT list (trailing bytes)")?;
    let mut items = Tls { data: body };
    let mut scts = Vec::new();
    while !items.data.is_empty() {
        let raw = items.vec(2, "SCT length")?;
        if raw.is_empty() {
            return Err(SctError::Malformed {
                what: "SCT (empty)",
            });
        }
        let mut s = Tls { data: raw };
        if s.uint(1, "SCT version")? != 0 {
            return Err(SctError::Malformed {
                what: "SCT version (only v1 is known)",
            });
        }
        let log_id = s.take(32, "SCT log id")?;
        let timestamp_ms = s.uint(8, "SCT timestamp")?;
        let extensions = s.vec(2, "SCT extensions")?;
        let hash = s.uint(1, "SCT hash algorithm")? as u8;
        let sig_alg = s.uint(1, "SCT signature algorithm")? as u8;
        let signature = s.vec(2, "SCT signature")?;
        s.finish("SCT (trailing bytes)")?;
        scts.push(Sct {
            log_id,
            timestamp_ms,
            extensions,
            hash,
            sig_alg,
            signature,
        });
    }
    if scts.is_empty() {
        return Err(SctError::Malformed {
            what: "SCT list (empty)",
        });
    }
    Ok(scts)
}

/// The leaf's TBS with the SCT list extension removed, lengths re-encoded.
fn precert_tbs(leaf: &Certificate) -> Result<Vec<u8>, SctError> {
    let tbs = tlv::parse_single(leaf.tbs_raw(), tag::SEQUENCE)?;
    let mut fields = tbs.reader();
    let mut body = Vec::with_capacity(tbs.value.len());
    while !fields.is_empty() {
        let field = fields.any()?;
        if field.tag != tag::context(3) {
            body.extend_from_slice(field.raw);
            continue;
        }
        let mut inner = field.reader();
        let seq = inner.read(tag::SEQUENCE)?;
        inner.finish()?;
        let mut exts = seq.reader();
        let mut kept = Vec::with_capacity(seq.value.len());
        while !exts.is_empty() {
            let ext = exts.read(tag::SEQUENCE)?;
            let oid = ext.reader().read(tag::OID)?;
            if oid.value != cert::oid::SCT_LIST {
                kept.extend_from_slice(ext.raw);
            }
        }
        // With no extension left, the precertificate had none ([3] absent).
        if !kept.is_empty() {
            body.extend(tlv::encode(
                tag::context(3),
                &tlv::encode(tag::SEQUENCE, &kept),
            ));
        }
    }
    Ok(tlv::encode(tag::SEQUENCE, &body))
}

/// The `digitally-signed` content of an SCT over a precertificate entry (RFC 6962 §3.2).
fn signed_data(sct: &Sct<'_>, issuer_key_hash: &[u8; 32], tbs: &[u8]) -> Result<Vec<u8>, SctError> {
    let too_long = SctError::Malformed {
        what: "precertificate length",
    };
    let tbs_len = u32::try_from(tbs.len()).map_err(|_| too_long.clone())?;
    if tbs_len >= 1 << 24 {
        return Err(too_long);
    }
    let mut out = Vec::with_capacity(tbs.len() + sct.extensions.len() + 64);
    out.push(0); // sct_version v1
    out.push(0); // signature_type certificate_timestamp
    out.extend_from_slice(&sct.timestamp_ms.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes()); // entry_type precert_entry
    out.extend_from_slice(issuer_key_hash);
    out.extend_from_slice(&tbs_len.to_be_bytes()[1..]);
    out.extend_from_slice(tbs);
    // The parser took at most u16::MAX bytes of extensions.
    out.extend_from_slice(&(sct.extensions.len() as u16).to_be_bytes());
    out.extend_from_slice(sct.extensions);
    Ok(out)
}

fn verify_one(sct: &Sct<'_>, log: &TransparencyLog, data: &[u8]) -> Result<(), SctError> {
    let bad = || SctError::BadSignature {
        log_id: hex(sct.log_id),
        timestamp_ms: sct.timestamp_ms,
    };
    let key = log.key.as_ref().ok_or_else(bad)?;
    let hash = match (sct.hash, sct.sig_alg, key) {
        (4, 3, PublicKey::P256(_) | PublicKey::P384(_)) => HashAlg::Sha256,
        (5, 3, PublicKey::P256(_) | PublicKey::P384(_)) => HashAlg::Sha384,
        (6, 3, PublicKey::P256(_) | PublicKey::P384(_)) => HashAlg::Sha512,
        // RFC 8422: Ed25519 is SignatureAndHashAlgorithm {8 (intrinsic), 7}.
        (8, 7, PublicKey::Ed25519(_)) => HashAlg::Sha256,
        (hash, signature, _) => return Err(SctError::UnsupportedAlgorithm { hash, signature }),
    };
    key.verify(hash, data, sct.signature).map_err(|_| bad())
}

/// Verifies the SCTs embedded in `leaf` (issued by `issuer`) against the trusted CT logs.
/// Succeeds with the first SCT that verifies with a log whose id matches and whose validity
/// contains the SCT's time.
pub fn verify_embedded_sct(
    leaf: &Certificate,
    issuer: &Certificate,
    ctlogs: &[TransparencyLog],
) -> Result<VerifiedSct, SctError> {
    let ext = leaf
        .extension(cert::oid::SCT_LIST)
        .ok_or(SctError::Missing)?;
    let list = tlv::parse_single(ext, tag::OCTET_STRING)?;
    let scts = parse_list(list.value)?;
    let tbs = precert_tbs(leaf)?;
    let issuer_key_hash = sha256(issuer.spki_der());

    let mut failure = None;
    for sct in &scts {
        let seconds = i64::try_from(sct.timestamp_ms / 1000).unwrap_or(i64::MAX);
        let Some(log) = ctlogs
            .iter()
            .find(|l| l.log_id == sct.log_id && l.valid_for.contains(seconds))
        else {
            continue;
        };
        let data = signed_data(sct, &issuer_key_hash, &tbs)?;
        match verify_one(sct, log, &data) {
            Ok(()) => {
                return Ok(VerifiedSct {
                    log_id: sct.log_id.to_vec(),
                    timestamp_ms: sct.timestamp_ms,
                });
            }
            Err(e) => failure = Some(e),
        }
    }
    Err(failure.unwrap_or_else(|| SctError::NoMatchingLog {
        log_ids: scts.iter().map(|s| hex(s.log_id)).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::sigstore::trust::{TrustedRoot, Validity};
    use crate::core::testcert::{self as tc, T0};
    use crate::core::x509::cert::Certificate;
    use ecdsa::signature::Signer;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/data/fixtures/cert/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn fixtures() -> Vec<String> {
        let dir = format!("{}/tests/data/fixtures/cert", env!("CARGO_MANIFEST_DIR"));
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".leaf.der"))
            .collect();
        names.sort();
        names
    }

    fn chain_issuer(leaf: &Certificate) -> Certificate {
        let root = TrustedRoot::production();
        crate::core::x509::cert::verify_chain(
            leaf,
            &root.certificate_authorities,
            leaf.not_before(),
        )
        .unwrap()
        .issuer
    }

    /// Offset of the SCT list extension's content (the inner OCTET STRING) in the DER.
    fn sct_ext_offset(leaf: &Certificate) -> (usize, usize) {
        let ext = leaf.extension(cert::oid::SCT_LIST).unwrap();
        (
            ext.as_ptr() as usize - leaf.der().as_ptr() as usize,
            ext.len(),
        )
    }

    #[test]
    fn every_real_leaf_with_an_sct_verifies_against_the_production_ct_logs() {
        let root = TrustedRoot::production();
        let mut verified = 0;
        for name in fixtures() {
            let leaf = Certificate::from_der(&fixture(&name)).unwrap();
            let issuer = chain_issuer(&leaf);
            match verify_embedded_sct(&leaf, &issuer, &root.ctlogs) {
                Ok(sct) => {
                    verified += 1;
                    let log = root.ctlog(&sct.log_id).unwrap();
                    let secs = (sct.timestamp_ms / 1000) as i64;
                    assert!(log.valid_for.contains(secs));
                    // Fulcio logs the precertificate just before issuing.
                    assert!((secs - leaf.not_before()).abs() < 60, "{name}");
                }
                Err(SctError::Missing) => assert_eq!(name, "add1e873fdbd.leaf.der"),
                Err(e) => panic!("{name}: {e}"),
            }
        }
        assert_eq!(verified, 18);
    }

    #[test]
    fn june_2022_scts_come_from_the_old_ct_log() {
        let root = TrustedRoot::production();
        let leaf = Certificate::from_der(&fixture("7dc71a2a1280.leaf.der")).unwrap();
        let sct = verify_embedded_sct(&leaf, &chain_issuer(&leaf), &root.ctlogs).unwrap();
        assert_eq!(
            root.ctlog(&sct.log_id).unwrap().base_url,
            "https://ctfe.sigstore.dev/test"
        );
    }

    fn corrupt(name: &str, at: impl Fn(usize, usize) -> usize) -> (Certificate, Certificate) {
        let der = fixture(name);
        let leaf = Certificate::from_der(&der).unwrap();
        let issuer = chain_issuer(&leaf);
        let (off, len) = sct_ext_offset(&leaf);
        let mut bad = der.clone();
        bad[at(off, len)] ^= 0x01;
        (Certificate::from_der(&bad).unwrap(), issuer)
    }

    #[test]
    fn rejects_an_sct_with_a_flipped_signature_byte() {
        let root = TrustedRoot::production();
        // The leaf holds one SCT, so the extension ends with its signature.
        let (leaf, issuer) = corrupt("fe1e62346d3c.leaf.der", |off, len| off + len - 1);
        assert!(matches!(
            verify_embedded_sct(&leaf, &issuer, &root.ctlogs),
            Err(SctError::BadSignature { .. })
        ));
    }

    #[test]
    fn rejects_an_sct_with_a_changed_timestamp() {
        let root = TrustedRoot::production();
        // OCTET STRING header (2 or 3 bytes), list length 2, SCT length 2, version 1, log id 32,
        // then the 8-byte timestamp: flip its last byte (one millisecond).
        let (leaf, issuer) = corrupt("fe1e62346d3c.leaf.der", |off, _| {
            let header = if fixture("fe1e62346d3c.leaf.der")[off + 1] & 0x80 != 0 {
                3
            } else {
                2
            };
            off + header + 2 + 2 + 1 + 32 + 7
        });
        assert!(matches!(
            verify_embedded_sct(&leaf, &issuer, &root.ctlogs),
            Err(SctError::BadSignature { .. })
        ));
    }

    #[test]
    fn rejects_an_sct_checked_against_the_wrong_issuer_key() {
        let root = TrustedRoot::production();
        let leaf = Certificate::from_der(&fixture("fe1e62346d3c.leaf.der")).unwrap();
        assert!(matches!(
            verify_embedded_sct(&leaf, &leaf, &root.ctlogs),
            Err(SctError::BadSignature { .. })
        ));
    }

    #[test]
    fn rejects_an_sct_from_an_unknown_ct_log() {
        let leaf = Certificate::from_der(&fixture("fe1e62346d3c.leaf.der")).unwrap();
        let issuer = chain_issuer(&leaf);
        let other = TrustedRoot::production()
            .clone()
            .with_ctlog_key_pem(
                crate::core::asn1::pem::encode("PUBLIC KEY", &tc::spki(&tc::key(5))).as_bytes(),
            )
            .unwrap();
        let err = verify_embedded_sct(&leaf, &issuer, &other.ctlogs).unwrap_err();
        assert!(matches!(&err, SctError::NoMatchingLog { log_ids } if log_ids.len() == 1));
        assert!(matches!(
            verify_embedded_sct(&leaf, &issuer, &[]),
            Err(SctError::NoMatchingLog { .. })
        ));
    }

    #[test]
    fn rejects_an_sct_outside_its_log_validity() {
        let root = TrustedRoot::production();
        let leaf = Certificate::from_der(&fixture("fe1e62346d3c.leaf.der")).unwrap();
        let issuer = chain_issuer(&leaf);
        let mut logs = root.ctlogs.clone();
        for l in &mut logs {
            l.valid_for = Validity {
                start: 0,
                end: Some(leaf.not_before() - 3600),
            };
        }
        assert!(matches!(
            verify_embedded_sct(&leaf, &issuer, &logs),
            Err(SctError::NoMatchingLog { .. })
        ));
    }

    #[test]
    fn parses_sct_lists_strictly() {
        let sct = |ext: &[u8]| {
            let mut s = vec![0u8];
            s.extend([7u8; 32]);
            s.extend(5u64.to_be_bytes());
            s.extend((ext.len() as u16).to_be_bytes());
            s.extend(ext);
            s.extend([4, 3, 0, 2, 0xaa, 0xbb]);
            s
        };
        let list = |items: &[Vec<u8>]| {
            let mut body = Vec::new();
            for i in items {
                body.extend((i.len() as u16).to_be_bytes());
                body.extend(i);
            }
            let mut out = (body.len() as u16).to_be_bytes().to_vec();
            out.extend(body);
            out
        };
        let good = list(&[sct(b""), sct(b"\x01\x02")]);
        let parsed = parse_list(&good).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[1].extensions, b"\x01\x02");
        assert_eq!(parsed[0].timestamp_ms, 5);

        let mut trailing = good.clone();
        trailing.push(0);
        assert!(parse_list(&trailing).is_err());
        assert!(parse_list(&good[..good.len() - 1]).is_err());
        assert!(parse_list(&list(&[])).is_err());
        assert!(parse_list(&list(&[vec![]])).is_err());
        let mut v2 = sct(b"");
        v2[0] = 1;
        assert!(parse_list(&list(&[v2])).is_err());
        let mut long_inner = sct(b"");
        long_inner.push(0);
        assert!(parse_list(&list(&[long_inner])).is_err());
        assert!(parse_list(&[]).is_err());
    }

    /// Some logs put extensions in their SCTs; they are part of the signed data, verbatim.
    #[test]
    fn verifies_an_sct_with_extensions_over_a_rebuilt_precertificate() {
        let log_key = tc::key(5);
        let log_spki = tc::spki(&log_key);
        let log = TransparencyLog {
            base_url: "https://ct.test".into(),
            log_id: sha256(&log_spki).to_vec(),
            key: Some(PublicKey::from_spki_der(&log_spki).unwrap()),
            key_der: log_spki,
            key_details: "PKIX_ECDSA_P256_SHA_256".into(),
            valid_for: Validity::ALWAYS,
        };
        let issuer = Certificate::from_der(&tc::intermediate()).unwrap();
        let exts = tc::leaf_exts("a@example.com");
        let precert =
            Certificate::from_der(&tc::leaf("Test Intermediate", 2, exts.clone())).unwrap();
        let extensions = b"\x00\x01\x02";
        let unsigned = Sct {
            log_id: &log.log_id,
            timestamp_ms: (T0 as u64) * 1000,
            extensions,
            hash: 4,
            sig_alg: 3,
            signature: &[],
        };
        let data = signed_data(&unsigned, &sha256(issuer.spki_der()), precert.tbs_raw()).unwrap();
        let sig: p256::ecdsa::Signature = log_key.sign(&data);
        let sig = sig.to_der();

        let mut item = vec![0u8];
        item.extend(&log.log_id);
        item.extend(unsigned.timestamp_ms.to_be_bytes());
        item.extend((extensions.len() as u16).to_be_bytes());
        item.extend(extensions);
        item.extend([4, 3]);
        item.extend((sig.as_bytes().len() as u16).to_be_bytes());
        item.extend(sig.as_bytes());
        let mut list = ((item.len() + 2) as u16).to_be_bytes().to_vec();
        list.extend((item.len() as u16).to_be_bytes());
        list.extend(&item);

        // The SCT list goes between other extensions to exercise the splice.
        let mut final_exts = exts.clone();
        final_exts.insert(
            2,
            tc::ext(
                cert::oid::SCT_LIST,
                false,
                &tlv::encode(tag::OCTET_STRING, &list),
            ),
        );
        let leaf = Certificate::from_der(&tc::leaf("Test Intermediate", 2, final_exts)).unwrap();
        assert_eq!(precert_tbs(&leaf).unwrap(), precert.tbs_raw());
        let ok = verify_embedded_sct(&leaf, &issuer, std::slice::from_ref(&log)).unwrap();
        assert_eq!(ok.timestamp_ms, unsigned.timestamp_ms);

        // Dropping the extensions from the signed data must break the signature.
        let stripped = Sct {
            extensions: b"",
            ..unsigned
        };
        let data = signed_data(&stripped, &sha256(issuer.spki_der()), precert.tbs_raw()).unwrap();
        assert!(
            log.key
                .as_ref()
                .unwrap()
                .verify(HashAlg::Sha256, &data, sig.as_bytes())
                .is_err()
        );
    }
}
