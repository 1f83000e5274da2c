//! Which Fulcio, OIDC issuer, Rekor logs and timestamp authorities a signature uses.
//!
//! The signing config (`gitsign.signingConfig`, else the compiled-in production one) chooses,
//! as sigstore-go does (`core::sigstore::signing_config`); a service named explicitly
//! (`gitsign.fulcio`, `gitsign.issuer`, `gitsign.rekor` + `gitsign.rekorVersion`,
//! `gitsign.timestampServerURL`, or their `GITSIGN_*` variables) wins over it.
//!
//! Timestamps: gitsign's verifier refuses a timestamp it has no chain for, and it has none for
//! the public TSA, so the compiled-in config's TSA is used only where it is needed (a Rekor v2
//! log gives no time). A signing config file the user chose, or `timestampServerURL`, opts in.

use std::fmt;
use std::path::PathBuf;

use crate::core::sigstore::signing_config::{SigningConfig, SigningConfigError};
use crate::core::time::UnixTime;
use crate::io::config::Settings;

/// The log API versions gitsign-rs writes.
pub const LOG_VERSIONS: [u32; 2] = [1, 2];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogService {
    pub url: String,
    /// 1 or 2.
    pub version: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Services {
    pub fulcio: String,
    pub issuer: String,
    /// Each gets the signature; each entry is embedded.
    pub logs: Vec<LogService>,
    /// Each gives a timestamp; none means no timestamp.
    pub tsas: Vec<String>,
    /// Where the choice came from, for messages.
    pub config: String,
}

#[derive(Debug)]
pub enum ServiceError {
    Read {
        path: PathBuf,
        error: String,
    },
    Config {
        source: String,
        error: SigningConfigError,
    },
    RekorVersion {
        value: String,
    },
    /// A Rekor v2 log and no timestamp authority.
    V2WithoutTimestamp {
        log: String,
    },
    /// gitsign's online mode searches Rekor v1's index; v2 has none.
    OnlineNeedsV1 {
        log: String,
    },
    /// Online mode signs the object id after the signature is final: no room for a timestamp.
    OnlineTimestamp,
    /// A selector (ALL, EXACT n > 1) chose several logs or authorities.
    Several {
        what: &'static str,
        count: usize,
    },
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceError::Read { path, error } => {
                write!(f, "cannot read the signing config {}: {error}", path.display())
            }
            ServiceError::Config { source, error } => write!(f, "signing config {source}: {error}"),
            ServiceError::RekorVersion { value } => write!(
                f,
                "gitsign.rekorVersion must be 1 or 2, not {value:?}"
            ),
            ServiceError::V2WithoutTimestamp { log } => write!(
                f,
                "the Rekor v2 log {log} records no signed time, so a signature there needs an RFC 3161 timestamp: set gitsign.timestampServerURL (or use a signing config that lists a timestamp authority)"
            ),
            ServiceError::OnlineNeedsV1 { log } => write!(
                f,
                "gitsign.rekorMode=online finds entries through Rekor v1's search index, which the v2 log {log} does not have: use rekorMode=offline (the default) or a v1 log"
            ),
            ServiceError::OnlineTimestamp => f.write_str(
                "gitsign.rekorMode=online cannot carry an RFC 3161 timestamp (the object id is logged after the signature is final): use rekorMode=offline (the default) or drop the timestamp authority",
            ),
            ServiceError::Several { what, count } => write!(
                f,
                "the signing config selects {count} {what}, but a gitsign signature embeds one: use selector ANY (or EXACT with count 1)"
            ),
        }
    }
}

impl std::error::Error for ServiceError {}

/// The signing config in force: the file `gitsign.signingConfig` names, else the compiled-in
/// production config.
fn config(settings: &Settings) -> Result<(SigningConfig, String, bool), ServiceError> {
    match &settings.signing_config {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| ServiceError::Read {
                path: path.clone(),
                error: e.to_string(),
            })?;
            let source = path.display().to_string();
            let config =
                SigningConfig::from_json(&bytes).map_err(|error| ServiceError::Config {
                    source: source.clone(),
                    error,
                })?;
            Ok((config, source, true))
        }
        None => Ok((
            SigningConfig::production().clone(),
            "compiled-in production signing config".into(),
            false,
        )),
    }
}

/// The services for a signature made at `now` (see the module docs).
pub fn choose(settings: &Settings, now: UnixTime) -> Result<Services, ServiceError> {
    let (config, source, chosen_by_user) = config(settings)?;
    let err = |error| ServiceError::Config {
        source: source.clone(),
        error,
    };
    let fulcio = if settings.explicit.fulcio {
        settings.fulcio.clone()
    } else {
        config.select_ca(&[1], now).map_err(err)?.url.clone()
    };
    let issuer = if settings.explicit.issuer {
        settings.issuer.clone()
    } else {
        config.select_oidc(&[1], now).map_err(err)?.url.clone()
    };
    let version = if settings.explicit.rekor_version {
        match settings.rekor_version.trim() {
            "1" => Some(1),
            "2" => Some(2),
            v => {
                return Err(ServiceError::RekorVersion {
                    value: v.to_string(),
                });
            }
        }
    } else {
        None
    };
    let logs = if settings.explicit.rekor {
        vec![LogService {
            url: settings.rekor.clone(),
            version: version.unwrap_or(1),
        }]
    } else {
        let versions: Vec<u32> = match version {
            Some(v) => vec![v],
            None => LOG_VERSIONS.to_vec(),
        };
        config
            .select_tlogs(&versions, now)
            .map_err(err)?
            .into_iter()
            .map(|s| LogService {
                url: s.url.clone(),
                version: s.major_api_version,
            })
            .collect()
    };
    let needs_time = logs.iter().find(|l| l.version == 2);
    let tsas = match &settings.timestamp_server_url {
        Some(url) => vec![url.clone()],
        None if chosen_by_user || needs_time.is_some() => {
            match config.select_tsas(&[1], now) {
                Ok(s) => s.into_iter().map(|s| s.url.clone()).collect(),
                // A config with no timestamp authority is fine until one is needed.
                Err(_) if config.tsa_urls.is_empty() => Vec::new(),
                Err(e) => return Err(err(e)),
            }
        }
        None => Vec::new(),
    };
    if let Some(log) = needs_time
        && tsas.is_empty()
    {
        return Err(ServiceError::V2WithoutTimestamp {
            log: log.url.clone(),
        });
    }
    if settings.rekor_mode.eq_ignore_ascii_case("online")
        && let Some(log) = logs.iter().find(|l| l.version != 1)
    {
        return Err(ServiceError::OnlineNeedsV1 {
            log: log.url.clone(),
        });
    }
    if settings.rekor_mode.eq_ignore_ascii_case("online") && !tsas.is_empty() {
        return Err(ServiceError::OnlineTimestamp);
    }
    if logs.len() > 1 {
        return Err(ServiceError::Several {
            what: "transparency logs",
            count: logs.len(),
        });
    }
    if tsas.len() > 1 {
        return Err(ServiceError::Several {
            what: "timestamp authorities",
            count: tsas.len(),
        });
    }
    Ok(Services {
        fulcio,
        issuer,
        logs,
        tsas,
        config: source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const T2026: UnixTime = 1_767_225_600;

    fn settings(env: &[(&str, &str)]) -> Settings {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::resolve(&HashMap::new(), &|k| env.get(k).cloned()).unwrap()
    }

    #[test]
    fn the_compiled_in_config_signs_with_rekor_v1_and_no_timestamp() {
        let s = choose(&settings(&[]), T2026).unwrap();
        assert_eq!(s.fulcio, "https://fulcio.sigstore.dev");
        assert_eq!(s.issuer, "https://oauth2.sigstore.dev/auth");
        assert_eq!(
            s.logs,
            [LogService {
                url: "https://rekor.sigstore.dev".into(),
                version: 1
            }]
        );
        assert!(
            s.tsas.is_empty(),
            "gitsign could not verify the public TSA's tokens"
        );
    }

    #[test]
    fn named_services_win_and_rekor_v2_brings_the_configs_timestamp_authority() {
        let s = choose(
            &settings(&[
                ("GITSIGN_REKOR_URL", "https://log2025-1.rekor.sigstore.dev"),
                ("GITSIGN_REKOR_VERSION", "2"),
                ("GITSIGN_FULCIO_URL", "https://fulcio.example"),
            ]),
            T2026,
        )
        .unwrap();
        assert_eq!(s.fulcio, "https://fulcio.example");
        assert_eq!(s.logs[0].version, 2);
        assert_eq!(s.tsas, ["https://timestamp.sigstore.dev/api/v1/timestamp"]);
        let s = choose(
            &settings(&[("GITSIGN_TIMESTAMP_SERVER_URL", "https://tsa.example/ts")]),
            T2026,
        )
        .unwrap();
        assert_eq!(s.tsas, ["https://tsa.example/ts"]);
    }

    #[test]
    fn impossible_combinations_are_refused() {
        let err = |env: &[(&str, &str)]| choose(&settings(env), T2026).unwrap_err().to_string();
        assert!(err(&[("GITSIGN_REKOR_VERSION", "3")]).contains("must be 1 or 2"));
        // The production config lists no v2 log.
        assert!(err(&[("GITSIGN_REKOR_VERSION", "2")]).contains("API version [2]"));
        assert!(
            err(&[
                ("GITSIGN_REKOR_MODE", "online"),
                ("GITSIGN_TIMESTAMP_SERVER_URL", "https://tsa.example")
            ])
            .contains("rekorMode=online")
        );
        assert!(
            err(&[
                ("GITSIGN_REKOR_MODE", "online"),
                ("GITSIGN_REKOR_URL", "https://log2.example"),
                ("GITSIGN_REKOR_VERSION", "2"),
            ])
            .contains("rekorMode=online")
        );
    }
}
