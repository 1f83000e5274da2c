//! gitsign-rs's credential cache: an agent in the ssh-agent mould that keeps the ephemeral
//! signing key and its Fulcio certificate while the certificate lives, so a rebase of 50
//! commits asks for one sign-in.
//!
//! - The key is made inside the agent and never leaves it: clients ask it to sign (the
//!   proof of possession for Fulcio, then each commit's signed attributes) and get back
//!   signatures, the public key and the certificate chain ([`protocol`] lists every message).
//! - The agent never signs in and takes no configuration over the wire: the client runs the
//!   OIDC flow, gets the certificate, checks it and stores it ([`store`]).
//! - Credentials are keyed by Fulcio, OIDC issuer, client id, connector id and identity, not by
//!   directory; concurrent misses wait for one sign-in; entries expire on time, a margin
//!   before the certificate does.
//! - The socket is private from its first instant and only the agent's own user is served
//!   ([`socket`]).
//!
//! Non-goals: Windows (named pipes), running the OIDC flow in the agent, serving other users
//! (root included).

pub mod client;
pub mod daemon;
pub mod keyring;
pub mod protocol;
mod secret;
pub mod socket;
pub mod store;
