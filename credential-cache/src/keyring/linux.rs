//! Short-lived signing-credential cache in the Linux kernel keyring (keyutils), headless.
//!
//! Design (see the report for the reasoning):
//! * Keys are of type `user`, description `<name>@uid<euid>` (e.g. `gitsign:3f2a@uid1000`),
//!   linked into the caller's **session keyring**, resolved with
//!   `KEYCTL_GET_KEYRING_ID(KEY_SPEC_SESSION_KEYRING, create = 0)`. A process that has no
//!   session keyring then gets the per-uid "user-session" keyring `_uid_ses.<uid>`, which every
//!   other session-less process of that uid also gets, so consecutive invocations (children of
//!   the same shell, CI runner, daemon, ...) share entries. We never pass the special id
//!   `KEY_SPEC_SESSION_KEYRING` to `add_key`/`KEYCTL_LINK`/`KEYCTL_GET_PERSISTENT`: those use
//!   `KEY_LOOKUP_CREATE`, which gives a session-less process a new *private* anonymous session
//!   keyring that dies with it.
//! * The key is built in this process's private process keyring, given its timeout and
//!   permissions there, and only then linked into the session keyring; the link replaces
//!   an older key with the same description in one step. Other processes therefore never see
//!   a key that has no timeout or the wrong permissions.
//! * Permissions `0x013f0000`: the owner uid gets every right; a *possessor* (any process
//!   whose keyrings reach the key, including a process of another uid that inherited our
//!   session keyring through sudo/runuser/setpriv) gets view only. Not search: KEYCTL_READ
//!   also succeeds for a possessed key with search permission, so possessor SEARCH would
//!   let that other uid read the secret (the kernel default 0x3f010000 does exactly that).
//!   As the kernel only counts a key as possessed if a search may find it, that other uid
//!   in fact gets nothing (describe and read both fail with EACCES).
//! * Payload: `GSKC`, version byte 1, not_after (u64 BE unix seconds), 32-byte secret,
//!   then length-prefixed (u32 BE) identity, issuer, chain count (u32 BE) and each DER cert.
//!   Everything holding secret bytes is wrapped in `Zeroizing`.

use linux_keyutils::{
    Key, KeyError, KeyPermissionsBuilder, KeyRing, KeyRingIdentifier, Permission,
};
use std::time::{SystemTime, UNIX_EPOCH};
use zeroize::Zeroizing;

/// Prefix every entry name must have; `list` reports only entries with it.
pub const NAME_PREFIX: &str = "gitsign:";
const MAGIC: &[u8; 4] = b"GSKC";
const VERSION: u8 = 1;
/// Largest payload the kernel accepts for a `user` key.
const MAX_PAYLOAD: usize = 32767;
const MAX_NAME: usize = 200;
const MAX_CHAIN: usize = 16;

/// One cached credential: the raw 32-byte P-256 secret scalar, the DER certificate chain
/// (leaf first), identity and issuer strings.
pub struct StoredCredential {
    pub secret: Zeroizing<[u8; 32]>,
    pub chain: Vec<Vec<u8>>,
    pub identity: String,
    pub issuer: String,
}

impl std::fmt::Debug for StoredCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredCredential")
            .field("secret", &"<redacted>")
            .field(
                "chain_lens",
                &self.chain.iter().map(Vec::len).collect::<Vec<_>>(),
            )
            .field("identity", &self.identity)
            .field("issuer", &self.issuer)
            .finish()
    }
}

/// Stores under `name` (a short ASCII string like "gitsign:3f2a..."), replacing any previous one,
/// with the kernel timeout set to `ttl_secs` seconds so the kernel removes it on time.
pub fn store(name: &str, cred: &StoredCredential, ttl_secs: u64) -> Result<(), String> {
    let desc = description(name)?;
    if ttl_secs == 0 || ttl_secs > u64::from(u32::MAX) {
        // 0 would mean "no timeout" to the kernel; the syscall takes an unsigned int.
        return Err(format!(
            "ttl must be 1..={} seconds, got {ttl_secs}",
            u32::MAX
        ));
    }
    let not_after = now_secs()
        .checked_add(ttl_secs)
        .ok_or_else(|| "ttl overflows the clock".to_string())?;
    let payload = encode(cred, not_after)?;
    let session = session_keyring()?;
    // Private staging keyring: dies with this process if we crash halfway.
    let staging = KeyRing::from_special_id(KeyRingIdentifier::Process, true)
        .map_err(|e| kerr("open process keyring", e))?;
    let key = staging
        .add_key(&desc, &payload[..])
        .map_err(|e| kerr("add_key", e))?;
    let result = (|| {
        key.set_timeout(ttl_secs as usize)
            .map_err(|e| kerr("set timeout", e))?;
        key.set_perms(
            KeyPermissionsBuilder::builder()
                .posessor(Permission::VIEW)
                .user(Permission::ALL)
                .build(),
        )
        .map_err(|e| kerr("set permissions", e))?;
        let old = session.search(&desc).ok();
        session
            .link_key(key)
            .map_err(|e| kerr("link into session keyring", e))?;
        if let Some(old) = old.filter(|o| *o != key) {
            // Unlinked from the session keyring already (displaced); drop other links too.
            if owned_by_me(old) {
                let _ = old.invalidate();
            }
        }
        Ok(())
    })();
    let _ = staging.unlink_key(key);
    if result.is_err() {
        let _ = key.invalidate();
    }
    result
}

/// Reads it back; Ok(None) if absent or expired (the kernel answers EKEYEXPIRED / ENOKEY).
pub fn load(name: &str) -> Result<Option<StoredCredential>, String> {
    let desc = description(name)?;
    let session = session_keyring()?;
    let key = match session.search(&desc) {
        Ok(k) => k,
        Err(e) if is_gone(e) => return Ok(None),
        Err(e) => return Err(kerr("search", e)),
    };
    if !owned_by_me(key) {
        return Ok(None); // not ours (e.g. planted by another uid sharing the session)
    }
    let mut buf = Zeroizing::new(vec![0u8; MAX_PAYLOAD + 1]);
    let len = match key.read(&mut *buf) {
        Ok(n) => n,
        Err(e) if is_gone(e) => return Ok(None),
        Err(e) => return Err(kerr("read", e)),
    };
    if len > MAX_PAYLOAD {
        return Err(format!("keyring entry {desc} is too large ({len} bytes)"));
    }
    let (cred, not_after) =
        decode(&buf[..len]).map_err(|e| format!("keyring entry {desc}: {e}"))?;
    if now_secs() >= not_after {
        return Ok(None); // kernel timeout was extended by someone; trust the payload
    }
    Ok(Some(cred))
}

/// Removes the entry; Ok(false) if there was none (or it had already expired).
pub fn remove(name: &str) -> Result<bool, String> {
    let desc = description(name)?;
    let session = session_keyring()?;
    let mut removed = false;
    // A second match can sit in a nested keyring; a few rounds clear them all.
    for _ in 0..4 {
        match session.search(&desc) {
            Ok(key) => {
                key.invalidate().map_err(|e| kerr("invalidate", e))?;
                removed = true;
            }
            Err(e) if is_gone(e) => break,
            Err(e) => return Err(kerr("search", e)),
        }
    }
    Ok(removed)
}

/// All gitsign entries' names (for a `credentials list` command) — best effort: entries
/// linked directly into the session keyring, of type `user`, owned by this uid, unexpired.
pub fn list() -> Result<Vec<String>, String> {
    // Same resolution as session_keyring() (create = 0); KeyRing does not expose its serial.
    let session = raw::get_keyring_id(KeyRingIdentifier::Session as i32)
        .map_err(|e| format!("kernel keyring: open session keyring: errno {e}"))?;
    let suffix = uid_suffix();
    let mut names = Vec::new();
    for id in raw::keyring_links(session)? {
        let Some(d) = raw::describe(id) else { continue };
        // "type;uid;gid;perm;description" (the description may itself contain ';')
        let mut it = d.splitn(5, ';');
        let (Some(ty), Some(uid), Some(_), Some(_), Some(desc)) =
            (it.next(), it.next(), it.next(), it.next(), it.next())
        else {
            continue;
        };
        if ty != "user" || uid.parse::<u32>().ok() != Some(raw::euid()) {
            continue;
        }
        if let Some(name) = desc.strip_suffix(&suffix)
            && name.starts_with(NAME_PREFIX)
        {
            names.push(name.to_string());
        }
    }
    names.sort();
    names.dedup();
    Ok(names)
}

// ---------------------------------------------------------------- helpers

fn session_keyring() -> Result<KeyRing, String> {
    // create = false: an existing session keyring, or else the uid's user-session keyring
    // (which the kernel then installs as this process's session keyring). Never a new one.
    KeyRing::from_special_id(KeyRingIdentifier::Session, false)
        .map_err(|e| kerr("open session keyring", e))
}

fn owned_by_me(key: Key) -> bool {
    key.metadata()
        .map(|m| m.get_uid() == raw::euid())
        .unwrap_or(false)
}

fn is_gone(e: KeyError) -> bool {
    matches!(
        e,
        KeyError::KeyDoesNotExist | KeyError::KeyExpired | KeyError::KeyRevoked
    )
}

fn kerr(what: &str, e: KeyError) -> String {
    let hint = match e {
        KeyError::PermissionDenied => {
            " (EPERM: keyctl/add_key blocked, e.g. Docker's default seccomp profile)"
        }
        KeyError::Unknown(libc::ENOSYS) => " (ENOSYS: kernel built without CONFIG_KEYS)",
        KeyError::QuotaExceeded => " (EDQUOT: see /proc/sys/kernel/keys/maxbytes, maxkeys)",
        _ => "",
    };
    format!("kernel keyring: {what}: {e:?}{hint}")
}

fn uid_suffix() -> String {
    format!("@uid{}", raw::euid())
}

fn description(name: &str) -> Result<String, String> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'.' | b'_' | b'-' | b'+'));
    if !name.starts_with(NAME_PREFIX)
        || name.len() <= NAME_PREFIX.len()
        || name.len() > MAX_NAME
        || !ok_chars
    {
        return Err(format!(
            "invalid keyring entry name {name:?}: want {NAME_PREFIX}<[A-Za-z0-9:._+-]>, at most {MAX_NAME} bytes"
        ));
    }
    Ok(format!("{name}{}", uid_suffix()))
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

// ---------------------------------------------------------------- payload format

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) -> Result<(), String> {
    let n = u32::try_from(b.len()).map_err(|_| "field too large".to_string())?;
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(b);
    Ok(())
}

fn encode(cred: &StoredCredential, not_after: u64) -> Result<Zeroizing<Vec<u8>>, String> {
    if cred.chain.len() > MAX_CHAIN {
        return Err(format!(
            "certificate chain too long ({} > {MAX_CHAIN})",
            cred.chain.len()
        ));
    }
    let size = 4
        + 1
        + 8
        + 32
        + 4
        + cred.identity.len()
        + 4
        + cred.issuer.len()
        + 4
        + cred.chain.iter().map(|c| 4 + c.len()).sum::<usize>();
    if size > MAX_PAYLOAD {
        return Err(format!(
            "credential is {size} bytes; a kernel user key holds at most {MAX_PAYLOAD}"
        ));
    }
    // Reserve up front so the buffer holding the secret is never reallocated (and left behind).
    let mut out = Zeroizing::new(Vec::with_capacity(size));
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&not_after.to_be_bytes());
    out.extend_from_slice(&cred.secret[..]);
    put_bytes(&mut out, cred.identity.as_bytes())?;
    put_bytes(&mut out, cred.issuer.as_bytes())?;
    out.extend_from_slice(&(cred.chain.len() as u32).to_be_bytes());
    for c in &cred.chain {
        put_bytes(&mut out, c)?;
    }
    debug_assert_eq!(out.len(), size);
    Ok(out)
}

struct Reader<'a>(&'a [u8]);
impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("truncated payload".into());
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u32(&mut self) -> Result<usize, String> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().unwrap()) as usize)
    }
    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.u32()?;
        self.take(n)
    }
    fn string(&mut self) -> Result<String, String> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| "string field is not UTF-8".into())
    }
}

fn decode(buf: &[u8]) -> Result<(StoredCredential, u64), String> {
    let mut r = Reader(buf);
    if r.take(4)? != MAGIC {
        return Err("not a gitsign credential (bad magic)".into());
    }
    let v = r.take(1)?[0];
    if v != VERSION {
        return Err(format!("unsupported payload version {v}"));
    }
    let not_after = u64::from_be_bytes(r.take(8)?.try_into().unwrap());
    let mut secret = Zeroizing::new([0u8; 32]);
    secret.copy_from_slice(r.take(32)?);
    let identity = r.string()?;
    let issuer = r.string()?;
    let n = r.u32()?;
    if n > MAX_CHAIN {
        return Err(format!("certificate chain too long ({n})"));
    }
    let mut chain = Vec::with_capacity(n);
    for _ in 0..n {
        chain.push(r.bytes()?.to_vec());
    }
    if !r.0.is_empty() {
        return Err("trailing bytes after payload".into());
    }
    Ok((
        StoredCredential {
            secret,
            chain,
            identity,
            issuer,
        },
        not_after,
    ))
}

// ---------------------------------------------------------------- raw syscalls
//
// linux-keyutils 0.2.5 traps avoided here: `KeyRing::get_links(max)` does
// `set_len(returned_len / 4)` even when the kernel reports more data than `max` entries
// (out-of-bounds set_len), and `Metadata::from_id` slices a 512-byte buffer with the
// kernel's returned length (panics on descriptions > 511 bytes, which other programs may
// have in the session keyring). Both are done here with a size probe first.
mod raw {
    const KEYCTL_GET_KEYRING_ID: libc::c_long = 0;
    const KEYCTL_DESCRIBE: libc::c_long = 6;
    const KEYCTL_READ: libc::c_long = 11;

    fn keyctl(
        op: libc::c_long,
        a: libc::c_ulong,
        b: libc::c_ulong,
        c: libc::c_ulong,
    ) -> Result<libc::c_long, i32> {
        // SAFETY: keyctl with a caller-checked buffer pointer/length (or null/0).
        let r = unsafe { libc::syscall(libc::SYS_keyctl, op, a, b, c, 0 as libc::c_ulong) };
        if r < 0 {
            Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
        } else {
            Ok(r)
        }
    }

    pub fn euid() -> u32 {
        // SAFETY: geteuid cannot fail.
        unsafe { libc::geteuid() }
    }

    pub fn get_keyring_id(special: i32) -> Result<i32, i32> {
        keyctl(KEYCTL_GET_KEYRING_ID, special as libc::c_ulong, 0, 0).map(|r| r as i32)
    }

    /// Read with a size probe; retries if the object grew in between.
    fn read_all(op: libc::c_long, id: i32) -> Result<Vec<u8>, i32> {
        let mut buf: Vec<u8> = Vec::new();
        for _ in 0..4 {
            let need = keyctl(
                op,
                id as libc::c_ulong,
                buf.as_mut_ptr() as libc::c_ulong,
                buf.len() as libc::c_ulong,
            )? as usize;
            if need <= buf.len() {
                buf.truncate(need);
                return Ok(buf);
            }
            buf = vec![0u8; need];
        }
        Err(libc::EAGAIN)
    }

    pub fn keyring_links(ring: i32) -> Result<Vec<i32>, String> {
        let b = read_all(KEYCTL_READ, ring)
            .map_err(|e| format!("kernel keyring: read session keyring: errno {e}"))?;
        Ok(b.chunks_exact(4)
            .map(|c| i32::from_ne_bytes(c.try_into().unwrap()))
            .collect())
    }

    /// None for keys we may not view, expired or revoked keys, and non-UTF-8 descriptions.
    pub fn describe(id: i32) -> Option<String> {
        let mut b = read_all(KEYCTL_DESCRIBE, id).ok()?;
        if b.last() == Some(&0) {
            b.pop();
        }
        String::from_utf8(b).ok()
    }
}

// ---------------------------------------------------------------- tests

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(tag: u8) -> StoredCredential {
        StoredCredential {
            secret: Zeroizing::new([tag; 32]),
            chain: vec![vec![0x30, 0x82, tag, 1, 2], vec![0x30; 700]],
            identity: format!("user{tag}@example.com"),
            issuer: "https://oauth2.sigstore.dev/auth".into(),
        }
    }

    fn uniq(t: &str) -> String {
        format!("gitsign:test-{t}-{}", std::process::id())
    }

    #[test]
    fn encode_decode_roundtrip_and_strictness() {
        let c = sample(7);
        let p = encode(&c, 1234).unwrap();
        let (d, na) = decode(&p).unwrap();
        assert_eq!(na, 1234);
        assert_eq!(*d.secret, *c.secret);
        assert_eq!(d.chain, c.chain);
        assert_eq!(
            (d.identity.as_str(), d.issuer.as_str()),
            (c.identity.as_str(), c.issuer.as_str())
        );
        for cut in [0, 3, 5, 13, 45, p.len() - 1] {
            assert!(decode(&p[..cut]).is_err(), "cut {cut}");
        }
        let mut extra = p.to_vec();
        extra.push(0);
        assert!(decode(&extra).is_err());
        let mut badv = p.to_vec();
        badv[4] = 9;
        assert!(decode(&badv).is_err());
        let big = StoredCredential {
            chain: vec![vec![0; MAX_PAYLOAD]],
            ..sample(1)
        };
        assert!(encode(&big, 0).is_err());
    }

    #[test]
    fn debug_redacts_secret() {
        let s = format!("{:?}", sample(0xAB));
        assert!(
            s.contains("<redacted>") && !s.contains("171, 171") && !s.contains("[171"),
            "{s}"
        );
    }

    #[test]
    fn names_are_validated() {
        assert!(
            description("gitsign:3f2a")
                .unwrap()
                .ends_with(&uid_suffix())
        );
        for bad in [
            "",
            "gitsign:",
            "other:3f2a",
            "gitsign:a b",
            "gitsign:a;b",
            "gitsign:\u{e9}",
        ] {
            assert!(description(bad).is_err(), "{bad:?}");
        }
        assert!(store("gitsign:x", &sample(1), 0).is_err());
    }

    #[test]
    fn store_load_replace_list_remove() {
        let n = uniq("crud");
        assert!(load(&n).unwrap().is_none());
        store(&n, &sample(1), 60).unwrap();
        assert_eq!(load(&n).unwrap().unwrap().identity, "user1@example.com");
        store(&n, &sample(2), 60).unwrap(); // replace
        let got = load(&n).unwrap().unwrap();
        assert_eq!(*got.secret, [2u8; 32]);
        assert!(list().unwrap().contains(&n));
        // exactly one key with this description is linked in the session keyring
        let desc = description(&n).unwrap();
        let ring = raw::get_keyring_id(KeyRingIdentifier::Session as i32).unwrap();
        let count = raw::keyring_links(ring)
            .unwrap()
            .into_iter()
            .filter(|id| raw::describe(*id).is_some_and(|d| d.ends_with(&format!(";{desc}"))))
            .count();
        assert_eq!(count, 1);
        assert!(remove(&n).unwrap());
        assert!(!remove(&n).unwrap());
        assert!(load(&n).unwrap().is_none());
        assert!(!list().unwrap().contains(&n));
    }

    #[test]
    fn kernel_timeout_expires_entry() {
        let n = uniq("ttl");
        store(&n, &sample(3), 2).unwrap();
        assert!(load(&n).unwrap().is_some());
        std::thread::sleep(std::time::Duration::from_secs(3));
        assert!(load(&n).unwrap().is_none());
        assert!(!list().unwrap().contains(&n));
    }
}
