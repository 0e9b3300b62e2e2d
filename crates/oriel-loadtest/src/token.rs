//! Join tokens, signed as a customer's backend would: RS256 with the signing key's private key.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    aud: &'a str,
    exp: u64,
    role: &'a str,
    participant_id: &'a str,
}

pub struct TokenSigner {
    key_id: String,
    key: EncodingKey,
    space_id: String,
    expires_at: u64,
}

impl TokenSigner {
    /// Tokens for `space_id`, valid for `lifetime_secs` from now.
    pub fn new(
        key_id: &str,
        private_key_pem: &str,
        space_id: &str,
        lifetime_secs: u64,
    ) -> anyhow::Result<Self> {
        let key = EncodingKey::from_rsa_pem(private_key_pem.as_bytes())
            .context("the signing key's private key is not an RSA PEM")?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Ok(Self {
            key_id: key_id.to_owned(),
            key,
            space_id: space_id.to_owned(),
            expires_at: now + lifetime_secs,
        })
    }

    /// A token for `participant_id`, as a publisher or a subscriber.
    pub fn sign(&self, participant_id: &str, subscriber: bool) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.key_id.clone());
        let claims = Claims {
            sub: &self.space_id,
            aud: "rt",
            exp: self.expires_at,
            role: if subscriber {
                "subscriber"
            } else {
                "publisher"
            },
            participant_id,
        };
        jsonwebtoken::encode(&header, &claims, &self.key).context("cannot sign a join token")
    }
}
