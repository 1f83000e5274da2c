//! The commands in scripts/ find cargo's binaries where cargo puts them: under
//! `CARGO_TARGET_DIR` when it is set, else `target/`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn executable(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn local_sigstore_runs_the_stack_binary_from_cargo_target_dir() {
    let tmp = tempfile::tempdir().unwrap();
    // A cargo that builds nothing, and a stack binary that says where it ran from.
    executable(&tmp.path().join("bin/cargo"), "#!/bin/sh\nexit 0\n");
    let target = tmp.path().join("elsewhere");
    executable(
        &target.join("debug/sigstore-stack"),
        "#!/bin/sh\necho \"ran $0 $*\"\n",
    );
    for dir in [target.to_str().unwrap(), "elsewhere"] {
        // A relative CARGO_TARGET_DIR is read from the caller's directory, as cargo does.
        let out = Command::new(root().join("scripts/local-sigstore"))
            .arg(tmp.path().join("stack"))
            .current_dir(tmp.path())
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    tmp.path().join("bin").display(),
                    std::env::var("PATH").unwrap()
                ),
            )
            .env("CARGO_TARGET_DIR", dir)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{dir}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.starts_with(&format!(
                "ran {}/debug/sigstore-stack --dir",
                target.display()
            )),
            "{dir}: {stdout}"
        );
    }
}

#[test]
fn no_script_hard_codes_the_target_directory() {
    // scripts/ and the files its scripts source (scripts/lib/).
    let mut paths = Vec::new();
    let mut dirs = vec![root().join("scripts")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                paths.push(path);
            }
        }
    }
    assert!(paths.iter().any(|p| p.ends_with("lib/gpgsm-home")));
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split('#').next().unwrap_or_default();
            let hard_coded = ["$root/target", "\"target/", " target/", "=target/"]
                .iter()
                .any(|p| code.contains(p));
            assert!(
                !hard_coded || code.contains("${CARGO_TARGET_DIR:-"),
                "{}:{}: {line}",
                path.display(),
                n + 1
            );
        }
    }
}
