//! The wire protocol between `gitsign` and the agent: every message type in one place.
//!
//! A frame is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON, one
//! object, at most [`MAX_FRAME`] bytes. Every object carries `"v": 1` (the protocol
//! version) and `"op"` (requests) or `"re"` (replies). Binary values are standard base64.
//! The README's "Credential cache protocol" section is the language-neutral description.
//!
//! No message carries a private key: the agent makes the key, signs with it and hands out
//! only the public key and signatures.

use std::io::{self, Read, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The protocol version every frame carries.
pub const VERSION: u64 = 1;
/// The largest frame either side accepts. A chain of three certificates is ~6 KiB.
pub const MAX_FRAME: usize = 64 * 1024;
/// The longest a `get` may wait for another client's sign-in.
pub const MAX_WAIT_MS: u64 = 10 * 60 * 1000;

/// Bytes carried as base64 in JSON.
#[derive(Clone, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bytes({} bytes)", self.0.len())
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD
            .decode(text.as_bytes())
            .map(Bytes)
            .map_err(|e| serde::de::Error::custom(format!("bad base64: {e}")))
    }
}

/// What a credential is cached under: who issues the certificate and for which sign-in
/// configuration. Not the working directory: every repository and worktree of a user
/// shares one sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheKey {
    pub fulcio: String,
    pub issuer: String,
    pub client_id: String,
    #[serde(default)]
    pub connector_id: Option<String>,
}

/// Requests, client to agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    /// Who are you? (also the liveness probe)
    Hello {},
    /// A credential for `key` (and `identity`, when the client knows whom it wants). The
    /// reply is `cached`, or `miss` when this client is to sign in (the agent has made a
    /// fresh key for it and holds the slot: others asking meanwhile wait up to `wait_ms`).
    Get {
        key: CacheKey,
        #[serde(default)]
        identity: Option<String>,
        #[serde(default)]
        wait_ms: u64,
    },
    /// Sign `message` (ECDSA P-256, SHA-256, DER) with the key behind `handle`, which this
    /// connection got from `get`.
    Sign { handle: u64, message: Bytes },
    /// The certificate chain (DER, leaf first) Fulcio issued for a `miss` handle's key, and
    /// the identity and token issuer the client checked it against. The agent checks that
    /// the leaf holds its key and takes the lifetime from the leaf.
    Store {
        handle: u64,
        chain: Vec<Bytes>,
        identity: String,
        issuer: String,
    },
    /// The cached credentials (never key material).
    List {},
    /// Forget every credential (keys zeroized).
    Clear {},
}

/// Replies, agent to client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "re", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Response {
    Hello {
        version: u64,
        pid: u32,
    },
    Cached {
        handle: u64,
        /// SubjectPublicKeyInfo (DER) of the key the agent signs with.
        public_key: Bytes,
        chain: Vec<Bytes>,
        identity: String,
        issuer: String,
        /// The leaf's notAfter, Unix seconds.
        not_after: i64,
    },
    Miss {
        handle: u64,
        public_key: Bytes,
    },
    Signature {
        signature: Bytes,
    },
    Stored {
        not_after: i64,
    },
    Entries {
        entries: Vec<EntryInfo>,
    },
    Cleared {
        count: u64,
    },
    Error {
        code: ErrorCode,
        message: String,
    },
}

/// One line of `gitsign credentials list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryInfo {
    pub identity: String,
    pub issuer: String,
    pub fulcio: String,
    pub not_after: i64,
    pub signatures: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// Not JSON, not an object, or not a known request.
    Malformed,
    /// Longer than [`MAX_FRAME`]; the agent closes the connection.
    Oversize,
    UnsupportedVersion,
    /// The peer is not the agent's user.
    Refused,
    /// No such handle on this connection.
    UnknownHandle,
    /// The credential expired (or is about to): sign in again.
    Expired,
    /// The certificate does not hold the handle's key, or cannot be read.
    BadCertificate,
    /// Another client's sign-in did not finish within `wait_ms`, or too many connections.
    Busy,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Malformed => "malformed",
            ErrorCode::Oversize => "oversize",
            ErrorCode::UnsupportedVersion => "unsupported-version",
            ErrorCode::Refused => "refused",
            ErrorCode::UnknownHandle => "unknown-handle",
            ErrorCode::Expired => "expired",
            ErrorCode::BadCertificate => "bad-certificate",
            ErrorCode::Busy => "busy",
        }
    }
}

/// Why a frame could not be read.
#[derive(Debug)]
pub enum FrameError {
    /// The peer closed the connection between frames.
    Closed,
    Io(io::Error),
    /// The length prefix announced more than [`MAX_FRAME`] bytes.
    Oversize(usize),
    /// A whole frame was read, but it is not a message of this protocol.
    Malformed(String),
    UnsupportedVersion(String),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Closed => write!(f, "connection closed"),
            FrameError::Io(e) => write!(f, "{e}"),
            FrameError::Oversize(n) => {
                write!(f, "frame of {n} bytes is over the {MAX_FRAME}-byte limit")
            }
            FrameError::Malformed(m) => write!(f, "malformed frame: {m}"),
            FrameError::UnsupportedVersion(v) => {
                write!(
                    f,
                    "protocol version {v} is not supported (this side speaks {VERSION})"
                )
            }
        }
    }
}

impl std::error::Error for FrameError {}

/// Serializes one message with its version into a frame.
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    let mut value = serde_json::to_value(message).unwrap_or(serde_json::Value::Null);
    if let Some(object) = value.as_object_mut() {
        object.insert("v".into(), VERSION.into());
    }
    let body = value.to_string().into_bytes();
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    frame
}

/// Decodes one frame's body (without the length prefix). Pure: the fuzz target's entry.
pub fn decode<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, FrameError> {
    if body.len() > MAX_FRAME {
        return Err(FrameError::Oversize(body.len()));
    }
    let mut value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| FrameError::Malformed(e.to_string()))?;
    let object = value
        .as_object_mut()
        .ok_or_else(|| FrameError::Malformed("not a JSON object".into()))?;
    match object.remove("v") {
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(VERSION) => {}
        Some(other) => return Err(FrameError::UnsupportedVersion(other.to_string())),
        None => return Err(FrameError::Malformed("no protocol version (\"v\")".into())),
    }
    serde_json::from_value(value).map_err(|e| FrameError::Malformed(e.to_string()))
}

/// Reads one frame's body. A clean end of stream before the length prefix is `Closed`.
pub fn read_frame(r: &mut impl Read) -> Result<Vec<u8>, FrameError> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Err(FrameError::Closed),
            Ok(0) => return Err(FrameError::Io(io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FrameError::Io(e)),
        }
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(FrameError::Oversize(len));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).map_err(FrameError::Io)?;
    Ok(body)
}

pub fn write_frame<T: Serialize>(w: &mut impl Write, message: &T) -> io::Result<()> {
    w.write_all(&encode(message))?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CacheKey {
        CacheKey {
            fulcio: "https://fulcio.example".into(),
            issuer: "https://issuer.example".into(),
            client_id: "sigstore".into(),
            connector_id: None,
        }
    }

    fn roundtrip<T>(m: &T) -> T
    where
        T: Serialize + for<'de> Deserialize<'de>,
    {
        let frame = encode(m);
        let body = read_frame(&mut &frame[..]).unwrap();
        decode(&body).unwrap()
    }

    #[test]
    fn every_request_and_reply_survives_the_wire() {
        let requests = [
            Request::Hello {},
            Request::Get {
                key: key(),
                identity: Some("dev@example.com".into()),
                wait_ms: 5,
            },
            Request::Sign {
                handle: 7,
                message: Bytes(vec![0, 1, 255]),
            },
            Request::Store {
                handle: 7,
                chain: vec![Bytes(vec![0x30, 0])],
                identity: "dev@example.com".into(),
                issuer: "https://issuer.example".into(),
            },
            Request::List {},
            Request::Clear {},
        ];
        for r in &requests {
            assert_eq!(&roundtrip(r), r);
        }
        let replies = [
            Response::Hello {
                version: 1,
                pid: 42,
            },
            Response::Miss {
                handle: 1,
                public_key: Bytes(vec![4; 91]),
            },
            Response::Error {
                code: ErrorCode::Busy,
                message: "x".into(),
            },
            Response::Entries { entries: vec![] },
        ];
        for r in &replies {
            assert_eq!(&roundtrip(r), r);
        }
    }

    #[test]
    fn the_wire_form_is_plain_json_with_a_version() {
        let frame = encode(&Request::Sign {
            handle: 3,
            message: Bytes(b"hi".to_vec()),
        });
        assert_eq!(&frame[..4], &(frame.len() as u32 - 4).to_be_bytes());
        let json: serde_json::Value = serde_json::from_slice(&frame[4..]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"v": 1, "op": "sign", "handle": 3, "message": "aGk="})
        );
    }

    #[test]
    fn frames_that_are_not_messages_are_told_apart() {
        let cases: [(&[u8], &str); 7] = [
            (b"not json", "malformed"),
            (b"[1,2]", "malformed"),
            (br#"{"op":"hello"}"#, "malformed"),
            (br#"{"v":2,"op":"hello"}"#, "version"),
            (br#"{"v":"1","op":"hello"}"#, "version"),
            (br#"{"v":1,"op":"launch-missiles"}"#, "malformed"),
            (br#"{"v":1,"op":"hello","extra":1}"#, "malformed"),
        ];
        for (body, kind) in cases {
            let e = decode::<Request>(body).unwrap_err();
            match kind {
                "version" => assert!(matches!(e, FrameError::UnsupportedVersion(_)), "{e}"),
                _ => assert!(matches!(e, FrameError::Malformed(_)), "{e}"),
            }
        }
        let bad_b64 = br#"{"v":1,"op":"sign","handle":1,"message":"!!"}"#;
        assert!(matches!(
            decode::<Request>(bad_b64),
            Err(FrameError::Malformed(_))
        ));
    }

    #[test]
    fn oversize_length_prefixes_are_refused_before_reading_the_body() {
        let frame = ((MAX_FRAME + 1) as u32).to_be_bytes();
        assert!(matches!(
            read_frame(&mut &frame[..]),
            Err(FrameError::Oversize(n)) if n == MAX_FRAME + 1
        ));
        assert!(matches!(read_frame(&mut &[][..]), Err(FrameError::Closed)));
        assert!(matches!(
            read_frame(&mut &[0, 0][..]),
            Err(FrameError::Io(_))
        ));
        assert!(matches!(
            read_frame(&mut &[0, 0, 0, 9, b'{'][..]),
            Err(FrameError::Io(_))
        ));
    }

    #[test]
    fn no_message_of_the_protocol_can_hold_a_private_key() {
        // The field names of every message, as serialized: none is a key's secret half.
        for frame in [
            encode(&Request::Get {
                key: key(),
                identity: None,
                wait_ms: 0,
            }),
            encode(&Response::Cached {
                handle: 1,
                public_key: Bytes(vec![]),
                chain: vec![],
                identity: String::new(),
                issuer: String::new(),
                not_after: 0,
            }),
        ] {
            let text = String::from_utf8(frame[4..].to_vec()).unwrap();
            for word in ["private", "secret", "scalar", "pkcs8", "\"d\":"] {
                assert!(!text.contains(word), "{text}");
            }
        }
    }

    #[test]
    fn random_bytes_never_panic_the_decoder() {
        // A deterministic xorshift stream: cheap, reproducible, no extra crate.
        let mut x: u64 = 0x9e3779b97f4a7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let seeds: Vec<Vec<u8>> = [
            &encode(&Request::Hello {})[4..],
            &encode(&Request::Get {
                key: key(),
                identity: Some("a@b".into()),
                wait_ms: 1,
            })[4..],
        ]
        .iter()
        .map(|s| s.to_vec())
        .collect();
        for i in 0..20_000 {
            let mut body = seeds[i % seeds.len()].clone();
            for _ in 0..(next() % 4 + 1) {
                let at = (next() as usize) % body.len();
                body[at] = next() as u8;
            }
            let _ = decode::<Request>(&body);
            let _ = decode::<Response>(&body);
        }
    }
}
