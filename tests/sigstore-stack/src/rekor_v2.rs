//! Rekor v2 (rekor-tiles): hashedrekord 0.0.2 entries in a tile-based log, checkpoints as
//! C2SP signed notes by an Ed25519 key, on its own port.
//!
//! HTTP, as rekor-tiles serves it:
//! - `POST /api/v2/log/entries` with `{"hashedRekordRequestV002": {digest, signature:
//!   {content, verifier: {x509Certificate|publicKey: {rawBytes}, keyDetails}}}}` (P-256,
//!   `PKIX_ECDSA_P256_SHA_256`, the signature checked over the digest): 201 with a
//!   TransparencyLogEntry in protobuf JSON once a checkpoint covers the entry (integrated
//!   time 0, no inclusion promise); 409 with `x-log-index` for an entry already logged; 400
//!   for a bad request.
//! - `GET /api/v2/checkpoint` (text/plain), `GET /api/v2/tile/{L}/{N}[.p/{W}]` and
//!   `GET /api/v2/tile/entries/{N}[.p/{W}]` (application/octet-stream), read from disk.
//!
//! On disk (`DIR/rekor2/`), the C2SP tlog-tiles layout, which is also what is served:
//! `checkpoint`; `tile/{L}/{N}` (256 hashes of Merkle level 8L, 32 bytes each) and the partial
//! tile `tile/{L}/{N}.p/{W}` (its first W hashes); `tile/entries/{N}[.p/{W}]`, entry bundles
//! (each entry a big-endian u16 length, then the canonical body). `N` is written in 3-digit
//! path elements, all but the last prefixed with `x` (1234067 → `x001/x234/067`). The key is
//! `DIR/keys/rekor2.ed25519.p8` (PKCS#8, generated once).
//!
//! Every POST integrates at once (batches of one): the entry bundle, the tiles and the new
//! checkpoint are written (temporary file, fsync, rename, fsync of the directories) before the
//! answer goes out, checkpoint last. On start the entry bundles up to the checkpoint's size are
//! read back and must give its root; anything past it was never acknowledged and is
//! overwritten. A superseded partial tile or bundle is deleted once the next checkpoint is on
//! disk (tlog-tiles allows it; a reader then fetches the newer checkpoint or the full tile).
//!
//! The checkpoint origin, and the name of its signature line, is the host of the service URL
//! (`127.0.0.1`), as verifiers derive it from the trusted root's `baseUrl`; the key hint and the
//! log id are the C2SP Ed25519 key id, SHA-256(name ‖ `\n` ‖ 0x01 ‖ key).
//!
//! Faults: `wrong-key` (and `wrong-chain`) answer with checkpoints signed by a foreign Ed25519
//! key under the log's name and key hint (the log itself is signed as usual); `wrong-entry`
//! logs the entry correctly but answers with a proof for another leaf at its index: a
//! checkpoint, signed by the log key, over the tree with that leaf replaced.

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use gitsign::core::tlog::{leaf_hash, parse_checkpoint, url_host};
use gitsign::core::x509::cert::Certificate;
use gitsign::core::x509::keys::{PublicKey, sha256};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::{Value, json};

use crate::http::{Request, Response};
use crate::keys::write_private;
use crate::rekor::Tree;
use crate::{Fault, StackError};

/// Hashes per full tile, entries per full bundle.
pub const TILE_WIDTH: u64 = 256;
/// Merkle levels per tile level.
const TILE_HEIGHT: u32 = 8;
/// RFC 8410 SubjectPublicKeyInfo of an Ed25519 key: this prefix, then the 32-byte key.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
const KEY_DETAILS: &str = "PKIX_ECDSA_P256_SHA_256";

// ---------------------------------------------------------------------------------------
// tlog-tiles paths

/// `N` as tlog-tiles path elements: 3 digits each, all but the last prefixed with `x`.
pub fn encode_index(n: u64) -> String {
    let mut groups = Vec::new();
    let mut rest = n;
    loop {
        groups.push(rest % 1000);
        rest /= 1000;
        if rest == 0 {
            break;
        }
    }
    let last = groups.len() - 1;
    groups
        .iter()
        .rev()
        .enumerate()
        .map(|(i, g)| {
            if i < last {
                format!("x{g:03}/")
            } else {
                format!("{g:03}")
            }
        })
        .collect()
}

fn with_width(n: u64, width: u64) -> String {
    if width == TILE_WIDTH {
        encode_index(n)
    } else {
        format!("{}.p/{width}", encode_index(n))
    }
}

/// `tile/{L}/{N}`, or `tile/{L}/{N}.p/{W}` for a partial tile of `width` < 256 hashes.
pub fn tile_path(level: u32, n: u64, width: u64) -> String {
    format!("tile/{level}/{}", with_width(n, width))
}

/// `tile/entries/{N}`, or `tile/entries/{N}.p/{W}` for a partial bundle.
pub fn bundle_path(n: u64, width: u64) -> String {
    format!("tile/entries/{}", with_width(n, width))
}

/// What a tlog-tiles path names. `width` 256 is a full tile or bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Tile { level: u32, index: u64, width: u64 },
    Entries { index: u64, width: u64 },
}

/// Canonical decimal: digits only, no leading zero.
fn decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

fn decode_index(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split('/').collect();
    let mut n: u64 = 0;
    for (i, p) in parts.iter().enumerate() {
        let digits = if i + 1 < parts.len() {
            p.strip_prefix('x')?
        } else {
            p
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        n = n.checked_mul(1000)?.checked_add(digits.parse().ok()?)?;
    }
    // Only the canonical spelling ("x000/001" is not 1).
    (encode_index(n) == s).then_some(n)
}

/// Parses `tile/{L}/{N}[.p/{W}]` or `tile/entries/{N}[.p/{W}]`; `None` for anything else,
/// so only paths this module writes map to files.
pub fn parse_resource(path: &str) -> Option<Resource> {
    let rest = path.strip_prefix("tile/")?;
    let (level, rest) = match rest.strip_prefix("entries/") {
        Some(r) => (None, r),
        None => {
            let (l, r) = rest.split_once('/')?;
            (Some(decimal(l).filter(|&l| l <= 63)? as u32), r)
        }
    };
    let (n, width) = match rest.split_once(".p/") {
        Some((n, w)) => (n, decimal(w).filter(|w| (1..TILE_WIDTH).contains(w))?),
        None => (rest, TILE_WIDTH),
    };
    let index = decode_index(n)?;
    Some(match level {
        Some(level) => Resource::Tile {
            level,
            index,
            width,
        },
        None => Resource::Entries { index, width },
    })
}

/// An entry bundle: each entry as a big-endian u16 length and its bytes.
pub fn encode_bundle(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.iter().map(|e| e.len() + 2).sum());
    for e in entries {
        out.extend_from_slice(&(e.len() as u16).to_be_bytes());
        out.extend_from_slice(e);
    }
    out
}

pub fn decode_bundle(mut bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (len, rest) = bytes.split_first_chunk::<2>()?;
        let len = u16::from_be_bytes(*len) as usize;
        if rest.len() < len {
            return None;
        }
        out.push(rest[..len].to_vec());
        bytes = &rest[len..];
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------
// The Ed25519 note key

/// An Ed25519 key signing C2SP notes. Never printed.
pub struct NoteKey {
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for NoteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NoteKey(Ed25519)")
    }
}

impl NoteKey {
    /// A key that lives in memory only (the wrong-key fault's).
    pub fn ephemeral() -> Result<NoteKey, StackError> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| StackError::Crypto("Ed25519 key generation failed"))?;
        NoteKey::from_pkcs8(pkcs8.as_ref())
    }

    /// Loads the PKCS#8 key at `path`, or generates one there (mode 0600).
    pub fn load_or_generate(path: &Path) -> Result<NoteKey, StackError> {
        match fs::read(path) {
            Ok(pkcs8) => NoteKey::from_pkcs8(&pkcs8).map_err(|_| StackError::State {
                path: path.to_path_buf(),
                what: "not a PKCS#8 Ed25519 key",
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                    .map_err(|_| StackError::Crypto("Ed25519 key generation failed"))?;
                write_private(path, pkcs8.as_ref())?;
                NoteKey::from_pkcs8(pkcs8.as_ref())
            }
            Err(source) => Err(StackError::Io {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    fn from_pkcs8(pkcs8: &[u8]) -> Result<NoteKey, StackError> {
        Ed25519KeyPair::from_pkcs8(pkcs8)
            .map(|pair| NoteKey { pair })
            .map_err(|_| StackError::Crypto("unreadable PKCS#8 Ed25519 key"))
    }

    pub fn public_key(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// The DER SubjectPublicKeyInfo (RFC 8410).
    pub fn spki_der(&self) -> Vec<u8> {
        [&ED25519_SPKI_PREFIX[..], self.public_key()].concat()
    }

    /// The C2SP key id under `name`: SHA-256(name ‖ `\n` ‖ 0x01 ‖ key); also the log id.
    pub fn key_id(&self, name: &str) -> [u8; 32] {
        sha256(&[name.as_bytes(), b"\n\x01", self.public_key()].concat())
    }

    pub fn key_hint(&self, name: &str) -> [u8; 4] {
        let id = self.key_id(name);
        [id[0], id[1], id[2], id[3]]
    }
}

/// The text a checkpoint signs: origin, size, base64 root, each on its own line.
pub fn checkpoint_text(origin: &str, size: u64, root: &[u8; 32]) -> String {
    format!("{origin}\n{size}\n{}\n", B64.encode(root))
}

/// `text`, a blank line, and one signature line `— name base64(hint ‖ signature)` by `key`.
pub fn sign_note(text: &str, name: &str, hint: [u8; 4], key: &NoteKey) -> String {
    let mut blob = hint.to_vec();
    blob.extend_from_slice(key.pair.sign(text.as_bytes()).as_ref());
    format!("{text}\n\u{2014} {name} {}\n", B64.encode(blob))
}

// ---------------------------------------------------------------------------------------
// The log

pub struct Log {
    dir: PathBuf,
    origin: String,
    tree: Tree,
    bodies: Vec<Vec<u8>>,
    by_leaf: HashMap<[u8; 32], u64>,
    /// The signed checkpoint on disk, and the text it signs.
    note: String,
    note_text: String,
    /// fsync (off only in tests that append thousands of entries).
    durable: bool,
    /// A write failed half-way: memory and disk may differ, so nothing more is appended.
    broken: bool,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StackError + '_ {
    move |source| StackError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Log {
    /// Opens (or creates) the log in `dir`, checking the entry bundles against the
    /// checkpoint, and writes a fresh checkpoint by `key` under `origin`.
    pub fn open(dir: &Path, origin: &str, key: &NoteKey) -> Result<Log, StackError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let cp_path = dir.join("checkpoint");
        let state = |path: &Path, what| StackError::State {
            path: path.to_path_buf(),
            what,
        };
        let (size, root) = match fs::read_to_string(&cp_path) {
            Ok(text) => {
                let (cp, _) = parse_checkpoint(&text)
                    .map_err(|_| state(&cp_path, "not a signed checkpoint"))?;
                (cp.tree_size, cp.root_hash)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (0, sha256(b"").to_vec()),
            Err(e) => return Err(io_err(&cp_path)(e)),
        };
        let mut log = Log {
            dir: dir.to_path_buf(),
            origin: origin.to_string(),
            tree: Tree::default(),
            bodies: Vec::new(),
            by_leaf: HashMap::new(),
            note: String::new(),
            note_text: String::new(),
            durable: true,
            broken: false,
        };
        for n in 0..size.div_ceil(TILE_WIDTH) {
            let width = (size - n * TILE_WIDTH).min(TILE_WIDTH);
            let path = dir.join(bundle_path(n, width));
            // The partial bundle, or the full one if the log grew past it before a crash.
            let bytes = match fs::read(&path) {
                Ok(b) => b,
                Err(e) if width < TILE_WIDTH && e.kind() == std::io::ErrorKind::NotFound => {
                    fs::read(dir.join(bundle_path(n, TILE_WIDTH))).map_err(io_err(&path))?
                }
                Err(e) => return Err(io_err(&path)(e)),
            };
            let entries =
                decode_bundle(&bytes).ok_or_else(|| state(&path, "not an entry bundle"))?;
            if (entries.len() as u64) < width {
                return Err(state(
                    &path,
                    "entry bundle shorter than the checkpoint says",
                ));
            }
            for body in entries.into_iter().take(width as usize) {
                log.push(body);
            }
        }
        if log.root().as_slice() != root.as_slice() {
            return Err(state(
                &cp_path,
                "the entry bundles do not give the checkpoint's root",
            ));
        }
        let mut dirs = BTreeSet::new();
        log.write_checkpoint(key, &mut dirs)?;
        if let Some(parent) = dir.parent() {
            dirs.insert(parent.to_path_buf());
        }
        log.sync_dirs(&dirs)?;
        Ok(log)
    }

    fn push(&mut self, body: Vec<u8>) -> u64 {
        let leaf = leaf_hash(&body);
        let index = self.size();
        self.tree.push(leaf);
        self.by_leaf.entry(leaf).or_insert(index);
        self.bodies.push(body);
        index
    }

    pub fn size(&self) -> u64 {
        self.bodies.len() as u64
    }

    pub fn root(&self) -> [u8; 32] {
        self.tree.root(self.bodies.len())
    }

    pub fn body(&self, index: u64) -> &[u8] {
        &self.bodies[index as usize]
    }

    /// The signed checkpoint on disk.
    pub fn checkpoint(&self) -> &str {
        &self.note
    }

    pub fn checkpoint_text(&self) -> &str {
        &self.note_text
    }

    /// The index of an entry with this canonical body.
    pub fn find(&self, body: &[u8]) -> Option<u64> {
        self.by_leaf.get(&leaf_hash(body)).copied()
    }

    /// The audit path of entry `index` in the current tree, from the leaf up.
    pub fn audit_path(&self, index: u64) -> Vec<[u8; 32]> {
        self.tree.audit_path(index as usize, self.bodies.len())
    }

    /// The root of the current tree with leaf `index` replaced by `leaf`.
    pub fn root_with_leaf(&self, index: u64, leaf: [u8; 32]) -> [u8; 32] {
        let mut tree = Tree::default();
        for (i, l) in self.tree.leaves().iter().enumerate() {
            tree.push(if i as u64 == index { leaf } else { *l });
        }
        tree.root(tree.len())
    }

    /// Appends an entry, writes its bundle, the tiles it changes and a new checkpoint, all
    /// durable before returning its index.
    pub fn append(&mut self, body: Vec<u8>, key: &NoteKey) -> Result<u64, StackError> {
        if self.broken {
            return Err(StackError::State {
                path: self.dir.clone(),
                what: "an earlier write failed; restart the stack",
            });
        }
        if body.len() > usize::from(u16::MAX) {
            return Err(StackError::State {
                path: self.dir.clone(),
                what: "an entry longer than 65535 bytes does not fit an entry bundle",
            });
        }
        let index = self.push(body);
        let result = self.integrate(index, key);
        if result.is_err() {
            self.broken = true;
        }
        result.map(|()| index)
    }

    fn integrate(&mut self, index: u64, key: &NoteKey) -> Result<(), StackError> {
        let size = index + 1;
        let mut dirs = BTreeSet::new();
        let mut stale = Vec::new();
        let superseded = |full: &dyn Fn(u64) -> String, n: u64, width: u64| {
            if width == TILE_WIDTH {
                // The .p directory of every partial version of this tile.
                Some(format!("{}.p", full(n)))
            } else if width > 1 {
                Some(format!("{}.p/{}", full(n), width - 1))
            } else {
                None
            }
        };

        let n = index / TILE_WIDTH;
        let width = size - n * TILE_WIDTH;
        let bundle = encode_bundle(&self.bodies[(n * TILE_WIDTH) as usize..size as usize]);
        self.put(&bundle_path(n, width), &bundle, &mut dirs)?;
        stale.extend(superseded(&|n| bundle_path(n, TILE_WIDTH), n, width));

        for level in 0u32.. {
            let shift = level * TILE_HEIGHT;
            // Level L changes when the size is a multiple of 256^L; higher ones only then too.
            if shift >= 64 || size >> shift == 0 || size & ((1u64 << shift) - 1) != 0 {
                break;
            }
            let count = size >> shift;
            let n = (count - 1) / TILE_WIDTH;
            let width = count - n * TILE_WIDTH;
            let hashes: Vec<u8> =
                self.tree.level(shift as usize)[(n * TILE_WIDTH) as usize..count as usize].concat();
            self.put(&tile_path(level, n, width), &hashes, &mut dirs)?;
            stale.extend(superseded(&|n| tile_path(level, n, TILE_WIDTH), n, width));
        }

        self.write_checkpoint(key, &mut dirs)?;
        self.sync_dirs(&dirs)?;
        for s in stale {
            let p = self.dir.join(s);
            let _ = if p.is_dir() {
                fs::remove_dir_all(&p)
            } else {
                fs::remove_file(&p)
            };
        }
        Ok(())
    }

    fn write_checkpoint(
        &mut self,
        key: &NoteKey,
        dirs: &mut BTreeSet<PathBuf>,
    ) -> Result<(), StackError> {
        let text = checkpoint_text(&self.origin, self.size(), &self.root());
        let note = sign_note(&text, &self.origin, key.key_hint(&self.origin), key);
        self.put("checkpoint", note.as_bytes(), dirs)?;
        self.note = note;
        self.note_text = text;
        Ok(())
    }

    /// Writes `rel` under the log directory: a temporary file, fsynced, renamed over it. The
    /// directories from its parent up to the log's are noted for [`Log::sync_dirs`].
    fn put(&self, rel: &str, bytes: &[u8], dirs: &mut BTreeSet<PathBuf>) -> Result<(), StackError> {
        let path = self.dir.join(rel);
        let parent = path.parent().unwrap_or(&self.dir).to_path_buf();
        fs::create_dir_all(&parent).map_err(io_err(&parent))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = parent.join(format!("{name}.tmp"));
        let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(bytes).map_err(io_err(&tmp))?;
        if self.durable {
            f.sync_all().map_err(io_err(&tmp))?;
        }
        fs::rename(&tmp, &path).map_err(io_err(&path))?;
        let mut d = parent.as_path();
        while d.starts_with(&self.dir) {
            dirs.insert(d.to_path_buf());
            match d.parent() {
                Some(p) => d = p,
                None => break,
            }
        }
        Ok(())
    }

    fn sync_dirs(&self, dirs: &BTreeSet<PathBuf>) -> Result<(), StackError> {
        if !self.durable {
            return Ok(());
        }
        for d in dirs {
            File::open(d)
                .and_then(|f| f.sync_all())
                .map_err(io_err(d))?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// The service

/// The Rekor v2 service: its URL, key and log.
pub struct Rekor2 {
    pub url: String,
    /// The checkpoint origin and signer name: the URL's host.
    pub origin: String,
    pub key: NoteKey,
    foreign_key: NoteKey,
    dir: PathBuf,
    log: Mutex<Log>,
}

impl Rekor2 {
    /// The service at `url` with its key in `DIR/keys/` and its log in `DIR/rekor2/`.
    pub fn open(dir: &Path, url: String) -> Result<Rekor2, StackError> {
        let origin = url_host(&url)
            .ok_or(StackError::State {
                path: dir.to_path_buf(),
                what: "the Rekor v2 URL has no host",
            })?
            .to_string();
        let key = NoteKey::load_or_generate(&dir.join("keys").join("rekor2.ed25519.p8"))?;
        let log_dir = dir.join("rekor2");
        let log = Log::open(&log_dir, &origin, &key)?;
        Ok(Rekor2 {
            url,
            origin,
            key,
            foreign_key: NoteKey::ephemeral()?,
            dir: log_dir,
            log: Mutex::new(log),
        })
    }

    /// The log id: the C2SP key id of the log key under the origin.
    pub fn log_id(&self) -> [u8; 32] {
        self.key.key_id(&self.origin)
    }

    pub fn size(&self) -> u64 {
        self.lock().size()
    }

    fn lock(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The log as a trusted root's `tlogs` lists it; `start` is its `validFor.start`.
    pub fn trusted_root_log(&self, start: &str) -> Value {
        json!({
            "baseUrl": self.url,
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": B64.encode(self.key.spki_der()),
                "keyDetails": "PKIX_ED25519",
                "validFor": {"start": start},
            },
            "logId": {"keyId": B64.encode(self.log_id())},
        })
    }

    /// `text` signed by the foreign key under the log's name and key hint.
    fn forged(&self, text: &str) -> String {
        sign_note(
            text,
            &self.origin,
            self.key.key_hint(&self.origin),
            &self.foreign_key,
        )
    }

    /// The TransparencyLogEntry (protobuf JSON) of entry `index`, proved against the current
    /// checkpoint (or, under faults, a forged or lying one).
    fn entry_json(&self, log: &Log, index: u64, fault: Fault) -> Result<Value, StackError> {
        let size = log.size();
        let body = log.body(index);
        let (root, note) = match fault {
            Fault::WrongKey | Fault::WrongChain => (log.root(), self.forged(log.checkpoint_text())),
            Fault::WrongEntry => {
                let decoy = decoy(body).ok_or(StackError::Crypto("a logged body did not parse"))?;
                let root = log.root_with_leaf(index, leaf_hash(&decoy));
                let text = checkpoint_text(&self.origin, size, &root);
                let note = sign_note(
                    &text,
                    &self.origin,
                    self.key.key_hint(&self.origin),
                    &self.key,
                );
                (root, note)
            }
            _ => (log.root(), log.checkpoint().to_string()),
        };
        let hashes: Vec<String> = log
            .audit_path(index)
            .iter()
            .map(|h| B64.encode(h))
            .collect();
        Ok(json!({
            "logIndex": index.to_string(),
            "logId": {"keyId": B64.encode(self.log_id())},
            "kindVersion": {"kind": "hashedrekord", "version": "0.0.2"},
            "integratedTime": "0",
            "inclusionProof": {
                "logIndex": index.to_string(),
                "rootHash": B64.encode(root),
                "treeSize": size.to_string(),
                "hashes": hashes,
                "checkpoint": {"envelope": note},
            },
            "canonicalizedBody": B64.encode(body),
        }))
    }

    fn create_entry(&self, req: &Request, fault: Fault) -> Result<Response, StackError> {
        let body = match req.json().and_then(|v| canonical_body(&v)) {
            Ok(b) => b,
            Err(e) => return Ok(Response::error(400, &e)),
        };
        let mut log = self.lock();
        if let Some(index) = log.find(&body) {
            return Ok(Response::error(
                409,
                &format!(
                    "an equivalent entry already exists in the transparency log with index {index}"
                ),
            )
            .with_header("x-log-index", &index.to_string()));
        }
        let index = log.append(body, &self.key)?;
        Ok(Response::json(201, &self.entry_json(&log, index, fault)?))
    }

    fn checkpoint(&self, fault: Fault) -> Response {
        let log = self.lock();
        let note = match fault {
            Fault::WrongKey | Fault::WrongChain => self.forged(log.checkpoint_text()),
            _ => log.checkpoint().to_string(),
        };
        Response::new(200, "text/plain; charset=utf-8", note)
    }

    fn tile(&self, rel: &str) -> Response {
        if parse_resource(rel).is_none() {
            return Response::error(404, &format!("no such tile {rel}"));
        }
        match fs::read(self.dir.join(rel)) {
            Ok(bytes) => Response::new(200, "application/octet-stream", bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Response::error(404, &format!("no such tile {rel}"))
            }
            Err(e) => Response::error(500, &format!("{rel}: {e}")),
        }
    }
}

pub fn handle(v2: &Rekor2, req: &Request, fault: Fault) -> Response {
    match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/api/v2/log/entries") => v2
            .create_entry(req, fault)
            .unwrap_or_else(|e| Response::error(500, &e.to_string())),
        ("GET", "/api/v2/checkpoint") => v2.checkpoint(fault),
        ("GET", path) if path.starts_with("/api/v2/tile/") => v2.tile(&path["/api/v2/".len()..]),
        (_, path) => Response::error(404, &format!("no such endpoint {path}")),
    }
}

fn b64_field(v: &Value, what: &str) -> Result<Vec<u8>, String> {
    v.as_str()
        .and_then(|s| B64.decode(s).ok())
        .ok_or_else(|| format!("{what} must be base64"))
}

/// Checks a `{"hashedRekordRequestV002": …}` request, the signature over the digest
/// included, and returns the canonical (RFC 8785) hashedrekord 0.0.2 body.
pub fn canonical_body(v: &Value) -> Result<Vec<u8>, String> {
    let request = match v.as_object() {
        Some(o) if o.len() == 1 && o.contains_key("hashedRekordRequestV002") => {
            &o["hashedRekordRequestV002"]
        }
        _ => return Err("invalid type, must be hashedrekord (hashedRekordRequestV002)".into()),
    };
    let digest = b64_field(&request["digest"], "digest")?;
    if digest.len() != 32 {
        return Err(format!(
            "digest length ({}) does not match expected size (32) for SHA2_256",
            digest.len()
        ));
    }
    let signature = b64_field(&request["signature"]["content"], "signature.content")?;
    if signature.is_empty() {
        return Err("missing signature".into());
    }
    let verifier = &request["signature"]["verifier"];
    let (logged_verifier, key) = match (verifier.get("x509Certificate"), verifier.get("publicKey"))
    {
        (Some(c), None) => {
            let der = b64_field(&c["rawBytes"], "verifier.x509Certificate.rawBytes")?;
            let cert = Certificate::from_der(&der)
                .map_err(|e| format!("the certificate does not parse: {e}"))?;
            let key = cert
                .public_key()
                .map_err(|e| format!("the certificate's key: {e}"))?;
            (
                json!({"x509Certificate": {"rawBytes": B64.encode(&der)}}),
                key,
            )
        }
        (None, Some(k)) => {
            let der = b64_field(&k["rawBytes"], "verifier.publicKey.rawBytes")?;
            let key = PublicKey::from_spki_der(&der).map_err(|e| format!("public key: {e}"))?;
            (json!({"publicKey": {"rawBytes": B64.encode(&der)}}), key)
        }
        _ => return Err("the verifier needs exactly one of x509Certificate and publicKey".into()),
    };
    if verifier["keyDetails"] != KEY_DETAILS || !matches!(key, PublicKey::P256(_)) {
        return Err(format!(
            "only keyDetails {KEY_DETAILS} with a P-256 key is supported"
        ));
    }
    key.verify_prehash(&digest, &signature)
        .map_err(|_| "the signature does not verify over the digest with the given key")?;
    let mut logged_verifier = logged_verifier;
    logged_verifier["keyDetails"] = KEY_DETAILS.into();
    Ok(hashedrekord_v2_body(&digest, &signature, logged_verifier))
}

/// JCS of a hashedrekord 0.0.2 body (serde_json's maps are sorted, and base64 and key details
/// need no escaping, so its compact output is the canonical form).
fn hashedrekord_v2_body(digest: &[u8], signature: &[u8], verifier: Value) -> Vec<u8> {
    let body = json!({
        "apiVersion": "0.0.2",
        "kind": "hashedrekord",
        "spec": {"hashedRekordV002": {
            "data": {"algorithm": "SHA2_256", "digest": B64.encode(digest)},
            "signature": {"content": B64.encode(signature), "verifier": verifier},
        }},
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// The wrong-entry fault's other leaf: the same entry with the first digest byte changed.
fn decoy(body: &[u8]) -> Option<Vec<u8>> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let spec = &v["spec"]["hashedRekordV002"];
    let mut digest = B64.decode(spec["data"]["digest"].as_str()?).ok()?;
    *digest.first_mut()? ^= 0xff;
    let signature = B64.decode(spec["signature"]["content"].as_str()?).ok()?;
    Some(hashedrekord_v2_body(
        &digest,
        &signature,
        spec["signature"]["verifier"].clone(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gitsign::core::tlog::{LogKey, node_hash, parse_body, verify_inclusion, verify_note};

    #[test]
    fn indexes_are_written_in_three_digit_elements_with_x_prefixes() {
        for (n, s) in [
            (0, "000"),
            (7, "007"),
            (999, "999"),
            (1000, "x001/000"),
            (123456, "x123/456"),
            (1234067, "x001/x234/067"),
            (1_000_000_000, "x001/x000/x000/000"),
        ] {
            assert_eq!(encode_index(n), s);
            assert_eq!(decode_index(s), Some(n), "{s}");
        }
        assert_eq!(tile_path(0, 1234067, 256), "tile/0/x001/x234/067");
        assert_eq!(tile_path(2, 3, 17), "tile/2/003.p/17");
        assert_eq!(bundle_path(1000, 256), "tile/entries/x001/000");
        assert_eq!(bundle_path(0, 1), "tile/entries/000.p/1");
        for bad in [
            "x000/001", "001/002", "1", "0001", "x001", "x01/000", "abc", "",
        ] {
            assert_eq!(decode_index(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_canonical_tile_paths_parse() {
        assert_eq!(
            parse_resource("tile/1/x123/456"),
            Some(Resource::Tile {
                level: 1,
                index: 123456,
                width: 256
            })
        );
        assert_eq!(
            parse_resource("tile/0/002.p/3"),
            Some(Resource::Tile {
                level: 0,
                index: 2,
                width: 3
            })
        );
        assert_eq!(
            parse_resource("tile/entries/x001/x234/067.p/255"),
            Some(Resource::Entries {
                index: 1234067,
                width: 255
            })
        );
        for bad in [
            "tile/00/000",
            "tile/64/000",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/07",
            "tile/0/000.tmp",
            "tile/0/../checkpoint",
            "tile/entries/000.p/",
            "tile/entries",
            "checkpoint",
            "tile/0/000/",
        ] {
            assert_eq!(parse_resource(bad), None, "{bad}");
        }
    }

    #[test]
    fn entry_bundles_round_trip() {
        let entries = vec![b"a".to_vec(), Vec::new(), vec![7u8; 300]];
        let bytes = encode_bundle(&entries);
        assert_eq!(&bytes[..3], &[0, 1, b'a']);
        assert_eq!(&bytes[3..5], &[0, 0]);
        assert_eq!(&bytes[5..7], &[1, 44]);
        assert_eq!(decode_bundle(&bytes), Some(entries));
        assert_eq!(decode_bundle(&bytes[..bytes.len() - 1]), None);
        assert_eq!(decode_bundle(&[0]), None);
    }

    fn body(i: u64) -> Vec<u8> {
        format!("{{\"entry\":{i}}}").into_bytes()
    }

    /// The root of the tree of `size` leaves from the tiles on disk alone: the full tiles and
    /// the partial ones the checkpoint implies (RFC 6962 over the level-0 tiles' hashes).
    fn root_from_tiles(dir: &Path, size: u64) -> [u8; 32] {
        let mut leaves = Vec::new();
        for n in 0..size.div_ceil(TILE_WIDTH) {
            let width = (size - n * TILE_WIDTH).min(TILE_WIDTH);
            let tile = fs::read(dir.join(tile_path(0, n, width))).unwrap();
            assert_eq!(tile.len() as u64, width * 32);
            leaves.extend(tile.chunks(32).map(|c| <[u8; 32]>::try_from(c).unwrap()));
        }
        fn mth(l: &[[u8; 32]]) -> [u8; 32] {
            match l.len() {
                0 => sha256(b""),
                1 => l[0],
                n => {
                    let k = 1 << (usize::BITS - (n - 1).leading_zeros() - 1);
                    node_hash(&mth(&l[..k]), &mth(&l[k..]))
                }
            }
        }
        mth(&leaves)
    }

    #[test]
    fn full_and_partial_tiles_and_bundles_are_written_and_superseded_ones_removed() {
        let dir = tempfile::tempdir().unwrap();
        let key = NoteKey::ephemeral().unwrap();
        let mut log = Log::open(dir.path(), "log.test", &key).unwrap();
        log.durable = false;
        let size = 2 * TILE_WIDTH + 3;
        for i in 0..size {
            assert_eq!(log.append(body(i), &key).unwrap(), i);
        }
        let d = dir.path();
        for (path, len) in [
            ("tile/0/000", 256 * 32),
            ("tile/0/001", 256 * 32),
            ("tile/0/002.p/3", 3 * 32),
            ("tile/1/000.p/2", 2 * 32),
        ] {
            assert_eq!(fs::read(d.join(path)).unwrap().len(), len, "{path}");
        }
        // Level 1 holds the roots of the full level-0 tiles.
        let t1 = fs::read(d.join("tile/1/000.p/2")).unwrap();
        assert_eq!(&t1[..32], &log.tree.root(256));
        let full = decode_bundle(&fs::read(d.join("tile/entries/001")).unwrap()).unwrap();
        assert_eq!(full.len(), 256);
        assert_eq!(full[0], body(256));
        let part = decode_bundle(&fs::read(d.join("tile/entries/002.p/3")).unwrap()).unwrap();
        assert_eq!(part, vec![body(512), body(513), body(514)]);
        for gone in [
            "tile/0/000.p",
            "tile/0/002.p/2",
            "tile/1/000.p/1",
            "tile/entries/001.p",
            "tile/entries/002.p/2",
        ] {
            assert!(!d.join(gone).exists(), "{gone}");
        }
        assert_eq!(root_from_tiles(d, size), log.root());
    }

    #[test]
    fn a_reloaded_log_has_the_same_root_and_a_torn_append_is_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let key = NoteKey::ephemeral().unwrap();
        let mut log = Log::open(dir.path(), "log.test", &key).unwrap();
        for i in 0..5 {
            log.append(body(i), &key).unwrap();
        }
        let (root, note) = (log.root(), log.checkpoint().to_string());
        drop(log);
        let log = Log::open(dir.path(), "log.test", &key).unwrap();
        assert_eq!((log.size(), log.root()), (5, root));
        assert_eq!(
            log.checkpoint(),
            note,
            "Ed25519 signatures are deterministic"
        );
        assert_eq!(log.find(&body(3)), Some(3));
        drop(log);

        // A crash after the bundle and tiles of entry 5, before its checkpoint.
        fs::write(
            dir.path().join(bundle_path(0, 6)),
            encode_bundle(&(0..6).map(body).collect::<Vec<_>>()),
        )
        .unwrap();
        let mut log = Log::open(dir.path(), "log.test", &key).unwrap();
        assert_eq!((log.size(), log.root()), (5, root));
        assert_eq!(log.find(&body(5)), None);
        assert_eq!(log.append(b"other".to_vec(), &key).unwrap(), 5);
        drop(log);
        let log = Log::open(dir.path(), "log.test", &key).unwrap();
        assert_eq!(log.body(5), b"other");

        // An entry bundle that does not give the checkpoint's root is refused.
        drop(log);
        fs::write(
            dir.path().join(bundle_path(0, 6)),
            encode_bundle(&(0..6).map(body).collect::<Vec<_>>()),
        )
        .unwrap();
        assert!(matches!(
            Log::open(dir.path(), "log.test", &key),
            Err(StackError::State { .. })
        ));
    }

    #[test]
    fn checkpoints_verify_with_gitsigns_note_verifier_and_proofs_with_its_inclusion_check() {
        let dir = tempfile::tempdir().unwrap();
        let key = NoteKey::ephemeral().unwrap();
        let mut log = Log::open(dir.path(), "127.0.0.1", &key).unwrap();
        for i in 0..7 {
            log.append(body(i), &key).unwrap();
        }
        let der = key.spki_der();
        let pk = PublicKey::from_spki_der(&der).unwrap();
        let id = key.key_id("127.0.0.1");
        assert_eq!(gitsign::core::tlog::note_key_id("127.0.0.1", &pk, &der), id);
        let lk = LogKey {
            log_id: &id,
            key: &pk,
            key_der: &der,
            valid_from: Some(0),
            valid_until: None,
            base_url: "http://127.0.0.1:1234",
        };
        let cp = verify_note(log.checkpoint(), &lk).unwrap();
        assert_eq!(cp.tree_size, 7);
        assert_eq!(cp.root_hash, log.root());
        for i in 0..7 {
            let path: Vec<Vec<u8>> = log.audit_path(i).iter().map(|h| h.to_vec()).collect();
            verify_inclusion(i, 7, &leaf_hash(&body(i)), &path, &cp.root_hash).unwrap();
        }
        let foreign = NoteKey::ephemeral().unwrap();
        let forged = sign_note(
            log.checkpoint_text(),
            "127.0.0.1",
            key.key_hint("127.0.0.1"),
            &foreign,
        );
        assert!(verify_note(&forged, &lk).is_err());
    }

    #[test]
    fn keys_are_generated_once_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.p8");
        let a = NoteKey::load_or_generate(&path).unwrap();
        let b = NoteKey::load_or_generate(&path).unwrap();
        assert_eq!(a.public_key(), b.public_key());
        assert_eq!(a.spki_der().len(), 44);
        assert!(PublicKey::from_spki_der(&a.spki_der()).is_ok());
    }

    fn request(key: &crate::keys::SigningKey, payload: &[u8]) -> Value {
        json!({"hashedRekordRequestV002": {
            "digest": B64.encode(sha256(payload)),
            "signature": {
                "content": B64.encode(key.sign_der(payload).unwrap()),
                "verifier": {"publicKey": {"rawBytes": B64.encode(key.spki_der())},
                             "keyDetails": KEY_DETAILS},
            },
        }})
    }

    #[test]
    fn requests_are_checked_and_bodies_are_what_gitsign_parses() {
        let key = crate::keys::SigningKey::ephemeral(crate::keys::Curve::P256).unwrap();
        let req = request(&key, b"payload");
        let body = canonical_body(&req).unwrap();
        let content = parse_body("hashedrekord", "0.0.2", &body).unwrap();
        match content {
            gitsign::core::tlog::LoggedContent::Digest { sha256: d, .. } => {
                assert_eq!(d, sha256(b"payload"))
            }
            other => panic!("{other:?}"),
        }
        let decoy = decoy(&body).unwrap();
        assert!(parse_body("hashedrekord", "0.0.2", &decoy).is_ok());
        assert_ne!(decoy, body);

        let edit = |f: &dyn Fn(&mut Value)| {
            let mut r = req.clone();
            f(&mut r["hashedRekordRequestV002"]);
            canonical_body(&r)
        };
        assert!(edit(&|r| r["digest"] = B64.encode([0u8; 31]).into()).is_err());
        assert!(edit(&|r| r["digest"] = B64.encode(sha256(b"other")).into()).is_err());
        assert!(
            edit(&|r| r["signature"]["verifier"]["keyDetails"] = "PKIX_ED25519".into()).is_err()
        );
        assert!(edit(&|r| r["signature"]["content"] = "".into()).is_err());
        assert!(
            edit(&|r| r["signature"]["verifier"]["x509Certificate"] = json!({"rawBytes": "AA=="}))
                .is_err()
        );
        assert!(canonical_body(&json!({"foo": "bar"})).is_err());
        let mut extra = req.clone();
        extra["foo"] = 1.into();
        assert!(canonical_body(&extra).is_err());
    }
}
