//! RFC 3161 timestamps and Rekor v2 at signing, end to end against the local stack (which
//! serves a tile-based v2 log and a timestamp authority next to Rekor v1): git signs with
//! v2 + timestamp, v1 + timestamp and v1 alone, and git, `gitsign verify`, OpenSSL's
//! `ts -verify` and sigstore-python accept the result; every tampered part is refused.

mod common;
#[path = "common/forge.rs"]
mod forge;
#[path = "common/signing.rs"]
mod signing;
#[path = "common/stack.rs"]
mod stack;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::text;
use gitsign::core::asn1::pem;
use gitsign::core::cms::{self, builder};
use gitsign::core::git::gitobj::{self, HashAlgo, ObjectKind};
use gitsign::core::sigstore::trust::TrustedRoot;
use gitsign::core::tlog;
use gitsign::core::verify::policy::Policy;
use gitsign::core::verify::{Log, Options, Verifier};
use serde_json::Value;
use signing::{Signing, gitsign_line};

fn v2_env(r: &Signing) -> Vec<(String, String)> {
    vec![
        (
            "GITSIGN_REKOR_URL".into(),
            r.stack.var("SIGSTORE_STACK_REKOR2_URL").into(),
        ),
        ("GITSIGN_REKOR_VERSION".into(), "2".into()),
        (
            "GITSIGN_TIMESTAMP_SERVER_URL".into(),
            r.stack.var("SIGSTORE_STACK_TSA_URL").into(),
        ),
    ]
}

fn tsa_env(r: &Signing) -> Vec<(String, String)> {
    vec![(
        "GITSIGN_TIMESTAMP_SERVER_URL".into(),
        r.stack.var("SIGSTORE_STACK_TSA_URL").into(),
    )]
}

fn pairs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn stack_dir(r: &Signing) -> PathBuf {
    PathBuf::from(r.stack.var("SIGSTORE_STACK_DIR"))
}

fn trust(r: &Signing) -> TrustedRoot {
    TrustedRoot::from_json(&std::fs::read(r.stack.trusted_root()).unwrap()).unwrap()
}

/// The commit's payload and signature PEM.
fn signed(r: &Signing, id: &str) -> gitobj::SignedObject {
    let raw = r.git(&["cat-file", "commit", id]).stdout;
    gitobj::split(ObjectKind::Commit, &raw, HashAlgo::Sha1).unwrap()
}

/// `gitsign verify --output json` of one commit.
fn verify_json(r: &Signing, id: &str) -> (bool, Value) {
    let out = r.gitsign(&[
        "verify",
        id,
        "--certificate-identity",
        r.stack.identity(),
        "--certificate-oidc-issuer",
        r.stack.issuer(),
        "--output",
        "json",
    ]);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&out.stdout), text(&out.stderr)));
    (out.status.success(), v)
}

fn sources(v: &Value) -> Vec<String> {
    v["trusted_times"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["source"].as_str().unwrap().to_string())
        .collect()
}

/// The signature with its unsigned attributes replaced by `unsigned`.
fn reassembled(
    pem_sig: &[u8],
    unsigned: &dyn Fn(&cms::SignerInfo<'_>) -> Vec<builder::AttributeValue>,
) -> String {
    let der = pem::decode_one(pem_sig, "SIGNED MESSAGE").unwrap();
    let sd = cms::parse(&der, cms::Profile::Gitsign).unwrap();
    let si = &sd.signer;
    let cms::SignerId::IssuerSerial { issuer, serial } = si.sid else {
        panic!("gitsign names its signer by issuer and serial")
    };
    let certs: Vec<&[u8]> = sd.certificates.to_vec();
    let der = builder::assemble(&builder::Signer {
        certificates: &certs,
        issuer,
        serial,
        signed_attrs: &si.signed_attrs,
        signature: si.signature,
        unsigned_attrs: &unsigned(si),
    });
    pem::encode("SIGNED MESSAGE", &der)
}

/// Writes a commit with `signature` and returns its id.
fn write_commit(r: &Signing, payload: &[u8], signature: &str) -> String {
    let raw = forge::with_gpgsig(payload, signature);
    let path = r.s.dir.path().join("forged-commit");
    std::fs::write(&path, raw).unwrap();
    let out = r.git(&[
        "hash-object",
        "-t",
        "commit",
        "-w",
        "--literally",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).trim().to_string()
}

fn verify_commit(r: &Signing, id: &str) -> std::process::Output {
    r.git(&["verify-commit", "--raw", id])
}

#[test]
fn rekor_v2_with_a_timestamp_signs_and_verifies_through_git_and_gitsign_verify() {
    let r = Signing::new();
    let env = v2_env(&r);
    let id = r.commit("v2 + timestamp", &pairs(&env));
    let out = verify_commit(&r, &id);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("[GNUPG:] GOODSIG"));

    let (ok, v) = verify_json(&r, &id);
    assert!(ok, "{v}");
    assert_eq!(v["tlog"]["log_version"], 2, "{v}");
    assert_eq!(v["tlog"]["log"], r.stack.var("SIGSTORE_STACK_REKOR2_URL"));
    assert_eq!(v["tlog"]["integrated_time"], Value::Null);
    assert_eq!(v["tlog"]["set_verified"], false);
    assert_eq!(sources(&v), ["rfc3161"]);
    assert_eq!(v["time_source"], "rfc3161-timestamp");

    let human = r.verify_with_gitsign("verify", &id);
    assert!(human.status.success(), "{}", text(&human.stderr));
    let said = text(&human.stderr);
    assert!(
        said.contains("(Rekor v2)") && said.contains("RFC 3161 timestamp"),
        "{said}"
    );

    // Tags too.
    r.ok(&["tag", "-s", "v2tag", "-m", "tag"], &pairs(&env));
    let out = r.git(&["verify-tag", "v2tag"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn rekor_v1_with_a_timestamp_carries_both_trusted_times_and_v1_alone_none() {
    let r = Signing::new();
    let id = r.commit("v1 + timestamp", &pairs(&tsa_env(&r)));
    let out = verify_commit(&r, &id);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (ok, v) = verify_json(&r, &id);
    assert!(ok, "{v}");
    assert_eq!(v["tlog"]["log_version"], 1);
    assert_eq!(v["tlog"]["set_verified"], true);
    assert_eq!(sources(&v), ["tlog", "rfc3161"]);

    let plain = r.commit("v1 alone", &[]);
    let (ok, v) = verify_json(&r, &plain);
    assert!(ok, "{v}");
    assert_eq!(sources(&v), ["tlog"]);
    assert!(
        cms_token(&signed(&r, &plain).signature).is_none(),
        "no timestamp unless one is configured"
    );
}

#[test]
fn the_signing_config_chooses_the_v2_log_and_its_timestamp_authority() {
    let r = Signing::new();
    let config = stack_dir(&r).join("signing_config.json");
    let config = config.to_str().unwrap();
    // No explicit log: the config decides (its highest API version, v2).
    let id = r.commit(
        "chosen by the signing config",
        &[
            ("GITSIGN_REKOR_URL", ""),
            ("GITSIGN_SIGNING_CONFIG", config),
        ],
    );
    let (ok, v) = verify_json(&r, &id);
    assert!(ok, "{v}");
    assert_eq!(v["tlog"]["log_version"], 2, "{v}");
    assert_eq!(sources(&v), ["rfc3161"]);
    // An explicit version narrows the choice to v1 (and the config's TSA still stamps).
    let id = r.commit(
        "v1 from the config",
        &[
            ("GITSIGN_REKOR_URL", ""),
            ("GITSIGN_REKOR_VERSION", "1"),
            ("GITSIGN_SIGNING_CONFIG", config),
        ],
    );
    let (ok, v) = verify_json(&r, &id);
    assert!(ok, "{v}");
    assert_eq!(v["tlog"]["log_version"], 1, "{v}");
    assert_eq!(v["tlog"]["log"], r.stack.rekor());
    assert_eq!(sources(&v), ["tlog", "rfc3161"]);
}

#[test]
fn a_v2_log_without_a_timestamp_authority_is_refused_before_anything_is_signed() {
    let r = Signing::new();
    let mut config: Value =
        serde_json::from_slice(&std::fs::read(stack_dir(&r).join("signing_config.json")).unwrap())
            .unwrap();
    config["tsaUrls"] = Value::Array(vec![]);
    let path = r.s.dir.path().join("no-tsa.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let stats = r.stack.stats();
    let err = r.failed(
        &["commit", "-S", "--allow-empty", "-m", "x"],
        &[
            ("GITSIGN_REKOR_URL", ""),
            ("GITSIGN_SIGNING_CONFIG", path.to_str().unwrap()),
        ],
    );
    let line = gitsign_line(&err);
    assert!(line.contains("needs an RFC 3161 timestamp"), "{line}");
    assert_eq!(r.stack.stats(), stats, "no token or certificate was spent");
}

fn cms_token(pem_sig: &[u8]) -> Option<Vec<u8>> {
    let der = pem::decode_one(pem_sig, "SIGNED MESSAGE").unwrap();
    let sd = cms::parse(&der, cms::Profile::Gitsign).unwrap();
    sd.signer.timestamp_token().map(<[u8]>::to_vec)
}

#[test]
fn a_v2_signature_stripped_of_its_timestamp_is_refused() {
    let r = Signing::new();
    let id = r.commit("v2", &pairs(&v2_env(&r)));
    let obj = signed(&r, &id);
    let stripped = reassembled(&obj.signature, &|si| {
        vec![builder::AttributeValue {
            oid: gitsign::core::asn1::der::oid::GITSIGN_TLOG_ENTRY.to_vec(),
            values: vec![gitsign::core::asn1::der::encode(
                gitsign::core::asn1::der::tag::OCTET_STRING,
                si.tlog_entry().unwrap(),
            )],
        }]
    });
    let forged = write_commit(&r, &obj.payload, &stripped);
    let out = verify_commit(&r, &forged);
    assert!(!out.status.success());
    assert!(
        !text(&out.stderr).contains("GOODSIG"),
        "{}",
        text(&out.stderr)
    );
    let (ok, v) = verify_json(&r, &forged);
    assert!(!ok);
    assert_eq!(v["reason"], "no-trusted-time", "{v}");
}

#[test]
fn what_gitsign_017_writes_for_rekor_v2_verifies_offline() {
    // gitsign 0.17 with rekorVersion=2 labels the v2 entry hashedrekord 0.0.1 and leaves an
    // empty inclusion promise: the same entry, relabelled.
    let r = Signing::new();
    let id = r.commit("v2", &pairs(&v2_env(&r)));
    let obj = signed(&r, &id);
    let relabelled = reassembled(&obj.signature, &|si| {
        let mut entry = tlog::decode_transparency_log_entry(si.tlog_entry().unwrap()).unwrap();
        entry.version = "0.0.1".into();
        entry.signed_entry_timestamp = Some(Vec::new());
        vec![
            builder::tlog_entry_attribute(&entry).unwrap(),
            builder::timestamp_attribute(si.timestamp_token().unwrap()),
        ]
    });
    assert_ne!(relabelled.as_bytes(), obj.signature.as_slice());
    let forged = write_commit(&r, &obj.payload, &relabelled);
    let out = verify_commit(&r, &forged);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (ok, v) = verify_json(&r, &forged);
    assert!(ok, "{v}");
    assert_eq!(v["tlog"]["log_version"], 2);
}

#[test]
fn openssl_ts_verify_accepts_the_embedded_tokens() {
    let r = Signing::new();
    for (name, env) in [("v2", v2_env(&r)), ("v1", tsa_env(&r))] {
        let id = r.commit(name, &pairs(&env));
        let obj = signed(&r, &id);
        let token = cms_token(&obj.signature).expect("a timestamp");
        let der = pem::decode_one(&obj.signature, "SIGNED MESSAGE").unwrap();
        let sd = cms::parse(&der, cms::Profile::Gitsign).unwrap();
        let dir = r.s.dir.path();
        std::fs::write(dir.join("token.der"), &token).unwrap();
        std::fs::write(dir.join("signature.bin"), sd.signer.signature).unwrap();
        let verify = |data: &Path| {
            Command::new("openssl")
                .args(["ts", "-verify", "-token_in", "-in"])
                .arg(dir.join("token.der"))
                .arg("-data")
                .arg(data)
                .arg("-CAfile")
                .arg(r.stack.var("SIGSTORE_STACK_TSA_CHAIN"))
                .output()
                .unwrap()
        };
        let out = verify(&dir.join("signature.bin"));
        assert!(
            out.status.success(),
            "{name}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        let mut other = sd.signer.signature.to_vec();
        other[0] ^= 1;
        std::fs::write(dir.join("other.bin"), other).unwrap();
        assert!(!verify(&dir.join("other.bin")).status.success());
    }
}

#[test]
fn sigstore_python_accepts_bundles_of_v2_and_timestamp_commits_offline() {
    use base64::Engine as _;
    let cli = std::env::var_os("SIGSTORE_CLI")
        .expect("SIGSTORE_CLI must name the sigstore program: run the tests with scripts/test");
    let r = Signing::new();
    let id = r.commit("bundle", &pairs(&v2_env(&r)));
    let out = r.gitsign(&["export-bundle", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bundle: Value = serde_json::from_slice(&out.stdout).unwrap();
    let entry = &bundle["verificationMaterial"]["tlogEntries"][0];
    assert_eq!(entry["kindVersion"]["version"], "0.0.2");
    assert!(entry.get("inclusionPromise").is_none());
    assert!(
        bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]
            ["signedTimestamp"]
            .is_string()
    );
    let dir = r.s.dir.path();
    std::fs::write(dir.join("bundle.json"), &out.stdout).unwrap();
    let digest = base64::engine::general_purpose::STANDARD
        .decode(
            bundle["messageSignature"]["messageDigest"]["digest"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let verify = |identity: &str| {
        Command::new(&cli)
            .arg("--trust-config")
            .arg(stack_dir(&r).join("trust_config.json"))
            .args(["verify", "identity", "--offline", "--bundle"])
            .arg(dir.join("bundle.json"))
            .args(["--cert-identity", identity])
            .args(["--cert-oidc-issuer", r.stack.issuer()])
            .arg(format!("sha256:{hex}"))
            .output()
            .unwrap()
    };
    let out = verify(r.stack.identity());
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(!verify("other@example.com").status.success());
    // Our own bundle verifier agrees, and refuses another artifact.
    let ours = |digest: &str| {
        r.gitsign(&[
            "verify-bundle",
            "--bundle",
            dir.join("bundle.json").to_str().unwrap(),
            "--certificate-identity",
            r.stack.identity(),
            "--certificate-oidc-issuer",
            r.stack.issuer(),
            "--trusted-root",
            r.stack.trusted_root(),
            digest,
        ])
    };
    let out = ours(&format!("sha256:{hex}"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!ours(&format!("sha256:{}", "0".repeat(64))).status.success());
}

/// The size of the stack's Rekor v2 log, from its checkpoint on disk.
fn v2_log_size(r: &Signing) -> u64 {
    let note = std::fs::read_to_string(stack_dir(r).join("rekor2/checkpoint")).unwrap();
    note.lines().nth(1).unwrap().parse().unwrap()
}

fn faulty_signing_fails(service: &str, url: &str, modes: &[&str], expect: &str) {
    let r = Signing::new();
    let env = v2_env(&r);
    let size = v2_log_size(&r);
    for mode in modes {
        r.stack.fault(url_of(&r, url), mode);
        let err = r.failed(&["commit", "-S", "--allow-empty", "-m", mode], &pairs(&env));
        let line = gitsign_line(&err);
        assert!(line.contains(expect), "{service} {mode}: {line}");
        assert!(!err.contains("GOODSIG"));
        r.stack.fault(url_of(&r, url), "none");
        // The timestamp comes before the log: a failed timestamp logs nothing.
        if service == "tsa" {
            assert_eq!(v2_log_size(&r), size, "{mode}");
        }
    }
    // And with the faults gone, signing works again.
    r.commit("after the faults", &pairs(&env));
}

fn url_of<'a>(r: &'a Signing, var: &str) -> &'a str {
    let url = r.stack.var(var);
    url.strip_suffix("/api/v1/timestamp").unwrap_or(url)
}

#[test]
fn a_timestamp_authority_that_misbehaves_fails_the_signing_and_logs_nothing() {
    faulty_signing_fails(
        "tsa",
        "SIGSTORE_STACK_TSA_URL",
        &[
            "wrong-nonce",
            "wrong-imprint",
            "wrong-key",
            "status500",
            "garbage",
        ],
        "timestamp",
    );
}

#[test]
fn a_rekor_v2_log_that_misbehaves_fails_the_signing() {
    faulty_signing_fails(
        "rekor2",
        "SIGSTORE_STACK_REKOR2_URL",
        &["wrong-key", "wrong-entry", "status500", "garbage"],
        "Rekor",
    );
}

/// Every byte of a v2 + timestamp signature (the certificate, the signed attributes, the
/// signature, the v2 entry with its proof and checkpoint, the timestamp token) and of the
/// payload, flipped in turn: none may verify. In process, with the verifier git's verify mode
/// uses; `tests/mutation.rs` drives the binary over the real vectors.
#[test]
fn corrupting_any_byte_of_a_v2_and_timestamp_signature_is_rejected() {
    let r = Signing::new();
    let id = r.commit("mutate me", &pairs(&v2_env(&r)));
    let obj = signed(&r, &id);
    let trust = trust(&r);
    let verifier = Verifier::new(&trust, Options::default());
    let verifies = |payload: &[u8], sig_pem: &[u8]| {
        verifier
            .check(payload, sig_pem)
            .and_then(|c| verifier.verify(&c, Log::Embedded, &Policy::AnyFulcioIdentity))
            .is_ok()
    };
    assert!(
        verifies(&obj.payload, &obj.signature),
        "the original verifies"
    );
    let der = pem::decode_one(&obj.signature, "SIGNED MESSAGE").unwrap();
    let mut accepted = Vec::new();
    for i in 0..der.len() {
        let mut bad = der.clone();
        bad[i] ^= 0x01;
        if verifies(&obj.payload, pem::encode("SIGNED MESSAGE", &bad).as_bytes()) {
            accepted.push(i);
        }
    }
    assert!(
        accepted.is_empty(),
        "accepted with byte(s) {accepted:?} of {} flipped",
        der.len()
    );
    for i in 0..obj.payload.len() {
        let mut bad = obj.payload.clone();
        bad[i] ^= 0x01;
        assert!(!verifies(&bad, &obj.signature), "payload byte {i}");
    }
}
