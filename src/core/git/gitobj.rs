//! Git objects as git stores them: split into the signed payload and the signature exactly
//! as git does (`commit.c: parse_buffer_signed_by_header`, `gpg-interface.c:
//! parse_signed_buffer`), and joined back to recompute an object id.
//!
//! The raw bytes are never re-encoded. Objects with two signature headers of the same kind
//! are rejected (gitsign advisory GHSA-7rmh-48mx-2vwc: git would concatenate them).

use std::fmt;

use sha2::Digest;

pub const SIGNATURE_BEGIN: &[u8] = b"-----BEGIN SIGNED MESSAGE-----";
const SIGNATURE_END: &[u8] = b"-----END SIGNED MESSAGE-----";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Commit,
    Tag,
}

impl ObjectKind {
    pub fn name(self) -> &'static str {
        match self {
            ObjectKind::Commit => "commit",
            ObjectKind::Tag => "tag",
        }
    }
}

/// The object format of the repository (which signature header git verifies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgo {
    Sha1,
    Sha256,
}

impl HashAlgo {
    fn header(self) -> &'static [u8] {
        match self {
            HashAlgo::Sha1 => b"gpgsig",
            HashAlgo::Sha256 => b"gpgsig-sha256",
        }
    }

    /// The object id git computes: hash of `<kind> <len>\0<body>`, lower-case hex.
    pub fn object_id(self, kind: ObjectKind, body: &[u8]) -> String {
        let header = format!("{} {}\0", kind.name(), body.len());
        match self {
            HashAlgo::Sha1 => {
                let mut h = sha1::Sha1::new();
                h.update(header.as_bytes());
                h.update(body);
                hex(&h.finalize())
            }
            HashAlgo::Sha256 => {
                let mut h = sha2::Sha256::new();
                h.update(header.as_bytes());
                h.update(body);
                hex(&h.finalize())
            }
        }
    }
}

pub use crate::core::asn1::der::hex;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectError {
    DuplicateSignatureHeader { header: String },
    Unsigned { kind: ObjectKind },
    MalformedSignatureBlock,
    NoHeaderEnd,
}

impl fmt::Display for ObjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObjectError::DuplicateSignatureHeader { header } => write!(
                f,
                "object has more than one `{header}` header (refused: git would verify their concatenation)"
            ),
            ObjectError::Unsigned { kind } => write!(f, "{} is not signed", kind.name()),
            ObjectError::MalformedSignatureBlock => {
                f.write_str("signature block has text after its END line")
            }
            ObjectError::NoHeaderEnd => f.write_str("object has no blank line after its headers"),
        }
    }
}

impl std::error::Error for ObjectError {}

/// A signed object split into what was signed and the signature (PEM text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedObject {
    pub kind: ObjectKind,
    pub payload: Vec<u8>,
    pub signature: Vec<u8>,
}

/// Splits a raw commit as git does for a repository of the given object format.
pub fn split_commit(raw: &[u8], algo: HashAlgo) -> Result<SignedObject, ObjectError> {
    let own = algo.header();
    let mut payload = Vec::with_capacity(raw.len());
    let mut signature = Vec::new();
    let mut seen = false;
    // State of the header we are in: its own signature, the other algorithm's, or neither.
    #[derive(PartialEq)]
    enum In {
        Own,
        Other,
        None,
    }
    let mut state = In::None;
    let mut rest = raw;
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|b| *b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let line = &rest[..end];
        if line[0] == b'\n' {
            payload.extend_from_slice(rest);
            break;
        }
        if line[0] == b' ' && state != In::None {
            if state == In::Own {
                signature.extend_from_slice(&line[1..]);
            }
        } else if header_value(line, own).is_some() {
            if seen {
                return Err(ObjectError::DuplicateSignatureHeader {
                    header: String::from_utf8_lossy(own).into_owned(),
                });
            }
            seen = true;
            signature.extend_from_slice(&line[own.len() + 1..]);
            state = In::Own;
        } else if line.starts_with(b"gpgsig") {
            state = In::Other;
        } else {
            payload.extend_from_slice(line);
            state = In::None;
        }
        rest = &rest[end..];
    }
    if !seen {
        return Err(ObjectError::Unsigned {
            kind: ObjectKind::Commit,
        });
    }
    Ok(SignedObject {
        kind: ObjectKind::Commit,
        payload,
        signature,
    })
}

fn header_value<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    line.strip_prefix(name)?.strip_prefix(b" ")
}

/// Where the last line of `raw` that starts with one of `markers` begins.
fn last_line_starting_with(raw: &[u8], markers: &[&[u8]]) -> Option<usize> {
    let mut start = None;
    let mut pos = 0;
    while pos < raw.len() {
        if markers.iter().any(|m| raw[pos..].starts_with(m)) {
            start = Some(pos);
        }
        pos = match raw[pos..].iter().position(|b| *b == b'\n') {
            Some(i) => pos + i + 1,
            None => raw.len(),
        };
    }
    start
}

/// Splits a raw annotated tag: the signature is the last line-anchored
/// `-----BEGIN SIGNED MESSAGE-----` block, which must run to the end of the object.
pub fn split_tag(raw: &[u8]) -> Result<SignedObject, ObjectError> {
    let start = last_line_starting_with(raw, &[SIGNATURE_BEGIN]).ok_or(ObjectError::Unsigned {
        kind: ObjectKind::Tag,
    })?;
    let signature = &raw[start..];
    let end = find(signature, SIGNATURE_END).ok_or(ObjectError::MalformedSignatureBlock)?;
    let after = &signature[end + SIGNATURE_END.len()..];
    if !(after.is_empty() || after == b"\n") {
        return Err(ObjectError::MalformedSignatureBlock);
    }
    Ok(SignedObject {
        kind: ObjectKind::Tag,
        payload: remove_signature_headers(&raw[..start])?,
        signature: signature.to_vec(),
    })
}

/// The armour lines git's `parse_signed_buffer` recognises at the start of a tag's signature.
const TAG_SIGNATURE_STARTS: [&[u8]; 4] = [
    SIGNATURE_BEGIN,
    b"-----BEGIN PGP SIGNATURE-----",
    b"-----BEGIN PGP MESSAGE-----",
    b"-----BEGIN SSH SIGNATURE-----",
];

/// Splits a raw annotated tag signed in any format git knows (gitsign's X.509, OpenPGP,
/// SSH), as git does: the signature is the last line-anchored block that starts with one of
/// their armour lines and runs to the end. gitsign's own blocks are split by [`split_tag`].
pub fn split_tag_any_format(raw: &[u8]) -> Result<SignedObject, ObjectError> {
    let start =
        last_line_starting_with(raw, &TAG_SIGNATURE_STARTS).ok_or(ObjectError::Unsigned {
            kind: ObjectKind::Tag,
        })?;
    if raw[start..].starts_with(SIGNATURE_BEGIN) {
        return split_tag(raw);
    }
    Ok(SignedObject {
        kind: ObjectKind::Tag,
        payload: remove_signature_headers(&raw[..start])?,
        signature: raw[start..].to_vec(),
    })
}

/// git's `remove_signature`: a tag's payload loses any `gpgsig` / `gpgsig-sha256` header
/// (signatures for the other object format) and its continuation lines. One of each at most.
fn remove_signature_headers(payload: &[u8]) -> Result<Vec<u8>, ObjectError> {
    let mut out = Vec::with_capacity(payload.len());
    let mut seen: Vec<&[u8]> = Vec::new();
    let mut in_signature = false;
    let mut rest = payload;
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|b| *b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let line = &rest[..end];
        if line[0] == b'\n' {
            out.extend_from_slice(rest);
            break;
        }
        if in_signature && line[0] == b' ' {
            // continuation of a removed signature header
        } else if let Some(name) = [HashAlgo::Sha256.header(), HashAlgo::Sha1.header()]
            .into_iter()
            .find(|h| header_value(line, h).is_some())
        {
            if seen.contains(&name) {
                return Err(ObjectError::DuplicateSignatureHeader {
                    header: String::from_utf8_lossy(name).into_owned(),
                });
            }
            seen.push(name);
            in_signature = true;
        } else {
            out.extend_from_slice(line);
            in_signature = false;
        }
        rest = &rest[end..];
    }
    Ok(out)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A raw commit's parent ids, in order, as its `parent` header lines name them (the headers
/// end at the first empty line).
pub fn commit_parents(raw: &[u8]) -> Vec<String> {
    raw.split(|b| *b == b'\n')
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.strip_prefix(b"parent "))
        .filter_map(|id| std::str::from_utf8(id).ok())
        .map(str::to_string)
        .collect()
}

/// Splits a raw object of either kind.
pub fn split(kind: ObjectKind, raw: &[u8], algo: HashAlgo) -> Result<SignedObject, ObjectError> {
    match kind {
        ObjectKind::Commit => split_commit(raw, algo),
        ObjectKind::Tag => split_tag(raw),
    }
}

/// Which kind of object a payload that git handed us belongs to.
pub fn kind_of_payload(payload: &[u8]) -> Option<ObjectKind> {
    if payload.starts_with(b"tree ") {
        Some(ObjectKind::Commit)
    } else if payload.starts_with(b"object ") {
        Some(ObjectKind::Tag)
    } else {
        None
    }
}

/// Rebuilds the raw object from payload and signature, as git stores it (the inverse of
/// [`split`]): a commit's signature becomes the last header, a tag's follows the message.
/// gitsign's online mode logs the id of this object, so verification needs it.
pub fn join(
    kind: ObjectKind,
    payload: &[u8],
    signature: &[u8],
    algo: HashAlgo,
) -> Result<Vec<u8>, ObjectError> {
    match kind {
        ObjectKind::Tag => Ok([payload, signature].concat()),
        ObjectKind::Commit => {
            let header_end = find(payload, b"\n\n").ok_or(ObjectError::NoHeaderEnd)? + 1;
            let sig = signature.strip_suffix(b"\n").unwrap_or(signature);
            let mut out = Vec::with_capacity(payload.len() + signature.len() + 64);
            out.extend_from_slice(&payload[..header_end]);
            out.extend_from_slice(algo.header());
            out.push(b' ');
            for (i, line) in sig.split(|b| *b == b'\n').enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                out.extend_from_slice(line);
                out.push(b'\n');
            }
            out.extend_from_slice(&payload[header_end..]);
            Ok(out)
        }
    }
}

/// One real vector of tests/data/vectors/real by file name, split. For unit tests.
#[cfg(test)]
pub(crate) fn test_vector(name: &str) -> SignedObject {
    let path = format!(
        "{}/tests/data/vectors/real/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let raw = std::fs::read(path).unwrap();
    let kind = if name.ends_with(".tag") {
        ObjectKind::Tag
    } else {
        ObjectKind::Commit
    };
    split(kind, &raw, HashAlgo::Sha1).unwrap()
}

/// The real vectors in tests/data/vectors/real, split: (path, object). For unit tests.
#[cfg(test)]
pub(crate) fn test_vectors() -> Vec<(String, SignedObject)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/vectors/real");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let kind = match path.extension().and_then(|e| e.to_str()) {
            Some("commit") => ObjectKind::Commit,
            Some("tag") => ObjectKind::Tag,
            _ => continue,
        };
        let raw = std::fs::read(&path).unwrap();
        out.push((
            path.display().to_string(),
            split(kind, &raw, HashAlgo::Sha1).unwrap(),
        ));
    }
    assert_eq!(out.len(), 19);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMIT: &[u8] = include_bytes!(
        "../../../tests/data/vectors/real/fe1e62346d3c346a343d089e8b4c3fb57716bc94.commit"
    );
    const TAG: &[u8] = include_bytes!(
        "../../../tests/data/vectors/real/138f9d7cb3097a5f04192621a186e54f86390df0.tag"
    );

    #[test]
    fn reads_commit_parents_from_the_headers_only() {
        let raw = b"tree t\nparent aa\nparent bb\nauthor A\n\nparent cc\n";
        assert_eq!(commit_parents(raw), ["aa", "bb"]);
        assert!(commit_parents(b"tree t\n\nmsg\n").is_empty());
    }

    #[test]
    fn tags_split_in_every_format_git_signs_with() {
        // gitsign's own block: the same split as split_tag.
        assert_eq!(split_tag_any_format(TAG).unwrap(), split_tag(TAG).unwrap());
        let ssh = b"object 0000000000000000000000000000000000000000\ntype commit\ntag v1\ntagger T <t@x> 0 +0000\n\nmsg\n-----BEGIN SSH SIGNATURE-----\nU1NI\n-----END SSH SIGNATURE-----\n";
        let s = split_tag_any_format(ssh).unwrap();
        assert!(s.payload.ends_with(b"\nmsg\n"));
        assert!(s.signature.starts_with(b"-----BEGIN SSH SIGNATURE-----"));
        let pgp = String::from_utf8_lossy(ssh).replace("SSH SIGNATURE", "PGP SIGNATURE");
        assert!(
            split_tag_any_format(pgp.as_bytes())
                .unwrap()
                .signature
                .starts_with(b"-----BEGIN PGP")
        );
        // Unsigned; and a marker inside a line is not a signature.
        let unsigned = b"object 0\ntype commit\ntag v1\n\nsee -----BEGIN SSH SIGNATURE-----\n";
        assert!(matches!(
            split_tag_any_format(unsigned),
            Err(ObjectError::Unsigned { .. })
        ));
    }

    #[test]
    fn computes_git_object_ids() {
        assert_eq!(
            HashAlgo::Sha1.object_id(ObjectKind::Commit, COMMIT),
            "fe1e62346d3c346a343d089e8b4c3fb57716bc94"
        );
        assert_eq!(
            HashAlgo::Sha1.object_id(ObjectKind::Tag, TAG),
            "138f9d7cb3097a5f04192621a186e54f86390df0"
        );
    }

    #[test]
    fn splits_and_joins_a_real_commit_back_to_the_same_bytes() {
        let s = split_commit(COMMIT, HashAlgo::Sha1).unwrap();
        assert!(s.signature.starts_with(SIGNATURE_BEGIN));
        assert!(s.signature.ends_with(b"-----END SIGNED MESSAGE-----\n"));
        assert!(find(&s.payload, b"gpgsig").is_none());
        assert_eq!(
            join(ObjectKind::Commit, &s.payload, &s.signature, HashAlgo::Sha1).unwrap(),
            COMMIT
        );
    }

    #[test]
    fn splits_and_joins_a_real_tag_back_to_the_same_bytes() {
        let s = split_tag(TAG).unwrap();
        assert!(s.payload.starts_with(b"object "));
        assert_eq!(
            join(ObjectKind::Tag, &s.payload, &s.signature, HashAlgo::Sha1).unwrap(),
            TAG
        );
    }

    #[test]
    fn rejects_commit_with_duplicate_gpgsig_header() {
        let s = split_commit(COMMIT, HashAlgo::Sha1).unwrap();
        let once = join(ObjectKind::Commit, &s.payload, &s.signature, HashAlgo::Sha1).unwrap();
        let twice = join(ObjectKind::Commit, &once, &s.signature, HashAlgo::Sha1).unwrap();
        assert!(matches!(
            split_commit(&twice, HashAlgo::Sha1),
            Err(ObjectError::DuplicateSignatureHeader { .. })
        ));
    }

    #[test]
    fn strips_the_other_algorithms_signature_from_the_payload() {
        let raw = b"tree 1\ngpgsig-sha256 -----BEGIN X-----\n abc\n -----END X-----\ngpgsig sig1\n sig2\nauthor a\n\nmsg\ngpgsig not a header\n";
        let s = split_commit(raw, HashAlgo::Sha1).unwrap();
        assert_eq!(s.payload, b"tree 1\nauthor a\n\nmsg\ngpgsig not a header\n");
        assert_eq!(s.signature, b"sig1\nsig2\n");
        let s = split_commit(raw, HashAlgo::Sha256).unwrap();
        assert_eq!(s.signature, b"-----BEGIN X-----\nabc\n-----END X-----\n");
    }

    #[test]
    fn unsigned_objects_are_reported_as_such() {
        assert_eq!(
            split_commit(b"tree 1\n\nmsg\n", HashAlgo::Sha1),
            Err(ObjectError::Unsigned {
                kind: ObjectKind::Commit
            })
        );
        assert_eq!(
            split_tag(b"object 1\n\nmsg\n"),
            Err(ObjectError::Unsigned {
                kind: ObjectKind::Tag
            })
        );
    }

    #[test]
    fn a_tags_payload_loses_other_format_signature_headers_as_in_git() {
        let s = split_tag(TAG).unwrap();
        let header_end = find(&s.payload, b"\n\n").unwrap() + 1;
        let mut raw = s.payload[..header_end].to_vec();
        raw.extend_from_slice(b"gpgsig-sha256 -----BEGIN X-----\n abc\n -----END X-----\n");
        raw.extend_from_slice(&s.payload[header_end..]);
        raw.extend_from_slice(&s.signature);
        assert_eq!(split_tag(&raw).unwrap().payload, s.payload);
        let mut twice = s.payload[..header_end].to_vec();
        twice.extend_from_slice(b"gpgsig a\ngpgsig b\n");
        twice.extend_from_slice(&s.payload[header_end..]);
        twice.extend_from_slice(&s.signature);
        assert!(matches!(
            split_tag(&twice),
            Err(ObjectError::DuplicateSignatureHeader { .. })
        ));
    }

    #[test]
    fn rejects_tag_with_text_after_the_signature() {
        let mut raw = TAG.to_vec();
        raw.extend_from_slice(b"extra\n");
        assert_eq!(split_tag(&raw), Err(ObjectError::MalformedSignatureBlock));
    }
}
