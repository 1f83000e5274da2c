//! The agent's socket: where it lives, how it is made private before anyone can connect,
//! and who is at the other end.
//!
//! The directory is created 0700 and checked (ours, not writable by group or others); the
//! process umask is 0077 from the agent's first instant, so the socket is born 0700 (no
//! chmod after bind, no window in which another user can connect). A lock file beside the
//! socket, held for the agent's life, makes a second agent refuse to start; a socket left by
//! a dead agent is replaced only after a connection attempt finds nobody there.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io;
use std::os::fd::{FromRawFd as _, OwnedFd};
use std::os::unix::fs::{
    DirBuilderExt as _, FileTypeExt as _, MetadataExt as _, OpenOptionsExt as _,
};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// The socket when neither `--socket` nor `GITSIGN_CREDENTIAL_CACHE` names one:
/// `$XDG_RUNTIME_DIR/gitsign/cache.sock`, else `<user cache dir>/sigstore/gitsign/cache.sock`
/// (gitsign's own path).
pub fn default_path() -> Option<PathBuf> {
    let dirs = directories::BaseDirs::new()?;
    match dirs.runtime_dir() {
        Some(run) => Some(run.join("gitsign").join("cache.sock")),
        None => Some(dirs.cache_dir().join("sigstore/gitsign/cache.sock")),
    }
}

pub fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Refuses a directory another user could plant or swap a socket in.
pub fn check_private_dir(dir: &Path) -> Result<(), String> {
    let m = fs::metadata(dir).map_err(|e| format!("cannot inspect {}: {e}", dir.display()))?;
    if !m.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    if m.uid() != euid() {
        return Err(format!(
            "{} belongs to uid {}, not to this user (uid {}); use a directory of your own",
            dir.display(),
            m.uid(),
            euid()
        ));
    }
    if m.mode() & 0o022 != 0 {
        return Err(format!(
            "{} is writable by group or others (mode {:o}); make it 0700 or use another directory",
            dir.display(),
            m.mode() & 0o7777
        ));
    }
    Ok(())
}

/// A socket bound by the agent itself (not handed over by systemd).
pub struct Bound {
    pub listener: UnixListener,
    pub path: PathBuf,
    _lock: File,
}

impl Bound {
    /// Removes the socket (at exit). The lock file stays: removing it could let a new agent
    /// lock a fresh file while another still holds the old one.
    pub fn remove(&self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Creates the directory (0700), takes the lock, replaces a dead socket and binds.
pub fn bind(path: &Path) -> Result<Bound, String> {
    if path.as_os_str().len() >= 100 {
        return Err(format!(
            "the socket path {} is too long for a Unix socket (at most 99 bytes here); choose a shorter one",
            path.display()
        ));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.exists() {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    check_private_dir(&dir)?;
    let lock_path = PathBuf::from(format!("{}.lock", path.display()));
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock_path)
        .map_err(|e| format!("cannot open the lock file {}: {e}", lock_path.display()))?;
    if let Err(e) = rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        return Err(if e == rustix::io::Errno::WOULDBLOCK {
            format!(
                "another gitsign-credential-cache is already serving {}; leaving it alone",
                path.display()
            )
        } else {
            format!("cannot lock {}: {e}", lock_path.display())
        });
    }
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => match UnixStream::connect(path) {
            Ok(_) => {
                return Err(format!(
                    "an agent that does not hold {} (gitsign's own?) is serving {}; stop it first",
                    lock_path.display(),
                    path.display()
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                fs::remove_file(path).map_err(|e| {
                    format!("cannot remove the dead socket {}: {e}", path.display())
                })?;
            }
            Err(e) => return Err(format!("cannot probe {}: {e}", path.display())),
        },
        Ok(_) => {
            return Err(format!(
                "{} exists and is not a socket; remove it or choose another path",
                path.display()
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot inspect {}: {e}", path.display())),
    }
    let listener = UnixListener::bind(path)
        .map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
    Ok(Bound {
        listener,
        path: path.to_path_buf(),
        _lock: lock,
    })
}

/// The listening socket systemd passed (socket activation), checked strictly: `LISTEN_PID`
/// must be this process, `LISTEN_FDS` exactly 1, and fd 3 a listening Unix stream socket.
/// Variables meant for another process are ignored, unless `required`.
pub fn from_systemd(required: bool) -> Result<Option<UnixListener>, String> {
    let pid = std::env::var("LISTEN_PID").ok();
    let fds = std::env::var("LISTEN_FDS").ok();
    let Some(pid) = pid else {
        return if required {
            Err(
                "--systemd-socket-activation: systemd passed no socket (LISTEN_PID is not set)"
                    .into(),
            )
        } else {
            Ok(None)
        };
    };
    let ours = pid.trim().parse::<u32>().ok() == Some(std::process::id());
    if !ours {
        return if required {
            Err(format!(
                "--systemd-socket-activation: LISTEN_PID={pid} is not this process ({})",
                std::process::id()
            ))
        } else {
            Ok(None)
        };
    }
    if fds.as_deref() != Some("1") {
        return Err(format!(
            "socket activation: expected LISTEN_FDS=1, got {}; give the socket unit one ListenStream",
            fds.as_deref().unwrap_or("nothing")
        ));
    }
    // SAFETY: systemd passes the first socket as fd 3; fcntl on a borrowed fd only asks
    // whether it is open.
    let open = rustix::io::fcntl_getfd(unsafe { std::os::fd::BorrowedFd::borrow_raw(3) });
    if open.is_err() {
        return Err("socket activation: LISTEN_FDS=1 but fd 3 is not open".into());
    }
    // SAFETY: fd 3 is open and, per the protocol, ours alone from here on.
    let fd = unsafe { OwnedFd::from_raw_fd(3) };
    let stream =
        rustix::net::sockopt::socket_type(&fd).is_ok_and(|t| t == rustix::net::SocketType::STREAM);
    let listening = rustix::net::sockopt::socket_acceptconn(&fd).unwrap_or(false);
    let unix = rustix::net::getsockname(&fd)
        .is_ok_and(|a| a.address_family() == rustix::net::AddressFamily::UNIX);
    if !(stream && listening && unix) {
        return Err(
            "socket activation: fd 3 is not a listening Unix stream socket (use ListenStream=PATH)"
                .into(),
        );
    }
    rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::CLOEXEC)
        .map_err(|e| format!("socket activation: cannot set close-on-exec on fd 3: {e}"))?;
    // SAFETY: called from `main` before any other thread exists.
    unsafe {
        std::env::remove_var("LISTEN_PID");
        std::env::remove_var("LISTEN_FDS");
        std::env::remove_var("LISTEN_FDNAMES");
    }
    Ok(Some(UnixListener::from(fd)))
}

/// The peer's user id and, where the OS says, process id.
pub fn peer(stream: &UnixStream) -> io::Result<(u32, Option<u32>)> {
    #[cfg(target_os = "linux")]
    {
        let cred = rustix::net::sockopt::socket_peercred(stream)?;
        Ok((
            cred.uid.as_raw(),
            Some(cred.pid.as_raw_nonzero().get() as u32),
        ))
    }
    #[cfg(not(target_os = "linux"))]
    {
        use std::os::fd::AsRawFd as _;
        let (mut uid, mut gid) = (0, 0);
        // SAFETY: a valid socket fd and two out-pointers to live locals.
        let r = unsafe { libc::getpeereid(stream.as_raw_fd(), &mut uid, &mut gid) };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((uid as u32, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn a_directory_others_can_write_is_refused() {
        let d = tempfile::tempdir().unwrap();
        fs::set_permissions(d.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let e = check_private_dir(d.path()).unwrap_err();
        assert!(e.contains("writable by group or others"), "{e}");
        fs::set_permissions(d.path(), fs::Permissions::from_mode(0o700)).unwrap();
        check_private_dir(d.path()).unwrap();
    }

    #[test]
    fn bind_creates_a_private_directory_and_a_second_bind_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("new/sub/cache.sock");
        let first = bind(&path).unwrap();
        let mode = fs::metadata(path.parent().unwrap()).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let e = bind(&path).err().unwrap();
        assert!(e.contains("already serving"), "{e}");
        drop(first);
        // The dead socket is still there; a new agent replaces it.
        assert!(path.exists());
        let again = bind(&path).unwrap();
        again.remove();
    }

    #[test]
    fn a_file_in_the_sockets_place_is_left_alone() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("cache.sock");
        fs::write(&path, b"precious").unwrap();
        let e = bind(&path).err().unwrap();
        assert!(e.contains("is not a socket"), "{e}");
        assert_eq!(fs::read(&path).unwrap(), b"precious");
    }

    #[test]
    fn overlong_paths_are_a_clear_error() {
        let long = PathBuf::from(format!("/tmp/{}/cache.sock", "x".repeat(120)));
        assert!(bind(&long).err().unwrap().contains("too long"));
    }

    #[test]
    fn the_peer_of_our_own_connection_is_us() {
        let (a, _b) = UnixStream::pair().unwrap();
        let (uid, pid) = peer(&a).unwrap();
        assert_eq!(uid, euid());
        if cfg!(target_os = "linux") {
            assert_eq!(pid, Some(std::process::id()));
        }
    }
}
