//! `gitsign verify` over histories, driven by real git repositories signed against the local
//! Sigstore stack (and by ssh-keygen): every kind of commit is reported with its reason code,
//! the exit codes hold, every JSON line validates against `schemas/verify-history.schema.json`,
//! GitHub annotations are escaped, shallow clones and the verdict cache behave.

mod common;
#[path = "common/signing.rs"]
mod signing;
#[path = "common/stack.rs"]
mod stack;

use std::collections::HashMap;
use std::path::Path;
use std::process::Output;

use common::text;
use signing::Signing;

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/verify-history.schema.json"),
    )
    .unwrap();
    jsonschema::draft202012::new(&serde_json::from_str(&text).unwrap()).unwrap()
}

/// Every line of a JSON report, each validated against the schema; the last is the summary.
fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    let schema = schema();
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    for l in &lines {
        let errors: Vec<String> = schema.iter_errors(l).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{l}: {errors:?}");
    }
    assert_eq!(
        lines.last().unwrap()["type"],
        "summary",
        "{}",
        text(&out.stdout)
    );
    lines
}

/// id -> (outcome, reason) of every object record.
fn verdicts(lines: &[serde_json::Value]) -> HashMap<String, (String, Option<String>)> {
    lines
        .iter()
        .filter(|l| l["type"] != "summary")
        .map(|l| {
            (
                l["id"].as_str().unwrap().to_string(),
                (
                    l["outcome"].as_str().unwrap().to_string(),
                    l["reason"].as_str().map(str::to_string),
                ),
            )
        })
        .collect()
}

fn head(r: &Signing) -> String {
    text(&r.git(&["rev-parse", "HEAD"]).stdout)
        .trim()
        .to_string()
}

fn write_policy(r: &Signing, name: &str, body: &str) -> String {
    let path = r.s.dir.path().join(name);
    std::fs::write(&path, body).unwrap();
    path.to_string_lossy().into_owned()
}

fn signer_policy(r: &Signing, extra: &str) -> String {
    format!(
        "{extra}\n[[signer]]\nname = \"dev\"\nidentity = \"{}\"\nissuer = \"{}\"\n",
        r.stack.identity(),
        r.stack.issuer()
    )
}

fn verify(r: &Signing, args: &[&str]) -> Output {
    let mut all = vec!["verify"];
    all.extend_from_slice(args);
    r.gitsign(&all)
}

fn v(outcome: &str, reason: Option<&str>) -> (String, Option<String>) {
    (outcome.to_string(), reason.map(str::to_string))
}

/// A commit whose message was changed after signing, written as git would store it.
fn tampered_copy(r: &Signing, id: &str) -> String {
    let raw = r.git(&["cat-file", "commit", id]).stdout;
    let raw = String::from_utf8(raw)
        .unwrap()
        .replace("\ngood\n", "\nevil\n");
    let mut c = r.command("git", &[]);
    c.args(["hash-object", "-t", "commit", "-w", "--stdin"]);
    c.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(raw.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    text(&out.stdout).trim().to_string()
}

#[test]
fn a_history_reports_every_kind_of_commit_with_its_reason() {
    let r = Signing::new();
    let base = head(&r);
    let good = r.commit("good", &[]);
    // The tampered copy replaces `good` in the history; later commits build on it.
    let tampered = tampered_copy(&r, &good);
    r.ok(&["reset", "-q", "--hard", &tampered], &[]);
    let after = r.commit("after", &[]);
    r.ok(&["commit", "-q", "--allow-empty", "-m", "unsigned"], &[]);
    let unsigned = head(&r);
    let mallory_token = r
        .stack
        .token_with(serde_json::json!({"email": "mallory@example.com"}));
    let mallory = r.commit("mallory", &[("SIGSTORE_ID_TOKEN", &mallory_token)]);
    // A side branch merged twice: with a signed merge and with an unsigned one.
    r.ok(&["checkout", "-q", "-b", "side"], &[]);
    let side = r.commit("side", &[]);
    r.ok(&["checkout", "-q", "-"], &[]);
    let main = r.commit("main", &[]);
    r.ok(
        &["merge", "-q", "-S", "--no-ff", "-m", "signed merge", "side"],
        &[],
    );
    let signed_merge = head(&r);
    r.ok(&["checkout", "-q", "side"], &[]);
    let side2 = r.commit("side 2", &[]);
    r.ok(&["checkout", "-q", "-"], &[]);
    r.ok(
        &[
            "merge",
            "-q",
            "--no-gpg-sign",
            "--no-ff",
            "-m",
            "unsigned merge",
            "side",
        ],
        &[],
    );
    let unsigned_merge = head(&r);

    let policy = write_policy(
        &r,
        "policy.toml",
        &signer_policy(&r, &format!("since = \"{base}\"")),
    );
    let out = verify(&r, &["--policy", &policy, "--output", "json", "HEAD"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let lines = json_lines(&out);
    let got = verdicts(&lines);
    let want: HashMap<String, (String, Option<String>)> = [
        (&base, v("allowed", Some("before-cutoff"))),
        (&tampered, v("violation", Some("digest-mismatch"))),
        (&after, v("verified", None)),
        (&unsigned, v("violation", Some("unsigned"))),
        (&mallory, v("violation", Some("identity-mismatch"))),
        (&side, v("verified", None)),
        (&main, v("verified", None)),
        (&signed_merge, v("verified", None)),
        (&side2, v("verified", None)),
        (&unsigned_merge, v("violation", Some("unsigned"))),
    ]
    .into_iter()
    .map(|(k, v)| (k.clone(), v))
    .collect();
    assert_eq!(got, want);
    // Stable order: children before parents, the same on every run.
    let again = verify(&r, &["--policy", &policy, "--output", "json", "HEAD"]);
    let ids = |l: &[serde_json::Value]| l.iter().map(|l| l["id"].clone()).collect::<Vec<_>>();
    assert_eq!(ids(&json_lines(&again)), ids(&lines));
    assert_eq!(lines[0]["id"], unsigned_merge.as_str());
    let summary = lines.last().unwrap();
    assert_eq!(summary["violations"], 4);
    assert_eq!(summary["verified"], 5);
    assert_eq!(summary["allowed"], 1);
    assert_eq!(summary["exit_code"], 1);
    let rec = lines.iter().find(|l| l["id"] == after.as_str()).unwrap();
    assert_eq!(rec["identity"], r.stack.identity());
    assert_eq!(rec["time_source"], "tlog");
    assert!(rec["log_index"].is_u64(), "{rec}");
    assert_eq!(rec["ref"], "refs/heads/master");
    let merge_rec = lines
        .iter()
        .find(|l| l["id"] == unsigned_merge.as_str())
        .unwrap();
    assert_eq!(merge_rec["message"], "merge commit is not signed");

    // Text: one line per violation and the table.
    let out = verify(&r, &["--policy", &policy, "HEAD"]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out.stdout);
    assert_eq!(
        t.lines().filter(|l| l.starts_with("FAIL")).count(),
        4,
        "{t}"
    );
    assert!(t.contains("10 objects (10 commits, 0 tags)"), "{t}");
    assert!(t.contains("identity-mismatch"), "{t}");
    assert!(
        !t.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );

    // Merges that need no signature, and first-parent judging.
    let lenient = write_policy(
        &r,
        "lenient.toml",
        &signer_policy(
            &r,
            &format!("since = \"{base}\"\n[merges]\nrequire_signature = false"),
        ),
    );
    let got = verdicts(&json_lines(&verify(
        &r,
        &["--policy", &lenient, "--output", "json"],
    )));
    assert_eq!(got[&unsigned_merge], v("allowed", Some("unsigned")));
    let fp = write_policy(
        &r,
        "fp.toml",
        &signer_policy(
            &r,
            &format!("since = \"{base}\"\n[merges]\nside = \"first-parent\""),
        ),
    );
    let got = verdicts(&json_lines(&verify(
        &r,
        &["--policy", &fp, "--output", "json"],
    )));
    assert!(
        !got.contains_key(&side) && !got.contains_key(&side2),
        "{got:?}"
    );
    assert!(got.contains_key(&main));

    // A range: only what `after..HEAD` names; the identity flags as a one-signer policy.
    let out = verify(
        &r,
        &[
            &format!("{mallory}..HEAD"),
            "--certificate-identity",
            r.stack.identity(),
            "--certificate-oidc-issuer",
            r.stack.issuer(),
            "--output",
            "json",
        ],
    );
    let got = verdicts(&json_lines(&out));
    assert_eq!(got.len(), 5, "{got:?}");
    assert_eq!(out.status.code(), Some(1), "the unsigned merge is in range");
    let out = verify(
        &r,
        &[
            &format!("{mallory}..{signed_merge}"),
            "--certificate-identity",
            r.stack.identity(),
            "--certificate-oidc-issuer",
            r.stack.issuer(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    // GitHub: annotations with escaped properties, the full list in the job summary.
    let summary_file = r.s.dir.path().join("step-summary.md");
    let out = r
        .command(
            common::BIN,
            &[("GITHUB_STEP_SUMMARY", summary_file.to_str().unwrap())],
        )
        .args(["verify", "--policy", &policy, "--output", "github"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out.stdout);
    assert_eq!(
        t.lines().filter(|l| l.starts_with("::error ")).count(),
        4,
        "{t}"
    );
    assert!(
        t.contains("::error title=gitsign%3A unsigned::commit "),
        "{t}"
    );
    let md = std::fs::read_to_string(&summary_file).unwrap();
    assert!(md.contains(&format!("| `{tampered}` | commit |")), "{md}");
}

#[test]
fn windows_use_the_trusted_time_not_the_committer_date() {
    let r = Signing::new();
    // The committer date says 2020, inside the window; the log says now.
    let id = r.commit(
        "backdated",
        &[
            ("GIT_COMMITTER_DATE", "2020-06-01T00:00:00Z"),
            ("GIT_AUTHOR_DATE", "2020-06-01T00:00:00Z"),
        ],
    );
    let body = format!(
        "[[signer]]\nname = \"2020 only\"\nidentity = \"{}\"\nissuer = \"{}\"\nvalid_after = \"2020-01-01T00:00:00Z\"\nvalid_before = \"2021-01-01T00:00:00Z\"\n",
        r.stack.identity(),
        r.stack.issuer()
    );
    let policy = write_policy(&r, "window.toml", &body);
    let out = verify(
        &r,
        &["--policy", &policy, "--output", "json", "HEAD~1..HEAD"],
    );
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out);
    assert_eq!(lines[0]["id"], id.as_str());
    assert_eq!(lines[0]["reason"], "outside-signer-window");
    let msg = lines[0]["message"].as_str().unwrap();
    assert!(
        msg.contains("(trusted time), outside signer \"2020 only\"'s window"),
        "{msg}"
    );
    // A window around now accepts it.
    let open = body
        .replace("2020-01-01", "2000-01-01")
        .replace("2021-01-01", "2999-01-01");
    let policy = write_policy(&r, "open.toml", &open);
    let out = verify(&r, &["--policy", &policy, "HEAD~1..HEAD"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

fn ssh_key(r: &Signing, name: &str) -> (String, String) {
    let path = r.s.dir.path().join(name);
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let public = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    (
        path.to_string_lossy().into_owned(),
        public.trim().to_string(),
    )
}

#[test]
fn ssh_signatures_pass_only_with_a_key_the_policy_names() {
    let r = Signing::new();
    let (forge, forge_pub) = ssh_key(&r, "forge");
    let (stranger, _) = ssh_key(&r, "stranger");
    let ssh_commit = |key: &str, msg: &str| {
        r.ok(
            &[
                "-c",
                "gpg.format=ssh",
                "-c",
                &format!("user.signingkey={key}"),
                "commit",
                "-S",
                "--allow-empty",
                "-q",
                "-m",
                msg,
            ],
            &[],
        );
        head(&r)
    };
    let by_forge = ssh_commit(&forge, "web merge");
    let by_stranger = ssh_commit(&stranger, "stranger");
    let allowed = r.s.dir.path().join("allowed_signers");
    std::fs::write(
        &allowed,
        format!("forge@example.com namespaces=\"git\" {forge_pub}\n"),
    )
    .unwrap();
    let policy = write_policy(
        &r,
        "ssh.toml",
        &signer_policy(
            &r,
            "[[ssh]]\nname = \"forge\"\nallowed_signers = \"allowed_signers\"",
        ),
    );
    let out = verify(
        &r,
        &["--policy", &policy, "--output", "json", "HEAD~2..HEAD"],
    );
    let got = verdicts(&json_lines(&out));
    assert_eq!(got[&by_forge], v("verified", None));
    assert_eq!(got[&by_stranger], v("violation", Some("key-not-allowed")));
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out);
    let forge_rec = lines.iter().find(|l| l["id"] == by_forge.as_str()).unwrap();
    assert_eq!(forge_rec["signature"], "ssh");
    assert!(
        forge_rec["signer"]
            .as_str()
            .unwrap()
            .starts_with("forge (Good \"git\" signature for forge@example.com"),
        "{forge_rec}"
    );
    // No [[ssh]] rule: SSH signatures are reported as such, never passed by kind.
    let plain = write_policy(&r, "plain.toml", &signer_policy(&r, ""));
    let got = verdicts(&json_lines(&verify(
        &r,
        &["--policy", &plain, "--output", "json", "HEAD~2..HEAD"],
    )));
    assert_eq!(
        got[&by_forge],
        v("violation", Some("signature-format-not-allowed"))
    );
}

#[test]
fn policy_trust_and_usage_errors_have_their_exit_codes() {
    let r = Signing::new();
    r.commit("one", &[]);
    let bad = write_policy(
        &r,
        "bad.toml",
        "[[signer]]\nidentity = \"a\"\nissuer_regexp = \"(\"\n",
    );
    let out = verify(&r, &["--policy", &bad]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.toml:3:17: invalid issuer_regexp"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let unknown = write_policy(
        &r,
        "unknown.toml",
        "[[signer]]\nidentity = \"a\"\nisuser = \"b\"\n",
    );
    let err = text(&verify(&r, &["--policy", &unknown]).stderr);
    assert!(
        err.contains("unknown.toml:3:1: unknown field `isuser`"),
        "{err}"
    );

    // No signer at all: a history needs a policy.
    let out = verify(&r, &["--all"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--policy FILE"),
        "{}",
        text(&out.stderr)
    );

    // Trust material unusable: 3.
    let garbage = r.s.dir.path().join("root.json");
    std::fs::write(&garbage, "{not json").unwrap();
    let good = write_policy(&r, "good.toml", &signer_policy(&r, ""));
    let out = verify(
        &r,
        &[
            "--policy",
            &good,
            "--trusted-root",
            garbage.to_str().unwrap(),
            "HEAD~1..HEAD",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("trust material unusable"));

    // An unknown revision is a usage error.
    let out = verify(&r, &["--policy", &good, "nope..HEAD"]);
    assert_eq!(out.status.code(), Some(2));
    let out = verify(&r, &["--policy", &good, "HEAD~1..HEAD"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

#[test]
fn a_shallow_clone_says_where_its_history_stops() {
    let r = Signing::new();
    for i in 0..3 {
        r.commit(&format!("c{i}"), &[]);
    }
    let clone = r.s.dir.path().join("shallow");
    let url = format!("file://{}", r.s.repo().display());
    let out = r.s.git(
        &["clone", "-q", "--depth", "2", &url, clone.to_str().unwrap()],
        r.s.dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let policy = write_policy(&r, "p.toml", &signer_policy(&r, ""));
    let mut c = r.command(common::BIN, &[]);
    c.current_dir(&clone)
        .args(["verify", "--policy", &policy, "--output", "json", "HEAD"]);
    let out = c.output().unwrap();
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3, "two commits and the summary");
    let boundary = text(&r.s.git(&["rev-parse", "HEAD~1"], &clone).stdout)
        .trim()
        .to_string();
    assert_eq!(
        lines.last().unwrap()["shallow_boundary"],
        serde_json::json!([boundary])
    );
    assert_eq!(lines[1]["shallow_boundary"], true);
    assert_eq!(out.status.code(), Some(0));
    let mut c = r.command(common::BIN, &[]);
    c.current_dir(&clone)
        .args(["verify", "--policy", &policy, "HEAD"]);
    let t = text(&c.output().unwrap().stdout);
    assert!(
        t.contains(&format!("the history stops at {boundary} (shallow clone")),
        "{t}"
    );
}

#[test]
fn the_cache_verifies_only_what_is_new_and_a_new_policy_starts_afresh() {
    let r = Signing::new();
    let base = head(&r);
    for i in 0..3 {
        r.commit(&format!("c{i}"), &[]);
    }
    let cache = r.s.dir.path().join("cache");
    let cache = cache.to_str().unwrap();
    let policy = write_policy(
        &r,
        "p.toml",
        &signer_policy(&r, &format!("since = \"{base}\"")),
    );
    let run = |policy: &str| {
        let out = verify(
            &r,
            &["--policy", policy, "--cache", cache, "--output", "json"],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
        json_lines(&out).last().unwrap().clone()
    };
    assert_eq!(run(&policy)["cached"], 0);
    assert_eq!(
        run(&policy)["cached"],
        3,
        "signed commits come from the cache"
    );
    r.commit("new", &[]);
    let s = run(&policy);
    assert_eq!(
        (s["cached"].as_u64(), s["verified"].as_u64()),
        (Some(3), Some(4))
    );
    // The cache would also serve a commit whose verdict is cached, but only for the ref,
    // policy and trust root it was judged under.
    let changed = write_policy(
        &r,
        "p.toml",
        &format!("# reviewed\n{}", std::fs::read_to_string(&policy).unwrap()),
    );
    assert_eq!(
        run(&changed)["cached"],
        0,
        "a changed policy invalidates the cache"
    );
    assert_eq!(
        std::fs::read_dir(cache).unwrap().count(),
        1,
        "the old policy's verdicts were removed"
    );
}

/// A throwaway GNUPGHOME whose agent is stopped when dropped.
struct GnupgHome(std::path::PathBuf);

impl Drop for GnupgHome {
    fn drop(&mut self) {
        let _ = std::process::Command::new("gpgconf")
            .args(["--kill", "all"])
            .env("GNUPGHOME", &self.0)
            .output();
    }
}

fn gpg(home: &GnupgHome, args: &[&str]) -> Output {
    let out = std::process::Command::new("gpg")
        .args([
            "--batch",
            "--quiet",
            "--passphrase",
            "",
            "--pinentry-mode",
            "loopback",
        ])
        .args(args)
        .env("GNUPGHOME", &home.0)
        .output()
        .unwrap();
    assert!(out.status.success(), "gpg {args:?}: {}", text(&out.stderr));
    out
}

#[test]
fn openpgp_signatures_pass_only_with_a_key_the_policy_names() {
    let r = Signing::new();
    let home = GnupgHome(r.s.dir.path().join("gnupg"));
    std::fs::create_dir(&home.0).unwrap();
    std::fs::set_permissions(&home.0, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    gpg(
        &home,
        &[
            "--quick-gen-key",
            "Forge <forge@example.com>",
            "ed25519",
            "sign",
            "never",
        ],
    );
    gpg(
        &home,
        &[
            "--quick-gen-key",
            "Other <other@example.com>",
            "ed25519",
            "sign",
            "never",
        ],
    );
    let keys = r.s.dir.path().join("forge.asc");
    std::fs::write(
        &keys,
        gpg(&home, &["--armor", "--export", "forge@example.com"]).stdout,
    )
    .unwrap();
    let gnupghome = home.0.to_string_lossy().into_owned();
    let pgp_commit = |who: &str, msg: &str| {
        r.ok(
            &[
                "-c",
                "gpg.format=openpgp",
                "-c",
                &format!("user.signingkey={who}"),
                "commit",
                "-S",
                "--allow-empty",
                "-q",
                "-m",
                msg,
            ],
            &[("GNUPGHOME", &gnupghome)],
        );
        head(&r)
    };
    let by_forge = pgp_commit("forge@example.com", "web merge");
    let by_other = pgp_commit("other@example.com", "other");
    let policy = write_policy(
        &r,
        "pgp.toml",
        &signer_policy(
            &r,
            "[[openpgp]]\nname = \"GitHub web flow\"\nkey_file = \"forge.asc\"",
        ),
    );
    let out = verify(
        &r,
        &["--policy", &policy, "--output", "json", "HEAD~2..HEAD"],
    );
    let lines = json_lines(&out);
    let got = verdicts(&lines);
    assert_eq!(got[&by_forge], v("verified", None));
    assert_eq!(got[&by_other], v("violation", Some("key-not-allowed")));
    let rec = lines.iter().find(|l| l["id"] == by_forge.as_str()).unwrap();
    assert_eq!(rec["signature"], "openpgp");
    assert!(
        rec["signer"]
            .as_str()
            .unwrap()
            .starts_with("GitHub web flow (OpenPGP key "),
        "{rec}"
    );
    let other = lines.iter().find(|l| l["id"] == by_other.as_str()).unwrap();
    assert!(
        other["message"]
            .as_str()
            .unwrap()
            .contains("is not among them"),
        "{other}"
    );
}

#[test]
fn tags_are_verified_and_judged_under_their_refs() {
    let r = Signing::new();
    let base = head(&r);
    let signed = r.commit("release me", &[]);
    r.ok(&["tag", "-s", "-m", "release 1.0", "v1.0"], &[]);
    r.ok(&["tag", "-a", "-m", "not signed", "v0.9"], &[]);
    r.ok(&["tag", "light"], &[]);
    let tag_id = |name: &str| {
        text(&r.git(&["rev-parse", &format!("refs/tags/{name}")]).stdout)
            .trim()
            .to_string()
    };
    let body = format!(
        "since = \"{base}\"\n[[signer]]\nname = \"release\"\nidentity = \"{}\"\nissuer = \"{}\"\nrefs = [\"refs/tags/v*\"]\n",
        r.stack.identity(),
        r.stack.issuer()
    );
    let policy = write_policy(&r, "tags.toml", &body);
    let out = verify(&r, &["--tags", "--policy", &policy, "--output", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out);
    let by = |id: &str| lines.iter().find(|l| l["id"] == id).unwrap().clone();
    let v10 = by(&tag_id("v1.0"));
    assert_eq!(
        (v10["type"].as_str(), v10["outcome"].as_str()),
        (Some("tag"), Some("verified"))
    );
    assert_eq!(v10["ref"], "refs/tags/v1.0");
    let v09 = by(&tag_id("v0.9"));
    assert_eq!(v09["reason"], "unsigned");
    // Refs are walked in name order: `light` reaches the commit first, and no signer may
    // sign for refs/tags/light.
    let commit = by(&signed);
    assert_eq!(commit["ref"], "refs/tags/light");
    assert_eq!(commit["reason"], "identity-mismatch");
    assert!(
        commit["message"]
            .as_str()
            .unwrap()
            .contains("for refs/tags/light")
    );
    let summary = lines.last().unwrap();
    assert_eq!(
        (summary["tags"].as_u64(), summary["commits"].as_u64()),
        (Some(2), Some(2))
    );
    // A tag named on the command line is judged under its own ref.
    let out = verify(
        &r,
        &["--policy", &policy, "--output", "json", "v1.0", "^HEAD~1"],
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(out.status.code(), Some(0), "{lines:?}");
}

#[test]
fn online_mode_commits_are_looked_up_or_reported_unverifiable_offline() {
    let r = Signing::new();
    let ids: Vec<String> = (0..3)
        .map(|i| r.commit(&format!("online {i}"), &[("GITSIGN_REKOR_MODE", "online")]))
        .collect();
    let policy = write_policy(&r, "p.toml", &signer_policy(&r, ""));
    let out = verify(
        &r,
        &["--policy", &policy, "--output", "json", "HEAD~3..HEAD"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let lines = json_lines(&out);
    for id in &ids {
        let rec = lines.iter().find(|l| l["id"] == id.as_str()).unwrap();
        assert_eq!(rec["outcome"], "verified");
        assert_eq!(rec["log_url"], r.stack.rekor(), "{rec}");
    }
    // Never silently passed: --offline reports each as unverifiable.
    let out = verify(
        &r,
        &[
            "--policy",
            &policy,
            "--output",
            "json",
            "--offline",
            "HEAD~3..HEAD",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let got = verdicts(&json_lines(&out));
    for id in &ids {
        assert_eq!(got[id], v("violation", Some("log-unavailable")));
    }
}

/// On a terminal (util-linux `script` gives the binary one), violations are coloured;
/// `NO_COLOR` turns that off. Off a terminal (every other test) there is no escape at all.
#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let r = Signing::new();
    r.ok(&["commit", "-q", "--allow-empty", "-m", "unsigned"], &[]);
    let policy = write_policy(&r, "p.toml", &signer_policy(&r, ""));
    let run = |no_color: bool| {
        let cmd = format!("{} verify --policy {policy} HEAD~1..HEAD", common::BIN);
        let mut c = r.command("script", &[]);
        c.args(["-q", "-e", "-c", &cmd, "/dev/null"]);
        if no_color {
            c.env("NO_COLOR", "1");
        }
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
        text(&out.stdout)
    };
    let tty = run(false);
    assert!(tty.contains("\x1b[31mFAIL"), "{tty:?}");
    assert!(!run(true).contains("\x1b[31m"));
}
