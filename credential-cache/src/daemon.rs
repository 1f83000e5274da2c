//! The agent: binds (or takes systemd's socket), serves its own user, one thread per
//! connection, and exits cleanly on SIGTERM/SIGINT with every key zeroized and the socket
//! removed.

use std::io::Write as _;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::protocol::{self, ErrorCode, FrameError, Request, Response, VERSION};
use crate::socket;
use crate::store::{Conn, Store};

/// Connections served at once; more are told `busy` and closed.
const MAX_CONNECTIONS: usize = 64;
/// A connection idle this long is closed (a sign-in in progress sends nothing meanwhile,
/// and the browser flow may take minutes).
const IDLE: Duration = Duration::from_secs(15 * 60);

pub struct Options {
    /// `--socket`, else `GITSIGN_CREDENTIAL_CACHE`, else [`socket::default_path`].
    pub socket: Option<PathBuf>,
    /// `--systemd-socket-activation`: systemd's socket is required.
    pub systemd: bool,
    pub margin: i64,
}

pub fn log(line: &str) {
    let _ = writeln!(std::io::stderr(), "gitsign-credential-cache: {line}");
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// From the first instant: files we create are ours alone, no core dumps, no ptrace
/// attachment by other processes of the same user (`PR_SET_DUMPABLE` 0).
fn harden() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    #[cfg(target_os = "linux")]
    if let Err(e) =
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
    {
        log(&format!(
            "cannot disable core dumps and ptrace attachment: {e}"
        ));
    }
    let none = rustix::process::Rlimit {
        current: Some(0),
        maximum: Some(0),
    };
    if let Err(e) = rustix::process::setrlimit(rustix::process::Resource::Core, none) {
        log(&format!("cannot set the core size limit to 0: {e}"));
    }
}

pub fn run(options: Options) -> Result<(), String> {
    harden();
    // Caught from before the socket exists: a SIGTERM at any moment after it removes it.
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
    ])
    .map_err(|e| format!("cannot handle signals: {e}"))?;
    let (listener, bound) = match socket::from_systemd(options.systemd)? {
        Some(l) => {
            log("serving the socket systemd passed");
            (l, None)
        }
        None => {
            let path = options
                .socket
                .or_else(|| std::env::var_os("GITSIGN_CREDENTIAL_CACHE").map(PathBuf::from))
                .filter(|p| !p.as_os_str().is_empty())
                .or_else(socket::default_path)
                .ok_or("no socket path: set GITSIGN_CREDENTIAL_CACHE or pass --socket PATH")?;
            let b = socket::bind(&path)?;
            log(&format!(
                "serving {} (pid {})",
                path.display(),
                std::process::id()
            ));
            (b.listener.try_clone().map_err(|e| e.to_string())?, Some(b))
        }
    };
    let store = Arc::new(Store::new(options.margin, Box::new(now), Box::new(log)));
    {
        let store = store.clone();
        thread::spawn(move || store.run_expiry());
    }
    {
        let store = store.clone();
        thread::spawn(move || {
            if let Some(sig) = signals.forever().next() {
                store.clear();
                if let Some(b) = &bound {
                    b.remove();
                }
                log(&format!("stopped by signal {sig}; keys zeroized"));
                std::process::exit(0);
            }
        });
    }
    serve(listener, store)
}

fn serve(listener: UnixListener, store: Arc<Store>) -> Result<(), String> {
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let mut stream = match stream {
            Ok(s) => s,
            Err(e) => {
                log(&format!("accept failed: {e}"));
                thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::SeqCst);
            let _ = protocol::write_frame(
                &mut stream,
                &error(ErrorCode::Busy, "too many connections; try again"),
            );
            continue;
        }
        let (store, active) = (store.clone(), active.clone());
        thread::spawn(move || {
            connection(&store, stream);
            active.fetch_sub(1, Ordering::SeqCst);
        });
    }
    Ok(())
}

fn error(code: ErrorCode, message: impl Into<String>) -> Response {
    Response::Error {
        code,
        message: message.into(),
    }
}

/// Gives up a connection's pending sign-in however the connection ends.
struct Guard<'a> {
    store: &'a Store,
    conn: Conn,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.store.release(&mut self.conn);
    }
}

fn connection(store: &Store, mut stream: UnixStream) {
    match socket::peer(&stream) {
        Ok((uid, _)) if uid == socket::euid() => {}
        Ok((uid, pid)) => {
            log(&format!(
                "refused a connection from uid {uid}{}: this agent serves uid {} only",
                pid.map_or(String::new(), |p| format!(" (pid {p})")),
                socket::euid()
            ));
            let _ = protocol::write_frame(
                &mut stream,
                &error(ErrorCode::Refused, "this agent serves its own user only"),
            );
            return;
        }
        Err(e) => {
            log(&format!("refused a connection whose peer is unknown: {e}"));
            return;
        }
    }
    let _ = stream.set_read_timeout(Some(IDLE));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let mut guard = Guard {
        store,
        conn: Conn::default(),
    };
    let mut malformed = 0u64;
    loop {
        let reply = match protocol::read_frame(&mut stream) {
            Ok(body) => match protocol::decode::<Request>(&body) {
                Ok(request) => dispatch(store, &mut guard.conn, request),
                Err(e) => {
                    malformed += 1;
                    if malformed == 1 {
                        log(&format!("a client sent a bad frame ({e})"));
                    }
                    let code = match e {
                        FrameError::UnsupportedVersion(_) => ErrorCode::UnsupportedVersion,
                        _ => ErrorCode::Malformed,
                    };
                    error(code, e.to_string())
                }
            },
            Err(FrameError::Oversize(n)) => {
                // The rest of the stream cannot be trusted to be framed: answer and close.
                log(&format!("a client announced a frame of {n} bytes; closed"));
                let _ = protocol::write_frame(
                    &mut stream,
                    &error(ErrorCode::Oversize, FrameError::Oversize(n).to_string()),
                );
                break;
            }
            Err(_) => break,
        };
        if protocol::write_frame(&mut stream, &reply).is_err() {
            break;
        }
    }
    if malformed > 1 {
        log(&format!("that client sent {malformed} bad frames in all"));
    }
}

fn dispatch(store: &Store, conn: &mut Conn, request: Request) -> Response {
    match request {
        Request::Hello {} => Response::Hello {
            version: VERSION,
            pid: std::process::id(),
        },
        Request::Get {
            key,
            identity,
            wait_ms,
        } => store.get(conn, &key, identity.as_deref(), wait_ms),
        Request::Sign { handle, message } => store.sign(conn, handle, &message.0),
        Request::Store {
            handle,
            chain,
            identity,
            issuer,
        } => store.store(
            conn,
            handle,
            chain.into_iter().map(|b| b.0).collect(),
            identity,
            issuer,
        ),
        Request::List {} => store.list(),
        Request::Clear {} => {
            let r = store.clear();
            log("cleared by request");
            r
        }
    }
}
