//! Access tokens: HTTP Basic credentials of the REST API, one environment each.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use oriel_store::{new_id, new_secret, AccessToken, Environment, Store};

use crate::argon2_slots;
use crate::clock::unix_now;
use crate::error::ApiError;

/// A freshly created token: the only moment its secret exists in clear.
pub struct IssuedAccessToken {
    pub id: String,
    pub secret: String,
    pub environment: Environment,
}

/// Creates an access token in the environment called `environment_name`, creating that
/// environment when missing.
pub async fn create_access_token(
    store: &dyn Store,
    environment_name: &str,
    token_name: &str,
) -> Result<IssuedAccessToken, ApiError> {
    let now = unix_now();
    let environment = store
        .ensure_environment(environment_name, &new_id(), now)
        .await?;
    let secret = new_secret();
    let secret_hash = {
        let secret = secret.clone();
        argon2_slots::run(move || hash_secret(&secret)).await??
    };
    let token = AccessToken {
        id: new_id(),
        environment_id: environment.id.clone(),
        name: token_name.to_owned(),
        secret_hash,
        created_at: now,
        revoked_at: None,
    };
    store.insert_access_token(&token).await?;
    Ok(IssuedAccessToken {
        id: token.id,
        secret,
        environment,
    })
}

/// Argon2id with the crate's defaults (19 MiB, 2 passes): slow enough to make a stolen
/// database useless for guessing, and verified once per token per process thanks to the
/// authenticator's cache.
pub fn hash_secret(secret: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(ApiError::internal)
}

/// Whether `secret` matches a stored hash; a corrupt hash never matches.
pub fn secret_matches(secret: &str, stored_hash: &str) -> bool {
    PasswordHash::new(stored_hash)
        .map(|hash| {
            Argon2::default()
                .verify_password(secret.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_their_secret() {
        let hash = hash_secret("right").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(secret_matches("right", &hash));
        assert!(!secret_matches("wrong", &hash));
        assert!(!secret_matches("right", "not a hash"));
    }
}
