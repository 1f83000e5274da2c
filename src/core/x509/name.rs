//! X.501 Names (RFC 5280 §4.1.2.4) on the strict DER reader: checked when a certificate is
//! parsed, and shown as RFC 4514 strings in messages. Names are compared as the exact bytes
//! received (issuer to subject), never through this string form.

use std::fmt::Write as _;

use crate::core::asn1::der::{self as tlv, DerError, Tlv, oid_string, tag};

/// Attribute types with a short name, as RFC 4514 §3 and common practice print them.
const NAMES: &[(&[u8], &str)] = &[
    (&[0x55, 0x04, 0x03], "CN"),
    (&[0x55, 0x04, 0x04], "SN"),
    (&[0x55, 0x04, 0x05], "SERIALNUMBER"),
    (&[0x55, 0x04, 0x06], "C"),
    (&[0x55, 0x04, 0x07], "L"),
    (&[0x55, 0x04, 0x08], "ST"),
    (&[0x55, 0x04, 0x09], "STREET"),
    (&[0x55, 0x04, 0x0a], "O"),
    (&[0x55, 0x04, 0x0b], "OU"),
    (&[0x55, 0x04, 0x0c], "TITLE"),
    (&[0x55, 0x04, 0x2a], "GIVENNAME"),
    (
        &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19],
        "DC",
    ),
    (
        &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01],
        "UID",
    ),
];

const TELETEX_STRING: u8 = 0x14;

/// One AttributeTypeAndValue: the type's OID (content bytes) and the value's TLV.
struct Atv<'a> {
    oid: &'a [u8],
    value: Tlv<'a>,
}

/// The RDNs of a Name (the whole SEQUENCE TLV), each a non-empty DER SET OF
/// AttributeTypeAndValue in canonical order.
fn rdns(name: &[u8]) -> Result<Vec<Vec<Atv<'_>>>, DerError> {
    let seq = tlv::parse_single(name, tag::SEQUENCE)?;
    let mut r = seq.reader();
    let mut out = Vec::new();
    while !r.is_empty() {
        let set = r.read(tag::SET)?;
        let mut s = set.reader();
        let mut rdn = Vec::new();
        let mut previous: Option<&[u8]> = None;
        while !s.is_empty() {
            let atv = s.read(tag::SEQUENCE)?;
            if previous.is_some_and(|p| p > atv.raw) {
                return Err(DerError::BadValue {
                    at: atv.offset,
                    what: "name: SET OF not in DER order",
                });
            }
            previous = Some(atv.raw);
            let mut a = atv.reader();
            let oid = a.read(tag::OID)?;
            let value = a.any()?;
            a.finish()?;
            if !well_formed_string(&value) {
                return Err(DerError::BadValue {
                    at: value.offset,
                    what: "name: string value outside its type's character set",
                });
            }
            rdn.push(Atv {
                oid: oid.value,
                value,
            });
        }
        if rdn.is_empty() {
            return Err(DerError::BadValue {
                at: set.offset,
                what: "name: empty relative distinguished name",
            });
        }
        out.push(rdn);
    }
    Ok(out)
}

/// Checks that `name` (whole TLV) is a well-formed Name.
pub fn check(name: &[u8]) -> Result<(), DerError> {
    rdns(name).map(|_| ())
}

const BMP_STRING: u8 = 0x1e;

/// PrintableString, IA5String, UTF8String and BMPString values hold what their type allows
/// (X.680 §41); other types are not checked here.
fn well_formed_string(v: &Tlv<'_>) -> bool {
    let printable = |b: &u8| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(b);
    match v.tag {
        tag::PRINTABLE_STRING => v.value.iter().all(printable),
        tag::IA5_STRING => v.value.is_ascii(),
        tag::UTF8_STRING => std::str::from_utf8(v.value).is_ok(),
        BMP_STRING => v.value.len().is_multiple_of(2),
        _ => true,
    }
}

fn string_value<'a>(v: &Tlv<'a>) -> Option<&'a str> {
    let s = std::str::from_utf8(v.value).ok()?;
    match v.tag {
        tag::UTF8_STRING | TELETEX_STRING => Some(s),
        tag::PRINTABLE_STRING | tag::IA5_STRING if s.is_ascii() => Some(s),
        _ => None,
    }
}

fn push_escaped(out: &mut String, value: &str) {
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\x00'..='\x1f' | '\x7f' => {
                let _ = write!(out, "\\{:02x}", c as u8);
            }
            c => out.push(c),
        }
    }
}

/// `name` (whole TLV) as an RFC 4514 string: RDNs last first, `+` inside an RDN; a type
/// without a short name or a value that is not a string prints as `OID=#hex` of its DER.
/// Empty for an empty Name (Fulcio leaves), `None` if it is not a Name.
pub fn to_rfc4514(name: &[u8]) -> Option<String> {
    let rdns = rdns(name).ok()?;
    let mut out = String::new();
    for (i, rdn) in rdns.iter().rev().enumerate() {
        if i > 0 {
            out.push(',');
        }
        for (j, atv) in rdn.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            let short = NAMES.iter().find(|(o, _)| *o == atv.oid).map(|(_, n)| *n);
            match (short, string_value(&atv.value)) {
                (Some(short), Some(value)) => {
                    out.push_str(short);
                    out.push('=');
                    push_escaped(&mut out, value);
                }
                _ => {
                    out.push_str(&oid_string(atv.oid));
                    out.push_str("=#");
                    for b in atv.value.raw {
                        let _ = write!(out, "{b:02x}");
                    }
                }
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::asn1::der::encode;

    fn atv(oid: &[u8], t: u8, v: &[u8]) -> Vec<u8> {
        encode(
            tag::SEQUENCE,
            &[encode(tag::OID, oid), encode(t, v)].concat(),
        )
    }

    fn name(rdns: &[Vec<Vec<u8>>]) -> Vec<u8> {
        let sets: Vec<u8> = rdns
            .iter()
            .flat_map(|r| encode(tag::SET, &r.concat()))
            .collect();
        encode(tag::SEQUENCE, &sets)
    }

    const CN: &[u8] = &[0x55, 0x04, 0x03];
    const O: &[u8] = &[0x55, 0x04, 0x0a];

    #[test]
    fn prints_last_rdn_first_and_escapes_specials() {
        let n = name(&[
            vec![atv(O, tag::PRINTABLE_STRING, b"sigstore.dev")],
            vec![atv(CN, tag::UTF8_STRING, b"#a, b+c ")],
        ]);
        assert_eq!(
            to_rfc4514(&n).unwrap(),
            "CN=\\#a\\, b\\+c\\ ,O=sigstore.dev"
        );
        assert_eq!(to_rfc4514(&encode(tag::SEQUENCE, &[])).unwrap(), "");
    }

    #[test]
    fn unknown_types_and_non_strings_print_as_hex() {
        let n = name(&[vec![atv(&[0x2a, 0x03], tag::INTEGER, &[5])]]);
        assert_eq!(to_rfc4514(&n).unwrap(), "1.2.3=#020105");
        let teletex = name(&[vec![atv(CN, TELETEX_STRING, &[0xe9])]]);
        assert_eq!(to_rfc4514(&teletex).unwrap(), "2.5.4.3=#1401e9");
        let bad_printable = name(&[vec![atv(CN, tag::PRINTABLE_STRING, "é".as_bytes())]]);
        assert!(check(&bad_printable).is_err());
        assert!(check(&name(&[vec![atv(CN, tag::PRINTABLE_STRING, b"a_b")]])).is_err());
        assert!(check(&name(&[vec![atv(CN, tag::UTF8_STRING, &[0xff])]])).is_err());
    }

    #[test]
    fn empty_rdns_unsorted_sets_and_trailing_bytes_are_refused() {
        assert!(check(&name(&[vec![]])).is_err());
        let a = atv(CN, tag::UTF8_STRING, b"a");
        let b = atv(CN, tag::UTF8_STRING, b"b");
        assert!(check(&name(&[vec![a.clone(), b.clone()]])).is_ok());
        assert!(check(&name(&[vec![b, a.clone()]])).is_err());
        let mut extra = a.clone();
        extra.push(0);
        let inner = [
            encode(tag::OID, CN),
            encode(tag::UTF8_STRING, b"a"),
            vec![5, 0],
        ]
        .concat();
        assert!(check(&name(&[vec![encode(tag::SEQUENCE, &inner)]])).is_err());
        assert!(check(&encode(tag::SET, &a)).is_err());
    }
}
