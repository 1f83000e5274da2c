//! Signatures of other formats a history policy may allow, verified by the tools git itself
//! uses for them: `ssh-keygen -Y verify` against an allowed-signers file, `gpgv` against an
//! OpenPGP keyring. gitsign only decides whether a key the policy names made the signature.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A file in the temporary directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn with(contents: &[u8]) -> Result<TempFile, String> {
        let mut name = [0u8; 12];
        getrandom::fill(&mut name)
            .map_err(|e| format!("no randomness for a temporary file: {e}"))?;
        let path = std::env::temp_dir().join(format!(
            "gitsign-sig-{}",
            crate::core::asn1::der::hex(&name)
        ));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        f.write_all(contents)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(TempFile(path))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn run(mut cmd: Command, stdin: &[u8]) -> Result<(bool, String), String> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if let Some(mut input) = child.stdin.take() {
        // A tool that exits early closes its stdin; its status says what happened.
        let _ = input.write_all(stdin);
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{program} failed: {e}"))?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok((out.status.success(), text))
}

fn first_line(text: &str) -> String {
    crate::core::git::status::printable(
        text.lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim(),
    )
}

/// Verifies an SSH signature (namespace `git`) over `payload` with the keys of an
/// allowed-signers file: the signer's principal and key on success.
pub fn verify_ssh(
    allowed_signers: &Path,
    signature: &[u8],
    payload: &[u8],
) -> Result<String, String> {
    let sig = TempFile::with(signature)?;
    let mut find = Command::new("ssh-keygen");
    find.args(["-Y", "find-principals", "-s"])
        .arg(&sig.0)
        .arg("-f")
        .arg(allowed_signers);
    let (ok, out) = run(find, b"")?;
    let principals: Vec<&str> = out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if !ok || principals.is_empty() {
        return Err(format!(
            "the SSH key is not in {} ({})",
            allowed_signers.display(),
            first_line(&out)
        ));
    }
    let mut last = String::new();
    for principal in principals {
        let mut verify = Command::new("ssh-keygen");
        verify
            .args(["-Y", "verify", "-n", "git", "-f"])
            .arg(allowed_signers)
            .arg("-I")
            .arg(principal)
            .arg("-s")
            .arg(&sig.0);
        let (ok, out) = run(verify, payload)?;
        if ok {
            return Ok(first_line(&out));
        }
        last = first_line(&out);
    }
    Err(format!("SSH signature does not verify: {last}"))
}

/// Verifies an OpenPGP signature over `payload` with the keys of `keyring` (a key exported
/// with `gpg --export`, binary or armoured): the good signature's key on success.
pub fn verify_openpgp(keyring: &Path, signature: &[u8], payload: &[u8]) -> Result<String, String> {
    let sig = TempFile::with(signature)?;
    let data = TempFile::with(payload)?;
    let mut gpgv = Command::new("gpgv");
    gpgv.args(["--status-fd", "1", "--keyring"])
        .arg(keyring)
        .arg(&sig.0)
        .arg(&data.0);
    let (ok, out) = run(gpgv, b"")?;
    let good = out
        .lines()
        .find_map(|l| l.strip_prefix("[GNUPG:] VALIDSIG "))
        .and_then(|rest| rest.split(' ').next());
    match (ok, good) {
        (true, Some(fpr)) => Ok(format!("OpenPGP key {fpr}")),
        _ => Err(format!(
            "OpenPGP signature does not verify with {}: {}",
            keyring.display(),
            out.lines()
                .find(|l| !l.starts_with("[GNUPG:]") && !l.trim().is_empty())
                .map(first_line)
                .unwrap_or_else(|| "no good signature".into())
        )),
    }
}
