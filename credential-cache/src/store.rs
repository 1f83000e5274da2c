//! The agent's state: credentials by [`CacheKey`] and identity, the pending sign-ins that
//! make concurrent misses wait for one another (single flight), and expiry.
//!
//! A credential is served to new clients until its certificate's notAfter minus the margin
//! (a signature is never begun with a certificate about to expire), then evicted by the
//! expiry thread on time. A connection that already holds it may finish signing until
//! notAfter itself; at notAfter the key is zeroized even if a connection still holds it.
//! A connection's pending sign-in ends when it stores a certificate or goes away; the
//! clients waiting on it then take the credential or, if none came, the next one signs in.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use x509_cert::der::{Decode as _, Encode as _};

use crate::protocol::{Bytes, CacheKey, EntryInfo, ErrorCode, MAX_WAIT_MS, Response};
use crate::secret::Secret;

/// Seconds before notAfter from which a credential is no longer handed out.
pub const DEFAULT_MARGIN: i64 = 60;

struct Cred {
    handle: u64,
    key: CacheKey,
    identity: String,
    issuer: String,
    chain: Vec<Vec<u8>>,
    public_key: Vec<u8>,
    not_after: i64,
    secret: Mutex<Option<Secret>>,
    signatures: AtomicU64,
}

#[derive(Default)]
struct Slot {
    /// One per identity; the newest last.
    entries: Vec<Arc<Cred>>,
    /// The handle of the sign-in in progress, if any.
    pending: Option<u64>,
}

#[derive(Default)]
struct State {
    slots: HashMap<CacheKey, Slot>,
    /// Every credential still alive anywhere (map or connection), for the hard expiry.
    all: Vec<Weak<Cred>>,
    next_handle: u64,
}

enum Held {
    Pending { key: CacheKey, secret: Secret },
    Cred(Arc<Cred>),
}

/// What one connection holds: the handles `get` gave it.
#[derive(Default)]
pub struct Conn {
    held: HashMap<u64, Held>,
}

type Log = Box<dyn Fn(&str) + Send + Sync>;
type Clock = Box<dyn Fn() -> i64 + Send + Sync>;

pub struct Store {
    state: Mutex<State>,
    changed: Condvar,
    margin: i64,
    clock: Clock,
    log: Log,
}

fn error(code: ErrorCode, message: impl Into<String>) -> Response {
    Response::Error {
        code,
        message: message.into(),
    }
}

impl Store {
    pub fn new(margin: i64, clock: Clock, log: Log) -> Store {
        Store {
            state: Mutex::new(State {
                next_handle: 1,
                ..State::default()
            }),
            changed: Condvar::new(),
            margin,
            clock,
            log,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking connection thread must not take the agent down with it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn usable(&self, c: &Cred, now: i64) -> bool {
        now + self.margin < c.not_after && lock(&c.secret).is_some()
    }

    /// `get`: a usable credential, or this connection becomes the one to sign in.
    pub fn get(
        &self,
        conn: &mut Conn,
        key: &CacheKey,
        identity: Option<&str>,
        wait_ms: u64,
    ) -> Response {
        let deadline = Instant::now() + Duration::from_millis(wait_ms.min(MAX_WAIT_MS));
        let mut state = self.lock();
        loop {
            let now = (self.clock)();
            let slot = state.slots.entry(key.clone()).or_default();
            let found = slot
                .entries
                .iter()
                .rev()
                .find(|c| identity.is_none_or(|i| c.identity == i) && self.usable(c, now))
                .cloned();
            if let Some(c) = found {
                conn.held.insert(c.handle, Held::Cred(c.clone()));
                return Response::Cached {
                    handle: c.handle,
                    public_key: Bytes(c.public_key.clone()),
                    chain: c.chain.iter().map(|d| Bytes(d.clone())).collect(),
                    identity: c.identity.clone(),
                    issuer: c.issuer.clone(),
                    not_after: c.not_after,
                };
            }
            let mine = slot.pending.is_some_and(|h| conn.held.contains_key(&h));
            if slot.pending.is_none() || mine {
                let secret = match Secret::generate() {
                    Ok(s) => s,
                    Err(e) => return error(ErrorCode::Busy, e),
                };
                if !secret.locked() {
                    (self.log)(
                        "key memory could not be locked (RLIMIT_MEMLOCK); it may be swapped",
                    );
                }
                let handle = state.next_handle;
                state.next_handle += 1;
                let public_key = Bytes(secret.public_key_der().to_vec());
                if let Some(old) = state.slots.get(key).and_then(|s| s.pending) {
                    conn.held.remove(&old);
                }
                state.slots.entry(key.clone()).or_default().pending = Some(handle);
                conn.held.insert(
                    handle,
                    Held::Pending {
                        key: key.clone(),
                        secret,
                    },
                );
                return Response::Miss { handle, public_key };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return error(
                    ErrorCode::Busy,
                    "another client's sign-in for this identity did not finish in time",
                );
            }
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// `sign`: a signature with a key this connection holds.
    pub fn sign(&self, conn: &Conn, handle: u64, message: &[u8]) -> Response {
        match conn.held.get(&handle) {
            None => error(
                ErrorCode::UnknownHandle,
                format!("no handle {handle} on this connection"),
            ),
            Some(Held::Pending { secret, .. }) => Response::Signature {
                signature: Bytes(secret.sign(message)),
            },
            Some(Held::Cred(c)) => {
                let now = (self.clock)();
                let mut secret = lock(&c.secret);
                if now >= c.not_after {
                    *secret = None;
                }
                match secret.as_ref() {
                    None => error(
                        ErrorCode::Expired,
                        "the certificate has expired or was cleared; sign in again",
                    ),
                    Some(s) => {
                        c.signatures.fetch_add(1, Ordering::Relaxed);
                        Response::Signature {
                            signature: Bytes(s.sign(message)),
                        }
                    }
                }
            }
        }
    }

    /// `store`: the certificate issued for this connection's pending key.
    pub fn store(
        &self,
        conn: &mut Conn,
        handle: u64,
        chain: Vec<Vec<u8>>,
        identity: String,
        issuer: String,
    ) -> Response {
        let Some(Held::Pending { .. }) = conn.held.get(&handle) else {
            return error(
                ErrorCode::UnknownHandle,
                format!("handle {handle} is not a sign-in of this connection"),
            );
        };
        let (spki, not_after) = match leaf_facts(chain.first().map(Vec::as_slice)) {
            Ok(f) => f,
            Err(e) => return error(ErrorCode::BadCertificate, e),
        };
        let Some(Held::Pending { key, secret }) = conn.held.remove(&handle) else {
            unreachable!("checked above")
        };
        if spki != secret.public_key_der() {
            conn.held.insert(handle, Held::Pending { key, secret });
            return error(
                ErrorCode::BadCertificate,
                "the certificate is not for this handle's key",
            );
        }
        let now = (self.clock)();
        if now >= not_after {
            conn.held.insert(handle, Held::Pending { key, secret });
            return error(
                ErrorCode::BadCertificate,
                "the certificate has already expired",
            );
        }
        let cred = Arc::new(Cred {
            handle,
            key: key.clone(),
            identity,
            issuer,
            chain,
            public_key: secret.public_key_der().to_vec(),
            not_after,
            secret: Mutex::new(Some(secret)),
            signatures: AtomicU64::new(0),
        });
        let mut state = self.lock();
        let slot = state.slots.entry(key).or_default();
        slot.entries.retain(|c| c.identity != cred.identity);
        slot.entries.push(cred.clone());
        if slot.pending == Some(handle) {
            slot.pending = None;
        }
        state.all.push(Arc::downgrade(&cred));
        (self.log)(&format!(
            "stored a credential for {} (issuer {}, Fulcio {}), valid for {} s",
            printable(&cred.identity),
            printable(&cred.issuer),
            printable(&cred.key.fulcio),
            not_after - now
        ));
        conn.held.insert(handle, Held::Cred(cred));
        self.changed.notify_all();
        Response::Stored { not_after }
    }

    pub fn list(&self) -> Response {
        let state = self.lock();
        let mut entries: Vec<EntryInfo> = state
            .slots
            .values()
            .flat_map(|s| s.entries.iter())
            .map(|c| EntryInfo {
                identity: c.identity.clone(),
                issuer: c.issuer.clone(),
                fulcio: c.key.fulcio.clone(),
                not_after: c.not_after,
                signatures: c.signatures.load(Ordering::Relaxed),
            })
            .collect();
        entries.sort_by(|a, b| (a.not_after, &a.identity).cmp(&(b.not_after, &b.identity)));
        Response::Entries { entries }
    }

    /// `clear`, and shutdown: every key zeroized, also those connections still hold.
    pub fn clear(&self) -> Response {
        let mut state = self.lock();
        let count = state.slots.values().map(|s| s.entries.len() as u64).sum();
        state.slots.values_mut().for_each(|s| s.entries.clear());
        for c in state.all.drain(..).filter_map(|w| w.upgrade()) {
            *lock(&c.secret) = None;
        }
        self.changed.notify_all();
        Response::Cleared { count }
    }

    /// A connection ended: its pending sign-in, if any, is given up so a waiter can take it.
    pub fn release(&self, conn: &mut Conn) {
        let mut state = self.lock();
        for (handle, held) in conn.held.drain() {
            if let Held::Pending { key, .. } = held
                && let Some(slot) = state.slots.get_mut(&key)
                && slot.pending == Some(handle)
            {
                slot.pending = None;
                self.changed.notify_all();
            }
        }
    }

    /// Evicts what is due at `now`; returns when to look again.
    fn expire(&self, state: &mut State, now: i64) -> Option<i64> {
        let margin = self.margin;
        for slot in state.slots.values_mut() {
            slot.entries.retain(|c| {
                let keep = now + margin < c.not_after;
                if !keep {
                    (self.log)(&format!(
                        "evicted the credential for {} ({} s before its certificate expires)",
                        printable(&c.identity),
                        c.not_after - now
                    ));
                }
                keep
            });
        }
        state
            .slots
            .retain(|_, s| !s.entries.is_empty() || s.pending.is_some());
        let mut next: Option<i64> = None;
        state.all.retain(|w| {
            let Some(c) = w.upgrade() else { return false };
            if now >= c.not_after {
                *lock(&c.secret) = None;
                return false;
            }
            next = Some(next.map_or(c.not_after, |n| n.min(c.not_after)));
            true
        });
        for c in state.slots.values().flat_map(|s| s.entries.iter()) {
            let at = c.not_after - margin;
            next = Some(next.map_or(at, |n| n.min(at)));
        }
        next
    }

    /// The expiry thread's loop: zeroizes keys on time, not on the next request.
    pub fn run_expiry(&self) -> ! {
        let mut state = self.lock();
        loop {
            let now = (self.clock)();
            let next = self.expire(&mut state, now);
            // Wake at the next deadline (or after a minute, as a safety net for clock jumps).
            let wait = next.map_or(60, |t| (t - now).clamp(0, 60)) as u64;
            state = self
                .changed
                .wait_timeout(state, Duration::from_millis(wait * 1000 + 50))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The leaf's SubjectPublicKeyInfo (DER) and notAfter (Unix seconds).
fn leaf_facts(leaf: Option<&[u8]>) -> Result<(Vec<u8>, i64), String> {
    let der = leaf.ok_or("the chain is empty")?;
    let cert = x509_cert::Certificate::from_der(der)
        .map_err(|e| format!("the leaf certificate cannot be read: {e}"))?;
    let tbs = cert.tbs_certificate();
    let spki = tbs
        .subject_public_key_info()
        .to_der()
        .map_err(|e| format!("the leaf's public key cannot be encoded: {e}"))?;
    let not_after = tbs.validity().not_after.to_unix_duration().as_secs() as i64;
    Ok((spki, not_after))
}

/// Names from certificates and clients are logged with control characters escaped.
pub fn printable(s: &str) -> String {
    s.chars().flat_map(char::escape_default).take(300).collect()
}

#[cfg(test)]
mod tests;
