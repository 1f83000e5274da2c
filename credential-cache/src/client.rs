//! The client side, used by `gitsign`: one connection, blocking calls with deadlines.

use std::fmt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::protocol::{self, Bytes, CacheKey, EntryInfo, ErrorCode, FrameError, Request, Response};

#[derive(Debug)]
pub enum ClientError {
    /// Nobody listens there (no agent running).
    Unavailable { path: PathBuf, error: String },
    /// The connection broke or the reply was not a message of the protocol.
    Broken(String),
    /// The agent answered with an error.
    Agent { code: ErrorCode, message: String },
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Unavailable { path, error } => {
                write!(f, "no credential cache at {} ({error})", path.display())
            }
            ClientError::Broken(e) => write!(f, "the credential cache connection failed ({e})"),
            ClientError::Agent { code, message } => {
                write!(f, "the credential cache said {}: {message}", code.as_str())
            }
        }
    }
}

impl std::error::Error for ClientError {}

/// What `get` found.
pub enum Lookup {
    Cached {
        handle: u64,
        public_key: Vec<u8>,
        chain: Vec<Vec<u8>>,
        identity: String,
        issuer: String,
        not_after: i64,
    },
    /// Sign in: the agent made `public_key` for this connection's `handle`.
    Miss { handle: u64, public_key: Vec<u8> },
}

pub struct Client {
    stream: UnixStream,
}

const CALL: Duration = Duration::from_secs(10);

impl Client {
    pub fn connect(path: &Path) -> Result<Client, ClientError> {
        let stream = UnixStream::connect(path).map_err(|e| ClientError::Unavailable {
            path: path.to_path_buf(),
            error: e.to_string(),
        })?;
        Ok(Client { stream })
    }

    /// One request, one reply, within `timeout`.
    pub fn call(&mut self, request: &Request, timeout: Duration) -> Result<Response, ClientError> {
        let broken = |e: String| ClientError::Broken(e);
        self.stream
            .set_read_timeout(Some(timeout))
            .and_then(|()| self.stream.set_write_timeout(Some(CALL)))
            .map_err(|e| broken(e.to_string()))?;
        // An agent that refuses us answers and hangs up before reading: if the write fails,
        // its reply is still the better explanation.
        let written = protocol::write_frame(&mut self.stream, request);
        let body = protocol::read_frame(&mut self.stream).map_err(|e| match (e, &written) {
            (_, Err(w)) => broken(w.to_string()),
            (FrameError::Closed, _) => broken("the agent closed the connection".into()),
            (e, _) => broken(e.to_string()),
        })?;
        match protocol::decode::<Response>(&body).map_err(|e| broken(e.to_string()))? {
            Response::Error { code, message } => Err(ClientError::Agent { code, message }),
            r => Ok(r),
        }
    }

    fn unexpected(r: Response) -> ClientError {
        ClientError::Broken(format!("unexpected reply {r:?}"))
    }

    /// The agent's pid (a liveness probe).
    pub fn hello(&mut self) -> Result<u32, ClientError> {
        match self.call(&Request::Hello {}, CALL)? {
            Response::Hello { pid, .. } => Ok(pid),
            r => Err(Self::unexpected(r)),
        }
    }

    pub fn get(
        &mut self,
        key: &CacheKey,
        identity: Option<&str>,
        wait: Duration,
    ) -> Result<Lookup, ClientError> {
        let wait_ms = wait.as_millis().min(protocol::MAX_WAIT_MS as u128) as u64;
        let request = Request::Get {
            key: key.clone(),
            identity: identity.map(str::to_string),
            wait_ms,
        };
        match self.call(&request, wait + CALL)? {
            Response::Cached {
                handle,
                public_key,
                chain,
                identity,
                issuer,
                not_after,
            } => Ok(Lookup::Cached {
                handle,
                public_key: public_key.0,
                chain: chain.into_iter().map(|b| b.0).collect(),
                identity,
                issuer,
                not_after,
            }),
            Response::Miss { handle, public_key } => Ok(Lookup::Miss {
                handle,
                public_key: public_key.0,
            }),
            r => Err(Self::unexpected(r)),
        }
    }

    pub fn sign(&mut self, handle: u64, message: &[u8]) -> Result<Vec<u8>, ClientError> {
        let request = Request::Sign {
            handle,
            message: Bytes(message.to_vec()),
        };
        match self.call(&request, CALL)? {
            Response::Signature { signature } => Ok(signature.0),
            r => Err(Self::unexpected(r)),
        }
    }

    /// Returns the notAfter the agent read from the leaf.
    pub fn store(
        &mut self,
        handle: u64,
        chain: &[Vec<u8>],
        identity: &str,
        issuer: &str,
    ) -> Result<i64, ClientError> {
        let request = Request::Store {
            handle,
            chain: chain.iter().map(|c| Bytes(c.clone())).collect(),
            identity: identity.into(),
            issuer: issuer.into(),
        };
        match self.call(&request, CALL)? {
            Response::Stored { not_after } => Ok(not_after),
            r => Err(Self::unexpected(r)),
        }
    }

    pub fn list(&mut self) -> Result<Vec<EntryInfo>, ClientError> {
        match self.call(&Request::List {}, CALL)? {
            Response::Entries { entries } => Ok(entries),
            r => Err(Self::unexpected(r)),
        }
    }

    pub fn clear(&mut self) -> Result<u64, ClientError> {
        match self.call(&Request::Clear {}, CALL)? {
            Response::Cleared { count } => Ok(count),
            r => Err(Self::unexpected(r)),
        }
    }
}
