//! Sigstore signing configs (protobuf-specs `SigningConfig` v0.2): which Fulcio, OIDC
//! issuer, Rekor logs and timestamp authorities a signer uses, and when.
//!
//! ```text
//! SigningConfig { mediaType, caUrls, oidcUrls, rekorTlogUrls, tsaUrls: [Service],
//!                 rekorTlogConfig, tsaConfig: ServiceConfiguration }
//! Service { url, majorApiVersion, validFor { start, end? }, operator }
//! ServiceConfiguration { selector: ALL | ANY | EXACT, count }
//! ```
//!
//! Selection is sigstore-go's (`pkg/root/signing_config.go`, `SelectService(s)`): among the
//! services whose API version is supported and whose `validFor` contains now (both ends
//! inclusive), the highest version, newest start first, at most one per operator; versions are
//! never mixed. sigstore-go picks ANY and EXACT at random among those; here the choice is
//! deterministic (the newest first), so a signature's services can be predicted and tested.
//! Unknown fields are ignored, as protobuf JSON parsers do.

use std::fmt;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::core::time::{UnixTime, format_rfc3339, parse_rfc3339};

pub const MEDIA_TYPE: &str = "application/vnd.dev.sigstore.signingconfig.v0.2+json";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub url: String,
    pub major_api_version: u32,
    pub valid_from: UnixTime,
    pub valid_until: Option<UnixTime>,
    pub operator: String,
}

impl Service {
    pub fn valid_at(&self, t: UnixTime) -> bool {
        self.valid_from <= t && self.valid_until.is_none_or(|u| t <= u)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selector {
    All,
    Any,
    Exact(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningConfig {
    pub ca_urls: Vec<Service>,
    pub oidc_urls: Vec<Service>,
    pub rekor_tlog_urls: Vec<Service>,
    pub tsa_urls: Vec<Service>,
    pub rekor_tlog_config: Selector,
    pub tsa_config: Selector,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigningConfigError {
    Json(String),
    MediaType(String),
    /// A field is missing or wrong: `what` names it (`rekorTlogUrls[1].url`).
    Field {
        what: String,
        problem: String,
    },
    /// No service of a list is usable now.
    NoService {
        list: &'static str,
        versions: Vec<u32>,
        at: UnixTime,
    },
    /// EXACT asks for more services than there are (distinct operators, one version).
    TooFew {
        list: &'static str,
        wanted: u32,
        found: usize,
    },
}

impl fmt::Display for SigningConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SigningConfigError::Json(e) => write!(f, "not a signing config: {e}"),
            SigningConfigError::MediaType(m) => {
                write!(f, "mediaType {m:?} is not supported (only {MEDIA_TYPE})")
            }
            SigningConfigError::Field { what, problem } => write!(f, "{what}: {problem}"),
            SigningConfigError::NoService { list, versions, at } => write!(
                f,
                "{list} lists no service of API version {versions:?} valid at {}",
                format_rfc3339(*at)
            ),
            SigningConfigError::TooFew {
                list,
                wanted,
                found,
            } => write!(
                f,
                "{list}: the selector wants {wanted} services of distinct operators, {found} are valid"
            ),
        }
    }
}

impl std::error::Error for SigningConfigError {}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JConfig {
    media_type: Option<String>,
    #[serde(default)]
    ca_urls: Vec<JService>,
    #[serde(default)]
    oidc_urls: Vec<JService>,
    #[serde(default)]
    rekor_tlog_urls: Vec<JService>,
    #[serde(default)]
    tsa_urls: Vec<JService>,
    rekor_tlog_config: Option<JSelector>,
    tsa_config: Option<JSelector>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JService {
    url: Option<String>,
    major_api_version: Option<u32>,
    valid_for: Option<JValidity>,
    #[serde(default)]
    operator: String,
}

#[derive(Deserialize)]
struct JValidity {
    start: Option<String>,
    end: Option<String>,
}

#[derive(Deserialize)]
struct JSelector {
    selector: Option<String>,
    count: Option<u32>,
}

fn field(what: String, problem: impl Into<String>) -> SigningConfigError {
    SigningConfigError::Field {
        what,
        problem: problem.into(),
    }
}

fn service(j: &JService, what: String) -> Result<Service, SigningConfigError> {
    let url = j
        .url
        .as_deref()
        .ok_or_else(|| field(format!("{what}.url"), "missing"))?;
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| {
            field(
                format!("{what}.url"),
                format!("{url:?} is not an http(s) URL"),
            )
        })?;
    if rest.split(['/', '?', '#']).next().is_none_or(str::is_empty) {
        return Err(field(format!("{what}.url"), format!("{url:?} has no host")));
    }
    let major_api_version = j
        .major_api_version
        .filter(|&v| v > 0)
        .ok_or_else(|| field(format!("{what}.majorApiVersion"), "missing or 0"))?;
    let v = j
        .valid_for
        .as_ref()
        .ok_or_else(|| field(format!("{what}.validFor"), "missing"))?;
    let time = |s: &Option<String>, end: &str| -> Result<Option<UnixTime>, SigningConfigError> {
        s.as_deref()
            .map(|s| {
                parse_rfc3339(s).map_err(|_| {
                    field(
                        format!("{what}.validFor.{end}"),
                        format!("{s:?} is not an RFC 3339 time"),
                    )
                })
            })
            .transpose()
    };
    let valid_from = time(&v.start, "start")?
        .ok_or_else(|| field(format!("{what}.validFor.start"), "missing"))?;
    let valid_until = time(&v.end, "end")?;
    if valid_until.is_some_and(|u| u < valid_from) {
        return Err(field(format!("{what}.validFor"), "ends before it starts"));
    }
    Ok(Service {
        url: url.trim_end_matches('/').to_string(),
        major_api_version,
        valid_from,
        valid_until,
        operator: j.operator.clone(),
    })
}

fn services(list: &[JService], name: &str) -> Result<Vec<Service>, SigningConfigError> {
    list.iter()
        .enumerate()
        .map(|(i, s)| service(s, format!("{name}[{i}]")))
        .collect()
}

fn selector(j: Option<&JSelector>, what: &str) -> Result<Selector, SigningConfigError> {
    // protobuf's default (0) is SERVICE_SELECTOR_UNDEFINED, which sigstore-go refuses.
    let Some(j) = j else {
        return Err(field(format!("{what}.selector"), "missing"));
    };
    match j.selector.as_deref() {
        Some("ALL") => Ok(Selector::All),
        Some("ANY") => Ok(Selector::Any),
        Some("EXACT") => match j.count {
            Some(n) if n >= 1 => Ok(Selector::Exact(n)),
            _ => Err(field(
                format!("{what}.count"),
                "EXACT needs a count of at least 1",
            )),
        },
        Some(other) => Err(field(
            format!("{what}.selector"),
            format!("{other:?} is not ALL, ANY or EXACT"),
        )),
        None => Err(field(format!("{what}.selector"), "missing")),
    }
}

/// The usable services of `list`: the highest supported version with any valid at `now`,
/// newest start first, one per operator.
fn candidates<'a>(
    list: &'a [Service],
    name: &'static str,
    supported: &[u32],
    now: UnixTime,
) -> Result<Vec<&'a Service>, SigningConfigError> {
    let mut versions = supported.to_vec();
    versions.sort_unstable_by(|a, b| b.cmp(a));
    let mut sorted: Vec<&Service> = list.iter().collect();
    // Stable: equal starts keep the config's order.
    sorted.sort_by_key(|s| std::cmp::Reverse(s.valid_from));
    for v in &versions {
        let mut operators: Vec<&str> = Vec::new();
        let mut out = Vec::new();
        for s in sorted
            .iter()
            .filter(|s| s.major_api_version == *v && s.valid_at(now))
        {
            if !operators.contains(&s.operator.as_str()) {
                operators.push(&s.operator);
                out.push(*s);
            }
        }
        if !out.is_empty() {
            return Ok(out);
        }
    }
    Err(SigningConfigError::NoService {
        list: name,
        versions: supported.to_vec(),
        at: now,
    })
}

fn select<'a>(
    list: &'a [Service],
    name: &'static str,
    selector: Selector,
    supported: &[u32],
    now: UnixTime,
) -> Result<Vec<&'a Service>, SigningConfigError> {
    let found = candidates(list, name, supported, now)?;
    match selector {
        Selector::All => Ok(found),
        Selector::Any => Ok(found.into_iter().take(1).collect()),
        Selector::Exact(n) if n as usize <= found.len() => {
            Ok(found.into_iter().take(n as usize).collect())
        }
        Selector::Exact(n) => Err(SigningConfigError::TooFew {
            list: name,
            wanted: n,
            found: found.len(),
        }),
    }
}

impl SigningConfig {
    pub fn from_json(bytes: &[u8]) -> Result<SigningConfig, SigningConfigError> {
        let j: JConfig =
            serde_json::from_slice(bytes).map_err(|e| SigningConfigError::Json(e.to_string()))?;
        match j.media_type.as_deref() {
            Some(MEDIA_TYPE) => {}
            Some(other) => return Err(SigningConfigError::MediaType(other.to_string())),
            None => return Err(field("mediaType".into(), "missing")),
        }
        Ok(SigningConfig {
            ca_urls: services(&j.ca_urls, "caUrls")?,
            oidc_urls: services(&j.oidc_urls, "oidcUrls")?,
            rekor_tlog_urls: services(&j.rekor_tlog_urls, "rekorTlogUrls")?,
            tsa_urls: services(&j.tsa_urls, "tsaUrls")?,
            rekor_tlog_config: selector(j.rekor_tlog_config.as_ref(), "rekorTlogConfig")?,
            tsa_config: selector(j.tsa_config.as_ref(), "tsaConfig")?,
        })
    }

    /// The public-good instance's config, compiled in (see `trust/PROVENANCE.md`).
    pub fn production() -> &'static SigningConfig {
        static PROD: OnceLock<SigningConfig> = OnceLock::new();
        PROD.get_or_init(|| {
            SigningConfig::from_json(include_bytes!("trust/production-signing-config.json"))
                .expect("the compiled-in signing config parses (a unit test checks it)")
        })
    }

    pub fn select_ca(
        &self,
        supported: &[u32],
        now: UnixTime,
    ) -> Result<&Service, SigningConfigError> {
        Ok(candidates(&self.ca_urls, "caUrls", supported, now)?[0])
    }

    pub fn select_oidc(
        &self,
        supported: &[u32],
        now: UnixTime,
    ) -> Result<&Service, SigningConfigError> {
        Ok(candidates(&self.oidc_urls, "oidcUrls", supported, now)?[0])
    }

    pub fn select_tlogs(
        &self,
        supported: &[u32],
        now: UnixTime,
    ) -> Result<Vec<&Service>, SigningConfigError> {
        select(
            &self.rekor_tlog_urls,
            "rekorTlogUrls",
            self.rekor_tlog_config,
            supported,
            now,
        )
    }

    pub fn select_tsas(
        &self,
        supported: &[u32],
        now: UnixTime,
    ) -> Result<Vec<&Service>, SigningConfigError> {
        select(&self.tsa_urls, "tsaUrls", self.tsa_config, supported, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T2026: UnixTime = 1_767_225_600; // 2026-01-01T00:00:00Z

    fn config(logs: &str, selector: &str) -> SigningConfig {
        let text = format!(
            r#"{{"mediaType":"{MEDIA_TYPE}",
            "caUrls":[{{"url":"https://ca","majorApiVersion":1,"validFor":{{"start":"2020-01-01T00:00:00Z"}},"operator":"a"}}],
            "oidcUrls":[],
            "rekorTlogUrls":[{logs}],
            "tsaUrls":[],
            "rekorTlogConfig":{selector},
            "tsaConfig":{{"selector":"ANY"}},
            "someFutureField":true}}"#
        );
        SigningConfig::from_json(text.as_bytes()).unwrap()
    }

    fn log(url: &str, v: u32, start: &str, end: Option<&str>, op: &str) -> String {
        let end = end.map_or(String::new(), |e| format!(r#","end":"{e}""#));
        format!(
            r#"{{"url":"{url}","majorApiVersion":{v},"validFor":{{"start":"{start}"{end}}},"operator":"{op}"}}"#
        )
    }

    fn urls(s: Vec<&Service>) -> Vec<&str> {
        s.into_iter().map(|s| s.url.as_str()).collect()
    }

    #[test]
    fn the_production_config_selects_fulcio_the_issuer_rekor_v1_and_the_tsa() {
        let p = SigningConfig::production();
        assert_eq!(
            p.select_ca(&[1], T2026).unwrap().url,
            "https://fulcio.sigstore.dev"
        );
        assert_eq!(
            p.select_oidc(&[1], T2026).unwrap().url,
            "https://oauth2.sigstore.dev/auth"
        );
        assert_eq!(
            urls(p.select_tlogs(&[1, 2], T2026).unwrap()),
            ["https://rekor.sigstore.dev"]
        );
        assert_eq!(
            urls(p.select_tsas(&[1], T2026).unwrap()),
            ["https://timestamp.sigstore.dev/api/v1/timestamp"]
        );
        // Before the TSA's start it is not offered.
        assert!(p.select_tsas(&[1], 1_700_000_000).is_err());
    }

    #[test]
    fn the_highest_supported_version_valid_now_wins_and_versions_never_mix() {
        let logs = [
            log("https://v1", 1, "2021-01-01T00:00:00Z", None, "a"),
            log(
                "https://v2-old",
                2,
                "2025-01-01T00:00:00Z",
                Some("2025-12-31T23:59:59Z"),
                "a",
            ),
            log("https://v2-new", 2, "2025-12-01T00:00:00Z", None, "a"),
            log("https://v2-future", 2, "2027-01-01T00:00:00Z", None, "a"),
        ]
        .join(",");
        let c = config(&logs, r#"{"selector":"ALL"}"#);
        // One per operator: the newest valid v2; the expired, future and v1 logs are not chosen.
        assert_eq!(
            urls(c.select_tlogs(&[1, 2], T2026).unwrap()),
            ["https://v2-new"]
        );
        assert_eq!(urls(c.select_tlogs(&[1], T2026).unwrap()), ["https://v1"]);
        // In 2025-06 only the old v2 log is valid.
        let mid2025 = 1_750_000_000;
        assert_eq!(
            urls(c.select_tlogs(&[2, 1], mid2025).unwrap()),
            ["https://v2-old"]
        );
        // Before any v2 log: v1.
        assert_eq!(
            urls(c.select_tlogs(&[1, 2], 1_700_000_000).unwrap()),
            ["https://v1"]
        );
        assert!(matches!(
            c.select_tlogs(&[3], T2026),
            Err(SigningConfigError::NoService {
                list: "rekorTlogUrls",
                ..
            })
        ));
    }

    #[test]
    fn validity_is_inclusive_at_both_ends() {
        let c = config(
            &log(
                "https://l",
                1,
                "2026-01-01T00:00:00Z",
                Some("2026-01-02T00:00:00Z"),
                "a",
            ),
            r#"{"selector":"ANY"}"#,
        );
        assert!(c.select_tlogs(&[1], T2026).is_ok());
        assert!(c.select_tlogs(&[1], T2026 + 86_400).is_ok());
        assert!(c.select_tlogs(&[1], T2026 - 1).is_err());
        assert!(c.select_tlogs(&[1], T2026 + 86_401).is_err());
    }

    #[test]
    fn any_exact_and_all_choose_among_distinct_operators_newest_first() {
        let logs = [
            log("https://a-old", 2, "2025-01-01T00:00:00Z", None, "a"),
            log("https://a-new", 2, "2025-06-01T00:00:00Z", None, "a"),
            log("https://b", 2, "2025-03-01T00:00:00Z", None, "b"),
            log("https://c", 2, "2024-01-01T00:00:00Z", None, "c"),
        ]
        .join(",");
        let any = config(&logs, r#"{"selector":"ANY"}"#);
        assert_eq!(
            urls(any.select_tlogs(&[2], T2026).unwrap()),
            ["https://a-new"]
        );
        let all = config(&logs, r#"{"selector":"ALL"}"#);
        assert_eq!(
            urls(all.select_tlogs(&[2], T2026).unwrap()),
            ["https://a-new", "https://b", "https://c"]
        );
        let two = config(&logs, r#"{"selector":"EXACT","count":2}"#);
        assert_eq!(
            urls(two.select_tlogs(&[2], T2026).unwrap()),
            ["https://a-new", "https://b"]
        );
        let four = config(&logs, r#"{"selector":"EXACT","count":4}"#);
        assert_eq!(
            four.select_tlogs(&[2], T2026),
            Err(SigningConfigError::TooFew {
                list: "rekorTlogUrls",
                wanted: 4,
                found: 3
            })
        );
    }

    #[test]
    fn malformed_configs_are_refused_naming_the_field() {
        let base = std::str::from_utf8(include_bytes!("trust/production-signing-config.json"))
            .unwrap()
            .to_string();
        let bad = |from: &str, to: &str| {
            assert!(base.contains(from), "{from}");
            SigningConfig::from_json(base.replacen(from, to, 1).as_bytes()).unwrap_err()
        };
        assert!(matches!(
            bad("signingconfig.v0.2", "signingconfig.v0.1"),
            SigningConfigError::MediaType(_)
        ));
        let e = bad(r#""selector": "ANY""#, r#""selector": "SOME""#);
        assert!(e.to_string().starts_with("rekorTlogConfig.selector"), "{e}");
        let e = bad(r#""selector": "ANY""#, r#""selector": "EXACT""#);
        assert!(e.to_string().starts_with("rekorTlogConfig.count"), "{e}");
        let e = bad("2022-04-13T20:06:15.000Z", "yesterday");
        assert!(e.to_string().starts_with("caUrls[0].validFor.start"), "{e}");
        let e = bad("https://rekor.sigstore.dev", "ftp://rekor");
        assert!(e.to_string().starts_with("rekorTlogUrls[0].url"), "{e}");
        let e = bad(r#""majorApiVersion": 1"#, r#""majorApiVersion": 0"#);
        assert!(e.to_string().contains("majorApiVersion"), "{e}");
        assert!(matches!(
            SigningConfig::from_json(b"[]"),
            Err(SigningConfigError::Json(_))
        ));
    }
}
