//! A strict hand-rolled protobuf codec for `dev.sigstore.rekor.v1.TransparencyLogEntry`.
//!
//! ```text
//! message TransparencyLogEntry {
//!   int64 log_index = 1;  LogId log_id = 2;  KindVersion kind_version = 3;
//!   int64 integrated_time = 4;  InclusionPromise inclusion_promise = 5;
//!   InclusionProof inclusion_proof = 6;  bytes canonicalized_body = 7; }
//! message LogId { bytes key_id = 1; }
//! message KindVersion { string kind = 1; string version = 2; }
//! message InclusionPromise { bytes signed_entry_timestamp = 1; }
//! message InclusionProof { int64 log_index = 1; bytes root_hash = 2; int64 tree_size = 3;
//!   repeated bytes hashes = 4; Checkpoint checkpoint = 5; }
//! message Checkpoint { string envelope = 1; }
//! ```
//!
//! Stricter than protobuf requires, because nothing honest produces what it rejects: truncated
//! or over-long varints, wrong wire types for known fields, a singular field given twice,
//! negative int64s, invalid UTF-8 strings, group wire types. Unknown fields are skipped.

use super::{InclusionProof, LogEntry, TlogError};

const VARINT: u8 = 0;
const I64: u8 = 1;
const LEN: u8 = 2;
const I32: u8 = 5;

fn malformed(what: &'static str) -> TlogError {
    TlogError::Malformed { what }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, TlogError> {
        let mut value = 0u64;
        for i in 0..10 {
            let (&b, rest) = self
                .buf
                .split_first()
                .ok_or(malformed("truncated varint"))?;
            self.buf = rest;
            if i == 9 && b > 1 {
                return Err(malformed("varint overflows 64 bits"));
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                if b == 0 && i > 0 {
                    return Err(malformed("non-minimal varint"));
                }
                return Ok(value);
            }
        }
        Err(malformed("varint longer than 10 bytes"))
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], TlogError> {
        let n = usize::try_from(n).map_err(|_| malformed("length too large"))?;
        if n > self.buf.len() {
            return Err(malformed("truncated length-delimited field"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    /// The next field key, or `None` at the end of the message.
    fn key(&mut self) -> Result<Option<(u32, u8)>, TlogError> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let wire = (key & 7) as u8;
        let field = key >> 3;
        if field == 0 || field > (1 << 29) - 1 {
            return Err(malformed("invalid field number"));
        }
        Ok(Some((field as u32, wire)))
    }

    /// Reads the value of a field whose wire type the caller does not interpret.
    fn skip(&mut self, wire: u8) -> Result<(), TlogError> {
        match wire {
            VARINT => self.varint().map(drop),
            I64 => self.take(8).map(drop),
            LEN => {
                let n = self.varint()?;
                self.take(n).map(drop)
            }
            I32 => self.take(4).map(drop),
            _ => Err(malformed("unsupported wire type")),
        }
    }

    fn bytes(&mut self, wire: u8) -> Result<&'a [u8], TlogError> {
        if wire != LEN {
            return Err(malformed("wrong wire type for a length-delimited field"));
        }
        let n = self.varint()?;
        self.take(n)
    }

    fn string(&mut self, wire: u8) -> Result<String, TlogError> {
        let b = self.bytes(wire)?;
        String::from_utf8(b.to_vec()).map_err(|_| malformed("string is not UTF-8"))
    }

    /// A non-negative int64.
    fn int64(&mut self, wire: u8) -> Result<u64, TlogError> {
        if wire != VARINT {
            return Err(malformed("wrong wire type for an int64 field"));
        }
        let v = self.varint()?;
        if v > i64::MAX as u64 {
            return Err(malformed("negative int64"));
        }
        Ok(v)
    }
}

/// Stores a singular field, refusing a second occurrence.
fn set_once<T>(slot: &mut Option<T>, value: T) -> Result<(), TlogError> {
    if slot.is_some() {
        return Err(malformed("singular field repeated"));
    }
    *slot = Some(value);
    Ok(())
}

/// Runs `f` on every known field of the message in `buf`, skipping unknown fields.
fn fields<'a>(
    buf: &'a [u8],
    mut f: impl FnMut(u32, u8, &mut Reader<'a>) -> Result<bool, TlogError>,
) -> Result<(), TlogError> {
    let mut r = Reader { buf };
    while let Some((field, wire)) = r.key()? {
        if !f(field, wire, &mut r)? {
            r.skip(wire)?;
        }
    }
    Ok(())
}

fn single_bytes_message(buf: &[u8]) -> Result<Vec<u8>, TlogError> {
    let mut out = None;
    fields(buf, |field, wire, r| match field {
        1 => set_once(&mut out, r.bytes(wire)?.to_vec()).map(|()| true),
        _ => Ok(false),
    })?;
    Ok(out.unwrap_or_default())
}

fn single_string_message(buf: &[u8]) -> Result<String, TlogError> {
    let mut out = None;
    fields(buf, |field, wire, r| match field {
        1 => set_once(&mut out, r.string(wire)?).map(|()| true),
        _ => Ok(false),
    })?;
    Ok(out.unwrap_or_default())
}

fn kind_version(buf: &[u8]) -> Result<(String, String), TlogError> {
    let (mut kind, mut version) = (None, None);
    fields(buf, |field, wire, r| match field {
        1 => set_once(&mut kind, r.string(wire)?).map(|()| true),
        2 => set_once(&mut version, r.string(wire)?).map(|()| true),
        _ => Ok(false),
    })?;
    Ok((kind.unwrap_or_default(), version.unwrap_or_default()))
}

fn inclusion_proof(buf: &[u8]) -> Result<InclusionProof, TlogError> {
    let (mut log_index, mut root_hash, mut tree_size, mut checkpoint) = (None, None, None, None);
    let mut hashes = Vec::new();
    fields(buf, |field, wire, r| match field {
        1 => set_once(&mut log_index, r.int64(wire)?).map(|()| true),
        2 => set_once(&mut root_hash, r.bytes(wire)?.to_vec()).map(|()| true),
        3 => set_once(&mut tree_size, r.int64(wire)?).map(|()| true),
        4 => {
            hashes.push(r.bytes(wire)?.to_vec());
            Ok(true)
        }
        5 => set_once(&mut checkpoint, single_string_message(r.bytes(wire)?)?).map(|()| true),
        _ => Ok(false),
    })?;
    Ok(InclusionProof {
        log_index: log_index.unwrap_or(0),
        root_hash: root_hash.unwrap_or_default(),
        tree_size: tree_size.unwrap_or(0),
        hashes,
        checkpoint,
    })
}

/// Decodes a `dev.sigstore.rekor.v1.TransparencyLogEntry`. The log id and the kind/version
/// must be present; everything else defaults as proto3 does and is judged by `verify_entry`.
pub fn decode_transparency_log_entry(pb: &[u8]) -> Result<LogEntry, TlogError> {
    let (mut log_index, mut log_id, mut kv, mut integrated_time) = (None, None, None, None);
    let (mut promise, mut proof, mut body) = (None, None, None);
    fields(pb, |field, wire, r| match field {
        1 => set_once(&mut log_index, r.int64(wire)?).map(|()| true),
        2 => set_once(&mut log_id, single_bytes_message(r.bytes(wire)?)?).map(|()| true),
        3 => set_once(&mut kv, kind_version(r.bytes(wire)?)?).map(|()| true),
        4 => set_once(&mut integrated_time, r.int64(wire)?).map(|()| true),
        5 => set_once(&mut promise, single_bytes_message(r.bytes(wire)?)?).map(|()| true),
        6 => set_once(&mut proof, inclusion_proof(r.bytes(wire)?)?).map(|()| true),
        7 => set_once(&mut body, r.bytes(wire)?.to_vec()).map(|()| true),
        _ => Ok(false),
    })?;
    let log_id = log_id.ok_or(malformed("no log id"))?;
    let (kind, version) = kv.ok_or(malformed("no kind and version"))?;
    let integrated_time = integrated_time.unwrap_or(0);
    Ok(LogEntry {
        log_index: log_index.unwrap_or(0),
        log_id,
        kind,
        version,
        // int64() refused anything above i64::MAX.
        integrated_time: i64::try_from(integrated_time).map_err(|_| malformed("time"))?,
        signed_entry_timestamp: promise,
        inclusion_proof: proof,
        canonicalized_body: body.filter(|b| !b.is_empty()),
    })
}

struct Writer(Vec<u8>);

impl Writer {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn key(&mut self, field: u32, wire: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wire));
    }
    /// proto3 leaves out zero scalars.
    fn int64(&mut self, field: u32, v: u64) {
        if v != 0 {
            self.key(field, VARINT);
            self.varint(v);
        }
    }
    /// An always-present length-delimited field (messages, repeated bytes).
    fn len_always(&mut self, field: u32, b: &[u8]) {
        self.key(field, LEN);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
    }
    /// A proto3 scalar bytes/string field, left out when empty.
    fn bytes(&mut self, field: u32, b: &[u8]) {
        if !b.is_empty() {
            self.len_always(field, b);
        }
    }
}

/// Encodes `entry` as a `TransparencyLogEntry` in field order, the way protobuf encoders do
/// (used to embed an entry fetched from Rekor into a signature).
///
/// Fails if a value does not fit an int64.
pub fn encode_transparency_log_entry(entry: &LogEntry) -> Result<Vec<u8>, TlogError> {
    let int64 = |v: u64| {
        if v > i64::MAX as u64 {
            Err(malformed("value does not fit an int64"))
        } else {
            Ok(v)
        }
    };
    let integrated_time =
        u64::try_from(entry.integrated_time).map_err(|_| malformed("negative integrated time"))?;
    let mut w = Writer(Vec::new());
    w.int64(1, int64(entry.log_index)?);
    let mut log_id = Writer(Vec::new());
    log_id.bytes(1, &entry.log_id);
    w.len_always(2, &log_id.0);
    let mut kv = Writer(Vec::new());
    kv.bytes(1, entry.kind.as_bytes());
    kv.bytes(2, entry.version.as_bytes());
    w.len_always(3, &kv.0);
    w.int64(4, integrated_time);
    if let Some(set) = &entry.signed_entry_timestamp {
        let mut p = Writer(Vec::new());
        p.bytes(1, set);
        w.len_always(5, &p.0);
    }
    if let Some(proof) = &entry.inclusion_proof {
        let mut p = Writer(Vec::new());
        p.int64(1, int64(proof.log_index)?);
        p.bytes(2, &proof.root_hash);
        p.int64(3, int64(proof.tree_size)?);
        for h in &proof.hashes {
            p.len_always(4, h);
        }
        if let Some(cp) = &proof.checkpoint {
            let mut c = Writer(Vec::new());
            c.bytes(1, cp.as_bytes());
            p.len_always(5, &c.0);
        }
        w.len_always(6, &p.0);
    }
    if let Some(body) = &entry.canonicalized_body {
        w.bytes(7, body);
    }
    Ok(w.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> LogEntry {
        LogEntry {
            log_index: 300,
            log_id: vec![7; 32],
            kind: "hashedrekord".into(),
            version: "0.0.1".into(),
            integrated_time: 1_700_000_000,
            signed_entry_timestamp: Some(vec![1, 2, 3]),
            inclusion_proof: Some(InclusionProof {
                log_index: 5,
                root_hash: vec![9; 32],
                tree_size: 10,
                hashes: vec![vec![1; 32], vec![2; 32]],
                checkpoint: Some("origin\n10\nAAAA\n\n— x AAAAAAA=\n".into()),
            }),
            canonicalized_body: Some(b"{}".to_vec()),
        }
    }

    #[test]
    fn encode_then_decode_round_trips() {
        let e = sample();
        let pb = encode_transparency_log_entry(&e).unwrap();
        assert_eq!(decode_transparency_log_entry(&pb).unwrap(), e);
    }

    #[test]
    fn unknown_fields_of_every_wire_type_are_skipped() {
        let e = sample();
        let mut pb = encode_transparency_log_entry(&e).unwrap();
        // field 20 varint, field 21 fixed64, field 22 bytes, field 23 fixed32
        pb.extend_from_slice(&[0xa0, 0x01, 0x96, 0x01]);
        pb.extend_from_slice(&[0xa9, 0x01, 1, 2, 3, 4, 5, 6, 7, 8]);
        pb.extend_from_slice(&[0xb2, 0x01, 2, 0xff, 0xff]);
        pb.extend_from_slice(&[0xbd, 0x01, 1, 2, 3, 4]);
        assert_eq!(decode_transparency_log_entry(&pb).unwrap(), e);
    }

    #[test]
    fn no_truncation_decodes_to_the_full_entry() {
        let pb = encode_transparency_log_entry(&sample()).unwrap();
        for n in 0..pb.len() {
            // Cutting exactly between top-level fields leaves a shorter valid message, but
            // never one with the same content.
            if let Ok(e) = decode_transparency_log_entry(&pb[..n]) {
                assert_ne!(e, sample(), "prefix of {n} bytes decoded to the full entry");
            }
        }
    }

    #[test]
    fn rejects_wrong_wire_type_for_known_field() {
        // log_index (field 1) as a length-delimited field
        let mut pb = vec![0x0a, 0x01, 0x00];
        pb.extend(encode_transparency_log_entry(&sample()).unwrap());
        assert!(decode_transparency_log_entry(&pb).is_err());
        // log_id (field 2) as a varint
        assert!(decode_transparency_log_entry(&[0x10, 0x01]).is_err());
    }

    #[test]
    fn rejects_negative_int64() {
        let mut pb = vec![0x08];
        pb.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        pb.extend(&encode_transparency_log_entry(&sample()).unwrap()[3..]);
        assert_eq!(
            decode_transparency_log_entry(&pb),
            Err(malformed("negative int64"))
        );
    }

    #[test]
    fn rejects_overlong_and_unterminated_varints() {
        for bad in [
            &[0x08, 0x80, 0x00][..],
            &[0x08, 0x80][..],
            &[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
            ][..],
            &[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ][..],
        ] {
            assert!(decode_transparency_log_entry(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rejects_repeated_singular_field_and_groups_and_field_zero() {
        let pb = encode_transparency_log_entry(&sample()).unwrap();
        let mut twice = pb.clone();
        twice.extend_from_slice(&[0x20, 0x01]);
        assert!(decode_transparency_log_entry(&twice).is_err());
        let mut group = pb.clone();
        group.extend_from_slice(&[0xa3, 0x01]);
        assert!(decode_transparency_log_entry(&group).is_err());
        let mut zero = pb.clone();
        zero.extend_from_slice(&[0x00, 0x01]);
        assert!(decode_transparency_log_entry(&zero).is_err());
    }

    #[test]
    fn rejects_length_beyond_the_message() {
        let mut pb = encode_transparency_log_entry(&sample()).unwrap();
        pb.extend_from_slice(&[0x3a, 0x7f, 0x00]);
        assert!(decode_transparency_log_entry(&pb).is_err());
        assert!(decode_transparency_log_entry(&[0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
    }

    #[test]
    fn rejects_entry_without_log_id_or_kind() {
        assert!(decode_transparency_log_entry(&[]).is_err());
        assert!(decode_transparency_log_entry(&[0x12, 0x00]).is_err());
    }

    #[test]
    fn garbage_never_panics() {
        let mut x: u32 = 0x1234_5678;
        for len in 0..400 {
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let _ = decode_transparency_log_entry(&buf);
        }
    }
}
