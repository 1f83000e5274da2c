//! A strict DER TLV reader that keeps the raw bytes of every element.
//!
//! Signatures are checked over the exact bytes that were received (a re-encoding could
//! differ), so the parsers in `core` walk the input with this reader rather than decoding
//! into owned types and encoding again. It accepts only DER: definite, minimal lengths,
//! single-byte tags below 31 and no trailing bytes where a caller asks for `finish`.

use std::fmt;

/// Universal tags used by the parsers.
pub mod tag {
    pub const BOOLEAN: u8 = 0x01;
    pub const INTEGER: u8 = 0x02;
    pub const BIT_STRING: u8 = 0x03;
    pub const OCTET_STRING: u8 = 0x04;
    pub const NULL: u8 = 0x05;
    pub const OID: u8 = 0x06;
    pub const UTF8_STRING: u8 = 0x0c;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;
    pub const PRINTABLE_STRING: u8 = 0x13;
    pub const IA5_STRING: u8 = 0x16;
    pub const UTC_TIME: u8 = 0x17;
    pub const GENERALIZED_TIME: u8 = 0x18;
    /// `[n]` constructed, context-specific.
    pub const fn context(n: u8) -> u8 {
        0xa0 | n
    }
    /// `[n]` primitive, context-specific.
    pub const fn context_primitive(n: u8) -> u8 {
        0x80 | n
    }
}

/// What was wrong with the DER, and where (offset from the start of the outermost input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DerError {
    Truncated { at: usize },
    UnsupportedTag { at: usize, tag: u8 },
    NonMinimalLength { at: usize },
    IndefiniteLength { at: usize },
    UnexpectedTag { at: usize, expected: u8, found: u8 },
    TrailingBytes { at: usize, count: usize },
    BadInteger { at: usize },
    BadValue { at: usize, what: &'static str },
}

impl fmt::Display for DerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DerError::Truncated { at } => write!(f, "DER truncated at byte {at}"),
            DerError::UnsupportedTag { at, tag } => {
                write!(f, "unsupported DER tag 0x{tag:02x} at byte {at}")
            }
            DerError::NonMinimalLength { at } => write!(f, "non-minimal DER length at byte {at}"),
            DerError::IndefiniteLength { at } => write!(f, "indefinite length at byte {at}"),
            DerError::UnexpectedTag {
                at,
                expected,
                found,
            } => write!(
                f,
                "expected DER tag 0x{expected:02x} at byte {at}, found 0x{found:02x}"
            ),
            DerError::TrailingBytes { at, count } => {
                write!(f, "{count} trailing bytes after DER element at byte {at}")
            }
            DerError::BadInteger { at } => write!(f, "malformed DER INTEGER at byte {at}"),
            DerError::BadValue { at, what } => write!(f, "malformed {what} at byte {at}"),
        }
    }
}

impl std::error::Error for DerError {}

/// One element: its tag, its content, and the whole encoding (tag, length and content).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub value: &'a [u8],
    pub raw: &'a [u8],
    /// Offset of the first byte of `raw` within the outermost input.
    pub offset: usize,
}

impl<'a> Tlv<'a> {
    /// A reader over this element's content (for constructed types).
    pub fn reader(&self) -> Reader<'a> {
        Reader {
            data: self.value,
            pos: 0,
            base: self.offset + (self.raw.len() - self.value.len()),
        }
    }

    pub fn expect(self, tag: u8) -> Result<Self, DerError> {
        if self.tag != tag {
            return Err(DerError::UnexpectedTag {
                at: self.offset,
                expected: tag,
                found: self.tag,
            });
        }
        Ok(self)
    }

    /// Content of a minimally encoded, positive INTEGER of at most `max` content bytes.
    pub fn positive_integer(&self, max: usize) -> Result<&'a [u8], DerError> {
        let v = check_integer(self)?;
        if v[0] & 0x80 != 0 || v.len() > max || v.iter().all(|b| *b == 0) {
            return Err(DerError::BadInteger { at: self.offset });
        }
        Ok(v)
    }

    /// Content of an INTEGER that must be non-negative and fit in a u64.
    pub fn as_u64(&self) -> Result<u64, DerError> {
        let v = check_integer(self)?;
        if v[0] & 0x80 != 0 {
            return Err(DerError::BadInteger { at: self.offset });
        }
        let v = if v.len() > 1 && v[0] == 0 { &v[1..] } else { v };
        if v.len() > 8 {
            return Err(DerError::BadInteger { at: self.offset });
        }
        Ok(v.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    /// Content bytes of a BIT STRING with no unused bits.
    pub fn bit_string_bytes(&self) -> Result<&'a [u8], DerError> {
        match self.value.split_first() {
            Some((0, rest)) => Ok(rest),
            _ => Err(DerError::BadValue {
                at: self.offset,
                what: "BIT STRING",
            }),
        }
    }
}

fn check_integer<'a>(t: &Tlv<'a>) -> Result<&'a [u8], DerError> {
    let v = t.value;
    if v.is_empty()
        || (v.len() > 1 && ((v[0] == 0 && v[1] & 0x80 == 0) || (v[0] == 0xff && v[1] & 0x80 != 0)))
    {
        return Err(DerError::BadInteger { at: t.offset });
    }
    Ok(v)
}

/// An OBJECT IDENTIFIER's content as X.690 §8.19 and common decoders (const-oid) accept it:
/// 1 to 39 bytes, the first two arcs in one byte (second arc below 40), every later arc
/// minimal base 128 within 32 bits, the last byte closing an arc.
fn well_formed_oid(v: &[u8]) -> bool {
    let Some((&first, rest)) = v.split_first() else {
        return false;
    };
    if first >= 120 || v.len() > 39 {
        return false;
    }
    let mut arc: u32 = 0;
    let mut fresh = true;
    for &b in rest {
        if fresh && b == 0x80 {
            return false;
        }
        fresh = false;
        arc = match arc.checked_mul(0x80) {
            Some(a) => a | u32::from(b & 0x7f),
            None => return false,
        };
        if b & 0x80 == 0 {
            arc = 0;
            fresh = true;
        }
    }
    fresh
}

/// Dotted form of an OID given as DER content bytes (hex if it is not a valid OID).
pub fn oid_string(bytes: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut arc: u64 = 0;
    let mut fresh = true;
    for &b in bytes {
        // Base 128, minimal (no leading 0x80), within u64.
        if (fresh && b == 0x80) || arc >> 57 != 0 {
            return hex(bytes);
        }
        fresh = false;
        arc = (arc << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            arcs.push(arc);
            arc = 0;
            fresh = true;
        }
    }
    let Some((&first, rest)) = arcs.split_first().filter(|_| fresh) else {
        return hex(bytes);
    };
    let (a, b) = match first {
        0..40 => (0, first),
        40..80 => (1, first - 40),
        _ => (2, first - 80),
    };
    let mut out = format!("{a}.{b}");
    for r in rest {
        out.push_str(&format!(".{r}"));
    }
    out
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// A cursor over a sequence of DER elements.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader {
            data,
            pos: 0,
            base: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// The tag of the next element, if any.
    pub fn peek_tag(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    /// Reads the next element, whatever its tag.
    pub fn any(&mut self) -> Result<Tlv<'a>, DerError> {
        let start = self.pos;
        let at = self.base + start;
        let tag = *self.data.get(start).ok_or(DerError::Truncated { at })?;
        if tag & 0x1f == 0x1f {
            return Err(DerError::UnsupportedTag { at, tag });
        }
        let first = *self
            .data
            .get(start + 1)
            .ok_or(DerError::Truncated { at: at + 1 })?;
        let (len, header) = if first < 0x80 {
            (first as usize, 2)
        } else if first == 0x80 {
            return Err(DerError::IndefiniteLength { at });
        } else {
            let n = (first & 0x7f) as usize;
            if n > 4 {
                return Err(DerError::NonMinimalLength { at });
            }
            let bytes = self
                .data
                .get(start + 2..start + 2 + n)
                .ok_or(DerError::Truncated { at: at + 2 })?;
            if bytes[0] == 0 {
                return Err(DerError::NonMinimalLength { at });
            }
            let len = bytes.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
            if len < 0x80 {
                return Err(DerError::NonMinimalLength { at });
            }
            (len, 2 + n)
        };
        let end = (start + header)
            .checked_add(len)
            .ok_or(DerError::Truncated { at })?;
        if end > self.data.len() {
            return Err(DerError::Truncated { at });
        }
        if tag == tag::OID && !well_formed_oid(&self.data[start + header..end]) {
            return Err(DerError::BadValue {
                at,
                what: "OBJECT IDENTIFIER",
            });
        }
        self.pos = end;
        Ok(Tlv {
            tag,
            value: &self.data[start + header..end],
            raw: &self.data[start..end],
            offset: at,
        })
    }

    /// Reads the next element and checks its tag.
    pub fn read(&mut self, tag: u8) -> Result<Tlv<'a>, DerError> {
        self.any()?.expect(tag)
    }

    /// Reads the next element only if it has this tag.
    pub fn optional(&mut self, tag: u8) -> Result<Option<Tlv<'a>>, DerError> {
        if self.peek_tag() == Some(tag) {
            self.read(tag).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Fails unless every byte was consumed.
    pub fn finish(&self) -> Result<(), DerError> {
        if self.pos < self.data.len() {
            return Err(DerError::TrailingBytes {
                at: self.base + self.pos,
                count: self.data.len() - self.pos,
            });
        }
        Ok(())
    }
}

/// Parses exactly one element that spans the whole input.
pub fn parse_single(data: &[u8], tag: u8) -> Result<Tlv<'_>, DerError> {
    let mut r = Reader::new(data);
    let t = r.read(tag)?;
    r.finish()?;
    Ok(t)
}

/// Encodes a DER length.
pub fn encode_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// Encodes one element.
pub fn encode(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 6);
    out.push(tag);
    encode_len(value.len(), &mut out);
    out.extend_from_slice(value);
    out
}

/// Well-known object identifiers, as DER content bytes.
pub mod oid {
    pub const SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
    pub const DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
    pub const SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
    pub const SHA384: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02];
    pub const SHA512: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03];
    pub const ECDSA_WITH_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
    pub const ECDSA_WITH_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
    pub const ECDSA_WITH_SHA512: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04];
    pub const CONTENT_TYPE: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x03];
    pub const MESSAGE_DIGEST: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04];
    pub const SIGNING_TIME: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x05];
    /// 1.2.840.113549.1.9.16.2.14 (RFC 3161 timeStampToken as an unsigned attribute).
    pub const TIMESTAMP_TOKEN: &[u8] = &[
        0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x02, 0x0e,
    ];
    /// 1.3.6.1.4.1.57264.3.1 (gitsign: embedded Rekor TransparencyLogEntry).
    pub const GITSIGN_TLOG_ENTRY: &[u8] =
        &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xbf, 0x30, 0x03, 0x01];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nested_elements_with_offsets() {
        let data = [0x30, 0x06, 0x02, 0x01, 0x05, 0x04, 0x01, 0xaa];
        let seq = parse_single(&data, tag::SEQUENCE).unwrap();
        let mut r = seq.reader();
        let i = r.read(tag::INTEGER).unwrap();
        assert_eq!(i.as_u64().unwrap(), 5);
        let o = r.read(tag::OCTET_STRING).unwrap();
        assert_eq!(o.offset, 5);
        assert_eq!(o.value, &[0xaa]);
        r.finish().unwrap();
    }

    #[test]
    fn rejects_trailing_garbage() {
        let data = [0x05, 0x00, 0x00];
        assert!(matches!(
            parse_single(&data, tag::NULL),
            Err(DerError::TrailingBytes { at: 2, count: 1 })
        ));
    }

    #[test]
    fn rejects_non_minimal_and_indefinite_lengths() {
        assert!(matches!(
            parse_single(&[0x04, 0x81, 0x01, 0x00], tag::OCTET_STRING),
            Err(DerError::NonMinimalLength { .. })
        ));
        assert!(matches!(
            parse_single(&[0x30, 0x80, 0x00, 0x00], tag::SEQUENCE),
            Err(DerError::IndefiniteLength { .. })
        ));
    }

    #[test]
    fn rejects_truncated_input() {
        assert!(matches!(
            parse_single(&[0x04, 0x05, 0x00], tag::OCTET_STRING),
            Err(DerError::Truncated { .. })
        ));
    }

    #[test]
    fn rejects_non_minimal_integers() {
        let t = parse_single(&[0x02, 0x02, 0x00, 0x01], tag::INTEGER).unwrap();
        assert!(t.as_u64().is_err());
    }

    #[test]
    fn encodes_long_lengths() {
        let v = vec![0u8; 300];
        let e = encode(tag::OCTET_STRING, &v);
        assert_eq!(&e[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(
            parse_single(&e, tag::OCTET_STRING).unwrap().value.len(),
            300
        );
    }
}
