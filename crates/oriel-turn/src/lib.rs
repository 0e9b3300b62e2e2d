//! TURN for browsers that reach neither the UDP nor the TCP media ports: REST credentials
//! minted per join, and an embedded TURN server (webrtc-rs `turn`) that relays only to this
//! node's own media ports.

mod auth;
pub mod credentials;
pub mod ice_servers;
pub mod peers;
mod permission_gate;
mod relay;
mod server;
mod stream_conn;

pub use credentials::{CredentialError, TurnCredential, TurnSecret, VerifyError};
pub use ice_servers::{embedded_urls, IceServerGrant, TurnOffer, CREDENTIAL_LIFETIME};
pub use peers::AllowedPeers;
pub use server::{EmbeddedTurn, EmbeddedTurnSettings, REALM};
pub use tokio_rustls::TlsAcceptor;
