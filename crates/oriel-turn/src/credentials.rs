//! TURN REST credentials (the scheme of coturn's `use-auth-secret`): the username is
//! `EXPIRY:ID` (unix seconds, then who it was made for) and the password is
//! base64(HMAC-SHA1(secret, username)). Whoever knows the secret mints them; the TURN server
//! recomputes the password from the username, so no credential is ever stored.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// A shared secret between Oriel and a TURN server (ours or coturn's `static-auth-secret`).
#[derive(Clone)]
pub struct TurnSecret(Vec<u8>);

impl std::fmt::Debug for TurnSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TurnSecret(..)")
    }
}

/// One join's TURN username and password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TurnCredential {
    pub username: String,
    pub password: String,
}

/// Why a TURN username was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("the username is not EXPIRY:ID")]
    Malformed,
    #[error("the credential expired")]
    Expired,
}

impl TurnSecret {
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Self(secret.into())
    }

    /// A fresh random secret (32 bytes, hex), for a node that was given none.
    pub fn generate() -> String {
        let bytes: [u8; 32] = rand::random();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Credentials for `id` (a connection id) valid until `expires_at` (unix seconds).
    pub fn mint(&self, id: &str, expires_at: u64) -> TurnCredential {
        // A colon in the id would make the expiry ambiguous to other parsers: keep it out.
        let id: String = id.chars().filter(|c| *c != ':').collect();
        let username = format!("{expires_at}:{id}");
        let password = self.password_of(&username);
        TurnCredential { username, password }
    }

    /// The password of `username` if its expiry is still ahead of `now` (unix seconds).
    pub fn password_for(&self, username: &str, now: u64) -> Result<String, CredentialError> {
        let expiry = username
            .split(':')
            .next()
            .and_then(|e| e.parse::<u64>().ok())
            .ok_or(CredentialError::Malformed)?;
        if expiry <= now {
            return Err(CredentialError::Expired);
        }
        Ok(self.password_of(username))
    }

    /// Checks a username and password pair as a TURN server would.
    pub fn verify(&self, username: &str, password: &str, now: u64) -> Result<(), VerifyError> {
        self.password_for(username, now)?;
        // Compare as MACs do: in constant time.
        let mut mac = self.mac();
        mac.update(username.as_bytes());
        let given = STANDARD
            .decode(password)
            .map_err(|_| VerifyError::WrongPassword)?;
        mac.verify_slice(&given)
            .map_err(|_| VerifyError::WrongPassword)?;
        Ok(())
    }

    fn mac(&self) -> Hmac<Sha1> {
        Hmac::<Sha1>::new_from_slice(&self.0).expect("HMAC takes a key of any length")
    }

    fn password_of(&self, username: &str) -> String {
        let mut mac = self.mac();
        mac.update(username.as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    }
}

/// Why a username and password pair was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Credential(#[from] CredentialError),
    #[error("the password does not match the username")]
    WrongPassword,
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn minted_credentials_verify_until_they_expire() {
        let secret = TurnSecret::new("s3cret");
        let credential = secret.mint("conn-1", NOW + 60);
        assert_eq!(credential.username, format!("{}:conn-1", NOW + 60));
        assert_eq!(
            secret.verify(&credential.username, &credential.password, NOW),
            Ok(())
        );
        assert_eq!(
            secret.verify(&credential.username, &credential.password, NOW + 60),
            Err(VerifyError::Credential(CredentialError::Expired))
        );
    }

    #[test]
    fn a_wrong_password_or_another_secret_is_refused() {
        let secret = TurnSecret::new("s3cret");
        let credential = secret.mint("conn-1", NOW + 60);
        let other = TurnSecret::new("other").mint("conn-1", NOW + 60);
        assert_eq!(
            secret.verify(&credential.username, &other.password, NOW),
            Err(VerifyError::WrongPassword)
        );
        assert_eq!(
            secret.verify(&credential.username, "not base64!", NOW),
            Err(VerifyError::WrongPassword)
        );
        // A username changed after minting (a later expiry) no longer matches its password.
        let stretched = format!("{}:conn-1", NOW + 86_400 * 365);
        assert_eq!(
            secret.verify(&stretched, &credential.password, NOW),
            Err(VerifyError::WrongPassword)
        );
    }

    #[test]
    fn malformed_usernames_are_refused() {
        let secret = TurnSecret::new("s3cret");
        for username in ["", "conn-1", "soon:conn-1", "-5:x", ":x"] {
            assert_eq!(
                secret.password_for(username, NOW),
                Err(CredentialError::Malformed),
                "{username:?}"
            );
        }
    }

    #[test]
    fn the_password_is_coturns() {
        // coturn's REST scheme: base64(HMAC-SHA1(secret, username)); a known answer computed
        // with `printf %s 1800000060:conn-1 | openssl dgst -sha1 -hmac s3cret -binary | base64`.
        let secret = TurnSecret::new("s3cret");
        let credential = secret.mint("conn-1", NOW + 60);
        assert_eq!(credential.password, KNOWN_PASSWORD);
    }

    const KNOWN_PASSWORD: &str = "tv8JZcxqsttwd2V7tTLXynemL0w=";

    #[test]
    fn colons_in_the_id_are_dropped() {
        let credential = TurnSecret::new("s").mint("a:b", NOW);
        assert_eq!(credential.username, format!("{NOW}:ab"));
    }
}
