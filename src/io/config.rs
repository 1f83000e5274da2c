//! gitsign's configuration: `gitsign.*` git config keys overridden by `GITSIGN_*` /
//! `SIGSTORE_*` variables, with gitsign's names and precedence (users keep their config
//! when they swap binaries).
//!
//! git config is read with libgit2 from the same files git reads (system unless
//! `GIT_CONFIG_NOSYSTEM`, `GIT_CONFIG_GLOBAL` or `~/.gitconfig` and the XDG file, the
//! repository's), plus the `-c` values git passes to the programs it runs
//! (`GIT_CONFIG_PARAMETERS`, `GIT_CONFIG_COUNT`/`_KEY_n`/`_VALUE_n`). No process is spawned:
//! git runs us once per signature and start-up time matters.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Resolved settings. Secrets are never stored here (the client secret is a file path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub fulcio: String,
    pub fulcio_root: Option<PathBuf>,
    pub rekor: String,
    pub rekor_mode: String,
    pub rekor_version: String,
    pub client_id: String,
    pub client_secret_file: Option<PathBuf>,
    pub redirect_url: Option<String>,
    pub issuer: String,
    pub connector_id: Option<String>,
    pub token_provider: Option<String>,
    pub timestamp_server_url: Option<String>,
    pub timestamp_cert_chain: Option<PathBuf>,
    pub log_path: Option<PathBuf>,
    pub match_committer: bool,
    pub autoclose: bool,
    pub autoclose_timeout: u64,
    pub url_opener: Option<String>,
    pub committer_name: Option<String>,
    pub committer_email: Option<String>,
    pub credential_cache: Option<PathBuf>,
    /// `socket`, `system` (alias `keyring`) or `off`; unset: the socket when
    /// `GITSIGN_CREDENTIAL_CACHE` names one or the agent's default socket answers.
    pub credential_cache_mode: Option<String>,
    /// gitsign-rs: a Sigstore trusted root (JSON) replacing the compiled-in one.
    pub trusted_root: Option<PathBuf>,
    /// gitsign-rs: how long a Rekor lookup may take in all.
    pub rekor_timeout: Duration,
    /// Also read by gitsign's dependencies.
    pub rekor_public_key: Option<PathBuf>,
    pub ct_log_public_key: Option<PathBuf>,
    /// gitsign-rs: an ID token file to use (like cosign's `filesystem` provider, which reads
    /// `/var/run/sigstore/cosign/oidc-token`).
    pub token_file: Option<PathBuf>,
    /// gitsign-rs: how long the browser flow waits for the redirect before asking for the
    /// code to be pasted (and then as long again for the paste).
    pub oidc_timeout: Duration,
}

pub const DEFAULT_FULCIO: &str = "https://fulcio.sigstore.dev";
pub const DEFAULT_REKOR: &str = "https://rekor.sigstore.dev";
pub const DEFAULT_ISSUER: &str = "https://oauth2.sigstore.dev/auth";

/// The longest timeout accepted, in seconds (a day). Larger values overflow deadline
/// arithmetic (`Instant + Duration`) and are never meant.
pub const MAX_TIMEOUT_SECS: u64 = 86_400;

/// A number of seconds from `source` (`GITSIGN_X` or `gitsign.x`): unset or 0 = `default`,
/// anything else outside 1..=[`MAX_TIMEOUT_SECS`] is an error naming where it came from.
fn seconds(source: Option<(&str, String)>, default: u64) -> Result<u64, String> {
    let Some((name, value)) = source else {
        return Ok(default);
    };
    match value.trim().parse::<u64>() {
        Ok(0) => Ok(default),
        Ok(n) if n <= MAX_TIMEOUT_SECS => Ok(n),
        _ => Err(format!(
            "{name}={value:?} is out of range: give a number of seconds from 1 to {MAX_TIMEOUT_SECS}"
        )),
    }
}

fn truthy(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "true" | "yes" | "on" | "1")
}

impl Settings {
    /// Applies gitsign's precedence: defaults < git config < `SIGSTORE_ROOT_FILE` <
    /// `SIGSTORE_*` < `GITSIGN_*`. `git` holds lower-cased keys (`gitsign.rekormode`).
    /// An out-of-range number is an error naming the variable or key.
    pub fn resolve(
        git: &HashMap<String, String>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, String> {
        let g = |k: &str| {
            git.get(&k.to_ascii_lowercase())
                .cloned()
                .filter(|v| !v.is_empty())
        };
        let e = |k: &str| env(k).filter(|v| !v.is_empty());
        // GITSIGN_x over SIGSTORE_x over git config.
        let shared = |suffix: &str, key: &str| {
            e(&format!("GITSIGN_{suffix}"))
                .or_else(|| e(&format!("SIGSTORE_{suffix}")))
                .or_else(|| g(key))
        };
        let own = |var: &str, key: &str| e(var).or_else(|| g(key));
        // The same, with the name the value came from (for errors).
        let own_named = |var: &'static str, key: &'static str| {
            e(var)
                .map(|v| (var, v))
                .or_else(|| g(key).map(|v| (key, v)))
        };
        let shared_named = |suffix: &str, key: &'static str| {
            let gitsign = format!("GITSIGN_{suffix}");
            let sigstore = format!("SIGSTORE_{suffix}");
            e(&gitsign)
                .map(|v| (gitsign, v))
                .or_else(|| e(&sigstore).map(|v| (sigstore, v)))
                .or_else(|| g(key).map(|v| (key.to_string(), v)))
        };
        let autoclose_timeout = {
            let found = shared_named("AUTOCLOSE_TIMEOUT", "gitsign.autocloseTimeout");
            seconds(found.as_ref().map(|(n, v)| (n.as_str(), v.clone())), 6)?
        };
        let rekor_timeout = seconds(
            own_named("GITSIGN_REKOR_TIMEOUT", "gitsign.rekorTimeout"),
            10,
        )?;
        let oidc_timeout = seconds(
            own_named("GITSIGN_OIDC_TIMEOUT", "gitsign.oidcTimeout"),
            120,
        )?;
        let path = |v: Option<String>| v.map(PathBuf::from);
        Ok(Settings {
            fulcio: shared("FULCIO_URL", "gitsign.fulcio").unwrap_or_else(|| DEFAULT_FULCIO.into()),
            fulcio_root: path(
                e("GITSIGN_FULCIO_ROOT")
                    .or_else(|| e("SIGSTORE_FULCIO_ROOT"))
                    .or_else(|| e("SIGSTORE_ROOT_FILE"))
                    .or_else(|| g("gitsign.fulcioRoot")),
            ),
            rekor: shared("REKOR_URL", "gitsign.rekor").unwrap_or_else(|| DEFAULT_REKOR.into()),
            rekor_mode: own("GITSIGN_REKOR_MODE", "gitsign.rekorMode")
                .unwrap_or_else(|| "offline".into()),
            rekor_version: shared("REKOR_VERSION", "gitsign.rekorVersion")
                .unwrap_or_else(|| "1".into()),
            client_id: shared("OIDC_CLIENT_ID", "gitsign.clientID")
                .unwrap_or_else(|| "sigstore".into()),
            client_secret_file: path(shared(
                "OIDC_CLIENT_SECRET_FILE",
                "gitsign.clientSecretFile",
            )),
            redirect_url: shared("OIDC_REDIRECT_URL", "gitsign.redirectURL"),
            issuer: shared("OIDC_ISSUER", "gitsign.issuer")
                .unwrap_or_else(|| DEFAULT_ISSUER.into()),
            connector_id: shared("CONNECTOR_ID", "gitsign.connectorID"),
            token_provider: shared("TOKEN_PROVIDER", "gitsign.tokenProvider"),
            timestamp_server_url: shared("TIMESTAMP_SERVER_URL", "gitsign.timestampServerURL"),
            timestamp_cert_chain: path(shared(
                "TIMESTAMP_CERT_CHAIN",
                "gitsign.timestampCertChain",
            )),
            log_path: path(own("GITSIGN_LOG", "gitsign.logPath")),
            match_committer: own("GITSIGN_MATCH_COMMITTER", "gitsign.matchCommitter")
                .is_some_and(|v| truthy(&v)),
            autoclose: shared("AUTOCLOSE", "gitsign.autoclose").is_none_or(|v| truthy(&v)),
            autoclose_timeout,
            url_opener: own("GITSIGN_URL_OPENER", "gitsign.urlOpener"),
            committer_name: g("user.name"),
            committer_email: g("user.email"),
            credential_cache: path(e("GITSIGN_CREDENTIAL_CACHE")),
            credential_cache_mode: own(
                "GITSIGN_CREDENTIAL_CACHE_MODE",
                "gitsign.credentialCacheMode",
            ),
            trusted_root: path(own("GITSIGN_TRUSTED_ROOT", "gitsign.trustedRoot")),
            rekor_timeout: Duration::from_secs(rekor_timeout),
            rekor_public_key: path(e("SIGSTORE_REKOR_PUBLIC_KEY")),
            ct_log_public_key: path(e("SIGSTORE_CT_LOG_PUBLIC_KEY_FILE")),
            token_file: path(own("GITSIGN_TOKEN_FILE", "gitsign.tokenFile")),
            oidc_timeout: Duration::from_secs(oidc_timeout),
        })
    }

    /// Reads git config (for the repository at `git_dir`, if any) and the environment.
    pub fn load(git_dir: Option<&Path>) -> Result<Settings, String> {
        let git = read_git_config(git_dir)?;
        // A variable that is not UTF-8 reads as unset, except those choosing what is
        // trusted: ignoring one of those would silently trust the compiled-in root instead.
        for var in TRUST_VARIABLES {
            if std::env::var_os(var).is_some_and(|v| v.to_str().is_none()) {
                return Err(format!("{var} is not valid UTF-8"));
            }
        }
        Settings::resolve(&git, &|k| std::env::var(k).ok())
    }
}

/// The variables that replace trust material or the log verification consults.
const TRUST_VARIABLES: [&str; 8] = [
    "GITSIGN_TRUSTED_ROOT",
    "GITSIGN_FULCIO_ROOT",
    "SIGSTORE_FULCIO_ROOT",
    "SIGSTORE_ROOT_FILE",
    "SIGSTORE_REKOR_PUBLIC_KEY",
    "SIGSTORE_CT_LOG_PUBLIC_KEY_FILE",
    "GITSIGN_REKOR_URL",
    "SIGSTORE_REKOR_URL",
];

fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The `gitsign.*` and `user.*` values git would see, keys lower-cased.
pub fn read_git_config(git_dir: Option<&Path>) -> Result<HashMap<String, String>, String> {
    let mut cfg = git2::Config::new().map_err(|e| e.message().to_string())?;
    let mut add = |path: PathBuf, level: git2::ConfigLevel| -> Result<(), String> {
        if path.is_file() {
            cfg.add_file(&path, level, true).map_err(|e| {
                format!("cannot read git config {}: {}", path.display(), e.message())
            })?;
        }
        Ok(())
    };
    if std::env::var_os("GIT_CONFIG_NOSYSTEM").is_none() {
        add(
            env_path("GIT_CONFIG_SYSTEM").unwrap_or_else(|| "/etc/gitconfig".into()),
            git2::ConfigLevel::System,
        )?;
    }
    if let Some(global) = env_path("GIT_CONFIG_GLOBAL") {
        add(global, git2::ConfigLevel::Global)?;
    } else {
        let xdg =
            env_path("XDG_CONFIG_HOME").or_else(|| env_path("HOME").map(|h| h.join(".config")));
        if let Some(x) = xdg {
            add(x.join("git/config"), git2::ConfigLevel::XDG)?;
        }
        if let Some(home) = env_path("HOME") {
            add(home.join(".gitconfig"), git2::ConfigLevel::Global)?;
        }
    }
    if let Some(dir) = git_dir {
        add(dir.join("config"), git2::ConfigLevel::Local)?;
    }
    let mut out = HashMap::new();
    let mut entries = cfg
        .entries(Some(r"^(gitsign|user)\."))
        .map_err(|e| e.message().to_string())?;
    while let Some(entry) = entries.next() {
        let entry = entry.map_err(|e| e.message().to_string())?;
        if let (Ok(name), Ok(value)) = (entry.name(), entry.value()) {
            // Later (higher-priority) files come later: last one wins, as in git.
            out.insert(name.to_ascii_lowercase(), value.to_string());
        }
    }
    for (k, v) in command_line_config(&|k| std::env::var(k).ok()) {
        out.insert(k, v);
    }
    Ok(out)
}

/// The `git -c key=value` settings git exports to the programs it runs.
pub fn command_line_config(env: &dyn Fn(&str) -> Option<String>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(params) = env("GIT_CONFIG_PARAMETERS") {
        // Shell-quoted words: 'key=value' (old) or 'key'='value' (git >= 2.31). git always
        // writes it well-formed; anything else is not git's and is ignored.
        let words = crate::core::git::shellwords::split(&params).unwrap_or_default();
        for w in words {
            if let Some((k, v)) = w.split_once('=') {
                out.push((k.to_ascii_lowercase(), v.to_string()));
            }
        }
    }
    let count = env("GIT_CONFIG_COUNT")
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(0);
    for i in 0..count {
        if let (Some(k), Some(v)) = (
            env(&format!("GIT_CONFIG_KEY_{i}")),
            env(&format!("GIT_CONFIG_VALUE_{i}")),
        ) {
            out.push((k.to_ascii_lowercase(), v));
        }
    }
    out.retain(|(k, _)| k.starts_with("gitsign.") || k.starts_with("user."));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn gitsign_env_beats_sigstore_env_beats_git_config() {
        let git: HashMap<String, String> =
            [("gitsign.rekor".to_string(), "http://git".to_string())].into();
        assert_eq!(
            Settings::resolve(&git, &env_of(&[])).unwrap().rekor,
            "http://git"
        );
        assert_eq!(
            Settings::resolve(&git, &env_of(&[("SIGSTORE_REKOR_URL", "http://s")]))
                .unwrap()
                .rekor,
            "http://s"
        );
        assert_eq!(
            Settings::resolve(
                &git,
                &env_of(&[
                    ("SIGSTORE_REKOR_URL", "http://s"),
                    ("GITSIGN_REKOR_URL", "http://g")
                ])
            )
            .unwrap()
            .rekor,
            "http://g"
        );
    }

    #[test]
    fn fulcio_root_precedence_follows_gitsign() {
        let git: HashMap<String, String> =
            [("gitsign.fulcioroot".to_string(), "/git".to_string())].into();
        let r = |env: &'static [(&'static str, &'static str)]| {
            Settings::resolve(&git, &env_of(env))
                .unwrap()
                .fulcio_root
                .unwrap()
        };
        assert_eq!(r(&[]), PathBuf::from("/git"));
        assert_eq!(r(&[("SIGSTORE_ROOT_FILE", "/rf")]), PathBuf::from("/rf"));
        assert_eq!(
            r(&[
                ("SIGSTORE_ROOT_FILE", "/rf"),
                ("SIGSTORE_FULCIO_ROOT", "/sf")
            ]),
            PathBuf::from("/sf")
        );
        assert_eq!(
            r(&[
                ("SIGSTORE_FULCIO_ROOT", "/sf"),
                ("GITSIGN_FULCIO_ROOT", "/gf")
            ]),
            PathBuf::from("/gf")
        );
    }

    #[test]
    fn defaults_point_at_the_public_good_instance() {
        let s = Settings::resolve(&HashMap::new(), &env_of(&[])).unwrap();
        assert_eq!(s.fulcio, DEFAULT_FULCIO);
        assert_eq!(s.rekor, DEFAULT_REKOR);
        assert_eq!(s.issuer, DEFAULT_ISSUER);
        assert_eq!(s.client_id, "sigstore");
        assert_eq!(s.rekor_timeout, Duration::from_secs(10));
        assert!(s.autoclose);
    }

    #[test]
    fn reads_git_dash_c_parameters_in_both_quoting_styles() {
        let env = env_of(&[
            (
                "GIT_CONFIG_PARAMETERS",
                "'gitsign.rekor'='http://a b' 'core.x=1' 'gitsign.logPath=/tmp/l'",
            ),
            ("GIT_CONFIG_COUNT", "1"),
            ("GIT_CONFIG_KEY_0", "gitsign.matchCommitter"),
            ("GIT_CONFIG_VALUE_0", "true"),
        ]);
        assert_eq!(
            command_line_config(&env),
            vec![
                ("gitsign.rekor".to_string(), "http://a b".to_string()),
                ("gitsign.logpath".to_string(), "/tmp/l".to_string()),
                ("gitsign.matchcommitter".to_string(), "true".to_string()),
            ]
        );
    }

    #[test]
    fn token_file_and_oidc_timeout_come_from_git_config_or_gitsign_variables() {
        let git: HashMap<String, String> = [
            ("gitsign.tokenfile".to_string(), "/git/token".to_string()),
            ("gitsign.oidctimeout".to_string(), "30".to_string()),
        ]
        .into();
        let s = Settings::resolve(&git, &env_of(&[])).unwrap();
        assert_eq!(s.token_file, Some(PathBuf::from("/git/token")));
        assert_eq!(s.oidc_timeout, Duration::from_secs(30));
        let s = Settings::resolve(
            &git,
            &env_of(&[
                ("GITSIGN_TOKEN_FILE", "/env/token"),
                ("GITSIGN_OIDC_TIMEOUT", "0"),
            ]),
        )
        .unwrap();
        assert_eq!(s.token_file, Some(PathBuf::from("/env/token")));
        assert_eq!(s.oidc_timeout, Duration::from_secs(120));
    }

    #[test]
    fn out_of_range_timeouts_are_a_one_line_error_naming_their_source() {
        let git: HashMap<String, String> = [(
            "gitsign.rekortimeout".to_string(),
            "18446744073709551615".to_string(),
        )]
        .into();
        let e = Settings::resolve(&git, &env_of(&[])).unwrap_err();
        assert!(
            e.starts_with("gitsign.rekorTimeout=\"18446744073709551615\" is out of range"),
            "{e}"
        );
        assert_eq!(e.lines().count(), 1);
        let e = Settings::resolve(
            &HashMap::new(),
            &env_of(&[("GITSIGN_OIDC_TIMEOUT", "99999999999999999999999")]),
        )
        .unwrap_err();
        assert!(e.starts_with("GITSIGN_OIDC_TIMEOUT="), "{e}");
        let e = Settings::resolve(
            &HashMap::new(),
            &env_of(&[("SIGSTORE_AUTOCLOSE_TIMEOUT", "-1")]),
        )
        .unwrap_err();
        assert!(e.starts_with("SIGSTORE_AUTOCLOSE_TIMEOUT="), "{e}");
        let s = Settings::resolve(
            &HashMap::new(),
            &env_of(&[
                ("GITSIGN_REKOR_TIMEOUT", "86400"),
                ("GITSIGN_OIDC_TIMEOUT", "86400"),
            ]),
        )
        .unwrap();
        // The largest values still leave room for the deadline arithmetic.
        let _ = std::time::Instant::now() + s.rekor_timeout;
        let _ = std::time::Instant::now() + s.oidc_timeout * 2 + Duration::from_secs(30);
    }
}
