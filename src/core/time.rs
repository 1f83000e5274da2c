//! Time as the core sees it: whole seconds since the Unix epoch, passed in as values.

use std::fmt;

/// A validity window; both ends inclusive, no end = open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub start: UnixTime,
    pub end: Option<UnixTime>,
}

impl Validity {
    pub const ALWAYS: Validity = Validity {
        start: 0,
        end: None,
    };

    pub fn contains(&self, t: UnixTime) -> bool {
        self.start <= t && self.end.is_none_or(|e| t <= e)
    }
}

/// Seconds since 1970-01-01T00:00:00Z.
pub type UnixTime = i64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeError(pub String);

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid time {:?}", self.0)
    }
}

impl std::error::Error for TimeError {}

/// Days since the epoch of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The civil date and time of a Unix time: (year, month, day, hour, minute, second).
pub fn civil_from_unix(t: UnixTime) -> (i64, u32, u32, u32, u32, u32) {
    let days = t.div_euclid(86400);
    let secs = t.rem_euclid(86400);
    let z = days + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = if m <= 2 { y + 1 } else { y };
    (
        y,
        m,
        d,
        (secs / 3600) as u32,
        ((secs % 3600) / 60) as u32,
        (secs % 60) as u32,
    )
}

/// Formats as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_rfc3339(t: UnixTime) -> String {
    let (y, mo, d, h, mi, s) = civil_from_unix(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

fn num(s: &str, range: std::ops::Range<usize>) -> Option<u32> {
    let part = s.get(range)?;
    if !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    part.parse().ok()
}

/// Parses an RFC 3339 timestamp in UTC or with an offset. Fractional seconds are truncated,
/// so a validity end such as `23:59:59.999Z` stays inclusive at second precision.
pub fn parse_rfc3339(s: &str) -> Result<UnixTime, TimeError> {
    let err = || TimeError(s.to_string());
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(err());
    }
    let (y, mo, d) = (
        num(s, 0..4).ok_or_else(err)?,
        num(s, 5..7).ok_or_else(err)?,
        num(s, 8..10).ok_or_else(err)?,
    );
    let (h, mi, sec) = (
        num(s, 11..13).ok_or_else(err)?,
        num(s, 14..16).ok_or_else(err)?,
        num(s, 17..19).ok_or_else(err)?,
    );
    if !(1..=12).contains(&mo)
        || d == 0
        || d > days_in_month(i64::from(y), mo)
        || h > 23
        || mi > 59
        || sec > 60
    {
        return Err(err());
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return Err(err());
        }
        rest = &frac[n..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && rest.as_bytes()[3] == b':' =>
        {
            let oh = num(rest, 1..3).ok_or_else(err)?;
            let om = num(rest, 4..6).ok_or_else(err)?;
            let o = i64::from(oh * 3600 + om * 60);
            if rest.starts_with('-') { -o } else { o }
        }
        _ => return Err(err()),
    };
    let days = days_from_civil(i64::from(y), mo, d);
    Ok(days * 86400 + i64::from(h * 3600 + mi * 60 + sec.min(59)) - offset)
}

pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Parses DER UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`, optional
/// fraction) content bytes.
pub fn parse_asn1_time(tag: u8, v: &[u8]) -> Result<UnixTime, TimeError> {
    let s = std::str::from_utf8(v).map_err(|_| TimeError(format!("{v:?}")))?;
    let err = || TimeError(s.to_string());
    let (y, rest) = match tag {
        0x17 => {
            let yy = num(s, 0..2).ok_or_else(err)?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &s[2..])
        }
        0x18 => (num(s, 0..4).ok_or_else(err)?, s.get(4..).ok_or_else(err)?),
        _ => return Err(err()),
    };
    if rest.len() < 11 || !rest.ends_with('Z') {
        return Err(err());
    }
    let (mo, d, h, mi, sec) = (
        num(rest, 0..2).ok_or_else(err)?,
        num(rest, 2..4).ok_or_else(err)?,
        num(rest, 4..6).ok_or_else(err)?,
        num(rest, 6..8).ok_or_else(err)?,
        num(rest, 8..10).ok_or_else(err)?,
    );
    let tail = &rest[10..rest.len() - 1];
    if !(tail.is_empty()
        || (tag == 0x18
            && tail.starts_with('.')
            && tail.len() > 1
            && tail[1..].bytes().all(|b| b.is_ascii_digit())))
    {
        return Err(err());
    }
    if !(1..=12).contains(&mo)
        || d == 0
        || d > days_in_month(i64::from(y), mo)
        || h > 23
        || mi > 59
        || sec > 59
    {
        return Err(err());
    }
    Ok(days_from_civil(i64::from(y), mo, d) * 86400 + i64::from(h * 3600 + mi * 60 + sec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339_with_fraction_and_offset() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(
            parse_rfc3339("2022-12-31T23:59:59.999Z").unwrap(),
            1672531199
        );
        assert_eq!(
            parse_rfc3339("2022-12-31T23:59:59+01:00").unwrap(),
            1672531199 - 3600
        );
        assert!(parse_rfc3339("2022-02-30T00:00:00Z").is_err());
        assert!(parse_rfc3339("2022-12-31 23:59:59").is_err());
        // A multi-byte character where the offset's colon belongs is an error, not a panic.
        assert!(parse_rfc3339("2022-12-31T23:59:59+0\u{e9}00").is_err());
    }

    #[test]
    fn parses_asn1_times() {
        assert_eq!(
            parse_asn1_time(0x17, b"260728205440Z").unwrap(),
            parse_rfc3339("2026-07-28T20:54:40Z").unwrap()
        );
        assert_eq!(
            parse_asn1_time(0x18, b"20500101000000Z").unwrap(),
            parse_rfc3339("2050-01-01T00:00:00Z").unwrap()
        );
        assert!(parse_asn1_time(0x17, b"260728205440").is_err());
    }

    #[test]
    fn formats_round_trip() {
        for t in [0, 1672531199, 1785272078, 4102444800] {
            assert_eq!(parse_rfc3339(&format_rfc3339(t)).unwrap(), t);
        }
    }
}
