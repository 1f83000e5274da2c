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
    /// gitsign-rs: a Sigstore signing config (v0.2 JSON) replacing the compiled-in one.
    pub signing_config: Option<PathBuf>,
    /// Which services were named explicitly (they win over the signing config).
    pub explicit: Explicit,
}

/// The services set by a git config key or variable rather than defaulted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Explicit {
    pub fulcio: bool,
    pub rekor: bool,
    pub rekor_version: bool,
    pub issuer: bool,
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
        let explicit = Explicit {
            fulcio: shared("FULCIO_URL", "gitsign.fulcio").is_some(),
            rekor: shared("REKOR_URL", "gitsign.rekor").is_some(),
            rekor_version: shared("REKOR_VERSION", "gitsign.rekorVersion").is_some(),
            issuer: shared("OIDC_ISSUER", "gitsign.issuer").is_some(),
        };
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
            signing_config: path(own("GITSIGN_SIGNING_CONFIG", "gitsign.signingConfig")),
            explicit,
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

/// git's boolean for an environment variable (`git_env_bool`): unset is `default`.
fn env_bool(var: &str, default: bool) -> Result<bool, String> {
    match std::env::var(var) {
        Err(_) => Ok(default),
        Ok(v) => match v.to_ascii_lowercase().as_str() {
            "" | "false" | "no" | "off" => Ok(false),
            "true" | "yes" | "on" => Ok(true),
            n => n
                .parse::<i64>()
                .map(|n| n != 0)
                .map_err(|_| format!("{var}={v:?} is not a boolean")),
        },
    }
}

/// A config entry: its name (section and key lower-cased, a subsection as written) and its
/// value (`None` for a key with no `=`, which git reads as boolean true).
type Entry = (String, Option<String>);

/// Whether `name` (lower-cased) is `<section>.<subsection>.<key>` with this section and key.
fn is_three_part(name: &str, section: &str, key: &str) -> bool {
    name.len() > section.len() + key.len() + 2
        && name.starts_with(section)
        && name[section.len()..].starts_with('.')
        && name.ends_with(key)
        && name[..name.len() - key.len()].ends_with('.')
}

/// The entries written in `file` itself, in order, without those of the files it includes:
/// includes are followed by [`Reader`], where git follows them (libgit2 would expand
/// `include.path` but evaluates no `includeIf` for a file read on its own).
fn file_entries(file: &Path) -> Result<Vec<Entry>, String> {
    let err =
        |e: git2::Error| format!("cannot read git config {}: {}", file.display(), e.message());
    let cfg = git2::Config::open(file).map_err(err)?;
    let mut entries = cfg
        .entries(Some(
            r"^(gitsign|user|remote|include|includeif|extensions)\.",
        ))
        .map_err(err)?;
    let mut out = Vec::new();
    while let Some(entry) = entries.next() {
        let entry = entry.map_err(err)?;
        if entry.include_depth() > 0 {
            continue;
        }
        let Ok(name) = entry.name() else { continue };
        let value = if entry.has_value() {
            match entry.value() {
                Ok(v) => Some(v.to_string()),
                // What chooses trust or includes must not be dropped silently.
                Err(_) if name.starts_with("gitsign.") || name.starts_with("include") => {
                    return Err(format!(
                        "git config {}: {name} is not valid UTF-8",
                        file.display()
                    ));
                }
                Err(_) => continue,
            }
        } else {
            None
        };
        out.push((name.to_string(), value));
    }
    Ok(out)
}

/// The files git reads, in git's order (`do_git_config_sequence`): system, XDG, global,
/// the repository's (in its common directory), and the worktree's `config.worktree` when
/// the repository's own config sets `extensions.worktreeConfig`. Missing files are left out.
fn config_files(git_dir: Option<&Path>) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    if !env_bool("GIT_CONFIG_NOSYSTEM", false)? {
        // Set but empty names no file, as in git.
        files.push(
            std::env::var_os("GIT_CONFIG_SYSTEM")
                .map(PathBuf::from)
                .unwrap_or_else(|| "/etc/gitconfig".into()),
        );
    }
    if let Some(global) = std::env::var_os("GIT_CONFIG_GLOBAL") {
        files.push(PathBuf::from(global));
    } else {
        let xdg =
            env_path("XDG_CONFIG_HOME").or_else(|| env_path("HOME").map(|h| h.join(".config")));
        if let Some(x) = xdg {
            files.push(x.join("git/config"));
        }
        if let Some(home) = env_path("HOME") {
            files.push(home.join(".gitconfig"));
        }
    }
    if let Some(dir) = git_dir {
        let local = common_dir(dir).join("config");
        files.push(local.clone());
        // git reads the repository format from this file alone, includes not followed.
        let worktree_config = if local.is_file() {
            let mut on = false;
            for (name, value) in file_entries(&local)? {
                if name == "extensions.worktreeconfig" {
                    on = match value {
                        None => true,
                        Some(v) => config_bool(&v).ok_or_else(|| {
                            format!(
                                "bad boolean config value {v:?} for extensions.worktreeConfig in {}",
                                local.display()
                            )
                        })?,
                    };
                }
            }
            on
        } else {
            false
        };
        if worktree_config {
            files.push(dir.join("config.worktree"));
        }
    }
    Ok(files.into_iter().filter(|f| f.is_file()).collect())
}

/// git's boolean config value (`git_parse_maybe_bool`).
fn config_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "" | "false" | "no" | "off" => Some(false),
        "true" | "yes" | "on" => Some(true),
        n => n.parse::<i64>().ok().map(|n| n != 0),
    }
}

/// The repository's common directory: `GIT_COMMON_DIR`, else what `<gitdir>/commondir`
/// names (a linked worktree's), else the git directory itself.
fn common_dir(git_dir: &Path) -> PathBuf {
    if let Some(d) = env_path("GIT_COMMON_DIR") {
        return d;
    }
    match std::fs::read_to_string(git_dir.join("commondir")) {
        Ok(c) if !c.trim_end_matches(['\n', '\r']).is_empty() => {
            git_dir.join(c.trim_end_matches(['\n', '\r']))
        }
        _ => git_dir.to_path_buf(),
    }
}

/// git's `interpolate_path`: a leading `~/` (or `~` alone) is `$HOME`; `None` when `HOME`
/// is unset. (`~user/` is not expanded.)
fn interpolate_path(p: &str) -> Option<String> {
    if p == "~" || p.starts_with("~/") {
        // As in git, an empty HOME is used as it is.
        let home = std::env::var_os("HOME")?;
        Some(format!("{}{}", home.to_string_lossy(), &p[1..]))
    } else {
        Some(p.to_string())
    }
}

/// `text` with a trailing slash removed (`/` itself kept).
fn no_trailing_slash(text: String) -> String {
    match text.strip_suffix('/') {
        Some(t) if !t.is_empty() => t.to_string(),
        _ => text,
    }
}

/// The repository's current branch as `onbranch:` sees it: `Ok(None)` when HEAD is detached
/// or unreadable, an error when HEAD lives where only git can read it (reftable).
fn current_branch(git_dir: &Path) -> Result<Option<String>, String> {
    let Ok(head) = std::fs::read_to_string(git_dir.join("HEAD")) else {
        return Ok(None);
    };
    let Some(target) = head.trim_end().strip_prefix("ref: ") else {
        return Ok(None);
    };
    if target == "refs/heads/.invalid" {
        return Err(format!(
            "cannot evaluate includeIf \"onbranch:\" in {}: its refs are in the reftable \
             format, which gitsign-rs does not read",
            git_dir.display()
        ));
    }
    Ok(target.strip_prefix("refs/heads/").map(str::to_string))
}

/// git's include depth limit (`MAX_INCLUDE_DEPTH`).
const MAX_INCLUDE_DEPTH: usize = 10;

/// Reads the config sequence as git's `git_config_include` does: every entry in order,
/// `include.path` and true `includeIf.<condition>.path` followed where they stand.
struct Reader {
    /// The git directory, absolute as given, and its real path.
    git_dir: Option<(String, String)>,
    /// `onbranch:`'s view, computed on first use.
    branch: Option<Result<Option<String>, String>>,
    raw_git_dir: Option<PathBuf>,
    /// `remote.*.url` values for `hasconfig:remote.*.url:`; `None` until first needed.
    remote_urls: Option<Vec<String>>,
    /// The pass collecting remote URLs: `hasconfig:` holds unconditionally, and a file
    /// included by a true `includeIf` may not set a remote URL (git's `forbid_remote_url`).
    collecting: bool,
    /// Whether a `hasconfig:` condition was met on this pass.
    saw_hasconfig: bool,
}

impl Reader {
    fn new(git_dir: Option<&Path>) -> Reader {
        let git_dir_strings = git_dir.map(|d| {
            let abs = if d.is_absolute() {
                d.to_path_buf()
            } else {
                std::env::current_dir().unwrap_or_default().join(d)
            };
            let real = std::fs::canonicalize(&abs).unwrap_or_else(|_| abs.clone());
            (
                no_trailing_slash(abs.to_string_lossy().into_owned()),
                no_trailing_slash(real.to_string_lossy().into_owned()),
            )
        });
        Reader {
            git_dir: git_dir_strings,
            branch: None,
            raw_git_dir: git_dir.map(Path::to_path_buf),
            remote_urls: None,
            collecting: false,
            saw_hasconfig: false,
        }
    }

    /// git's `include_by_gitdir`; `from` is the file holding the condition.
    fn gitdir_holds(&self, cond: &str, from: Option<&Path>, icase: bool) -> Result<bool, String> {
        let Some((abs, real)) = &self.git_dir else {
            return Ok(false);
        };
        // `prepare_include_condition_pattern`.
        let mut pat = interpolate_path(cond).unwrap_or_else(|| cond.to_string());
        let mut prefix = 0;
        if let Some(rest) = pat.strip_prefix("./") {
            let Some(file) = from else {
                return Err("relative config include conditionals must come from files".into());
            };
            let file = std::fs::canonicalize(file)
                .map_err(|e| format!("cannot resolve config file {}: {e}", file.display()))?;
            let file = file.to_string_lossy();
            let dir = &file[..file.rfind('/').unwrap_or(0)];
            pat = format!("{dir}/{rest}");
            prefix = dir.len() + 1;
        } else if !pat.starts_with('/') {
            pat = format!("**/{pat}");
        }
        if pat.ends_with('/') {
            pat.push_str("**");
        }
        // The real path first, then the path as given (a symlinked `~/work` still matches).
        for text in [real, abs] {
            if prefix > 0 {
                // The file's own directory is matched literally, wildcards and all.
                let (p, t) = (pat.as_bytes(), text.as_bytes());
                if t.len() < prefix {
                    return Ok(false);
                }
                let same = if icase {
                    p[..prefix].eq_ignore_ascii_case(&t[..prefix])
                } else {
                    p[..prefix] == t[..prefix]
                };
                if !same {
                    return Ok(false);
                }
            }
            if crate::core::git::wildmatch::matches(&pat[prefix..], &text[prefix..], icase) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// git's `include_condition_is_true`. Unknown conditions are false.
    fn holds(&mut self, cond: &str, from: Option<&Path>) -> Result<bool, String> {
        if let Some(p) = cond.strip_prefix("gitdir:") {
            self.gitdir_holds(p, from, false)
        } else if let Some(p) = cond.strip_prefix("gitdir/i:") {
            self.gitdir_holds(p, from, true)
        } else if let Some(p) = cond.strip_prefix("onbranch:") {
            let Some(dir) = &self.raw_git_dir else {
                return Ok(false);
            };
            let branch = self.branch.get_or_insert_with(|| current_branch(dir));
            let branch = branch.clone()?;
            let mut pat = p.to_string();
            if pat.ends_with('/') {
                pat.push_str("**");
            }
            Ok(branch.is_some_and(|b| crate::core::git::wildmatch::matches(&pat, &b, false)))
        } else if let Some(p) = cond.strip_prefix("hasconfig:remote.*.url:") {
            if self.collecting {
                return Ok(true);
            }
            self.saw_hasconfig = true;
            Ok(self.remote_urls.as_ref().is_some_and(|urls| {
                urls.iter()
                    .any(|u| crate::core::git::wildmatch::matches(p, u, false))
            }))
        } else {
            Ok(false)
        }
    }

    /// Follows an include of `path` (git's `handle_path_include`) written in `from`.
    fn include(
        &mut self,
        key: &str,
        path: Option<&str>,
        from: Option<&Path>,
        depth: usize,
        forbid_urls: bool,
        out: &mut Vec<(String, String)>,
    ) -> Result<(), String> {
        let Some(path) = path else {
            return Err(format!("missing value for '{key}'"));
        };
        let expanded = interpolate_path(path)
            .ok_or_else(|| format!("could not expand include path '{path}'"))?;
        let mut target = PathBuf::from(&expanded);
        if !target.is_absolute() {
            // Relative to the including file as it was named (not its real path).
            let Some(file) = from else {
                return Err("relative config includes must come from files".into());
            };
            target = file.parent().unwrap_or(Path::new("")).join(target);
        }
        if !target.is_file() {
            return Ok(());
        }
        if depth + 1 > MAX_INCLUDE_DEPTH {
            return Err(format!(
                "exceeded maximum include depth ({MAX_INCLUDE_DEPTH}) while including {} from {}",
                target.display(),
                from.map_or("the command line".into(), |f| f.display().to_string())
            ));
        }
        let entries = file_entries(&target)?;
        self.entries(entries, Some(&target), depth + 1, forbid_urls, out)
    }

    /// Feeds `entries` written in `from` (`None`: the command line) through git's include
    /// logic, appending the values seen to `out`.
    fn entries(
        &mut self,
        entries: Vec<Entry>,
        from: Option<&Path>,
        depth: usize,
        forbid_urls: bool,
        out: &mut Vec<(String, String)>,
    ) -> Result<(), String> {
        for (name, value) in entries {
            let lower = name.to_ascii_lowercase();
            if forbid_urls && is_three_part(&lower, "remote", "url") {
                return Err(
                    "remote URLs cannot be configured in file directly or indirectly \
                            included by includeIf.hasconfig:remote.*.url"
                        .into(),
                );
            }
            if lower == "include.path" {
                self.include(&name, value.as_deref(), from, depth, forbid_urls, out)?;
                continue;
            }
            if lower.starts_with("includeif.") {
                // git evaluates the condition first, whatever the key.
                if let Some((cond, key)) = name["includeif.".len()..].rsplit_once('.')
                    && self.holds(cond, from)?
                    && key.eq_ignore_ascii_case("path")
                {
                    let forbid = forbid_urls || self.collecting;
                    self.include(&name, value.as_deref(), from, depth, forbid, out)?;
                }
                continue;
            }
            // A key with no `=` is a boolean true, as git reads it.
            out.push((name, value.unwrap_or_else(|| "true".into())));
        }
        Ok(())
    }

    /// One pass over the whole sequence: files, then the command line.
    fn pass(
        &mut self,
        files: &[PathBuf],
        command_line: &[Entry],
    ) -> Result<Vec<(String, String)>, String> {
        self.saw_hasconfig = false;
        let mut out = Vec::new();
        for f in files {
            let entries = file_entries(f)?;
            self.entries(entries, Some(f), 0, false, &mut out)?;
        }
        self.entries(command_line.to_vec(), None, 0, false, &mut out)?;
        Ok(out)
    }
}

/// The `gitsign.*` and `user.*` values git would see, keys lower-cased: git's config
/// sequence, with `include.path`, `includeIf` (`gitdir:`, `gitdir/i:`, `onbranch:`,
/// `hasconfig:remote.*.url:`) and `config.worktree` as git reads them.
pub fn read_git_config(git_dir: Option<&Path>) -> Result<HashMap<String, String>, String> {
    let files = config_files(git_dir)?;
    let command_line = command_line_entries(&|k| std::env::var(k).ok());
    let mut reader = Reader::new(git_dir);
    let mut entries = reader.pass(&files, &command_line)?;
    if reader.saw_hasconfig {
        // git collects every remote URL first (`populate_remote_urls`), then evaluates
        // `hasconfig:remote.*.url:` against them.
        reader.collecting = true;
        let urls = reader
            .pass(&files, &command_line)?
            .into_iter()
            .filter(|(k, _)| is_three_part(&k.to_ascii_lowercase(), "remote", "url"))
            .map(|(_, v)| v)
            .collect();
        reader.collecting = false;
        reader.remote_urls = Some(urls);
        entries = reader.pass(&files, &command_line)?;
    }
    let mut out = HashMap::new();
    for (name, value) in entries {
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("gitsign.") || lower.starts_with("user.") {
            // Later (higher-priority) entries come later: last one wins, as in git.
            out.insert(lower, value);
        }
    }
    Ok(out)
}

/// A `-c` key as git canonicalizes it: section and key lower-cased, a subsection kept.
fn canonical_key(k: &str) -> String {
    match (k.find('.'), k.rfind('.')) {
        (Some(first), Some(last)) if first < last => format!(
            "{}{}{}",
            k[..first].to_ascii_lowercase(),
            &k[first..last],
            k[last..].to_ascii_lowercase()
        ),
        _ => k.to_ascii_lowercase(),
    }
}

/// Every `git -c key=value` setting git exports to the programs it runs, in git's order:
/// `GIT_CONFIG_COUNT` pairs first, then `GIT_CONFIG_PARAMETERS` (`git -c`), which wins.
fn command_line_entries(env: &dyn Fn(&str) -> Option<String>) -> Vec<Entry> {
    let mut out = Vec::new();
    let count = env("GIT_CONFIG_COUNT")
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(0);
    for i in 0..count {
        if let (Some(k), Some(v)) = (
            env(&format!("GIT_CONFIG_KEY_{i}")),
            env(&format!("GIT_CONFIG_VALUE_{i}")),
        ) {
            out.push((canonical_key(&k), Some(v)));
        }
    }
    if let Some(params) = env("GIT_CONFIG_PARAMETERS") {
        // Shell-quoted words: 'key=value' (old) or 'key'='value' (git >= 2.31), 'key' alone
        // for a boolean true. git always writes it well-formed; anything else is ignored.
        let words = crate::core::git::shellwords::split(&params).unwrap_or_default();
        for w in words {
            match w.split_once('=') {
                Some((k, v)) => out.push((canonical_key(k), Some(v.to_string()))),
                None if !w.is_empty() => out.push((canonical_key(&w), None)),
                None => {}
            }
        }
    }
    out
}

/// The `gitsign.*` and `user.*` settings of `git -c` and `GIT_CONFIG_COUNT`, in git's order.
pub fn command_line_config(env: &dyn Fn(&str) -> Option<String>) -> Vec<(String, String)> {
    command_line_entries(env)
        .into_iter()
        .filter(|(k, _)| k.starts_with("gitsign.") || k.starts_with("user."))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.unwrap_or_else(|| "true".into())))
        .collect()
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
    fn dash_c_keys_keep_their_subsection_case_and_a_bare_key_is_true() {
        let env = env_of(&[(
            "GIT_CONFIG_PARAMETERS",
            "'includeIf.gitdir:~/Work/.Path'='/x' 'gitsign.matchCommitter'",
        )]);
        assert_eq!(
            command_line_entries(&env),
            vec![
                (
                    "includeif.gitdir:~/Work/.path".to_string(),
                    Some("/x".to_string())
                ),
                ("gitsign.matchcommitter".to_string(), None),
            ]
        );
        assert_eq!(
            command_line_config(&env),
            vec![("gitsign.matchcommitter".to_string(), "true".to_string())]
        );
    }

    #[test]
    fn remote_url_keys_need_a_subsection() {
        assert!(is_three_part("remote.origin.url", "remote", "url"));
        assert!(is_three_part("remote.a.b.url", "remote", "url"));
        assert!(!is_three_part("remote.url", "remote", "url"));
        assert!(!is_three_part("remote.origin.pushurl", "remote", "url"));
        assert!(!is_three_part("remotes.origin.url", "remote", "url"));
    }

    #[test]
    fn include_if_gitdir_dot_slash_matches_the_config_files_directory_literally() {
        // A directory name with wildcards in it: git matches that part literally.
        let d = tempfile::tempdir().unwrap();
        let base = d.path().join("a*b");
        std::fs::create_dir_all(base.join("repo/.git")).unwrap();
        std::fs::create_dir_all(d.path().join("aXb/repo/.git")).unwrap();
        let cfg = base.join("config");
        std::fs::write(&cfg, "").unwrap();
        let here = Reader::new(Some(&base.join("repo/.git")));
        assert!(here.gitdir_holds("./repo/", Some(&cfg), false).unwrap());
        let there = Reader::new(Some(&d.path().join("aXb/repo/.git")));
        assert!(!there.gitdir_holds("./repo/", Some(&cfg), false).unwrap());
        assert!(here.gitdir_holds("./repo/", None, false).is_err());
        assert!(
            !Reader::new(None)
                .gitdir_holds("**", Some(&cfg), false)
                .unwrap()
        );
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
                ("gitsign.matchcommitter".to_string(), "true".to_string()),
                ("gitsign.rekor".to_string(), "http://a b".to_string()),
                ("gitsign.logpath".to_string(), "/tmp/l".to_string()),
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
