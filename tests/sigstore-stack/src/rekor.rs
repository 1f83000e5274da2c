//! Rekor v1: hashedrekord 0.0.1 entries in an RFC 6962 Merkle tree.
//!
//! On disk (`DIR/rekor/`): `entries.jsonl`, one line per entry in log order (canonical body,
//! integrated time, SET), appended and fsynced before the 201 goes out; `tree_id`. The tree
//! is the entries' leaf hashes, rebuilt on start, so a restart loses nothing and roots stay
//! consistent. Checkpoints are signed per answer over the current tree head.
//!
//! The tree keeps the hash of every complete subtree ([`Tree`]), so a root or an audit path
//! costs O(log² n) hashes whatever the log's size (a generated history puts 100,000 entries
//! in it: recomputing over all leaves per answer would be O(n²) to generate).

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use gitsign::core::asn1::pem;
use gitsign::core::tlog::{hashedrekord_body, leaf_hash, node_hash, set_payload};
use gitsign::core::x509::cert::Certificate;
use gitsign::core::x509::keys::{PublicKey, sha256};
use serde_json::{Value, json};

use crate::http::{Request, Response};
use crate::keys::{SigningKey, random_bytes};
use crate::{Fault, Stack, StackError, now};

/// The checkpoint origin's host part, and the name its signature line carries.
pub const SIGNER_NAME: &str = "sigstore-stack.test";

struct Stored {
    uuid: String,
    body: Vec<u8>,
    integrated_time: i64,
    set: Vec<u8>,
    /// Search index fields: the hashed data (hex) and the key or certificate DER.
    data_hash: String,
    key_der: Vec<u8>,
    email: Option<String>,
}

pub struct Log {
    entries: Vec<Stored>,
    by_uuid: HashMap<String, usize>,
    tree: Tree,
    file: File,
    path: PathBuf,
    pub tree_id: u64,
}

/// The parts of a canonical hashedrekord body the index needs.
struct Parsed {
    data_hash: String,
    key_der: Vec<u8>,
    email: Option<String>,
}

fn parse_body(body: &[u8]) -> Option<Parsed> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let spec = &v["spec"];
    let pem_text = B64
        .decode(spec["signature"]["publicKey"]["content"].as_str()?)
        .ok()?;
    let (key_der, email) = match pem::decode_one(&pem_text, "CERTIFICATE") {
        Ok(der) => {
            let email = Certificate::from_der(&der)
                .ok()
                .and_then(|c| c.identity().ok())
                .and_then(|id| match id.san {
                    gitsign::core::x509::cert::San::Email(e) => Some(e),
                    _ => None,
                });
            (der, email)
        }
        Err(_) => (pem::decode_one(&pem_text, "PUBLIC KEY").ok()?, None),
    };
    Some(Parsed {
        data_hash: spec["data"]["hash"]["value"].as_str()?.to_string(),
        key_der,
        email,
    })
}

impl Log {
    pub fn open(dir: &Path) -> Result<Log, StackError> {
        fs::create_dir_all(dir).map_err(|source| StackError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let id_path = dir.join("tree_id");
        let tree_id = match fs::read_to_string(&id_path) {
            Ok(s) => s.trim().parse().map_err(|_| StackError::State {
                path: id_path.clone(),
                what: "not a decimal tree id",
            })?,
            Err(_) => {
                let b = random_bytes(8);
                let id = u64::from_be_bytes(b.try_into().unwrap_or_default()) >> 1;
                fs::write(&id_path, format!("{id}\n")).map_err(|source| StackError::Io {
                    path: id_path.clone(),
                    source,
                })?;
                id
            }
        };
        let path = dir.join("entries.jsonl");
        let io = |source| StackError::Io {
            path: path.clone(),
            source,
        };
        let text = match fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io(e)),
        };
        let mut log = Log {
            entries: Vec::new(),
            by_uuid: HashMap::new(),
            tree: Tree::default(),
            file: OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(io)?,
            path: path.clone(),
            tree_id,
        };
        let mut good = 0usize;
        for line in text.split_inclusive(|b| *b == b'\n') {
            let bad = StackError::State {
                path: path.clone(),
                what: "unreadable entry line",
            };
            if !line.ends_with(b"\n") {
                // A write cut short by a crash: the entry was never acknowledged.
                break;
            }
            let v: Value = serde_json::from_slice(line).map_err(|_| bad)?;
            let field = |k: &str| v[k].as_str().and_then(|s| B64.decode(s).ok());
            let (Some(body), Some(set), Some(t)) =
                (field("body"), field("set"), v["integratedTime"].as_i64())
            else {
                return Err(StackError::State {
                    path: path.clone(),
                    what: "entry line lacks body, set or integratedTime",
                });
            };
            log.push(body, t, set).ok_or(StackError::State {
                path: path.clone(),
                what: "entry body is not a hashedrekord",
            })?;
            good += line.len();
        }
        if good < text.len() {
            log.file.set_len(good as u64).map_err(io)?;
        }
        Ok(log)
    }

    fn push(&mut self, body: Vec<u8>, integrated_time: i64, set: Vec<u8>) -> Option<()> {
        let parsed = parse_body(&body)?;
        let leaf = leaf_hash(&body);
        let uuid = hex(&leaf);
        self.by_uuid.insert(uuid.clone(), self.entries.len());
        self.tree.push(leaf);
        self.entries.push(Stored {
            uuid,
            body,
            integrated_time,
            set,
            data_hash: parsed.data_hash,
            key_der: parsed.key_der,
            email: parsed.email,
        });
        Some(())
    }

    pub fn size(&self) -> usize {
        self.entries.len()
    }

    pub fn root(&self) -> [u8; 32] {
        self.tree.root(self.size())
    }

    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    /// Writes an entry line and adds the entry; returns its index. `sync`: fsync before
    /// returning (the server acknowledges nothing that is not on disk); without it, call
    /// [`Log::sync`] when done.
    pub fn append(
        &mut self,
        body: Vec<u8>,
        integrated_time: i64,
        set: Vec<u8>,
        sync: bool,
    ) -> Result<usize, StackError> {
        let index = self.size();
        let line = json!({
            "body": B64.encode(&body),
            "integratedTime": integrated_time,
            "set": B64.encode(&set),
        })
        .to_string()
            + "\n";
        let path = &self.path;
        let io = |source| StackError::Io {
            path: path.clone(),
            source,
        };
        self.file.write_all(line.as_bytes()).map_err(io)?;
        if sync {
            self.file.sync_data().map_err(io)?;
        }
        self.push(body, integrated_time, set)
            .ok_or(StackError::Crypto("a checked body did not parse"))?;
        Ok(index)
    }

    pub fn sync(&self) -> Result<(), StackError> {
        self.file.sync_data().map_err(|source| StackError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// The index of an entry by UUID: 64 hex digits, or 80 with the 16-digit tree id first.
    fn find(&self, uuid: &str) -> Option<usize> {
        if !uuid.is_ascii() {
            return None;
        }
        let uuid = uuid.to_ascii_lowercase();
        let key = match uuid.len() {
            80 if uuid[..16] == format!("{:016x}", self.tree_id) => &uuid[16..],
            _ => uuid.as_str(),
        };
        self.by_uuid.get(key).copied()
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An RFC 6962 Merkle tree that keeps every complete subtree's hash: level `k` holds the
/// hashes of the aligned subtrees of 2^k leaves completed so far (level 0: the leaves).
///
/// RFC 6962's recursion splits a range at the largest power of two below its length, so the
/// left part is always a complete, aligned subtree (one lookup) and only the right border
/// recurses: a root costs O(log n) and an audit path O(log² n), for any tree size up to the
/// current one. About 2n hashes of memory.
#[derive(Default)]
pub struct Tree {
    levels: Vec<Vec<[u8; 32]>>,
}

impl Tree {
    pub fn push(&mut self, leaf: [u8; 32]) {
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        self.levels[0].push(leaf);
        let mut k = 0;
        while self.levels[k].len().is_multiple_of(2) {
            let level = &self.levels[k];
            let parent = node_hash(&level[level.len() - 2], &level[level.len() - 1]);
            if self.levels.len() == k + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[k + 1].push(parent);
            k += 1;
        }
    }

    pub fn len(&self) -> usize {
        self.levels.first().map_or(0, Vec::len)
    }

    pub fn leaves(&self) -> &[[u8; 32]] {
        self.levels.first().map_or(&[], Vec::as_slice)
    }

    /// The hashes of the aligned complete subtrees of 2^k leaves, left to right (Merkle
    /// level k; level 0 is the leaves): what a tlog-tiles tile stores.
    pub fn level(&self, k: usize) -> &[[u8; 32]] {
        self.levels.get(k).map_or(&[], Vec::as_slice)
    }

    /// The hash of leaves `start..start + len`, where `start` is a multiple of the largest
    /// power of two below `len` (true of every range RFC 6962's recursion visits).
    fn range(&self, start: usize, len: usize) -> [u8; 32] {
        if len == 0 {
            return sha256(b"");
        }
        if len.is_power_of_two() && start.is_multiple_of(len) {
            return self.levels[len.trailing_zeros() as usize][start / len];
        }
        let k = split(len);
        node_hash(&self.range(start, k), &self.range(start + k, len - k))
    }

    /// The root of the tree of the first `size` leaves (`size <= len`).
    pub fn root(&self, size: usize) -> [u8; 32] {
        assert!(size <= self.len(), "tree size {size} beyond {}", self.len());
        self.range(0, size)
    }

    /// The audit path of leaf `m` in the tree of the first `size` leaves, from the leaf up.
    pub fn audit_path(&self, m: usize, size: usize) -> Vec<[u8; 32]> {
        assert!(m < size && size <= self.len(), "leaf {m} of {size}");
        let mut path = Vec::new();
        self.path(m, 0, size, &mut path);
        path
    }

    fn path(&self, m: usize, start: usize, len: usize, out: &mut Vec<[u8; 32]>) {
        if len <= 1 {
            return;
        }
        let k = split(len);
        if m < k {
            self.path(m, start, k, out);
            out.push(self.range(start + k, len - k));
        } else {
            self.path(m - k, start + k, len - k, out);
            out.push(self.range(start, k));
        }
    }
}

/// RFC 6962 §2.1 Merkle tree hash.
fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => sha256(b""),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

/// The largest power of two smaller than `n` (n >= 2).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// RFC 6962 §2.1.1 audit path of leaf `m`, from the leaf up (by definition, O(n): the
/// reference [`Tree::audit_path`] is tested against).
#[cfg(test)]
fn audit_path(m: usize, leaves: &[[u8; 32]]) -> Vec<[u8; 32]> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split(n);
    let (mut path, sibling) = if m < k {
        (audit_path(m, &leaves[..k]), mth(&leaves[k..]))
    } else {
        (audit_path(m - k, &leaves[k..]), mth(&leaves[..k]))
    };
    path.push(sibling);
    path
}

/// RFC 6962 §2.1.2 consistency proof between the first `m` leaves and all of them.
fn consistency(m: usize, leaves: &[[u8; 32]], complete: bool) -> Vec<[u8; 32]> {
    let n = leaves.len();
    if m == n {
        return if complete {
            Vec::new()
        } else {
            vec![mth(leaves)]
        };
    }
    let k = split(n);
    if m <= k {
        let mut p = consistency(m, &leaves[..k], complete);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = consistency(m - k, &leaves[k..], false);
        p.push(mth(&leaves[..k]));
        p
    }
}

/// The signed note over a tree head the log serves: origin `sigstore-stack.test - TREE_ID`,
/// size, base64 root, signed by `key` (with its 4-byte key hint).
pub fn checkpoint_note(
    tree_id: u64,
    size: usize,
    root: &[u8; 32],
    key: &SigningKey,
) -> Result<String, StackError> {
    let text = format!("{SIGNER_NAME} - {tree_id}\n{size}\n{}\n", B64.encode(root));
    let sig = key.sign_der(text.as_bytes())?;
    let mut blob = sha256(key.spki_der())[..4].to_vec();
    blob.extend(sig);
    Ok(format!(
        "{text}\n\u{2014} {SIGNER_NAME} {}\n",
        B64.encode(blob)
    ))
}

impl Stack {
    fn log_id(&self) -> [u8; 32] {
        sha256(self.rekor_key.spki_der())
    }

    /// A signed note over the tree head (`key` is the log key, or a foreign one under the
    /// wrong-chain fault).
    fn checkpoint(&self, log: &Log, key: &SigningKey) -> Result<String, StackError> {
        checkpoint_note(log.tree_id, log.size(), &log.root(), key)
    }

    /// `{uuid: entry}` as the REST API returns an entry, proof against the current tree.
    fn entry_json(&self, log: &Log, index: usize, fault: Fault) -> Result<Value, StackError> {
        let e = &log.entries[index];
        let log_id = self.log_id();
        let (key, set) = if fault == Fault::WrongChain {
            let payload = set_payload(&e.body, e.integrated_time, &log_id, index as u64)
                .map_err(|_| StackError::Crypto("SET payload"))?;
            (&self.foreign_key, self.foreign_key.sign_der(&payload)?)
        } else {
            (&self.rekor_key, e.set.clone())
        };
        let hashes: Vec<String> = log
            .tree
            .audit_path(index, log.size())
            .iter()
            .map(|h| hex(h))
            .collect();
        let mut map = serde_json::Map::new();
        map.insert(
            e.uuid.clone(),
            json!({
                "body": B64.encode(&e.body),
                "integratedTime": e.integrated_time,
                "logID": hex(&log_id),
                "logIndex": index,
                "verification": {
                    "signedEntryTimestamp": B64.encode(set),
                    "inclusionProof": {
                        "checkpoint": self.checkpoint(log, key)?,
                        "hashes": hashes,
                        "logIndex": index,
                        "rootHash": hex(&log.root()),
                        "treeSize": log.size(),
                    },
                },
            }),
        );
        Ok(Value::Object(map))
    }

    fn lock_log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub fn handle(stack: &Stack, req: &Request, fault: Fault) -> Response {
    let result = match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/api/v1/log/entries") => create_entry(stack, req, fault),
        ("GET", "/api/v1/log/entries") => entry_by_index(stack, req, fault),
        ("POST", "/api/v1/log/entries/retrieve") => retrieve(stack, req, fault),
        ("GET", path) if path.starts_with("/api/v1/log/entries/") => {
            let uuid = &path["/api/v1/log/entries/".len()..];
            let log = stack.lock_log();
            match log.find(uuid) {
                Some(i) => stack
                    .entry_json(&log, i, fault)
                    .map(|v| Response::json(200, &v)),
                None => Ok(Response::error(404, "no entry with this UUID")),
            }
        }
        ("POST", "/api/v1/index/retrieve") => Ok(search(stack, req)),
        ("GET", "/api/v1/log") => log_info(stack, fault),
        ("GET", "/api/v1/log/publicKey") => Ok(Response::new(
            200,
            "application/x-pem-file",
            pem::encode("PUBLIC KEY", stack.rekor_key.spki_der()),
        )),
        ("GET", "/api/v1/log/proof") => proof(stack, req),
        (_, path) => Ok(Response::error(404, &format!("no such endpoint {path}"))),
    };
    result.unwrap_or_else(|e| Response::error(500, &e.to_string()))
}

/// Checks a proposed hashedrekord 0.0.1 entry and returns its canonical body.
fn canonical_body(v: &Value) -> Result<Vec<u8>, String> {
    if v["kind"] != "hashedrekord" || v["apiVersion"] != "0.0.1" {
        return Err("only kind hashedrekord, apiVersion 0.0.1 is supported".into());
    }
    let spec = &v["spec"];
    if spec["data"]["hash"]["algorithm"] != "sha256" {
        return Err("spec.data.hash.algorithm must be sha256".into());
    }
    let digest: [u8; 32] = spec["data"]["hash"]["value"]
        .as_str()
        .and_then(unhex)
        .and_then(|d| d.try_into().ok())
        .ok_or("spec.data.hash.value must be 64 hex digits")?;
    let signature = spec["signature"]["content"]
        .as_str()
        .and_then(|s| B64.decode(s).ok())
        .filter(|s| !s.is_empty())
        .ok_or("spec.signature.content must be base64")?;
    let pem_text = spec["signature"]["publicKey"]["content"]
        .as_str()
        .and_then(|s| B64.decode(s).ok())
        .ok_or("spec.signature.publicKey.content must be base64")?;
    // Rekor stores the key canonicalized: standard PEM, 64 columns, trailing newline.
    let (canonical_pem, key) = match pem::decode_one(&pem_text, "CERTIFICATE") {
        Ok(der) => {
            let cert = Certificate::from_der(&der)
                .map_err(|e| format!("the certificate does not parse: {e}"))?;
            let key = cert
                .public_key()
                .map_err(|e| format!("the certificate's key: {e}"))?;
            (pem::encode("CERTIFICATE", &der), key)
        }
        Err(_) => {
            let der = pem::decode_one(&pem_text, "PUBLIC KEY").map_err(
                |_| "publicKey.content is neither a PEM certificate nor a PEM public key",
            )?;
            let key = PublicKey::from_spki_der(&der).map_err(|e| format!("public key: {e}"))?;
            (pem::encode("PUBLIC KEY", &der), key)
        }
    };
    key.verify_prehash(&digest, &signature)
        .map_err(|_| "the signature does not verify over the digest with the given key")?;
    Ok(hashedrekord_body(&digest, &signature, &canonical_pem))
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// The wrong-entry fault's decoy: the same entry with the first digest byte changed.
fn decoy(body: &[u8]) -> Option<Vec<u8>> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let spec = &v["spec"];
    let mut digest: [u8; 32] = unhex(spec["data"]["hash"]["value"].as_str()?)?
        .try_into()
        .ok()?;
    digest[0] ^= 0xff;
    let sig = B64.decode(spec["signature"]["content"].as_str()?).ok()?;
    let pem_text = B64
        .decode(spec["signature"]["publicKey"]["content"].as_str()?)
        .ok()?;
    Some(hashedrekord_body(
        &digest,
        &sig,
        std::str::from_utf8(&pem_text).ok()?,
    ))
}

fn create_entry(stack: &Stack, req: &Request, fault: Fault) -> Result<Response, StackError> {
    let body = match req.json().and_then(|v| canonical_body(&v)) {
        Ok(b) if fault == Fault::WrongEntry => {
            decoy(&b).ok_or(StackError::Crypto("a checked body did not parse"))?
        }
        Ok(b) => b,
        Err(e) => return Ok(Response::error(400, &e)),
    };
    let uuid = hex(&leaf_hash(&body));
    let mut log = stack.lock_log();
    if log.find(&uuid).is_some() {
        let location = format!("/api/v1/log/entries/{uuid}");
        return Ok(Response::error(
            409,
            &format!("an equivalent entry already exists in the transparency log with UUID {uuid}"),
        )
        .with_header("Location", &location)
        .with_header("ETag", &uuid));
    }
    let index = log.size();
    let integrated_time = now();
    let payload = set_payload(&body, integrated_time, &stack.log_id(), index as u64)
        .map_err(|_| StackError::Crypto("SET payload"))?;
    let set = stack.rekor_key.sign_der(&payload)?;
    log.append(body, integrated_time, set, true)?;
    stack.stats.count_entry();
    let value = stack.entry_json(&log, index, fault)?;
    Ok(Response::json(201, &value)
        .with_header("Location", &format!("/api/v1/log/entries/{uuid}"))
        .with_header("ETag", &uuid))
}

fn entry_by_index(stack: &Stack, req: &Request, fault: Fault) -> Result<Response, StackError> {
    let Some(index) = req
        .query_param("logIndex")
        .and_then(|s| s.parse::<usize>().ok())
    else {
        return Ok(Response::error(
            400,
            "logIndex must be a non-negative integer",
        ));
    };
    let log = stack.lock_log();
    if index >= log.size() {
        return Ok(Response::error(404, "no entry at this index"));
    }
    Ok(Response::json(200, &stack.entry_json(&log, index, fault)?))
}

/// `POST /api/v1/log/entries/retrieve` by `entryUUIDs`, `logIndexes` or proposed `entries`.
fn retrieve(stack: &Stack, req: &Request, fault: Fault) -> Result<Response, StackError> {
    let q = match req.json() {
        Ok(v) => v,
        Err(e) => return Ok(Response::error(400, &e)),
    };
    let log = stack.lock_log();
    let mut found = Vec::new();
    for u in q["entryUUIDs"].as_array().into_iter().flatten() {
        if let Some(i) = u.as_str().and_then(|u| log.find(u)) {
            found.push(i);
        }
    }
    for n in q["logIndexes"].as_array().into_iter().flatten() {
        if let Some(i) = n.as_u64().map(|n| n as usize).filter(|&i| i < log.size()) {
            found.push(i);
        }
    }
    for e in q["entries"].as_array().into_iter().flatten() {
        if let Some(i) = canonical_body(e)
            .ok()
            .and_then(|b| log.find(&hex(&leaf_hash(&b))))
        {
            found.push(i);
        }
    }
    let list = found
        .into_iter()
        .map(|i| stack.entry_json(&log, i, fault))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Response::json(200, &Value::Array(list)))
}

/// `POST /api/v1/index/retrieve` by `hash` (`sha256:<hex>`), `publicKey` (x509 or PKIX PEM,
/// base64) and/or `email`; `operator` `and` (default) or `or`.
fn search(stack: &Stack, req: &Request) -> Response {
    let q = match req.json() {
        Ok(v) => v,
        Err(e) => return Response::error(400, &e),
    };
    let hash = match q["hash"].as_str() {
        None => None,
        Some(h) => match h.to_ascii_lowercase().strip_prefix("sha256:") {
            Some(hex) if unhex(hex).is_some_and(|d| d.len() == 32) => Some(hex.to_string()),
            _ => return Response::error(400, "hash must be sha256:<64 hex digits>"),
        },
    };
    let key = match q["publicKey"]["content"].as_str() {
        None => None,
        Some(c) => {
            let Some(text) = B64.decode(c).ok() else {
                return Response::error(400, "publicKey.content must be base64");
            };
            match pem::decode_one(&text, "CERTIFICATE")
                .or_else(|_| pem::decode_one(&text, "PUBLIC KEY"))
            {
                Ok(der) => Some(der),
                Err(_) => return Response::error(400, "publicKey.content is not a PEM key"),
            }
        }
    };
    let email = q["email"].as_str().map(str::to_ascii_lowercase);
    if hash.is_none() && key.is_none() && email.is_none() {
        return Response::error(400, "give at least one of hash, publicKey, email");
    }
    let any = q["operator"] == "or";
    let log = stack.lock_log();
    let uuids: Vec<&str> = log
        .entries
        .iter()
        .filter(|e| {
            let checks = [
                hash.as_ref().map(|h| *h == e.data_hash),
                key.as_ref().map(|k| *k == e.key_der),
                email
                    .as_ref()
                    .map(|m| e.email.as_ref().is_some_and(|x| x.eq_ignore_ascii_case(m))),
            ];
            let mut given = checks.iter().flatten();
            if any {
                given.any(|c| *c)
            } else {
                given.all(|c| *c)
            }
        })
        .map(|e| e.uuid.as_str())
        .collect();
    Response::json(200, &json!(uuids))
}

fn log_info(stack: &Stack, fault: Fault) -> Result<Response, StackError> {
    let log = stack.lock_log();
    let key = if fault == Fault::WrongChain {
        &stack.foreign_key
    } else {
        &stack.rekor_key
    };
    Ok(Response::json(
        200,
        &json!({
            "rootHash": hex(&log.root()),
            "signedTreeHead": stack.checkpoint(&log, key)?,
            "treeID": log.tree_id.to_string(),
            "treeSize": log.size(),
            "inactiveShards": [],
        }),
    ))
}

/// `GET /api/v1/log/proof?firstSize=M&lastSize=N`: RFC 6962 consistency proof.
fn proof(stack: &Stack, req: &Request) -> Result<Response, StackError> {
    let log = stack.lock_log();
    let num = |k: &str| req.query_param(k).and_then(|s| s.parse::<usize>().ok());
    let first = num("firstSize").unwrap_or(1);
    let last = num("lastSize").unwrap_or(log.size());
    if first == 0 || first > last || last > log.size() {
        return Ok(Response::error(
            400,
            "need 1 <= firstSize <= lastSize <= tree size",
        ));
    }
    let leaves = &log.tree.leaves()[..last];
    let hashes: Vec<String> = if first == last {
        Vec::new()
    } else {
        consistency(first, leaves, true)
            .iter()
            .map(|h| hex(h))
            .collect()
    };
    Ok(Response::json(
        200,
        &json!({"rootHash": hex(&log.tree.root(last)), "hashes": hashes}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gitsign::core::tlog::verify_inclusion;

    fn leaves(n: usize) -> Vec<[u8; 32]> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn audit_paths_verify_with_gitsigns_inclusion_check_for_every_leaf() {
        for n in 1..40 {
            let l = leaves(n);
            let root = mth(&l);
            for m in 0..n {
                let path: Vec<Vec<u8>> = audit_path(m, &l).iter().map(|h| h.to_vec()).collect();
                verify_inclusion(m as u64, n as u64, &l[m], &path, &root).unwrap();
                if let Some(first) = path.first() {
                    let mut bad = path.clone();
                    bad[0][0] ^= 1;
                    assert!(verify_inclusion(m as u64, n as u64, &l[m], &bad, &root).is_err());
                    let _ = first;
                }
            }
        }
    }

    #[test]
    fn the_subtree_table_gives_the_roots_and_audit_paths_of_the_definition() {
        let all = leaves(300);
        let mut tree = Tree::default();
        assert_eq!(tree.root(0), mth(&[]));
        for (i, leaf) in all.iter().enumerate() {
            tree.push(*leaf);
            assert_eq!(tree.len(), i + 1);
            assert_eq!(tree.leaves(), &all[..=i]);
        }
        // Every tree size up to 70 with every leaf, then spot checks in bigger trees; each
        // path also verifies with gitsign's inclusion check.
        let mut cases: Vec<(usize, usize)> =
            (1..=70).flat_map(|n| (0..n).map(move |m| (m, n))).collect();
        cases.extend([
            (0, 300),
            (299, 300),
            (255, 256),
            (256, 257),
            (128, 200),
            (191, 199),
            (17, 129),
        ]);
        for (m, n) in cases {
            let root = mth(&all[..n]);
            assert_eq!(tree.root(n), root, "root of {n}");
            let path = tree.audit_path(m, n);
            assert_eq!(path, audit_path(m, &all[..n]), "leaf {m} of {n}");
            let path: Vec<Vec<u8>> = path.iter().map(|h| h.to_vec()).collect();
            verify_inclusion(m as u64, n as u64, &all[m], &path, &root).unwrap();
        }
    }

    #[test]
    fn appended_entries_are_reloaded_with_the_same_tree() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::open(dir.path()).unwrap();
        for n in 0..5u8 {
            let v: Value = serde_json::from_str(&entry_line(n)).unwrap();
            let body = B64.decode(v["body"].as_str().unwrap()).unwrap();
            assert_eq!(
                log.append(body, 7, vec![n], n % 2 == 0).unwrap(),
                n as usize
            );
        }
        log.sync().unwrap();
        let root = log.root();
        drop(log);
        let log = Log::open(dir.path()).unwrap();
        assert_eq!((log.size(), log.root()), (5, root));
        assert_eq!(log.tree().root(5), mth(log.tree().leaves()));
    }

    fn entry_line(n: u8) -> String {
        let key = crate::keys::SigningKey::ephemeral(crate::keys::Curve::P256).unwrap();
        let body = hashedrekord_body(
            &[n; 32],
            &[1, 2, 3],
            &pem::encode("PUBLIC KEY", key.spki_der()),
        );
        json!({"body": B64.encode(&body), "integratedTime": 1, "set": B64.encode([n])}).to_string()
            + "\n"
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_a_corrupt_line_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("entries.jsonl");
        let (a, b) = (entry_line(1), entry_line(2));
        fs::write(&path, format!("{a}{}", &b[..b.len() / 2])).unwrap();
        let log = Log::open(dir.path()).unwrap();
        assert_eq!(log.size(), 1);
        assert_eq!(fs::read_to_string(&path).unwrap(), a);
        drop(log);

        fs::write(&path, format!("{a}{{not json}}\n{b}")).unwrap();
        assert!(matches!(
            Log::open(dir.path()),
            Err(StackError::State { .. })
        ));
    }

    #[test]
    fn consistency_proofs_have_rfc6962_lengths() {
        // RFC 6962 §2.1.3 example: tree of 7, proof from 3 is 4 hashes, from 4 is 1, from 6 is 3.
        let l = leaves(7);
        assert_eq!(consistency(3, &l, true).len(), 4);
        assert_eq!(consistency(4, &l, true).len(), 1);
        assert_eq!(consistency(6, &l, true).len(), 3);
    }
}
