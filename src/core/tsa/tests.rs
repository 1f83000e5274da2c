use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::*;
use crate::core::time::parse_rfc3339;
use crate::core::trust::{TrustedRoot, Validity};

/// A conformance case copied to `tests/data/fixtures/tsa/<name>/` (see its README).
struct Case {
    name: &'static str,
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
        name,
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

#[test]
fn every_conformance_timestamp_that_should_verify_does() {
    // (case, genTime, TSA subject). The DSSE `_fail` cases and the one whose timestamp lies
    // outside the signing certificate fail for other reasons: their timestamps are good.
    let good = [
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
    for (name, time, subject) in good {
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
            !s.contains('\n') && s.starts_with("timestamp") || s.starts_with("malformed"),
            "{s}"
        );
    }
}

#[test]
fn names_the_fixture_cases() {
    // Guards against a fixture directory that no test reads.
    let mut names: Vec<String> = std::fs::read_dir(dir(""))
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            e.file_type()
                .unwrap()
                .is_dir()
                .then(|| e.file_name().into_string().unwrap())
        })
        .collect();
    names.sort();
    assert_eq!(names.len(), 16);
    for n in &names {
        assert!(
            std::fs::read(format!("{}/{n}/bundle.sigstore.json", dir(""))).is_ok(),
            "{n}"
        );
    }
    let _ = case(HAPPY).name;
}
