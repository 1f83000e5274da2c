use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::*;
use crate::core::sigstore::trust::{TrustedRoot, Validity};
use crate::core::time::parse_rfc3339;

/// A conformance case copied to `tests/data/fixtures/tsa/<name>/` (see its README).
struct Case {
    bundle: serde_json::Value,
    /// The bundle's `signedTimestamp`: a DER TimeStampResp.
    response: Vec<u8>,
    /// The signature bytes the timestamp covers.
    signed: Vec<u8>,
    root: TrustedRoot,
}

fn dir(name: &str) -> String {
    format!(
        "{}/tests/data/fixtures/tsa/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn b64(v: &serde_json::Value) -> Vec<u8> {
    STANDARD.decode(v.as_str().expect("a string")).unwrap()
}

fn case(name: &'static str) -> Case {
    let d = dir(name);
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(format!("{d}/bundle.sigstore.json")).unwrap())
            .unwrap();
    let ts = &bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"];
    assert_eq!(ts.as_array().unwrap().len(), 1, "{name}");
    let response = b64(&ts[0]["signedTimestamp"]);
    let signed = if bundle["messageSignature"].is_object() {
        b64(&bundle["messageSignature"]["signature"])
    } else {
        b64(&bundle["dsseEnvelope"]["signatures"][0]["sig"])
    };
    let root = match std::fs::read(format!("{d}/trusted_root.json")) {
        Ok(json) => TrustedRoot::from_json(&json).unwrap(),
        // The suite's convention: no trusted_root.json means the production root.
        Err(_) => TrustedRoot::production().clone(),
    };
    Case {
        bundle,
        response,
        signed,
        root,
    }
}

impl Case {
    fn verify(&self) -> Result<VerifiedTimestamp, TsaError> {
        verify_timestamp(
            &self.response,
            &self.signed,
            &self.root.timestamp_authorities,
        )
    }

    /// The bundle's signing certificate (v0.3 `certificate`, or the chain's first).
    fn leaf(&self) -> Certificate {
        let vm = &self.bundle["verificationMaterial"];
        let raw = if vm["certificate"].is_object() {
            &vm["certificate"]["rawBytes"]
        } else {
            &vm["x509CertificateChain"]["certificates"][0]["rawBytes"]
        };
        Certificate::from_der(&b64(raw)).unwrap()
    }
}

/// The TimeStampToken inside a TimeStampResp (its second element).
fn token_of(response: &[u8]) -> Vec<u8> {
    let outer = der::parse_single(response, tag::SEQUENCE).unwrap();
    let mut r = outer.reader();
    r.read(tag::SEQUENCE).unwrap();
    r.read(tag::SEQUENCE).unwrap().raw.to_vec()
}

const HAPPY: &str = "rekor2-happy-path";

fn t(s: &str) -> UnixTime {
    parse_rfc3339(s).unwrap()
}

/// Conformance cases whose timestamp is good: (case, genTime if asserted, TSA subject).
/// The DSSE `_fail` cases and the one whose timestamp lies outside the signing certificate
/// fail for other reasons.
const GOOD: [(&str, &str, &str); 12] = [
    (
        HAPPY,
        "2025-06-12T12:02:20Z",
        "CN=sigstore-tsa,O=sigstore.dev",
    ),
    (
        "trust-root-tsa-validity-end-inclusive",
        "2025-06-12T12:02:20Z",
        "CN=sigstore-tsa,O=sigstore.dev",
    ),
    (
        "rekor2-timestamp-with-embedded-cert",
        "",
        "CN=sigstore-tsa,O=sigstore.dev",
    ),
    (
        "rekor2-timestamp-without-embedded-cert",
        "",
        "CN=sigstore-tsa,O=sigstore.dev",
    ),
    (
        "rekor2-timestamp-with-expired-cert-chain",
        "",
        "CN=Test TSA Timestamping,O=local",
    ),
    (
        "intoto-with-custom-trust-root",
        "",
        "O=sigstore.mock,CN=tsa signing",
    ),
    (
        "intoto-tsa-timestamp-outside-cert-validity_fail",
        "",
        "O=sigstore.mock,CN=tsa signing",
    ),
    (
        "managed-key-happy-path",
        "",
        "CN=sigstore-tsa,O=sigstore.dev",
    ),
    (
        "bundle-with-sct-with-extensions",
        "",
        "CN=sigstore-tsa,O=sigstore.dev",
    ),
    (
        "rekor2-dsse-happy-path",
        "",
        "CN=sigstore-tsa,O=sigstore.dev",
    ),
    (
        "rekor2-dsse-invalid-sig_fail",
        "",
        "CN=sigstore-tsa,O=sigstore.dev",
    ),
    (
        "rekor2-dsse-mismatch-envelope_fail",
        "",
        "CN=sigstore-tsa,O=sigstore.dev",
    ),
];

/// Conformance cases whose timestamp must be rejected (each has its own test below).
const BAD: [&str; 4] = [
    "rekor2-timestamp-outside-trust-root-tsa-validity_fail",
    "rekor2-timestamp-outside-tsa-cert-validity_fail",
    "rekor2-timestamp-payload-mismatch_fail",
    "rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail",
];

#[test]
fn every_fixture_directory_is_a_case_the_tests_name() {
    let mut on_disk: Vec<String> = std::fs::read_dir(dir(""))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    on_disk.sort();
    let mut named: Vec<String> = GOOD
        .iter()
        .map(|g| g.0)
        .chain(BAD)
        .map(String::from)
        .collect();
    named.sort();
    assert_eq!(on_disk, named);
    for name in BAD {
        assert!(case(name).verify().is_err(), "{name}");
    }
}

#[test]
fn every_conformance_timestamp_that_should_verify_does() {
    for (name, time, subject) in GOOD {
        let c = case(name);
        let v = c.verify().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(v.tsa_subject, subject, "{name}");
        if !time.is_empty() {
            assert_eq!(v.time, t(time), "{name}");
        }
        assert!(
            c.root
                .timestamp_authorities
                .iter()
                .any(|a| a.uri == v.authority_uri && a.valid_for.contains(v.time)),
            "{name}"
        );
        // The bare token (gitsign's unsigned attribute) verifies the same.
        assert_eq!(
            verify_timestamp(
                &token_of(&c.response),
                &c.signed,
                &c.root.timestamp_authorities
            ),
            Ok(v),
            "{name}"
        );
    }
}

#[test]
fn the_validity_end_of_the_authority_is_inclusive() {
    let c = case("trust-root-tsa-validity-end-inclusive");
    let v = c.verify().unwrap();
    assert_eq!(Some(v.time), c.root.timestamp_authorities[0].valid_for.end);
}

#[test]
fn rejects_a_timestamp_after_the_authority_validity_in_the_trusted_root() {
    let c = case("rekor2-timestamp-outside-trust-root-tsa-validity_fail");
    let err = c.verify().unwrap_err();
    assert_eq!(
        err,
        TsaError::OutsideAuthorityValidity {
            uri: "https://timestamp.sigstage.dev/api/v1/timestamp".into(),
            time: t("2025-06-12T12:02:20Z"),
            start: t("2025-04-09T00:00:00Z"),
            end: Some(t("2025-06-01T00:00:00Z")),
        }
    );
    assert_eq!(
        err.to_string(),
        "timestamp genTime 2025-06-12T12:02:20Z is outside the trusted validity of \
         https://timestamp.sigstage.dev/api/v1/timestamp (2025-04-09T00:00:00Z to 2025-06-01T00:00:00Z)"
    );
}

#[test]
fn rejects_a_timestamp_made_after_the_tsa_certificate_expired() {
    let c = case("rekor2-timestamp-outside-tsa-cert-validity_fail");
    let err = c.verify().unwrap_err();
    let TsaError::CertificateExpired {
        time, not_after, ..
    } = err
    else {
        panic!("{err}");
    };
    assert!(time > not_after);
}

#[test]
fn accepts_a_timestamp_made_while_a_now_expired_chain_was_valid() {
    let c = case("rekor2-timestamp-with-expired-cert-chain");
    let v = c.verify().unwrap();
    for cert in &c.root.timestamp_authorities[0].certs {
        assert!(cert.valid_at(v.time));
        assert!(cert.not_after() < t("2026-01-01T00:00:00Z"));
    }
}

#[test]
fn rejects_a_timestamp_over_another_signature() {
    let c = case("rekor2-timestamp-payload-mismatch_fail");
    assert_eq!(
        c.verify(),
        Err(TsaError::ImprintMismatch {
            algorithm: HashAlg::Sha256
        })
    );
}

#[test]
fn rejects_an_untrusted_tsa_even_with_its_certificates_embedded() {
    let c = case("rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail");
    let err = c.verify().unwrap_err();
    assert!(
        matches!(&err, TsaError::UntrustedEmbeddedCertificate { subject } if subject.contains("Free TSA")),
        "{err}"
    );
}

#[test]
fn a_timestamp_outside_the_signing_certificate_is_left_to_the_caller() {
    // The bundle fails because genTime is outside the Fulcio leaf's validity: the
    // timestamp itself is good, and its time is what the caller compares.
    let c = case("intoto-tsa-timestamp-outside-cert-validity_fail");
    let v = c.verify().unwrap();
    assert!(!c.leaf().valid_at(v.time));
    let ok = case("intoto-with-custom-trust-root");
    assert!(ok.leaf().valid_at(ok.verify().unwrap().time));
}

#[test]
fn the_conformance_tsa_chains_are_internally_signed() {
    for name in [
        HAPPY,
        "rekor2-timestamp-with-expired-cert-chain",
        "intoto-with-custom-trust-root",
        "bundle-with-sct-with-extensions",
    ] {
        for ca in &case(name).root.timestamp_authorities {
            cert::verify_anchor_signatures(ca).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
    for ca in &TrustedRoot::production().timestamp_authorities {
        cert::verify_anchor_signatures(ca).unwrap();
    }
}

// Hand-made bad inputs, from real tokens.

#[test]
fn rejects_other_signed_bytes() {
    let c = case(HAPPY);
    let mut signed = c.signed.clone();
    signed[0] ^= 1;
    assert!(matches!(
        verify_timestamp(&c.response, &signed, &c.root.timestamp_authorities),
        Err(TsaError::ImprintMismatch { .. })
    ));
}

/// Offset of `needle` in `hay` (it must occur exactly once).
fn find(hay: &[u8], needle: &[u8]) -> usize {
    let hits: Vec<usize> = hay
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(hits.len(), 1);
    hits[0]
}

#[test]
fn rejects_a_flipped_imprint_in_the_token() {
    let c = case(HAPPY);
    let mut resp = c.response.clone();
    let at = find(&resp, &c.root_imprint());
    resp[at + 5] ^= 0x40;
    assert!(matches!(
        verify_timestamp(&resp, &c.signed, &c.root.timestamp_authorities),
        Err(TsaError::ImprintMismatch { .. })
    ));
}

impl Case {
    fn root_imprint(&self) -> Vec<u8> {
        HashAlg::Sha256.digest(&self.signed)
    }
}

#[test]
fn rejects_a_flipped_signature() {
    let c = case(HAPPY);
    let mut resp = c.response.clone();
    // The SignerInfo's signature ends the token.
    *resp.last_mut().unwrap() ^= 1;
    let err = verify_timestamp(&resp, &c.signed, &c.root.timestamp_authorities).unwrap_err();
    assert!(matches!(err, TsaError::BadSignature { .. }), "{err}");
    assert!(err.to_string().contains("signature does not verify"));
}

#[test]
fn rejects_a_changed_signed_attribute() {
    let c = case(HAPPY);
    let mut resp = c.response.clone();
    // signingTime "2506121202..." -> another minute: still DER, still a valid time.
    let at = find(&resp, b"\x17\x0d250612120220Z");
    resp[at + 11] ^= 1;
    let err = verify_timestamp(&resp, &c.signed, &c.root.timestamp_authorities).unwrap_err();
    assert!(matches!(err, TsaError::BadSignature { .. }), "{err}");
}

#[test]
fn rejects_a_changed_tst_info() {
    let c = case(HAPPY);
    let mut resp = c.response.clone();
    // genTime is inside the TSTInfo, which the messageDigest attribute covers.
    let at = find(&resp, b"20250612120220Z");
    resp[at + 11] ^= 1;
    assert_eq!(
        verify_timestamp(&resp, &c.signed, &c.root.timestamp_authorities),
        Err(TsaError::ContentDigestMismatch)
    );
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    let c = case(HAPPY);
    let token = token_of(&c.response);
    for input in [&c.response, &token] {
        for n in 0..input.len() {
            let err = verify_timestamp(&input[..n], &c.signed, &c.root.timestamp_authorities)
                .unwrap_err();
            assert!(matches!(err, TsaError::Der { .. }), "{n}: {err}");
        }
    }
}

#[test]
fn rejects_trailing_bytes() {
    let c = case(HAPPY);
    let mut resp = c.response.clone();
    resp.push(0);
    assert!(matches!(
        verify_timestamp(&resp, &c.signed, &c.root.timestamp_authorities),
        Err(TsaError::Der {
            source: DerError::TrailingBytes { .. },
            ..
        })
    ));
}

#[test]
fn rejects_a_response_that_was_not_granted() {
    let c = case(HAPPY);
    let mut resp = c.response.clone();
    // SEQUENCE { SEQUENCE { INTEGER 0 } ...: status at byte 6.
    assert_eq!(&resp[4..7], &[0x30, 0x03, 0x02]);
    resp[8] = 2;
    assert_eq!(
        verify_timestamp(&resp, &c.signed, &c.root.timestamp_authorities),
        Err(TsaError::NotGranted { status: 2 })
    );
}

#[test]
fn rejects_a_tsa_the_trusted_root_does_not_list() {
    // The staging TSA's token against the production root, with and without the
    // certificate embedded, and against no authority at all.
    let prod = &TrustedRoot::production().timestamp_authorities;
    let c = case(HAPPY);
    let err = verify_timestamp(&c.response, &c.signed, prod).unwrap_err();
    assert!(
        matches!(err, TsaError::UntrustedEmbeddedCertificate { .. }),
        "{err}"
    );
    let c = case("rekor2-timestamp-without-embedded-cert");
    assert_eq!(
        verify_timestamp(&c.response, &c.signed, prod),
        Err(TsaError::NoTrustedAuthority)
    );
    assert_eq!(
        verify_timestamp(&c.response, &c.signed, &[]),
        Err(TsaError::NoTrustedAuthority)
    );
}

#[test]
fn rejects_an_embedded_certificate_other_than_the_authority_leaf() {
    // The authority lists another TSA certificate first (the production one) over the
    // staging root: the embedded staging leaf is not it.
    let c = case(HAPPY);
    let mut ca = c.root.timestamp_authorities[0].clone();
    ca.certs[0] = TrustedRoot::production().timestamp_authorities[0].certs[0].clone();
    let err = verify_timestamp(&c.response, &c.signed, &[ca]).unwrap_err();
    assert!(
        matches!(err, TsaError::UntrustedEmbeddedCertificate { .. }),
        "{err}"
    );
}

#[test]
fn an_authority_listing_only_the_root_anchors_an_embedded_leaf() {
    let c = case(HAPPY);
    let mut ca = c.root.timestamp_authorities[0].clone();
    ca.certs.remove(0);
    let v = verify_timestamp(&c.response, &c.signed, &[ca.clone()]).unwrap();
    assert_eq!(v.time, t("2025-06-12T12:02:20Z"));
    // Without the embedded certificate there is no TSA certificate to use.
    let c = case("rekor2-timestamp-without-embedded-cert");
    assert_eq!(
        verify_timestamp(&c.response, &c.signed, &[ca]),
        Err(TsaError::NoTrustedAuthority)
    );
}

#[test]
fn rejects_a_time_outside_the_authority_validity_at_either_end() {
    let c = case(HAPPY);
    let gen_time = t("2025-06-12T12:02:20Z");
    for valid_for in [
        Validity {
            start: gen_time + 1,
            end: None,
        },
        Validity {
            start: 0,
            end: Some(gen_time - 1),
        },
    ] {
        let mut ca = c.root.timestamp_authorities[0].clone();
        ca.valid_for = valid_for;
        assert!(matches!(
            verify_timestamp(&c.response, &c.signed, &[ca]),
            Err(TsaError::OutsideAuthorityValidity { time, .. }) if time == gen_time
        ));
    }
    let mut ca = c.root.timestamp_authorities[0].clone();
    ca.valid_for = Validity {
        start: gen_time,
        end: Some(gen_time),
    };
    verify_timestamp(&c.response, &c.signed, &[ca]).unwrap();
}

#[test]
fn a_later_authority_can_vouch_when_an_earlier_one_is_outside_its_window() {
    let c = case(HAPPY);
    let mut expired = c.root.timestamp_authorities[0].clone();
    expired.valid_for.end = Some(expired.valid_for.start);
    expired.uri = "https://old.example".into();
    let current = c.root.timestamp_authorities[0].clone();
    let v = verify_timestamp(&c.response, &c.signed, &[expired.clone(), current]).unwrap();
    assert_eq!(
        v.authority_uri,
        "https://timestamp.sigstage.dev/api/v1/timestamp"
    );
    assert!(matches!(
        verify_timestamp(&c.response, &c.signed, &[expired]),
        Err(TsaError::OutsideAuthorityValidity { .. })
    ));
}

#[test]
fn every_flipped_byte_of_a_real_token_is_rejected_without_panic() {
    for name in [HAPPY, "rekor2-timestamp-without-embedded-cert"] {
        let c = case(name);
        let cas = &c.root.timestamp_authorities;
        for input in [c.response.clone(), token_of(&c.response)] {
            for i in 0..input.len() {
                for bit in [0x01, 0x80] {
                    let mut bad = input.clone();
                    bad[i] ^= bit;
                    if let Ok(v) = verify_timestamp(&bad, &c.signed, cas) {
                        panic!("{name}: flipping bit {bit:#x} of byte {i} still verifies: {v:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn errors_are_one_line() {
    let c = case("rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail");
    let errs = [
        c.verify().unwrap_err(),
        case("rekor2-timestamp-outside-tsa-cert-validity_fail")
            .verify()
            .unwrap_err(),
        verify_timestamp(b"", b"", &[]).unwrap_err(),
    ];
    for e in errs {
        let s = e.to_string();
        assert!(
            !s.contains('\n') && (s.starts_with("timestamp") || s.starts_with("malformed")),
            "{s}"
        );
    }
}

// Hand-made tokens from a test TSA (fixed keys of `core::testcert`), for the certificate
// profile and time edges that no conformance case reaches.

pub(crate) mod minted {
    use ecdsa::signature::Signer;

    use super::*;
    use crate::core::asn1::der::encode;
    use crate::core::testcert::{self as tc, T0};
    use crate::core::x509::cert::oid as cert_oid;

    /// A TSA leaf under `tc::root`, valid T0..T0+1y; the root signs it directly.
    pub struct Tsa {
        pub leaf_exts: Vec<Vec<u8>>,
        pub leaf_not_after: UnixTime,
        /// Extra CA between root and leaf, with these extensions.
        pub intermediate_exts: Option<Vec<Vec<u8>>>,
    }

    pub const SKI: &[u8] = &[0x11; 20];

    pub fn eku(critical: bool, purposes: &[&[u8]]) -> Vec<u8> {
        let list: Vec<u8> = purposes.iter().flat_map(|p| encode(tag::OID, p)).collect();
        tc::ext(
            cert_oid::EXT_KEY_USAGE,
            critical,
            &encode(tag::SEQUENCE, &list),
        )
    }

    pub fn good_exts() -> Vec<Vec<u8>> {
        vec![
            tc::ext(cert_oid::KEY_USAGE, true, &[0x03, 0x02, 0x07, 0x80]),
            tc::ext(
                cert_oid::SUBJECT_KEY_ID,
                false,
                &encode(tag::OCTET_STRING, SKI),
            ),
            eku(true, &[tsa_oid::TIME_STAMPING]),
        ]
    }

    impl Default for Tsa {
        fn default() -> Self {
            Tsa {
                leaf_exts: good_exts(),
                leaf_not_after: T0 + tc::YEAR,
                intermediate_exts: None,
            }
        }
    }

    impl Tsa {
        /// (leaf DER, the authority: [leaf, (intermediate,) root])
        pub fn build(&self) -> (Vec<u8>, CertificateAuthority) {
            let mut chain = vec![tc::root(None)];
            let (issuer, issuer_key) = match &self.intermediate_exts {
                None => ("Test Root", tc::key(1)),
                Some(exts) => {
                    let inter = tc::build(
                        &tc::Spec {
                            serial: 2,
                            issuer: tc::name("Test Root"),
                            subject: tc::name("Test Intermediate"),
                            not_before: T0 - tc::YEAR,
                            not_after: T0 + 2 * tc::YEAR,
                            spki: tc::spki(&tc::key(2)),
                            exts: exts.clone(),
                        },
                        &tc::key(1),
                    );
                    chain.insert(0, inter);
                    ("Test Intermediate", tc::key(2))
                }
            };
            let leaf = tc::build(
                &tc::Spec {
                    serial: 7,
                    issuer: tc::name(issuer),
                    subject: tc::name("Test TSA"),
                    not_before: T0,
                    not_after: self.leaf_not_after,
                    spki: tc::spki(&tc::key(3)),
                    exts: self.leaf_exts.clone(),
                },
                &issuer_key,
            );
            chain.insert(0, leaf.clone());
            let ca = CertificateAuthority {
                uri: "https://tsa.test".into(),
                certs: chain
                    .iter()
                    .map(|d| Certificate::from_der(d).unwrap())
                    .collect(),
                valid_for: Validity::ALWAYS,
            };
            (leaf, ca)
        }
    }

    pub struct Token {
        pub gen_time: String,
        pub imprint_alg: Vec<u8>,
        pub signing_time: Option<String>,
        pub by_key_id: bool,
        pub embed: Option<Vec<u8>>,
        pub signature_alg: Vec<u8>,
        /// The nonce INTEGER's content bytes.
        pub nonce: Option<Vec<u8>>,
    }

    impl Default for Token {
        fn default() -> Self {
            Token {
                gen_time: "20240101120000Z".into(),
                imprint_alg: oid::SHA256.to_vec(),
                signing_time: None,
                by_key_id: false,
                embed: None,
                signature_alg: oid::ECDSA_WITH_SHA256.to_vec(),
                nonce: None,
            }
        }
    }

    fn alg(o: &[u8]) -> Vec<u8> {
        encode(tag::SEQUENCE, &encode(tag::OID, o))
    }

    impl Token {
        /// A ContentInfo(SignedData) over `signed`, signed by the test TSA key.
        pub fn mint(&self, signed: &[u8], leaf: &Certificate) -> Vec<u8> {
            let imprint = match self.imprint_alg.as_slice() {
                o if o == oid::SHA256 => HashAlg::Sha256.digest(signed),
                _ => vec![0x5a; 20],
            };
            let tst = encode(
                tag::SEQUENCE,
                &[
                    encode(tag::INTEGER, &[1]),
                    encode(tag::OID, &[0x2a, 0x03, 0x04]),
                    encode(
                        tag::SEQUENCE,
                        &[alg(&self.imprint_alg), encode(tag::OCTET_STRING, &imprint)].concat(),
                    ),
                    encode(tag::INTEGER, &[0x42]),
                    encode(tag::GENERALIZED_TIME, self.gen_time.as_bytes()),
                    self.nonce
                        .as_deref()
                        .map_or(Vec::new(), |n| encode(tag::INTEGER, n)),
                ]
                .concat(),
            );
            let attr = |o: &[u8], v: Vec<u8>| {
                encode(
                    tag::SEQUENCE,
                    &[encode(tag::OID, o), encode(tag::SET, &v)].concat(),
                )
            };
            let mut attrs = vec![
                attr(oid::CONTENT_TYPE, encode(tag::OID, tsa_oid::TST_INFO)),
                attr(
                    oid::MESSAGE_DIGEST,
                    encode(tag::OCTET_STRING, &HashAlg::Sha256.digest(&tst)),
                ),
            ];
            if let Some(st) = &self.signing_time {
                attrs.push(attr(
                    oid::SIGNING_TIME,
                    encode(tag::UTC_TIME, st.as_bytes()),
                ));
            }
            let attrs = attrs.concat();
            let sig: p256::ecdsa::Signature = tc::key(3).sign(&encode(tag::SET, &attrs));
            let (version, sid) = if self.by_key_id {
                (3, encode(tag::context_primitive(0), SKI))
            } else {
                (
                    1,
                    encode(
                        tag::SEQUENCE,
                        &[
                            leaf.issuer_raw().to_vec(),
                            encode(tag::INTEGER, leaf.serial()),
                        ]
                        .concat(),
                    ),
                )
            };
            let signer_info = encode(
                tag::SEQUENCE,
                &[
                    encode(tag::INTEGER, &[version]),
                    sid,
                    alg(oid::SHA256),
                    encode(tag::context(0), &attrs),
                    alg(&self.signature_alg),
                    encode(tag::OCTET_STRING, sig.to_der().as_bytes()),
                ]
                .concat(),
            );
            let mut sd = vec![
                encode(tag::INTEGER, &[3]),
                encode(tag::SET, &alg(oid::SHA256)),
                encode(
                    tag::SEQUENCE,
                    &[
                        encode(tag::OID, tsa_oid::TST_INFO),
                        encode(tag::context(0), &encode(tag::OCTET_STRING, &tst)),
                    ]
                    .concat(),
                ),
            ];
            if let Some(cert) = &self.embed {
                sd.push(encode(tag::context(0), cert));
            }
            sd.push(encode(tag::SET, &signer_info));
            encode(
                tag::SEQUENCE,
                &[
                    encode(tag::OID, oid::SIGNED_DATA),
                    encode(tag::context(0), &encode(tag::SEQUENCE, &sd.concat())),
                ]
                .concat(),
            )
        }
    }
}

use crate::core::testcert::T0;
use minted::{Tsa, eku, good_exts};

const SIGNED: &[u8] = b"signature bytes";

fn mint(tsa: &Tsa, token: minted::Token) -> Result<VerifiedTimestamp, TsaError> {
    let (_, ca) = tsa.build();
    let der = token.mint(SIGNED, &ca.certs[0]);
    verify_timestamp(&der, SIGNED, &[ca])
}

fn mint_embedded(tsa: &Tsa, token: minted::Token) -> Result<VerifiedTimestamp, TsaError> {
    let (leaf, mut ca) = tsa.build();
    let signer = ca.certs.remove(0);
    let der = minted::Token {
        embed: Some(leaf),
        ..token
    }
    .mint(SIGNED, &signer);
    verify_timestamp(&der, SIGNED, &[ca])
}

#[test]
fn a_minted_token_verifies_by_issuer_and_serial_or_by_key_id() {
    let noon = T0 + 12 * 3600;
    let v = mint(&Tsa::default(), Default::default()).unwrap();
    assert_eq!(v.time, noon);
    assert_eq!(v.tsa_subject, "CN=Test TSA");
    let by_ski = minted::Token {
        by_key_id: true,
        ..Default::default()
    };
    assert_eq!(mint(&Tsa::default(), by_ski).unwrap().time, noon);
    assert_eq!(
        mint_embedded(&Tsa::default(), Default::default())
            .unwrap()
            .time,
        noon
    );
}

#[test]
fn a_key_id_naming_another_certificate_finds_no_authority() {
    let mut exts = good_exts();
    exts[1] = crate::core::testcert::ext(
        crate::core::x509::cert::oid::SUBJECT_KEY_ID,
        false,
        &der::encode(tag::OCTET_STRING, &[0x22; 20]),
    );
    let tsa = Tsa {
        leaf_exts: exts,
        ..Default::default()
    };
    let by_ski = minted::Token {
        by_key_id: true,
        ..Default::default()
    };
    assert_eq!(mint(&tsa, by_ski), Err(TsaError::NoTrustedAuthority));
}

#[test]
fn the_certificate_end_is_inclusive_to_the_second_but_not_beyond() {
    let tsa = Tsa {
        leaf_not_after: T0 + 12 * 3600,
        ..Default::default()
    };
    mint(&tsa, Default::default()).unwrap();
    let half_past = minted::Token {
        gen_time: "20240101120000.5Z".into(),
        ..Default::default()
    };
    assert!(matches!(
        mint(&tsa, half_past),
        Err(TsaError::CertificateExpired { subject, .. }) if subject == "\"CN=Test TSA\""
    ));
    // A zero fraction is no later.
    let zero = minted::Token {
        gen_time: "20240101120000.000Z".into(),
        ..Default::default()
    };
    mint(&tsa, zero).unwrap();
    let before = minted::Token {
        gen_time: "20231231235959.9Z".into(),
        ..Default::default()
    };
    assert!(matches!(
        mint(&Tsa::default(), before),
        Err(TsaError::CertificateExpired { .. })
    ));
}

#[test]
fn the_tsa_certificate_must_be_for_timestamping_alone_and_say_so_critically() {
    let cases: [(Vec<u8>, &str); 3] = [
        (
            eku(false, &[tsa_oid::TIME_STAMPING]),
            "extended key usage is not critical",
        ),
        (
            eku(
                true,
                &[
                    tsa_oid::TIME_STAMPING,
                    crate::core::x509::cert::oid::CODE_SIGNING,
                ],
            ),
            "extended key usage is not timeStamping alone",
        ),
        (
            eku(true, &[crate::core::x509::cert::oid::CODE_SIGNING]),
            "extended key usage is not timeStamping alone",
        ),
    ];
    for (ext, why) in cases {
        let mut exts = good_exts();
        exts[2] = ext;
        let tsa = Tsa {
            leaf_exts: exts,
            ..Default::default()
        };
        assert!(matches!(
            mint(&tsa, Default::default()),
            Err(TsaError::NotTimestamping { reason, .. }) if reason == why
        ));
    }
    let mut exts = good_exts();
    exts.pop();
    let tsa = Tsa {
        leaf_exts: exts,
        ..Default::default()
    };
    assert!(matches!(
        mint(&tsa, Default::default()),
        Err(TsaError::NotTimestamping {
            reason: "has no extended key usage",
            ..
        })
    ));
}

#[test]
fn a_ca_certificate_cannot_sign_timestamps() {
    let mut exts = good_exts();
    exts.extend(crate::core::testcert::ca_exts(None).into_iter().skip(1));
    let tsa = Tsa {
        leaf_exts: exts,
        ..Default::default()
    };
    assert!(matches!(
        mint_embedded(&tsa, Default::default()),
        Err(TsaError::NotTimestamping { reason, .. }) if reason.contains("CA certificate")
    ));
}

#[test]
fn a_ca_whose_extended_key_usage_excludes_timestamping_breaks_the_chain() {
    let mut ca_exts = crate::core::testcert::ca_exts(None);
    let tsa = Tsa {
        intermediate_exts: Some(ca_exts.clone()),
        ..Default::default()
    };
    mint(&tsa, Default::default()).unwrap();
    ca_exts.push(eku(
        false,
        &[
            tsa_oid::TIME_STAMPING,
            crate::core::x509::cert::oid::CODE_SIGNING,
        ],
    ));
    let tsa = Tsa {
        intermediate_exts: Some(ca_exts.clone()),
        ..Default::default()
    };
    mint(&tsa, Default::default()).unwrap();
    ca_exts.pop();
    ca_exts.push(eku(false, &[crate::core::x509::cert::oid::CODE_SIGNING]));
    let tsa = Tsa {
        intermediate_exts: Some(ca_exts),
        ..Default::default()
    };
    assert!(matches!(
        mint(&tsa, Default::default()),
        Err(TsaError::NotTimestamping { subject, .. }) if subject == "\"CN=Test Intermediate\""
    ));
}

#[test]
fn a_signing_time_outside_the_tsa_certificate_is_rejected() {
    let inside = minted::Token {
        signing_time: Some("240101120000Z".into()),
        ..Default::default()
    };
    mint(&Tsa::default(), inside).unwrap();
    let outside = minted::Token {
        signing_time: Some("231231000000Z".into()),
        ..Default::default()
    };
    assert!(matches!(
        mint(&Tsa::default(), outside),
        Err(TsaError::SigningTimeOutsideCertificate { .. })
    ));
}

#[test]
fn refuses_sha1_imprints_and_non_ecdsa_signatures() {
    let sha1 = minted::Token {
        imprint_alg: tsa_oid::SHA1.to_vec(),
        ..Default::default()
    };
    assert_eq!(
        mint(&Tsa::default(), sha1),
        Err(TsaError::WeakHash {
            what: "messageImprint hashAlgorithm"
        })
    );
    // sha256WithRSAEncryption
    let rsa = minted::Token {
        signature_alg: vec![0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b],
        ..Default::default()
    };
    assert_eq!(
        mint(&Tsa::default(), rsa),
        Err(TsaError::UnsupportedSignatureAlgorithm {
            oid: "1.2.840.113549.1.1.11".into()
        })
    );
    let sha384 = minted::Token {
        signature_alg: oid::ECDSA_WITH_SHA384.to_vec(),
        ..Default::default()
    };
    assert!(matches!(
        mint(&Tsa::default(), sha384),
        Err(TsaError::Malformed { .. })
    ));
}
