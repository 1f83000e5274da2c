//! The credential cache, seen from `gitsign`: which one to use (`gitsign.credentialCacheMode`)
//! and the agent's key as a [`KeySigner`]. The agent lives in `credential-cache/`; the OS
//! keyring store in [`crate::io::keyring`].

use std::cell::RefCell;
use std::path::PathBuf;

pub use credential_cache::client::{Client, ClientError, Lookup};
pub use credential_cache::protocol::{CacheKey, EntryInfo};
pub use credential_cache::store::DEFAULT_MARGIN as MARGIN;

use crate::io::config::Settings;
use crate::io::key::KeySigner;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Off,
    /// The agent at `path`; `explicit` when the user asked for it (a problem is then worth
    /// a line; the default socket that nobody started is not).
    Socket {
        path: PathBuf,
        explicit: bool,
    },
    /// The OS keyring (Linux keyutils).
    System,
}

impl Mode {
    pub fn from_settings(settings: &Settings) -> Result<Mode, String> {
        let configured = settings
            .credential_cache
            .clone()
            .filter(|p| !p.as_os_str().is_empty());
        let mode = settings
            .credential_cache_mode
            .as_deref()
            .map(|m| m.trim().to_ascii_lowercase());
        match mode.as_deref() {
            Some("off") => Ok(Mode::Off),
            Some("system" | "keyring") => Ok(Mode::System),
            Some("socket") => configured
                .or_else(credential_cache::socket::default_path)
                .map(|path| Mode::Socket {
                    path,
                    explicit: true,
                })
                .ok_or_else(|| {
                    "gitsign.credentialCacheMode=socket, but no socket path: set GITSIGN_CREDENTIAL_CACHE".to_string()
                }),
            None | Some("") => Ok(match configured {
                Some(path) => Mode::Socket {
                    path,
                    explicit: true,
                },
                None => credential_cache::socket::default_path().map_or(Mode::Off, |path| {
                    Mode::Socket {
                        path,
                        explicit: false,
                    }
                }),
            }),
            Some(other) => Err(format!(
                "gitsign.credentialCacheMode must be socket, system (or keyring) or off, not {other:?}"
            )),
        }
    }
}

/// What a credential is cached under: the services and sign-in configuration, never the
/// directory (every repository and worktree shares one sign-in).
pub fn cache_key(settings: &Settings) -> CacheKey {
    CacheKey {
        fulcio: settings.fulcio.clone(),
        issuer: settings.issuer.clone(),
        client_id: settings.client_id.clone(),
        connector_id: settings.connector_id.clone(),
    }
}

/// A key the agent holds: signing is a request over the agent's socket.
pub struct AgentKey {
    client: RefCell<Client>,
    handle: u64,
    public_key: Vec<u8>,
}

impl AgentKey {
    pub fn new(client: Client, handle: u64, public_key: Vec<u8>) -> AgentKey {
        AgentKey {
            client: RefCell::new(client),
            handle,
            public_key,
        }
    }

    /// Hands the certificate to the agent for the next signers.
    pub fn store(
        &self,
        chain: &[Vec<u8>],
        identity: &str,
        issuer: &str,
    ) -> Result<i64, ClientError> {
        self.client
            .borrow_mut()
            .store(self.handle, chain, identity, issuer)
    }
}

impl KeySigner for AgentKey {
    fn public_key_der(&self) -> Vec<u8> {
        self.public_key.clone()
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        self.client
            .borrow_mut()
            .sign(self.handle, message)
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(env: &[(&str, &str)], git: &[(&str, &str)]) -> Settings {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let git = git
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect();
        Settings::resolve(&git, &|k| env.get(k).cloned()).unwrap()
    }

    #[test]
    fn the_socket_variable_turns_the_cache_on_as_with_gitsign() {
        let s = settings(&[("GITSIGN_CREDENTIAL_CACHE", "/run/x.sock")], &[]);
        assert_eq!(
            Mode::from_settings(&s).unwrap(),
            Mode::Socket {
                path: "/run/x.sock".into(),
                explicit: true
            }
        );
    }

    #[test]
    fn modes_are_read_from_git_config_and_the_environment() {
        let off = settings(
            &[("GITSIGN_CREDENTIAL_CACHE", "/run/x.sock")],
            &[("gitsign.credentialCacheMode", "off")],
        );
        assert_eq!(Mode::from_settings(&off).unwrap(), Mode::Off);
        for m in ["system", "keyring", "KEYRING"] {
            let s = settings(&[("GITSIGN_CREDENTIAL_CACHE_MODE", m)], &[]);
            assert_eq!(Mode::from_settings(&s).unwrap(), Mode::System);
        }
        let bad = settings(&[], &[("gitsign.credentialCacheMode", "sometimes")]);
        assert!(
            Mode::from_settings(&bad)
                .unwrap_err()
                .contains("socket, system (or keyring) or off")
        );
    }

    #[test]
    fn the_key_names_services_and_sign_in_but_not_the_directory() {
        let a = settings(
            &[],
            &[("gitsign.connectorID", "https://github.com/login/oauth")],
        );
        let k = cache_key(&a);
        assert_eq!(
            k.connector_id.as_deref(),
            Some("https://github.com/login/oauth")
        );
        assert_eq!(k.client_id, "sigstore");
        let b = settings(&[("GITSIGN_FULCIO_URL", "https://f.example")], &[]);
        assert_ne!(cache_key(&b), cache_key(&a));
    }
}
