//! An RFC 3161 timestamp authority, as Sigstore's timestamp-authority serves one.
//!
//! HTTP:
//! - `POST /api/v1/timestamp` with a DER TimeStampReq (`application/timestamp-query`): 200
//!   with a DER TimeStampResp (`application/timestamp-reply`), status granted and a
//!   TimeStampToken; a request for a hash other than SHA-256/384/512 is answered with status
//!   rejection (badAlg) and a statusString, as RFC 3161 §2.4.2 says; a body that is not a
//!   TimeStampReq gets HTTP 400.
//! - `GET /api/v1/timestamp/certchain`: the chain as PEM, leaf first.
//!
//! The token: ContentInfo(SignedData v3) over a TSTInfo (policy 1.3.6.1.4.1.57264.2, the
//! request's messageImprint and nonce echoed byte for byte, genTime now, a fresh serial),
//! signed by a P-384 leaf (ECDSA with SHA-384) with signed attributes contentType,
//! messageDigest and ESS signingCertificateV2 (what OpenSSL's `ts -verify` insists on); the
//! leaf and the root are embedded when the request sets certReq. The leaf has a critical
//! extended key usage of timeStamping alone and a critical key usage of digitalSignature,
//! under a self-signed P-384 root; both persist in `DIR/tsa/` (`root.p8`, `leaf.p8`,
//! `chain.pem`, leaf then root), so tokens stay verifiable across restarts.
//!
//! Faults: `wrong-nonce` echoes another nonce, `wrong-imprint` another imprint (both signed
//! correctly: a lying authority); `wrong-key` (and `wrong-chain`) sign with a key the embedded
//! leaf does not certify.

use std::fs;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use gitsign::core::asn1::der::{self, encode, oid, tag};
use gitsign::core::asn1::pem;
use gitsign::core::time::civil_from_unix;
use gitsign::core::x509::cert::{Certificate, oid as cert_oid};
use gitsign::core::x509::keys::sha256;
use serde_json::{Value, json};

use crate::ca::{self, CA_LIFETIME, Tbs, ext, key_id, name, serial, sign_tbs};
use crate::http::{Request, Response};
use crate::keys::{Curve, SigningKey};
use crate::{Fault, StackError};

/// 1.3.6.1.5.5.7.3.8 (id-kp-timeStamping)
const OID_TIME_STAMPING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08];
/// 1.2.840.113549.1.9.16.1.4 (id-ct-TSTInfo)
const OID_TST_INFO: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x04,
];
/// 1.2.840.113549.1.9.16.2.47 (id-aa-signingCertificateV2)
const OID_SIGNING_CERTIFICATE_V2: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x02, 0x2f,
];
/// 1.3.6.1.4.1.57264.2 (Sigstore's timestamping policy)
const OID_POLICY: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xbf, 0x30, 0x02];

const ROOT_CN: &str = "sigstore-stack-tsa-root";
const LEAF_CN: &str = "sigstore-stack-tsa";
/// What a TSA path under the service answers.
pub const TIMESTAMP_PATH: &str = "/api/v1/timestamp";

/// The authority: its keys, certificates and URL.
pub struct Tsa {
    /// The service's base URL (the timestamp endpoint is [`Tsa::timestamp_url`]).
    pub url: String,
    leaf_key: SigningKey,
    foreign_key: SigningKey,
    pub leaf_der: Vec<u8>,
    pub root_der: Vec<u8>,
    leaf_issuer: Vec<u8>,
    leaf_serial: Vec<u8>,
    pub not_before: i64,
}

fn bad_state(path: &Path, what: &'static str) -> StackError {
    StackError::State {
        path: path.to_path_buf(),
        what,
    }
}

/// A self-signed root and a timestamping leaf under it, valid from `not_before`.
fn build(
    root_key: &SigningKey,
    leaf_key: &SigningKey,
    not_before: i64,
) -> Result<(Vec<u8>, Vec<u8>), StackError> {
    let root_name = name(ROOT_CN);
    let root_ski = key_id(root_key);
    let ski = |key: &SigningKey| {
        ext(
            cert_oid::SUBJECT_KEY_ID,
            false,
            &encode(tag::OCTET_STRING, &key_id(key)),
        )
    };
    let aki = ext(
        cert_oid::AUTHORITY_KEY_ID,
        false,
        &encode(tag::SEQUENCE, &encode(0x80, &root_ski)),
    );
    let root_exts = vec![
        // keyCertSign | cRLSign
        ext(cert_oid::KEY_USAGE, true, &[0x03, 0x02, 0x01, 0x06]),
        ext(
            cert_oid::BASIC_CONSTRAINTS,
            true,
            &encode(
                tag::SEQUENCE,
                &[encode(tag::BOOLEAN, &[0xff]), encode(tag::INTEGER, &[0])].concat(),
            ),
        ),
        ski(root_key),
        aki.clone(),
    ];
    let root = sign_tbs(
        &Tbs {
            serial: &serial(),
            issuer: &root_name,
            not_before,
            not_after: not_before + CA_LIFETIME,
            subject: &root_name,
            spki: root_key.spki_der(),
            exts: &root_exts,
        }
        .encode(),
        root_key,
    )?;
    let leaf_exts = vec![
        // digitalSignature
        ext(cert_oid::KEY_USAGE, true, &[0x03, 0x02, 0x07, 0x80]),
        ext(
            cert_oid::EXT_KEY_USAGE,
            true,
            &encode(tag::SEQUENCE, &encode(tag::OID, OID_TIME_STAMPING)),
        ),
        ski(leaf_key),
        aki,
    ];
    let leaf = sign_tbs(
        &Tbs {
            serial: &serial(),
            issuer: &root_name,
            not_before,
            not_after: not_before + CA_LIFETIME,
            subject: &name(LEAF_CN),
            spki: leaf_key.spki_der(),
            exts: &leaf_exts,
        }
        .encode(),
        root_key,
    )?;
    Ok((root, leaf))
}

impl Tsa {
    /// The authority in `dir` (keys and chain made on first start, then reloaded), at `url`.
    pub fn load_or_create(dir: &Path, url: String, now: i64) -> Result<Tsa, StackError> {
        fs::create_dir_all(dir).map_err(|source| StackError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let root_key = SigningKey::load_or_generate(&dir.join("root.p8"), Curve::P384)?;
        let leaf_key = SigningKey::load_or_generate(&dir.join("leaf.p8"), Curve::P384)?;
        let chain_path = dir.join("chain.pem");
        let (root_der, leaf_der) = match fs::read(&chain_path) {
            Ok(text) => {
                let certs = pem::decode_all(&text, "CERTIFICATE")
                    .map_err(|_| bad_state(&chain_path, "not a PEM certificate chain"))?;
                let [leaf, root]: [Vec<u8>; 2] = certs
                    .try_into()
                    .map_err(|_| bad_state(&chain_path, "expected a leaf and a root"))?;
                (root, leaf)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Back-dated a day, as the CA is.
                let (root, leaf) = build(&root_key, &leaf_key, now - 86_400)?;
                let text = [
                    pem::encode("CERTIFICATE", &leaf),
                    pem::encode("CERTIFICATE", &root),
                ]
                .concat();
                crate::write_file(&chain_path, &text)?;
                (root, leaf)
            }
            Err(source) => {
                return Err(StackError::Io {
                    path: chain_path,
                    source,
                });
            }
        };
        let leaf = Certificate::from_der(&leaf_der)
            .map_err(|_| bad_state(&chain_path, "unreadable TSA certificate"))?;
        let root = Certificate::from_der(&root_der)
            .map_err(|_| bad_state(&chain_path, "unreadable TSA root"))?;
        if leaf.spki_der() != leaf_key.spki_der() || root.spki_der() != root_key.spki_der() {
            return Err(bad_state(
                &chain_path,
                "the TSA chain is not for the keys beside it",
            ));
        }
        Ok(Tsa {
            url,
            leaf_issuer: leaf.issuer_raw().to_vec(),
            leaf_serial: leaf.serial().to_vec(),
            not_before: root.not_before(),
            leaf_key,
            foreign_key: SigningKey::ephemeral(Curve::P384)?,
            leaf_der,
            root_der,
        })
    }

    /// `{url}/api/v1/timestamp`: what clients post to and signing configs list.
    pub fn timestamp_url(&self) -> String {
        format!("{}{TIMESTAMP_PATH}", self.url)
    }

    /// The chain as PEM, leaf first.
    pub fn chain_pem(&self) -> String {
        [
            pem::encode("CERTIFICATE", &self.leaf_der),
            pem::encode("CERTIFICATE", &self.root_der),
        ]
        .concat()
    }

    /// The authority as a trusted root's `timestampAuthorities` lists it.
    pub fn trusted_root_entry(&self, start: &str) -> Value {
        json!({
            "subject": {"organization": ca::ORGANIZATION, "commonName": LEAF_CN},
            "uri": self.url,
            "certChain": {"certificates": [
                {"rawBytes": B64.encode(&self.leaf_der)},
                {"rawBytes": B64.encode(&self.root_der)},
            ]},
            "validFor": {"start": start},
        })
    }

    /// The TimeStampResp for a DER TimeStampReq at time `now`, or the HTTP error for a body
    /// that is not one.
    pub fn respond(&self, request: &[u8], now: i64, fault: Fault) -> Result<Vec<u8>, String> {
        let req = parse_request(request)?;
        let hash_len = match req.hash_oid {
            o if o == oid::SHA256 => 32,
            o if o == oid::SHA384 => 48,
            o if o == oid::SHA512 => 64,
            _ => {
                // rejection (2), failInfo badAlg (bit 0).
                return Ok(status_only(2, "unsupported hash algorithm", 0));
            }
        };
        if req.hashed.len() != hash_len {
            // badDataFormat (bit 5).
            return Ok(status_only(
                2,
                "the message imprint's length does not match its algorithm",
                5,
            ));
        }
        let mut imprint = req.imprint.to_vec();
        if fault == Fault::WrongImprint
            && let Some(last) = imprint.last_mut()
        {
            *last ^= 0x01;
        }
        let nonce = req.nonce.map(|n| {
            let mut n = n.to_vec();
            if fault == Fault::WrongNonce
                && let Some(last) = n.last_mut()
            {
                // The low bit: the INTEGER stays minimal and positive.
                *last ^= 0x01;
            }
            n
        });
        let tst = encode(
            tag::SEQUENCE,
            &[
                encode(tag::INTEGER, &[1]),
                encode(tag::OID, OID_POLICY),
                imprint,
                serial(),
                encode(tag::GENERALIZED_TIME, generalized_time(now).as_bytes()),
                nonce.unwrap_or_default(),
            ]
            .concat(),
        );
        let token = self.sign(&tst, req.cert_req, fault)?;
        Ok(encode(
            tag::SEQUENCE,
            &[encode(tag::SEQUENCE, &encode(tag::INTEGER, &[0])), token].concat(),
        ))
    }

    /// ContentInfo(SignedData) over the TSTInfo `tst`.
    fn sign(&self, tst: &[u8], cert_req: bool, fault: Fault) -> Result<Vec<u8>, String> {
        let alg = |o: &[u8]| encode(tag::SEQUENCE, &encode(tag::OID, o));
        let attr = |o: &[u8], v: Vec<u8>| {
            encode(
                tag::SEQUENCE,
                &[encode(tag::OID, o), encode(tag::SET, &v)].concat(),
            )
        };
        // SigningCertificateV2 { certs: [ESSCertIDv2 { certHash }] } (SHA-256, the default,
        // left out as DER requires).
        let ess = encode(
            tag::SEQUENCE,
            &encode(
                tag::SEQUENCE,
                &encode(
                    tag::SEQUENCE,
                    &encode(tag::OCTET_STRING, &sha256(&self.leaf_der)),
                ),
            ),
        );
        let mut attrs = [
            attr(oid::CONTENT_TYPE, encode(tag::OID, OID_TST_INFO)),
            attr(
                oid::MESSAGE_DIGEST,
                encode(
                    tag::OCTET_STRING,
                    ring::digest::digest(&ring::digest::SHA384, tst).as_ref(),
                ),
            ),
            attr(OID_SIGNING_CERTIFICATE_V2, ess),
        ];
        // DER orders a SET OF by its encodings.
        attrs.sort();
        let attrs = attrs.concat();
        let key = match fault {
            Fault::WrongKey | Fault::WrongChain => &self.foreign_key,
            _ => &self.leaf_key,
        };
        let signature = key
            .sign_der(&encode(tag::SET, &attrs))
            .map_err(|e| e.to_string())?;
        let sid = encode(
            tag::SEQUENCE,
            &[
                self.leaf_issuer.clone(),
                encode(tag::INTEGER, &self.leaf_serial),
            ]
            .concat(),
        );
        let signer_info = encode(
            tag::SEQUENCE,
            &[
                encode(tag::INTEGER, &[1]),
                sid,
                alg(oid::SHA384),
                encode(tag::context(0), &attrs),
                alg(oid::ECDSA_WITH_SHA384),
                encode(tag::OCTET_STRING, &signature),
            ]
            .concat(),
        );
        let mut sd = vec![
            encode(tag::INTEGER, &[3]),
            encode(tag::SET, &alg(oid::SHA384)),
            encode(
                tag::SEQUENCE,
                &[
                    encode(tag::OID, OID_TST_INFO),
                    encode(tag::context(0), &encode(tag::OCTET_STRING, tst)),
                ]
                .concat(),
            ),
        ];
        if cert_req {
            sd.push(encode(
                tag::context(0),
                &[self.leaf_der.clone(), self.root_der.clone()].concat(),
            ));
        }
        sd.push(encode(tag::SET, &signer_info));
        Ok(encode(
            tag::SEQUENCE,
            &[
                encode(tag::OID, oid::SIGNED_DATA),
                encode(tag::context(0), &encode(tag::SEQUENCE, &sd.concat())),
            ]
            .concat(),
        ))
    }
}

/// What a TimeStampReq asks for; `imprint` and `nonce` are whole TLVs, echoed as sent.
struct TimestampRequest<'a> {
    imprint: &'a [u8],
    hash_oid: &'a [u8],
    hashed: &'a [u8],
    nonce: Option<&'a [u8]>,
    cert_req: bool,
}

fn parse_request(body: &[u8]) -> Result<TimestampRequest<'_>, String> {
    let bad = |e: der::DerError| format!("not a DER TimeStampReq: {e}");
    let outer = der::parse_single(body, tag::SEQUENCE).map_err(bad)?;
    let mut r = outer.reader();
    if r.read(tag::INTEGER).map_err(bad)?.as_u64().map_err(bad)? != 1 {
        return Err("TimeStampReq version must be 1".into());
    }
    let imprint = r.read(tag::SEQUENCE).map_err(bad)?;
    let mut ir = imprint.reader();
    let alg = ir.read(tag::SEQUENCE).map_err(bad)?;
    let mut ar = alg.reader();
    let hash_oid = ar.read(tag::OID).map_err(bad)?.value;
    // Parameters: absent or NULL.
    ar.optional(tag::NULL).map_err(bad)?;
    ar.finish().map_err(bad)?;
    let hashed = ir.read(tag::OCTET_STRING).map_err(bad)?.value;
    ir.finish().map_err(bad)?;
    if r.optional(tag::OID).map_err(bad)?.is_some() {
        return Err("this authority has one policy; send no reqPolicy".into());
    }
    let nonce = r.optional(tag::INTEGER).map_err(bad)?.map(|t| t.raw);
    let cert_req = match r.optional(tag::BOOLEAN).map_err(bad)? {
        Some(b) => b.value == [0xff],
        None => false,
    };
    if r.optional(tag::context(0)).map_err(bad)?.is_some() {
        return Err("request extensions are not supported".into());
    }
    r.finish().map_err(bad)?;
    Ok(TimestampRequest {
        imprint: imprint.raw,
        hash_oid,
        hashed,
        nonce,
        cert_req,
    })
}

/// A TimeStampResp without a token: `status`, a statusString and one failInfo bit.
fn status_only(status: u8, text: &str, fail_bit: u8) -> Vec<u8> {
    let byte = fail_bit / 8;
    let mut bits = vec![7 - fail_bit % 8];
    bits.extend(std::iter::repeat_n(0u8, byte as usize));
    bits.push(0x80 >> (fail_bit % 8));
    encode(
        tag::SEQUENCE,
        &encode(
            tag::SEQUENCE,
            &[
                encode(tag::INTEGER, &[status]),
                encode(tag::SEQUENCE, &encode(tag::UTF8_STRING, text.as_bytes())),
                encode(tag::BIT_STRING, &bits),
            ]
            .concat(),
        ),
    )
}

fn generalized_time(t: i64) -> String {
    let (y, mo, d, h, mi, s) = civil_from_unix(t);
    format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z")
}

pub fn handle(tsa: &Tsa, req: &Request, fault: Fault) -> Response {
    match (req.method.as_str(), req.path.as_str()) {
        ("POST", TIMESTAMP_PATH) => {
            let content_type = req.header("content-type").unwrap_or_default();
            if !content_type.starts_with("application/timestamp-query") {
                return Response::error(
                    415,
                    "send a DER TimeStampReq as application/timestamp-query",
                );
            }
            match tsa.respond(&req.body, crate::now(), fault) {
                Ok(resp) => Response::new(200, "application/timestamp-reply", resp),
                Err(e) => Response::error(400, &e),
            }
        }
        ("GET", "/api/v1/timestamp/certchain") => {
            Response::new(200, "application/pem-certificate-chain", tsa.chain_pem())
        }
        (_, path) => Response::error(404, &format!("no such endpoint {path}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gitsign::core::sigstore::trust::TrustedRoot;
    use gitsign::core::sigstore::tsa::request::{check_response, timestamp_request};
    use gitsign::core::sigstore::tsa::{TsaError, verify_timestamp};

    fn authority(tsa: &Tsa) -> Vec<gitsign::core::sigstore::trust::CertificateAuthority> {
        let root = json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [], "certificateAuthorities": [], "ctlogs": [],
            "timestampAuthorities": [tsa.trusted_root_entry("2020-01-01T00:00:00Z")],
        });
        TrustedRoot::from_json(root.to_string().as_bytes())
            .unwrap()
            .timestamp_authorities
    }

    #[test]
    fn tokens_pass_gitsigns_reply_checks_and_faults_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let now = crate::now();
        let tsa = Tsa::load_or_create(dir.path(), "http://127.0.0.1:1".into(), now).unwrap();
        let cas = authority(&tsa);
        let nonce = [0x80; 16];
        let req = timestamp_request(b"signature value", &nonce);
        let resp = tsa.respond(&req, now, Fault::None).unwrap();
        let (token, verified) = check_response(&resp, b"signature value", &nonce, &cas).unwrap();
        assert_eq!(verified.time, now);
        assert!(verified.tsa_subject.contains(LEAF_CN));
        assert_eq!(
            verify_timestamp(&token, b"signature value", &cas).unwrap(),
            verified
        );
        assert!(matches!(
            check_response(&resp, b"other", &nonce, &cas),
            Err(TsaError::ImprintMismatch { .. })
        ));
        for (fault, want) in [
            (Fault::WrongNonce, "nonce"),
            (Fault::WrongImprint, "imprint"),
            (Fault::WrongKey, "signature"),
        ] {
            let resp = tsa.respond(&req, now, fault).unwrap();
            let err = check_response(&resp, b"signature value", &nonce, &cas)
                .expect_err(want)
                .to_string();
            assert!(err.contains(want), "{fault:?}: {err}");
        }

        // Reloaded: the same chain.
        let again = Tsa::load_or_create(dir.path(), "http://127.0.0.1:1".into(), now).unwrap();
        assert_eq!(again.leaf_der, tsa.leaf_der);
        verify_timestamp(&token, b"signature value", &authority(&again)).unwrap();
    }

    #[test]
    fn bad_requests_are_refused_and_unknown_hashes_rejected_in_the_reply() {
        let dir = tempfile::tempdir().unwrap();
        let tsa = Tsa::load_or_create(dir.path(), "http://127.0.0.1:1".into(), 0).unwrap();
        for bad in [&b""[..], b"\x30\x00", b"not der", b"\x30\x03\x02\x01\x02"] {
            assert!(tsa.respond(bad, 0, Fault::None).is_err());
        }
        // SHA-1 (1.3.14.3.2.26): a TimeStampResp with status rejection and badAlg.
        let alg = encode(
            tag::SEQUENCE,
            &encode(tag::OID, &[0x2b, 0x0e, 0x03, 0x02, 0x1a]),
        );
        let req = encode(
            tag::SEQUENCE,
            &[
                encode(tag::INTEGER, &[1]),
                encode(
                    tag::SEQUENCE,
                    &[alg, encode(tag::OCTET_STRING, &[0; 20])].concat(),
                ),
            ]
            .concat(),
        );
        let resp = tsa.respond(&req, 0, Fault::None).unwrap();
        let err = check_response(&resp, b"x", &[1; 16], &authority(&tsa)).unwrap_err();
        assert!(
            matches!(&err, TsaError::Rejected { status: 2, text: Some(t) } if t.contains("hash")),
            "{err:?}"
        );
    }
}
