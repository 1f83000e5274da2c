//! The signer's side of RFC 3161: the request gitsign-rs sends and the checks its reply must
//! pass before the token is embedded (the token itself is verified by [`verify_timestamp`]).
//!
//! ```text
//! TimeStampReq ::= SEQUENCE { version INTEGER (1), messageImprint MessageImprint,
//!   reqPolicy OBJECT IDENTIFIER OPTIONAL, nonce INTEGER OPTIONAL,
//!   certReq BOOLEAN DEFAULT FALSE, extensions [0] IMPLICIT Extensions OPTIONAL }
//! TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken TimeStampToken OPTIONAL }
//! PKIStatusInfo ::= SEQUENCE { status PKIStatus, statusString PKIFreeText OPTIONAL,
//!   failInfo PKIFailureInfo OPTIONAL }    -- granted (0), grantedWithMods (1), rejection (2)...
//! ```

use super::{
    Response, TsaError, VerifiedTimestamp, Within, echo, malformed, response, verify_timestamp,
};
use crate::core::asn1::der::{self, oid, tag};
use crate::core::sigstore::trust::CertificateAuthority;
use crate::core::x509::keys::{HashAlg, sha256};

/// A positive INTEGER's minimal DER content for big-endian `bytes`.
fn positive_integer(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let mut v = bytes[start..].to_vec();
    if v.first().is_none_or(|&b| b & 0x80 != 0) {
        v.insert(0, 0);
    }
    v
}

/// The DER TimeStampReq v1 for `signed` (the CMS signature value): messageImprint =
/// (SHA-256, SHA-256(`signed`)), the nonce as a positive INTEGER, certReq TRUE; no policy,
/// no extensions.
pub fn timestamp_request(signed: &[u8], nonce: &[u8; 16]) -> Vec<u8> {
    // Parameters absent, as RFC 5754 says SHA-2 identifiers should be generated.
    let alg = der::encode(tag::SEQUENCE, &der::encode(tag::OID, oid::SHA256));
    let imprint = der::encode(
        tag::SEQUENCE,
        &[alg, der::encode(tag::OCTET_STRING, &sha256(signed))].concat(),
    );
    der::encode(
        tag::SEQUENCE,
        &[
            der::encode(tag::INTEGER, &[1]),
            imprint,
            der::encode(tag::INTEGER, &positive_integer(nonce)),
            der::encode(tag::BOOLEAN, &[0xff]),
        ]
        .concat(),
    )
}

/// The integer value of DER INTEGER content, without leading zero bytes.
fn magnitude(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|&b| b != 0).unwrap_or(v.len());
    &v[start..]
}

/// Checks the DER TimeStampResp a TSA sent for [`timestamp_request`]`(signed, nonce)`:
/// status granted (or granted with modifications), a token whose nonce is ours, whose imprint
/// is SHA-256 of `signed`, which embeds certificates and verifies against `authorities`.
/// Returns the token (the ContentInfo, byte for byte as received) and its verified time.
pub fn check_response(
    resp: &[u8],
    signed: &[u8],
    nonce: &[u8; 16],
    authorities: &[CertificateAuthority],
) -> Result<(Vec<u8>, VerifiedTimestamp), TsaError> {
    let outer = der::parse_single(resp, tag::SEQUENCE).within("response")?;
    let Response {
        status,
        text,
        token,
    } = response(&outer)?;
    if status > 1 {
        return Err(TsaError::Rejected { status, text });
    }
    let token = token
        .ok_or_else(|| malformed("granted response carries no token"))?
        .raw;
    let e = echo(token)?;
    match e.nonce {
        None => return Err(TsaError::NonceMissing),
        Some(n) if magnitude(n) != magnitude(nonce) || n.first().is_some_and(|b| b & 0x80 != 0) => {
            return Err(TsaError::NonceMismatch);
        }
        Some(_) => {}
    }
    if e.imprint_alg != HashAlg::Sha256 {
        return Err(TsaError::ImprintMismatch {
            algorithm: e.imprint_alg,
        });
    }
    if !e.has_certificates {
        return Err(TsaError::NoCertificates);
    }
    let verified = verify_timestamp(token, signed, authorities)?;
    Ok((token.to_vec(), verified))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::sigstore::tsa::tests::minted;
    use crate::core::testcert::{T0, YEAR};

    const NONCE: [u8; 16] = [0x9a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

    #[test]
    fn the_request_is_a_v1_sha256_imprint_of_the_signature_with_nonce_and_cert_req() {
        let req = timestamp_request(b"sig", &NONCE);
        let seq = der::parse_single(&req, tag::SEQUENCE).unwrap();
        let mut r = seq.reader();
        assert_eq!(r.read(tag::INTEGER).unwrap().value, [1]);
        let mi = r.read(tag::SEQUENCE).unwrap();
        let mut m = mi.reader();
        let alg = m.read(tag::SEQUENCE).unwrap();
        let mut a = alg.reader();
        assert_eq!(a.read(tag::OID).unwrap().value, oid::SHA256);
        assert!(a.is_empty(), "parameters absent");
        assert_eq!(m.read(tag::OCTET_STRING).unwrap().value, sha256(b"sig"));
        // 0x9a has its top bit set: a zero byte keeps the INTEGER positive.
        let n = r.read(tag::INTEGER).unwrap();
        assert_eq!(n.value[0], 0);
        assert_eq!(&n.value[1..], NONCE);
        assert_eq!(r.read(tag::BOOLEAN).unwrap().value, [0xff]);
        assert!(r.is_empty());
        assert_eq!(positive_integer(&[0, 0, 5]), [5]);
        assert_eq!(positive_integer(&[0, 0x80]), [0, 0x80]);
    }

    fn tsa() -> minted::Tsa {
        minted::Tsa {
            leaf_not_after: T0 + 5 * YEAR,
            ..Default::default()
        }
    }

    /// A TimeStampResp with `status` (and statusString `text`) around `token`.
    fn response(status: u8, text: Option<&str>, token: Option<&[u8]>) -> Vec<u8> {
        let mut si = der::encode(tag::INTEGER, &[status]);
        if let Some(t) = text {
            si.extend(der::encode(tag::SEQUENCE, &der::encode(0x0c, t.as_bytes())));
        }
        let mut body = der::encode(tag::SEQUENCE, &si);
        if let Some(t) = token {
            body.extend_from_slice(t);
        }
        der::encode(tag::SEQUENCE, &body)
    }

    /// A token over `signed` with this nonce, the TSA leaf embedded.
    fn token(t: &minted::Tsa, signed: &[u8], nonce: Option<&[u8]>) -> Vec<u8> {
        let (leaf, _) = t.build();
        minted::Token {
            gen_time: "20250101000000Z".into(),
            embed: Some(leaf.clone()),
            nonce: nonce.map(<[u8]>::to_vec),
            ..Default::default()
        }
        .mint(
            signed,
            &crate::core::x509::cert::Certificate::from_der(&leaf).unwrap(),
        )
    }

    #[test]
    fn a_granted_reply_with_our_nonce_and_imprint_gives_the_token_and_its_time() {
        let t = tsa();
        let (_, ca) = t.build();
        let tok = token(&t, b"sig", Some(&positive_integer(&NONCE)));
        let (got, ts) = check_response(
            &response(0, None, Some(&tok)),
            b"sig",
            &NONCE,
            std::slice::from_ref(&ca),
        )
        .unwrap();
        assert_eq!(got, tok);
        assert_eq!(
            ts.time,
            crate::core::time::parse_rfc3339("2025-01-01T00:00:00Z").unwrap()
        );
        // grantedWithMods is granted too.
        assert!(check_response(&response(1, None, Some(&tok)), b"sig", &NONCE, &[ca]).is_ok());
    }

    #[test]
    fn replies_to_other_requests_or_refusals_are_refused() {
        let t = tsa();
        let (_, ca) = t.build();
        let cas = [ca];
        let ours = positive_integer(&NONCE);
        let mut other = ours.clone();
        *other.last_mut().unwrap() ^= 1;
        let check = |resp: Vec<u8>, signed: &[u8]| check_response(&resp, signed, &NONCE, &cas);
        assert_eq!(
            check(
                response(0, None, Some(&token(&t, b"sig", Some(&other)))),
                b"sig"
            )
            .unwrap_err(),
            TsaError::NonceMismatch
        );
        assert_eq!(
            check(response(0, None, Some(&token(&t, b"sig", None))), b"sig").unwrap_err(),
            TsaError::NonceMissing
        );
        assert!(matches!(
            check(
                response(0, None, Some(&token(&t, b"other", Some(&ours)))),
                b"sig"
            ),
            Err(TsaError::ImprintMismatch { .. })
        ));
        assert_eq!(
            check(response(2, Some("bad alg"), None), b"sig").unwrap_err(),
            TsaError::Rejected {
                status: 2,
                text: Some("bad alg".into())
            }
        );
        assert!(matches!(
            check(response(0, None, None), b"sig"),
            Err(TsaError::Malformed { .. })
        ));
        let mut trailing = response(0, None, Some(&token(&t, b"sig", Some(&ours))));
        trailing.push(0);
        assert!(matches!(check(trailing, b"sig"), Err(TsaError::Der { .. })));
        // A bare token is not a reply.
        assert!(check(token(&t, b"sig", Some(&ours)), b"sig").is_err());
        // A token from a TSA the trusted root does not list.
        assert!(matches!(
            check_response(
                &response(0, None, Some(&token(&t, b"sig", Some(&ours)))),
                b"sig",
                &NONCE,
                &[]
            ),
            Err(TsaError::UntrustedEmbeddedCertificate { .. } | TsaError::NoTrustedAuthority)
        ));
    }
}
