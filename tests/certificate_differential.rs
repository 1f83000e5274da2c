//! Our certificate parser (the strict DER reader, `core::x509::cert`) against an independent
//! one (RustCrypto's x509-cert, a dev-dependency only): on every certificate in the test data
//! both accept and print the same subject and issuer, and on every one-bit corruption of
//! real certificates ours never accepts what x509-cert refuses. Two parsers that can disagree
//! is the parser-differential bug class; the project ships one and checks it against another.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use x509_cert::der::Decode as _;

use gitsign::core::cms;
use gitsign::core::git::gitobj;
use gitsign::core::sigstore::trust::TrustedRoot;
use gitsign::core::x509::cert::Certificate;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn raw_bytes(v: &serde_json::Value, out: &mut Vec<Vec<u8>>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v.as_str()) {
                    ("rawBytes", Some(s)) => {
                        if let Ok(der) = B64.decode(s)
                            && der.first() == Some(&0x30)
                            && x509_cert::Certificate::from_der(&der).is_ok()
                        {
                            out.push(der);
                        }
                    }
                    _ => raw_bytes(v, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| raw_bytes(v, out)),
        _ => {}
    }
}

/// Every certificate of the test data: fixtures, trusted roots and bundles, and the
/// certificates inside real gitsign signatures.
fn certificates() -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    walk(&data(), &mut files);
    let mut out = Vec::new();
    for f in &files {
        let name = f.to_string_lossy();
        if name.ends_with(".der") && name.contains("fixtures/cert") {
            out.push(std::fs::read(f).unwrap());
        } else if name.ends_with(".json")
            && let Ok(v) = serde_json::from_slice(&std::fs::read(f).unwrap())
        {
            raw_bytes(&v, &mut out);
        }
    }
    for f in &files {
        let kind = match f.extension().and_then(|e| e.to_str()) {
            Some("commit") => gitobj::ObjectKind::Commit,
            Some("tag") => gitobj::ObjectKind::Tag,
            _ => continue,
        };
        let raw = std::fs::read(f).unwrap();
        let Ok(obj) = gitobj::split(kind, &raw, gitobj::HashAlgo::Sha1) else {
            continue;
        };
        let Ok(der) = gitsign::core::asn1::pem::decode_one(&obj.signature, "SIGNED MESSAGE") else {
            continue;
        };
        let Ok(sd) = cms::parse(&der, cms::Profile::Gitsign) else {
            continue;
        };
        out.extend(sd.certificates.iter().map(|c| c.to_vec()));
    }
    for ca in &TrustedRoot::production().certificate_authorities {
        out.extend(ca.certs.iter().map(|c| c.der().to_vec()));
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn both_parsers_accept_every_real_certificate_and_name_it_the_same() {
    let certs = certificates();
    assert!(certs.len() > 50, "only {} certificates found", certs.len());
    for der in &certs {
        let theirs = x509_cert::Certificate::from_der(der).unwrap();
        let ours =
            Certificate::from_der(der).unwrap_or_else(|e| panic!("{e}: {}", B64.encode(der)));
        let tbs = theirs.tbs_certificate();
        assert_eq!(ours.subject_string(), tbs.subject().to_string());
        assert_eq!(
            gitsign::core::x509::name::to_rfc4514(ours.issuer_raw()).unwrap(),
            tbs.issuer().to_string()
        );
        assert_eq!(
            ours.not_after(),
            tbs.validity().not_after.to_unix_duration().as_secs() as i64
        );
    }
}

#[test]
fn no_corrupted_certificate_is_accepted_by_ours_alone() {
    let certs = certificates();
    let mut checked = 0;
    let mut only_ours = Vec::new();
    // A leaf, an intermediate and a root of different shapes are enough to cover the
    // structure; every byte of each, two bit flips per byte.
    for der in certs.iter().step_by(certs.len() / 6 + 1) {
        for i in 0..der.len() {
            for bit in [0x01, 0x80] {
                let mut m = der.clone();
                m[i] ^= bit;
                checked += 1;
                if Certificate::from_der(&m).is_ok()
                    && x509_cert::Certificate::from_der(&m).is_err()
                {
                    let around = &m[i.saturating_sub(8)..(i + 8).min(m.len())];
                    only_ours.push(format!("byte {i} ^ {bit:#04x} (around: {around:02x?})"));
                }
            }
        }
    }
    assert!(checked > 5_000, "{checked}");
    assert!(
        only_ours.is_empty(),
        "{} accepted by ours alone, e.g. {:?}",
        only_ours.len(),
        &only_ours[..only_ours.len().min(5)]
    );
}
