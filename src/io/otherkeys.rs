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

/// An OpenPGP armoured block's binary contents (RFC 4880 6.2: header lines, a blank line,
/// base64, an optional `=CRC24` line); `None` when `text` is not armoured.
fn dearmor(text: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let text = std::str::from_utf8(text).ok()?;
    let mut lines = text.lines().map(str::trim_end);
    lines.find(|l| l.starts_with("-----BEGIN PGP "))?;
    let mut body = String::new();
    let mut in_headers = true;
    for line in lines {
        if line.starts_with("-----END PGP ") {
            return base64::engine::general_purpose::STANDARD.decode(body).ok();
        }
        if in_headers {
            if line.is_empty() {
                in_headers = false;
            } else if !line.contains(": ") {
                // No headers at all: this is already base64.
                in_headers = false;
                body.push_str(line);
            }
            continue;
        }
        if line.starts_with('=') {
            continue;
        }
        body.push_str(line);
    }
    None
}

/// Verifies an OpenPGP signature over `payload` with the keys of `keyring` (keys exported
/// with `gpg --export`, binary or `--armor`): the good signature's key on success. A
/// signature by an expired or revoked key, or an expired signature, does not count.
pub fn verify_openpgp(keyring: &Path, signature: &[u8], payload: &[u8]) -> Result<String, String> {
    let keys = std::fs::read(keyring)
        .map_err(|e| format!("cannot read OpenPGP keys {}: {e}", keyring.display()))?;
    // gpgv reads binary keyrings only.
    let binary = match dearmor(&keys) {
        Some(b) => Some(TempFile::with(&b)?),
        None => None,
    };
    let keyring_file = binary.as_ref().map_or(keyring, |t| t.0.as_path());
    let sig = TempFile::with(signature)?;
    let data = TempFile::with(payload)?;
    let mut gpgv = Command::new("gpgv");
    gpgv.args(["--status-fd", "1", "--keyring"])
        .arg(keyring_file)
        .arg(&sig.0)
        .arg(&data.0);
    let (ok, out) = run(gpgv, b"")?;
    let status: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("[GNUPG:] "))
        .collect();
    let good = status.iter().any(|l| l.starts_with("GOODSIG "));
    let spoiled = status.iter().any(|l| {
        ["EXPSIG ", "EXPKEYSIG ", "REVKEYSIG ", "BADSIG ", "ERRSIG "]
            .iter()
            .any(|p| l.starts_with(p))
    });
    let fingerprint = status
        .iter()
        .find_map(|l| l.strip_prefix("VALIDSIG "))
        .and_then(|rest| rest.split(' ').next());
    match (ok && good && !spoiled, fingerprint) {
        (true, Some(fpr)) => Ok(format!("OpenPGP key {fpr}")),
        _ => {
            let why = status
                .iter()
                .find_map(|l| {
                    let (word, rest) = l.split_once(' ').unwrap_or((l, ""));
                    let key = rest.split(' ').next().unwrap_or("");
                    match word {
                        "NO_PUBKEY" => Some(format!("key {key} is not among them")),
                        "BADSIG" => Some(format!("BAD signature by key {key}")),
                        "EXPKEYSIG" => Some(format!("key {key} has expired")),
                        "REVKEYSIG" => Some(format!("key {key} is revoked")),
                        "EXPSIG" => Some("the signature has expired".into()),
                        _ => None,
                    }
                })
                .unwrap_or_else(|| first_line(&out));
            Err(format!(
                "OpenPGP signature does not verify with the keys in {}: {why}",
                keyring.display()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::dearmor;

    #[test]
    fn dearmors_with_and_without_headers() {
        let with = b"-----BEGIN PGP PUBLIC KEY BLOCK-----\nComment: x\n\naGVs\nbG8=\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n";
        assert_eq!(dearmor(with).as_deref(), Some(&b"hello"[..]));
        let without = b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\naGVsbG8=\n-----END PGP PUBLIC KEY BLOCK-----\n";
        assert_eq!(dearmor(without).as_deref(), Some(&b"hello"[..]));
        assert_eq!(dearmor(b"\x99\x01binary"), None);
        assert_eq!(
            dearmor(b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\naGVs\n"),
            None,
            "no end line"
        );
    }
}
