//! git config read as git reads it, with `git config` itself as the oracle: each test sets
//! `gitsign.trustedRoot` some way (`include.path`, `includeIf` of every kind,
//! `config.worktree`, `-c`), asks `git config --get gitsign.trustedRoot` what git sees, and
//! checks that gitsign-rs in verify mode uses exactly that root: started by git (as git
//! starts its programs: `GIT_DIR` and `-c` in the environment) and started on its own in
//! the same directory (finding the repository itself). A root that does not exist makes
//! verification fail naming it; no root set means the public one and a good signature.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{BIN, Scratch, text, vectors};

/// What verify mode printed: status lines (fd 1) and messages (stderr).
struct Run {
    status: String,
    err: String,
}

/// A signature and its payload from a real vector, written into the scratch directory.
fn sig_and_payload(s: &Scratch) -> (PathBuf, Vec<u8>) {
    let v = vectors().into_iter().find(|v| v.embedded).unwrap();
    let raw = v.raw();
    let sig =
        gitsign::core::git::gitobj::split_commit(&raw, gitsign::core::git::gitobj::HashAlgo::Sha1)
            .unwrap();
    let sigfile = s.dir.path().join("sig");
    std::fs::write(&sigfile, &sig.signature).unwrap();
    (sigfile, sig.payload)
}

fn run(mut c: Command, payload: &[u8]) -> Run {
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // It may fail (a config error) before reading its input: a broken pipe is fine.
    let _ = child.stdin.take().unwrap().write_all(payload);
    let out = child.wait_with_output().unwrap();
    Run {
        status: text(&out.stdout),
        err: text(&out.stderr),
    }
}

/// `git [-c ...] config --get gitsign.trustedRoot` in `cwd`: what git sees.
fn git_sees(s: &Scratch, cwd: &Path, env: &[(&str, &str)], c: &[&str]) -> String {
    let out = s
        .command("git", cwd)
        .envs(env.iter().copied())
        .args(c)
        .args(["config", "--get", "gitsign.trustedRoot"])
        .output()
        .unwrap();
    text(&out.stdout).trim_end().to_string()
}

/// gitsign-rs in verify mode, run by `git [-c ...]` (a shell alias: git's environment).
fn ours_via_git(s: &Scratch, cwd: &Path, env: &[(&str, &str)], c: &[&str]) -> Run {
    let (sig, payload) = sig_and_payload(s);
    let mut cmd = s.command("git", cwd);
    cmd.envs(env.iter().copied())
        .args(c)
        .args(["-c", &format!("alias.gsverify=!'{BIN}'"), "gsverify"])
        .args(["--status-fd=1", "--verify", sig.to_str().unwrap(), "-"]);
    run(cmd, &payload)
}

/// gitsign-rs in verify mode started on its own in `cwd`.
fn ours_direct(s: &Scratch, cwd: &Path, env: &[(&str, &str)]) -> Run {
    let (sig, payload) = sig_and_payload(s);
    let mut cmd = s.command(BIN, cwd);
    cmd.envs(env.iter().copied())
        .args(["--status-fd=1", "--verify", sig.to_str().unwrap(), "-"]);
    run(cmd, &payload)
}

fn assert_uses(r: &Run, want: Option<&str>, how: &str) {
    match want {
        Some(root) => {
            assert!(
                r.status.contains("[GNUPG:] ERRSIG "),
                "{how}: {}{}",
                r.status,
                r.err
            );
            assert!(r.err.contains(root), "{how}: wanted {root}: {}", r.err);
        }
        None => {
            assert!(!r.err.contains("/nonexistent/"), "{how}: {}", r.err);
            assert!(
                r.status.contains("[GNUPG:] GOODSIG "),
                "{how}: {}{}",
                r.status,
                r.err
            );
        }
    }
}

/// git sees `want` (`None`: no root) in `cwd`, and so does gitsign-rs, run either way.
fn assert_same_as_git(s: &Scratch, cwd: &Path, env: &[(&str, &str)], want: Option<&str>) {
    assert_eq!(git_sees(s, cwd, env, &[]), want.unwrap_or(""), "git itself");
    assert_uses(&ours_via_git(s, cwd, env, &[]), want, "run by git");
    assert_uses(&ours_direct(s, cwd, env), want, "run on its own");
}

/// A global config file (`GIT_CONFIG_GLOBAL`) holding `body`; returns the env to use it.
fn global(s: &Scratch, body: &str) -> [(&'static str, String); 1] {
    let path = s.home().join(".gitconfig");
    std::fs::write(&path, body).unwrap();
    [("GIT_CONFIG_GLOBAL", path.to_str().unwrap().to_string())]
}

fn env_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// A config file setting `gitsign.trustedRoot` to `/nonexistent/<name>.json`.
fn root_file(s: &Scratch, name: &str) -> PathBuf {
    let path = s.dir.path().join(format!("{name}.cfg"));
    std::fs::write(
        &path,
        format!("[gitsign]\n\ttrustedRoot = /nonexistent/{name}.json\n"),
    )
    .unwrap();
    path
}

fn git_ok(s: &Scratch, args: &[&str], cwd: &Path) {
    let out = s.git(args, cwd);
    assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
}

#[test]
fn trusted_root_set_through_include_path_is_used() {
    let s = Scratch::new();
    // Absolute, `~/`, and relative to the including file; the last one wins.
    let a = root_file(&s, "abs");
    std::fs::create_dir_all(s.home().join("cfg")).unwrap();
    std::fs::write(
        s.home().join("cfg/tilde.cfg"),
        "[gitsign]\n\ttrustedRoot = /nonexistent/tilde.json\n",
    )
    .unwrap();
    let env = global(&s, &format!("[include]\n\tpath = {}\n", a.display()));
    assert_same_as_git(
        &s,
        &s.repo(),
        &env_refs(&env),
        Some("/nonexistent/abs.json"),
    );
    let env = global(
        &s,
        &format!(
            "[include]\n\tpath = {}\n\tpath = ~/cfg/tilde.cfg\n",
            a.display()
        ),
    );
    assert_same_as_git(
        &s,
        &s.repo(),
        &env_refs(&env),
        Some("/nonexistent/tilde.json"),
    );
    // In the repository's config, relative to .git/; a later plain value beats the include.
    std::fs::write(
        s.repo().join(".git/rel.cfg"),
        "[gitsign]\n\ttrustedRoot = /nonexistent/rel.json\n",
    )
    .unwrap();
    git_ok(&s, &["config", "include.path", "rel.cfg"], &s.repo());
    assert_same_as_git(
        &s,
        &s.repo(),
        &env_refs(&env),
        Some("/nonexistent/rel.json"),
    );
    git_ok(
        &s,
        &["config", "gitsign.trustedRoot", "/nonexistent/after.json"],
        &s.repo(),
    );
    assert_same_as_git(
        &s,
        &s.repo(),
        &env_refs(&env),
        Some("/nonexistent/after.json"),
    );
}

#[test]
fn trusted_root_set_through_include_if_gitdir_is_used() {
    let s = Scratch::new();
    let inc = root_file(&s, "gitdir");
    let repo = s.repo();
    let real = std::fs::canonicalize(&repo).unwrap();
    let parent = real.parent().unwrap().display().to_string();
    for (pattern, matches) in [
        ("repo/".to_string(), true),
        ("repo/.git".to_string(), true),
        ("repo".to_string(), false),
        ("other/".to_string(), false),
        (format!("{}/", real.display()), true),
        (format!("{parent}/*/"), true),
        (format!("{parent}/r?po/.git"), true),
        (format!("{parent}/r[a-f]po/"), true),
        (format!("{parent}/**/.git"), true),
        ("**/REPO/".to_string(), false),
    ] {
        let env = global(
            &s,
            &format!(
                "[includeIf \"gitdir:{pattern}\"]\n\tpath = {}\n",
                inc.display()
            ),
        );
        let want = matches.then_some("/nonexistent/gitdir.json");
        assert_same_as_git(&s, &repo, &env_refs(&env), want);
    }
    // From a subdirectory too.
    std::fs::create_dir_all(repo.join("sub/dir")).unwrap();
    let env = global(
        &s,
        &format!("[includeIf \"gitdir:repo/\"]\n\tpath = {}\n", inc.display()),
    );
    assert_same_as_git(
        &s,
        &repo.join("sub/dir"),
        &env_refs(&env),
        Some("/nonexistent/gitdir.json"),
    );
}

#[test]
fn trusted_root_set_through_include_if_gitdir_relative_to_its_config_file_is_used() {
    let s = Scratch::new();
    // `./` is the directory of the file holding the condition: here the scratch directory,
    // where `repo` lives; an included file's own directory for a condition inside it.
    let inc = root_file(&s, "dot");
    let body = format!(
        "[includeIf \"gitdir:./repo/\"]\n\tpath = {}\n",
        inc.display()
    );
    std::fs::write(s.dir.path().join("global.cfg"), &body).unwrap();
    let env = [(
        "GIT_CONFIG_GLOBAL",
        s.dir
            .path()
            .join("global.cfg")
            .to_str()
            .unwrap()
            .to_string(),
    )];
    assert_same_as_git(
        &s,
        &s.repo(),
        &env_refs(&env),
        Some("/nonexistent/dot.json"),
    );
    // The same condition in home/.gitconfig names home/repo: not ours.
    let env = global(&s, &body);
    assert_same_as_git(&s, &s.repo(), &env_refs(&env), None);
    // In a file included from home/.gitconfig that lives beside the repository.
    let env = global(
        &s,
        &format!(
            "[include]\n\tpath = {}\n",
            s.dir.path().join("global.cfg").display()
        ),
    );
    assert_same_as_git(
        &s,
        &s.repo(),
        &env_refs(&env),
        Some("/nonexistent/dot.json"),
    );
}

#[test]
fn trusted_root_set_through_include_if_gitdir_i_is_used() {
    let s = Scratch::new();
    let inc = root_file(&s, "icase");
    for (cond, matches) in [("gitdir/i:**/REPO/", true), ("gitdir:**/REPO/", false)] {
        let env = global(
            &s,
            &format!("[includeIf \"{cond}\"]\n\tpath = {}\n", inc.display()),
        );
        let want = matches.then_some("/nonexistent/icase.json");
        assert_same_as_git(&s, &s.repo(), &env_refs(&env), want);
    }
}

#[test]
fn trusted_root_set_through_include_if_onbranch_is_used() {
    let s = Scratch::new();
    let inc = root_file(&s, "branch");
    let env = global(
        &s,
        &format!(
            "[includeIf \"onbranch:feat/\"]\n\tpath = {}\n",
            inc.display()
        ),
    );
    let env = env_refs(&env);
    // An unborn branch counts, as in git.
    git_ok(&s, &["checkout", "-q", "-b", "feat/x/y"], &s.repo());
    assert_same_as_git(&s, &s.repo(), &env, Some("/nonexistent/branch.json"));
    git_ok(&s, &["commit", "-q", "--allow-empty", "-m", "c"], &s.repo());
    assert_same_as_git(&s, &s.repo(), &env, Some("/nonexistent/branch.json"));
    git_ok(&s, &["checkout", "-q", "-b", "feature"], &s.repo());
    assert_same_as_git(&s, &s.repo(), &env, None);
    // Detached: no branch.
    git_ok(&s, &["checkout", "-q", "--detach"], &s.repo());
    assert_same_as_git(&s, &s.repo(), &env, None);
    // A single `*` does not cross a slash.
    git_ok(&s, &["checkout", "-q", "feat/x/y"], &s.repo());
    let env = global(
        &s,
        &format!(
            "[includeIf \"onbranch:feat/*\"]\n\tpath = {}\n",
            inc.display()
        ),
    );
    assert_same_as_git(&s, &s.repo(), &env_refs(&env), None);
}

#[test]
fn trusted_root_set_through_include_if_hasconfig_remote_url_is_used() {
    let s = Scratch::new();
    let inc = root_file(&s, "remote");
    let env = global(
        &s,
        &format!(
            "[includeIf \"hasconfig:remote.*.url:https://example.com/org/**\"]\n\tpath = {}\n",
            inc.display()
        ),
    );
    let env = env_refs(&env);
    assert_same_as_git(&s, &s.repo(), &env, None);
    // The URL is set after the condition, in a later file: git collects URLs first.
    git_ok(
        &s,
        &["remote", "add", "origin", "https://example.com/org/r.git"],
        &s.repo(),
    );
    assert_same_as_git(&s, &s.repo(), &env, Some("/nonexistent/remote.json"));
    git_ok(
        &s,
        &[
            "remote",
            "set-url",
            "origin",
            "https://example.com/other/r.git",
        ],
        &s.repo(),
    );
    assert_same_as_git(&s, &s.repo(), &env, None);
}

#[test]
fn a_remote_url_set_in_a_file_included_by_hasconfig_is_an_error_as_in_git() {
    let s = Scratch::new();
    let inc = s.dir.path().join("sets-url.cfg");
    std::fs::write(
        &inc,
        "[remote \"x\"]\n\turl = https://example.com/x\n[gitsign]\n\ttrustedRoot = /nonexistent/x.json\n",
    )
    .unwrap();
    let env = global(
        &s,
        &format!(
            "[includeIf \"hasconfig:remote.*.url:**\"]\n\tpath = {}\n",
            inc.display()
        ),
    );
    let env = env_refs(&env);
    git_ok(
        &s,
        &["remote", "add", "origin", "https://example.com/r"],
        &s.repo(),
    );
    let git = s
        .command("git", &s.repo())
        .envs(env.iter().copied())
        .args(["config", "--get", "gitsign.trustedRoot"])
        .output()
        .unwrap();
    assert!(!git.status.success());
    assert!(
        text(&git.stderr).contains("remote URLs cannot be configured"),
        "{}",
        text(&git.stderr)
    );
    // (git would not even start us here.)
    let r = ours_direct(&s, &s.repo(), &env);
    assert!(
        r.status.contains("[GNUPG:] ERRSIG "),
        "{}{}",
        r.status,
        r.err
    );
    assert!(
        r.err.contains("remote URLs cannot be configured"),
        "{}",
        r.err
    );
}

#[test]
fn trusted_root_set_in_config_worktree_of_a_linked_worktree_is_used() {
    let s = Scratch::new();
    let repo = s.repo();
    git_ok(&s, &["commit", "-q", "--allow-empty", "-m", "c"], &repo);
    let wt = s.dir.path().join("wt");
    git_ok(&s, &["worktree", "add", "-q", wt.to_str().unwrap()], &repo);
    git_ok(
        &s,
        &["config", "gitsign.trustedRoot", "/nonexistent/shared.json"],
        &repo,
    );
    // The repository's config applies in the linked worktree (its common directory).
    assert_same_as_git(&s, &wt, &[], Some("/nonexistent/shared.json"));
    // config.worktree is read only with extensions.worktreeConfig.
    std::fs::write(
        repo.join(".git/worktrees/wt/config.worktree"),
        "[gitsign]\n\ttrustedRoot = /nonexistent/wt.json\n",
    )
    .unwrap();
    assert_same_as_git(&s, &wt, &[], Some("/nonexistent/shared.json"));
    git_ok(&s, &["config", "extensions.worktreeConfig", "true"], &repo);
    assert_same_as_git(&s, &wt, &[], Some("/nonexistent/wt.json"));
    assert_same_as_git(&s, &repo, &[], Some("/nonexistent/shared.json"));
    // The main worktree's own config.worktree, set by git.
    git_ok(
        &s,
        &[
            "config",
            "--worktree",
            "gitsign.trustedRoot",
            "/nonexistent/main.json",
        ],
        &repo,
    );
    assert_same_as_git(&s, &repo, &[], Some("/nonexistent/main.json"));
    assert_same_as_git(&s, &wt, &[], Some("/nonexistent/wt.json"));
    // `gitdir:` sees the linked worktree's own git directory.
    let inc = root_file(&s, "wtdir");
    let env = global(
        &s,
        &format!(
            "[includeIf \"gitdir:.git/worktrees/wt\"]\n\tpath = {}\n",
            inc.display()
        ),
    );
    std::fs::remove_file(repo.join(".git/worktrees/wt/config.worktree")).unwrap();
    git_ok(&s, &["config", "--unset", "gitsign.trustedRoot"], &repo);
    assert_same_as_git(&s, &wt, &env_refs(&env), Some("/nonexistent/wtdir.json"));
    assert_same_as_git(&s, &repo, &env_refs(&env), Some("/nonexistent/main.json"));
}

#[test]
fn trusted_root_set_through_include_if_in_a_sha256_repository_is_used() {
    let s = Scratch::new();
    let r = s.dir.path().join("r256");
    git_ok(
        &s,
        &["init", "-q", "--object-format=sha256", r.to_str().unwrap()],
        s.dir.path(),
    );
    let inc = root_file(&s, "sha256");
    let env = global(
        &s,
        &format!("[includeIf \"gitdir:r256/\"]\n\tpath = {}\n", inc.display()),
    );
    assert_same_as_git(&s, &r, &env_refs(&env), Some("/nonexistent/sha256.json"));
    git_ok(
        &s,
        &[
            "config",
            "gitsign.trustedRoot",
            "/nonexistent/local256.json",
        ],
        &r,
    );
    assert_same_as_git(&s, &r, &env_refs(&env), Some("/nonexistent/local256.json"));
}

#[test]
fn git_dash_c_beats_git_config_count_as_in_git() {
    let s = Scratch::new();
    let env = [
        ("GIT_CONFIG_COUNT", "1"),
        ("GIT_CONFIG_KEY_0", "gitsign.trustedRoot"),
        ("GIT_CONFIG_VALUE_0", "/nonexistent/count.json"),
    ];
    let c = ["-c", "gitsign.trustedRoot=/nonexistent/dash-c.json"];
    assert_eq!(
        git_sees(&s, &s.repo(), &env, &c),
        "/nonexistent/dash-c.json"
    );
    assert_uses(
        &ours_via_git(&s, &s.repo(), &env, &c),
        Some("/nonexistent/dash-c.json"),
        "run by git",
    );
    // And `-c includeIf...` is followed like a file's.
    let inc = root_file(&s, "c-include");
    let cond = format!("includeIf.gitdir:repo/.path={}", inc.display());
    let c = ["-c", cond.as_str()];
    assert_eq!(
        git_sees(&s, &s.repo(), &[], &c),
        "/nonexistent/c-include.json"
    );
    assert_uses(
        &ours_via_git(&s, &s.repo(), &[], &c),
        Some("/nonexistent/c-include.json"),
        "run by git",
    );
}

#[test]
fn a_config_key_with_no_value_reads_as_true_and_does_not_crash_verify_mode() {
    let s = Scratch::new();
    std::fs::write(
        s.repo().join(".git/config"),
        "[core]\n\trepositoryformatversion = 0\n\tbare = false\n[gitsign]\n\tmatchCommitter\n",
    )
    .unwrap();
    let git = s
        .command("git", &s.repo())
        .args(["config", "--bool", "--get", "gitsign.matchCommitter"])
        .output()
        .unwrap();
    assert_eq!(text(&git.stdout).trim(), "true");
    assert_same_as_git(&s, &s.repo(), &[], None);
}

#[test]
fn an_include_cycle_is_an_error_with_a_status_line_as_in_git() {
    let s = Scratch::new();
    let a = s.dir.path().join("a.cfg");
    std::fs::write(&a, format!("[include]\n\tpath = {}\n", a.display())).unwrap();
    let env = global(&s, &format!("[include]\n\tpath = {}\n", a.display()));
    let env = env_refs(&env);
    let git = s
        .command("git", &s.repo())
        .envs(env.iter().copied())
        .args(["config", "--get", "gitsign.trustedRoot"])
        .output()
        .unwrap();
    assert!(!git.status.success());
    assert!(
        text(&git.stderr).contains("include depth"),
        "{}",
        text(&git.stderr)
    );
    let r = ours_direct(&s, &s.repo(), &env);
    assert!(r.status.starts_with("[GNUPG:] NEWSIG\n"), "{}", r.status);
    assert!(
        r.status.contains("[GNUPG:] ERRSIG "),
        "{}{}",
        r.status,
        r.err
    );
    assert!(r.err.contains("include depth"), "{}", r.err);
}

#[test]
fn include_if_onbranch_in_a_reftable_repository_is_an_error_not_the_public_root() {
    let s = Scratch::new();
    let r = s.dir.path().join("rt");
    let out = s.git(
        &["init", "-q", "--ref-format=reftable", r.to_str().unwrap()],
        s.dir.path(),
    );
    if !out.status.success() {
        eprintln!("skipped: this git has no reftable: {}", text(&out.stderr));
        return;
    }
    let inc = root_file(&s, "reftable");
    let env = global(
        &s,
        &format!("[includeIf \"onbranch:*\"]\n\tpath = {}\n", inc.display()),
    );
    let env = env_refs(&env);
    // git sees the root; gitsign-rs cannot read reftable refs and says so rather than
    // falling back to the public root.
    assert_eq!(git_sees(&s, &r, &env, &[]), "/nonexistent/reftable.json");
    let run = ours_direct(&s, &r, &env);
    assert!(
        run.status.contains("[GNUPG:] ERRSIG "),
        "{}{}",
        run.status,
        run.err
    );
    assert!(run.err.contains("reftable"), "{}", run.err);
}
