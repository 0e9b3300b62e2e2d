//! The embedded server's authentication: TURN REST usernames checked against the node's
//! secret, so credentials minted at a join work without any per-user state.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use turn::auth::{generate_auth_key, AuthHandler};

use crate::credentials::TurnSecret;

pub(crate) struct RestAuth {
    pub secret: TurnSecret,
}

impl AuthHandler for RestAuth {
    fn auth_handle(
        &self,
        username: &str,
        realm: &str,
        src_addr: SocketAddr,
    ) -> Result<Vec<u8>, turn::Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        match self.secret.password_for(username, now) {
            // The long-term key (RFC 5389 15.4); the server checks MESSAGE-INTEGRITY with it.
            Ok(password) => Ok(generate_auth_key(username, realm, &password)),
            Err(error) => {
                tracing::debug!(%src_addr, username, %error, "TURN credential refused");
                Err(turn::Error::Other(error.to_string()))
            }
        }
    }
}
