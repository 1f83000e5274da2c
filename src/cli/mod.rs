//! argv -> typed command, no I/O.
//!
//! Two grammars share the binary. git and jj call it like gpg (`--status-fd=1 --verify sig -`,
//! `--status-fd=2 -bsau KEY`), so any argv whose first word is not a subcommand is read as
//! gpg flags by a small hand-written parser that accepts bundled short flags. Subcommands
//! (`verify`, `verify-tag`, `version`) use clap.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// git's verify mode: `--verify SIGFILE [DATAFILE|-]`.
    GpgVerify(GpgVerify),
    /// git's sign mode: `-bsau KEY` (payload on stdin or from a file).
    GpgSign(GpgSign),
    Verify(VerifyArgs),
    VerifyTag(VerifyArgs),
    VerifyBundle(VerifyBundleArgs),
    Version,
    Setup(SetupArgs),
    ExportBundle(ExportBundleArgs),
    Credentials(CredentialsAction),
    /// clap's own output (help, version): print it and exit with its code.
    Display {
        text: String,
        exit_code: i32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpgVerify {
    pub status_fd: Option<i32>,
    pub signature_file: PathBuf,
    /// `None` or `-` means stdin.
    pub data_file: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpgSign {
    pub status_fd: Option<i32>,
    pub local_user: Option<String>,
    pub armor: bool,
    pub include_certs: Option<i32>,
    pub data_file: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct VerifyArgs {
    /// What to verify. `verify`: one commit (default HEAD), or a history: ranges (`A..B`,
    /// `^A`), several revisions, `--all`, `--tags`. `verify-tag`: one annotated tag.
    #[arg(value_name = "REV")]
    pub revs: Vec<String>,
    /// History: every ref and HEAD (as `git rev-list --all`).
    #[arg(long)]
    pub all: bool,
    /// History: every tag (annotated tags' own signatures too).
    #[arg(long)]
    pub tags: bool,
    /// History: a policy file (TOML) naming the allowed signers, their refs and time windows,
    /// how merges are judged, and a cut-off; see the README. Replaces the identity flags.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// History: remember verdicts in DIR, keyed by policy, trust root and object, so a
    /// re-run verifies only what is new.
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// History: never contact the transparency log; online-mode signatures (no embedded
    /// entry) are reported as unverifiable offline.
    #[arg(long)]
    pub offline: bool,
    /// History: list every object, not only violations.
    #[arg(long, short)]
    pub verbose: bool,
    /// History: worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// The certificate identity (email or URI SAN) that must have signed.
    #[arg(long)]
    pub certificate_identity: Option<String>,
    /// A regular expression (anchored) the certificate identity must match.
    #[arg(long)]
    pub certificate_identity_regexp: Option<String>,
    /// The OIDC issuer that must have vouched for the identity.
    #[arg(long)]
    pub certificate_oidc_issuer: Option<String>,
    /// A regular expression (anchored) the OIDC issuer must match.
    #[arg(long)]
    pub certificate_oidc_issuer_regexp: Option<String>,
    /// A Sigstore trusted root (JSON) to use instead of the compiled-in production root.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// Do not check the transparency log: signature and chain are checked at the CMS
    /// signing time. The output says loudly that the log was not checked.
    #[arg(long)]
    pub insecure_ignore_tlog: bool,
    /// Do not require an embedded SCT in the certificate.
    #[arg(long)]
    pub insecure_ignore_sct: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// `verify-bundle`: the Sigstore conformance suite's client protocol.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct VerifyBundleArgs {
    /// The Sigstore bundle (JSON).
    #[arg(long, value_name = "FILE")]
    pub bundle: PathBuf,
    /// The certificate identity (email or URI SAN) that must have signed.
    #[arg(long, requires = "certificate_oidc_issuer", conflicts_with = "key")]
    pub certificate_identity: Option<String>,
    /// The OIDC issuer that must have vouched for the identity.
    #[arg(long, requires = "certificate_identity", conflicts_with = "key")]
    pub certificate_oidc_issuer: Option<String>,
    /// A PEM public key the bundle must be signed with (managed keys).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// A Sigstore trusted root (JSON) to use instead of the compiled-in production root.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// The artifact: a file, or `sha256:<hex>` of it.
    #[arg(value_name = "FILE_OR_DIGEST")]
    pub artifact: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct SetupArgs {
    /// Configure git for the user (~/.gitconfig).
    #[arg(long, conflicts_with = "local")]
    pub global: bool,
    /// Configure the current repository only (the default).
    #[arg(long)]
    pub local: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ExportBundleArgs {
    /// The commit whose signature to export (default HEAD).
    #[arg(conflicts_with = "tag")]
    pub rev: Option<String>,
    /// Export the signature of this annotated tag instead.
    #[arg(long, value_name = "NAME")]
    pub tag: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
    /// GitHub Actions workflow commands (annotations) and a job summary.
    Github,
}

impl VerifyArgs {
    /// Whether this names a history (more than one object) rather than one object.
    pub fn is_history(&self) -> bool {
        self.revs.len() > 1
            || self
                .revs
                .iter()
                .any(|r| r.contains("..") || r.starts_with('^'))
            || self.all
            || self.tags
            || self.policy.is_some()
            || self.cache.is_some()
            || self.output == OutputFormat::Github
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "gitsign",
    about = "Keyless Git signing with Sigstore (gitsign-rs)",
    disable_version_flag = true
)]
struct Cli {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Verify a commit's signature and signer.
    Verify(VerifyArgs),
    /// Verify an annotated tag's signature and signer.
    VerifyTag(VerifyArgs),
    /// Verify a Sigstore bundle for an artifact (file or sha256:<hex>).
    VerifyBundle(VerifyBundleArgs),
    /// Print the version.
    Version,
    /// Configure git to sign commits and tags with this program.
    Setup(SetupArgs),
    /// Write a commit's (or tag's) signature as a Sigstore bundle (v0.3 JSON) on stdout.
    ExportBundle(ExportBundleArgs),
    /// List or clear the cached signing credentials (never shows key material).
    Credentials {
        #[command(subcommand)]
        action: CredentialsAction,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum CredentialsAction {
    /// Identity, issuer, expiry and signatures made, per cached credential.
    List,
    /// Forget every cached credential (the agent zeroizes the keys).
    Clear,
}

const SUBCOMMANDS: &[&str] = &[
    "verify",
    "verify-tag",
    "verify-bundle",
    "version",
    "setup",
    "export-bundle",
    "credentials",
    "help",
    "--help",
    "-h",
];

/// A command line that cannot be understood: exit code 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Parses the arguments after the program name.
pub fn parse(args: Vec<OsString>) -> Result<Command, UsageError> {
    let first = args.first().and_then(|a| a.to_str());
    if args.is_empty() {
        use clap::CommandFactory;
        return Ok(Command::Display {
            text: Cli::command().render_help().to_string(),
            exit_code: 2,
        });
    }
    if first.is_none_or(|f| SUBCOMMANDS.contains(&f) || f == "--version") {
        if first == Some("--version") {
            return Ok(Command::Version);
        }
        let argv = std::iter::once(OsString::from("gitsign")).chain(args);
        return match Cli::try_parse_from(argv) {
            Ok(cli) => Ok(match cli.command {
                Sub::Verify(a) => Command::Verify(a),
                Sub::VerifyTag(a) => Command::VerifyTag(a),
                Sub::VerifyBundle(a) => Command::VerifyBundle(a),
                Sub::Version => Command::Version,
                Sub::Setup(a) => Command::Setup(a),
                Sub::ExportBundle(a) => Command::ExportBundle(a),
                Sub::Credentials { action } => Command::Credentials(action),
            }),
            Err(e) => {
                let exit_code = if e.use_stderr() { 2 } else { 0 };
                if exit_code == 2 {
                    let msg = e.to_string();
                    let line = msg.lines().next().unwrap_or("invalid arguments");
                    Err(UsageError(format!(
                        "{} (see `gitsign --help`)",
                        line.trim_start_matches("error: ")
                    )))
                } else {
                    Ok(Command::Display {
                        text: e.to_string(),
                        exit_code,
                    })
                }
            }
        };
    }
    parse_gpg(args)
}

fn parse_gpg(args: Vec<OsString>) -> Result<Command, UsageError> {
    let mut args: Vec<String> = args
        .into_iter()
        .map(|a| {
            a.into_string()
                .map_err(|_| UsageError("arguments must be UTF-8".into()))
        })
        .collect::<Result<_, _>>()?;
    args.reverse();
    let mut status_fd = None;
    let (mut verify, mut sign, mut armor, mut detach) = (false, false, false, false);
    let mut local_user = None;
    let mut include_certs = None;
    let mut positional = Vec::new();
    let need = |args: &mut Vec<String>, flag: &str| {
        args.pop()
            .ok_or_else(|| UsageError(format!("{flag} needs a value")))
    };
    let fd = |v: &str| {
        v.parse::<i32>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            UsageError(format!(
                "--status-fd takes a file descriptor number, not {v:?}"
            ))
        })
    };
    while let Some(arg) = args.pop() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        match name.as_str() {
            "--status-fd" => {
                let v = match inline {
                    Some(v) => v,
                    None => need(&mut args, "--status-fd")?,
                };
                status_fd = Some(fd(&v)?);
            }
            "--verify" => verify = true,
            "--sign" => sign = true,
            "--armor" => armor = true,
            "--detach-sign" | "--detached-sign" => detach = true,
            "--local-user" => {
                local_user = Some(match inline {
                    Some(v) => v,
                    None => need(&mut args, "--local-user")?,
                })
            }
            "--keyid-format" => {
                if inline.is_none() {
                    need(&mut args, "--keyid-format")?;
                }
            }
            "--include-certs" => {
                let v = match inline {
                    Some(v) => v,
                    None => need(&mut args, "--include-certs")?,
                };
                include_certs = Some(v.parse::<i32>().map_err(|_| {
                    UsageError(format!("--include-certs takes a number, not {v:?}"))
                })?);
            }
            "-" => positional.push(arg),
            s if s.starts_with("--") => {
                return Err(UsageError(format!(
                    "unknown option {s} (see `gitsign --help`)"
                )));
            }
            s if s.starts_with('-') => {
                let flags: Vec<char> = s[1..].chars().collect();
                for (i, c) in flags.iter().enumerate() {
                    match c {
                        'b' => detach = true,
                        's' => sign = true,
                        'a' => armor = true,
                        'd' => detach = true,
                        'u' => {
                            // The value is the rest of this word, or the next word.
                            let rest: String = flags[i + 1..].iter().collect();
                            local_user = Some(if rest.is_empty() {
                                need(&mut args, "-u")?
                            } else {
                                rest
                            });
                            break;
                        }
                        _ => {
                            return Err(UsageError(format!(
                                "unknown option -{c} in {s} (see `gitsign --help`)"
                            )));
                        }
                    }
                }
            }
            _ => positional.push(arg),
        }
    }
    if verify && (sign || detach) {
        return Err(UsageError(
            "--verify cannot be combined with signing flags".into(),
        ));
    }
    if verify {
        let mut p = positional.into_iter();
        let signature_file = p
            .next()
            .ok_or_else(|| UsageError("--verify needs the signature file".into()))?;
        let data_file = p.next().filter(|d| d != "-").map(PathBuf::from);
        if p.next().is_some() {
            return Err(UsageError(
                "--verify takes a signature file and at most one data file".into(),
            ));
        }
        return Ok(Command::GpgVerify(GpgVerify {
            status_fd,
            signature_file: PathBuf::from(signature_file),
            data_file,
        }));
    }
    if sign || detach {
        if positional.len() > 1 {
            return Err(UsageError("signing takes at most one data file".into()));
        }
        return Ok(Command::GpgSign(GpgSign {
            status_fd,
            local_user,
            armor,
            include_certs,
            data_file: positional.pop().filter(|d| d != "-").map(PathBuf::from),
        }));
    }
    Err(UsageError(
        "nothing to do: use a subcommand (`gitsign verify`, `gitsign verify-tag`, `gitsign version`) or git's --verify / -bsau (see `gitsign --help`)".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Command, UsageError> {
        parse(args.iter().map(OsString::from).collect())
    }

    #[test]
    fn parses_the_conformance_suites_verify_bundle_argv() {
        let c = p(&[
            "verify-bundle",
            "--bundle",
            "b.json",
            "--certificate-identity",
            "https://id",
            "--certificate-oidc-issuer",
            "https://issuer",
            "--trusted-root",
            "root.json",
            "sha256:00",
        ])
        .unwrap();
        assert_eq!(
            c,
            Command::VerifyBundle(VerifyBundleArgs {
                bundle: "b.json".into(),
                certificate_identity: Some("https://id".into()),
                certificate_oidc_issuer: Some("https://issuer".into()),
                key: None,
                trusted_root: Some("root.json".into()),
                artifact: "sha256:00".into(),
            })
        );
        let c = p(&["verify-bundle", "--bundle", "b", "--key", "k.pub", "a.txt"]).unwrap();
        assert!(matches!(c, Command::VerifyBundle(a) if a.key.is_some() && a.artifact == "a.txt"));
    }

    #[test]
    fn verify_bundle_refuses_a_key_with_an_identity_or_half_an_identity() {
        assert!(
            p(&[
                "verify-bundle",
                "--bundle",
                "b",
                "--key",
                "k",
                "--certificate-identity",
                "i",
                "--certificate-oidc-issuer",
                "u",
                "a"
            ])
            .is_err()
        );
        assert!(
            p(&[
                "verify-bundle",
                "--bundle",
                "b",
                "--certificate-identity",
                "i",
                "a"
            ])
            .is_err()
        );
        assert!(p(&["verify-bundle", "--bundle", "b"]).is_err());
    }

    #[test]
    fn parses_gits_verify_argv() {
        assert_eq!(
            p(&[
                "--keyid-format=long",
                "--status-fd=1",
                "--verify",
                "/tmp/.git_vtag_tmpXXX",
                "-"
            ])
            .unwrap(),
            Command::GpgVerify(GpgVerify {
                status_fd: Some(1),
                signature_file: "/tmp/.git_vtag_tmpXXX".into(),
                data_file: None,
            })
        );
        assert_eq!(
            p(&[
                "--status-fd",
                "1",
                "--keyid-format",
                "long",
                "--verify",
                "s",
                "d"
            ])
            .unwrap(),
            Command::GpgVerify(GpgVerify {
                status_fd: Some(1),
                signature_file: "s".into(),
                data_file: Some("d".into()),
            })
        );
    }

    #[test]
    fn parses_gits_and_jjs_sign_argv() {
        let expected = |user: &str| {
            Command::GpgSign(GpgSign {
                status_fd: Some(2),
                local_user: Some(user.into()),
                armor: true,
                include_certs: None,
                data_file: None,
            })
        };
        assert_eq!(
            p(&["--status-fd=2", "-bsau", "A U Thor <a@b.c>"]).unwrap(),
            expected("A U Thor <a@b.c>")
        );
        assert_eq!(
            p(&["-abu", "key"]).unwrap(),
            Command::GpgSign(GpgSign {
                status_fd: None,
                local_user: Some("key".into()),
                armor: true,
                include_certs: None,
                data_file: None,
            })
        );
        assert_eq!(
            p(&["--status-fd=2", "-bsa", "-u", "k"]).unwrap(),
            expected("k")
        );
        assert_eq!(
            p(&[
                "--detach-sign",
                "--armor",
                "--local-user=k",
                "--include-certs=-3",
                "--status-fd=2"
            ])
            .unwrap(),
            Command::GpgSign(GpgSign {
                status_fd: Some(2),
                local_user: Some("k".into()),
                armor: true,
                include_certs: Some(-3),
                data_file: None,
            })
        );
    }

    #[test]
    fn rejects_unknown_or_incomplete_gpg_flags() {
        assert!(p(&["--verify"]).is_err());
        assert!(p(&["-bsau"]).is_err());
        assert!(p(&["-x"]).is_err());
        assert!(p(&["--status-fd=abc", "--verify", "s"]).is_err());
        assert!(p(&["--frobnicate"]).is_err());
        assert!(p(&["--verify", "-bs", "s"]).is_err());
        assert!(
            matches!(p(&[]).unwrap(), Command::Display { exit_code: 2, .. }),
            "no arguments shows help"
        );
    }

    #[test]
    fn parses_verify_subcommands() {
        match p(&[
            "verify",
            "HEAD~1",
            "--certificate-identity",
            "a@b.c",
            "--certificate-oidc-issuer-regexp",
            ".*",
            "--output",
            "json",
        ])
        .unwrap()
        {
            Command::Verify(a) => {
                assert_eq!(a.revs, ["HEAD~1"]);
                assert!(!a.is_history());
                assert_eq!(a.certificate_identity.as_deref(), Some("a@b.c"));
                assert_eq!(a.output, OutputFormat::Json);
                assert!(!a.insecure_ignore_tlog);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(p(&["verify-tag", "v1", "--insecure-ignore-tlog"]).unwrap(), Command::VerifyTag(a) if a.insecure_ignore_tlog)
        );
        assert_eq!(p(&["version"]).unwrap(), Command::Version);
        assert!(p(&["verify", "--bogus"]).is_err());
        for history in [
            &["verify", "main~5..main"][..],
            &["verify", "a", "b"],
            &["verify", "^a", "b"],
            &["verify", "--all"],
            &["verify", "--tags"],
            &["verify", "--policy", "p.toml"],
            &["verify", "--output", "github"],
        ] {
            assert!(
                matches!(p(history).unwrap(), Command::Verify(a) if a.is_history()),
                "{history:?}"
            );
        }
    }
}
