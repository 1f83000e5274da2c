//! A signing credential (key + checked Fulcio certificate): from the credential cache when
//! it has a good one, else by signing in. A cache problem of any kind (no agent, refused,
//! expired, a reply that does not check out) costs one line and a normal sign-in, never the
//! signature (gitsign issue 364); an ID token already obtained is not asked for twice.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::app::{AppError, Reporter};
use crate::core::sigstore::trust::TrustedRoot;
use crate::core::verify::signing;
use crate::core::x509::cert::Certificate;
use crate::io::cache::{self, AgentKey, Client, Lookup, MARGIN, Mode};
use crate::io::config::Settings;
use crate::io::fulcio::{FulcioClient, FulcioError};
use crate::io::key::{EphemeralKey, KeySigner};
use crate::io::keyring;
use crate::io::oidc::{self, IdToken};

/// Where a credential came from, for the progress line.
pub enum Source {
    SignedIn,
    /// The agent had it.
    Agent,
    /// The agent did not, so this signature signed in and stored the certificate there.
    StoredInAgent,
    /// Signed in with the agent's key, but the agent did not keep the certificate.
    AgentNotStored,
    Keyring,
    StoredInKeyring,
}

pub struct Credential {
    pub key: Box<dyn KeySigner>,
    pub leaf: Certificate,
    pub identity: String,
    pub source: Source,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A cache problem: worth a line, then the normal flow.
struct CacheProblem(String);

pub struct Obtainer<'a> {
    pub settings: &'a Settings,
    pub trust: &'a TrustedRoot,
    /// gitsign.matchCommitter: the committer's email the identity must equal.
    pub committer: Option<String>,
    token: Option<IdToken>,
}

impl<'a> Obtainer<'a> {
    pub fn new(
        settings: &'a Settings,
        trust: &'a TrustedRoot,
        committer: Option<String>,
    ) -> Obtainer<'a> {
        Obtainer {
            settings,
            trust,
            committer,
            token: None,
        }
    }

    /// The credential to sign with, cache first.
    pub fn obtain(&mut self, ui: &mut Reporter) -> Result<Credential, AppError> {
        let mode = Mode::from_settings(self.settings)
            .map_err(|e| AppError::usage(format!("{e}; nothing was signed")))?;
        let attempt = match &mode {
            Mode::Off => return self.sign_in(ui),
            Mode::Socket { path, explicit } => match Client::connect(path) {
                Ok(client) => self.via_agent(client, ui),
                // Nobody started the agent at its default path: not worth a line.
                Err(_) if !explicit => return self.sign_in(ui),
                Err(e) => Ok(Err(CacheProblem(e.to_string()))),
            },
            Mode::System => self.via_keyring(ui),
        };
        match attempt? {
            Ok(c) => Ok(c),
            Err(CacheProblem(why)) => {
                self.fall_back(&why, ui);
                self.sign_in(ui)
            }
        }
    }

    /// Says why the cache is not used this time.
    pub fn fall_back(&self, why: &str, ui: &mut Reporter) {
        ui.say(&format!(
            "gitsign: credential cache not used ({why}); signing in without it"
        ));
    }

    fn check_committer(&self, identity: &str) -> Result<(), AppError> {
        if !self.settings.match_committer {
            return Ok(());
        }
        if self.committer.as_deref() != Some(identity) {
            return Err(AppError::failed(format!(
                "gitsign.matchCommitter: the identity {identity:?} is not the committer's email {}; nothing was signed",
                self.committer
                    .as_ref()
                    .map_or("(none)".to_string(), |c| format!("{c:?}"))
            )));
        }
        Ok(())
    }

    /// The ID token, asked for once per process.
    fn token(&mut self, ui: &mut Reporter) -> Result<&IdToken, AppError> {
        if self.token.is_none() {
            let t = oidc::id_token(self.settings, ui)
                .map_err(|e| AppError::failed(format!("cannot get an identity token: {e}")))?;
            self.check_committer(t.identity())?;
            self.token = Some(t);
        }
        Ok(self.token.as_ref().expect("set above"))
    }

    /// A certificate from Fulcio for `key`, checked as any issued certificate is.
    fn certify(&mut self, key: &dyn KeySigner, ui: &mut Reporter) -> Result<Issued, Fulcio> {
        let fulcio = FulcioClient::new(&self.settings.fulcio, self.settings.rekor_timeout)
            .map_err(|e| Fulcio::Failed(AppError::failed(e.to_string())))?;
        let trust = self.trust;
        let token = self.token(ui).map_err(Fulcio::Failed)?;
        let chain = match fulcio.signing_cert(token, key) {
            Ok(c) => c,
            Err(e @ FulcioError::ProofOfPossession { .. }) => {
                return Err(Fulcio::Cache(CacheProblem(e.to_string())));
            }
            Err(e) => return Err(Fulcio::Failed(AppError::failed(e.to_string()))),
        };
        let leaf = signing::check_issued_certificate(
            &chain,
            trust,
            now(),
            &key.public_key_der(),
            token.identity(),
            token.issuer(),
        )
        .map_err(|e| {
            Fulcio::Failed(AppError::failed(format!(
                "Fulcio at {} issued a certificate that does not check out: {e}",
                fulcio.url()
            )))
        })?;
        Ok(Issued {
            chain,
            leaf,
            identity: token.identity().to_string(),
            issuer: token.issuer().to_string(),
        })
    }

    /// The normal flow: a fresh key in this process, a sign-in, a certificate.
    pub fn sign_in(&mut self, ui: &mut Reporter) -> Result<Credential, AppError> {
        let key = EphemeralKey::generate().map_err(AppError::failed)?;
        let issued = self.certify(&key, ui).map_err(Fulcio::into_app)?;
        Ok(Credential {
            key: Box::new(key),
            leaf: issued.leaf,
            identity: issued.identity,
            source: Source::SignedIn,
        })
    }

    /// A cached chain, checked again before use as if Fulcio had just sent it: it chains
    /// to the trusted root, holds `public_key`, names the identity, and has time left.
    fn recheck(
        &self,
        chain: &[Vec<u8>],
        public_key: &[u8],
        identity: &str,
        issuer: &str,
    ) -> Result<Certificate, CacheProblem> {
        let leaf = signing::check_issued_certificate(
            chain,
            self.trust,
            now(),
            public_key,
            identity,
            issuer,
        )
        .map_err(|e| CacheProblem(format!("the cached certificate does not check out: {e}")))?;
        if now() + MARGIN >= leaf.not_after() {
            return Err(CacheProblem(
                "the cached certificate expires within a minute".into(),
            ));
        }
        Ok(leaf)
    }

    fn via_agent(
        &mut self,
        mut client: Client,
        ui: &mut Reporter,
    ) -> Result<Result<Credential, CacheProblem>, AppError> {
        let problem = |e: cache::ClientError| Ok(Err(CacheProblem(e.to_string())));
        let wanted = self
            .settings
            .match_committer
            .then(|| self.committer.clone())
            .flatten();
        // Another signer's sign-in may be under way: wait for it as long as it may take.
        let wait = self.settings.oidc_timeout * 2 + std::time::Duration::from_secs(30);
        let lookup = match client.get(&cache::cache_key(self.settings), wanted.as_deref(), wait) {
            Ok(l) => l,
            Err(e) => return problem(e),
        };
        match lookup {
            Lookup::Cached {
                handle,
                public_key,
                chain,
                identity,
                issuer,
                ..
            } => {
                let leaf = match self.recheck(&chain, &public_key, &identity, &issuer) {
                    Ok(l) => l,
                    Err(p) => return Ok(Err(p)),
                };
                self.check_committer(&identity)?;
                Ok(Ok(Credential {
                    key: Box::new(AgentKey::new(client, handle, public_key)),
                    leaf,
                    identity,
                    source: Source::Agent,
                }))
            }
            Lookup::Miss { handle, public_key } => {
                let key = AgentKey::new(client, handle, public_key);
                let issued = match self.certify(&key, ui) {
                    Ok(i) => i,
                    Err(Fulcio::Cache(p)) => return Ok(Err(p)),
                    Err(Fulcio::Failed(e)) => return Err(e),
                };
                let source = match key.store(&issued.chain, &issued.identity, &issued.issuer) {
                    Ok(_) => Source::StoredInAgent,
                    Err(e) => {
                        // The key is still the agent's to sign with on this connection.
                        ui.say(&format!(
                            "gitsign: the credential cache did not keep the certificate ({e})"
                        ));
                        Source::AgentNotStored
                    }
                };
                Ok(Ok(Credential {
                    key: Box::new(key),
                    leaf: issued.leaf,
                    identity: issued.identity,
                    source,
                }))
            }
        }
    }

    fn via_keyring(
        &mut self,
        ui: &mut Reporter,
    ) -> Result<Result<Credential, CacheProblem>, AppError> {
        let name = keyring::entry_name(&cache::cache_key(self.settings));
        match keyring::load(&name) {
            Ok(Some(stored)) => {
                let key = match EphemeralKey::from_scalar(&stored.secret) {
                    Ok(k) => k,
                    Err(e) => return Ok(Err(CacheProblem(format!("keyring: {e}")))),
                };
                let leaf = match self.recheck(
                    &stored.chain,
                    &key.public_key_der(),
                    &stored.identity,
                    &stored.issuer,
                ) {
                    Ok(l) => l,
                    Err(p) => return Ok(Err(p)),
                };
                self.check_committer(&stored.identity)?;
                return Ok(Ok(Credential {
                    key: Box::new(key),
                    leaf,
                    identity: stored.identity,
                    source: Source::Keyring,
                }));
            }
            Ok(None) => {}
            Err(e) => return Ok(Err(CacheProblem(format!("keyring: {e}")))),
        }
        let key = EphemeralKey::generate().map_err(AppError::failed)?;
        let issued = self.certify(&key, ui).map_err(Fulcio::into_app)?;
        let ttl = issued.leaf.not_after() - MARGIN - now();
        let stored = keyring::StoredCredential {
            secret: key.to_scalar(),
            chain: issued.chain,
            identity: issued.identity.clone(),
            issuer: issued.issuer,
        };
        let source = if ttl <= 0 {
            Source::SignedIn
        } else if let Err(e) = keyring::store(&name, &stored, ttl as u64) {
            ui.say(&format!(
                "gitsign: the keyring did not keep the credential ({e})"
            ));
            Source::SignedIn
        } else {
            Source::StoredInKeyring
        };
        Ok(Ok(Credential {
            key: Box::new(key),
            leaf: issued.leaf,
            identity: issued.identity,
            source,
        }))
    }
}

struct Issued {
    chain: Vec<Vec<u8>>,
    leaf: Certificate,
    identity: String,
    issuer: String,
}

/// A failed certificate request: the cache's fault (the agent could not sign the proof of
/// possession) or not.
enum Fulcio {
    Cache(CacheProblem),
    Failed(AppError),
}

impl Fulcio {
    fn into_app(self) -> AppError {
        match self {
            Fulcio::Failed(e) => e,
            Fulcio::Cache(CacheProblem(why)) => AppError::failed(why),
        }
    }
}
