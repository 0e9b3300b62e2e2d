//! Dashboard users: made with `oriel admin create-user`, passwords kept as Argon2id hashes.

use std::sync::OnceLock;

use oriel_store::{new_id, DashboardUser, Store};

use crate::access_tokens::{hash_secret, secret_matches};
use crate::argon2_slots;
use crate::clock::unix_now;
use crate::error::ApiError;

pub const MIN_PASSWORD_CHARS: usize = 8;
const MAX_PASSWORD_CHARS: usize = 1024;
const MAX_EMAIL_CHARS: usize = 254;
/// The environment a fresh installation starts with, as the CLI's access tokens do.
const FIRST_ENVIRONMENT: &str = "development";

/// A user just made.
#[derive(Debug)]
pub struct CreatedUser {
    pub id: String,
    pub email: String,
}

/// Creates a dashboard user (and the `development` environment when there is none yet).
pub async fn create_user(
    store: &dyn Store,
    email: &str,
    password: &str,
) -> Result<CreatedUser, ApiError> {
    let email = normalize_email(email)?;
    check_password(password)?;
    let password_hash = {
        let password = password.to_owned();
        argon2_slots::run(move || hash_secret(&password)).await??
    };
    let now = unix_now();
    let user = DashboardUser {
        id: new_id(),
        email: email.clone(),
        password_hash,
        created_at: now,
    };
    if !store.insert_dashboard_user(&user).await? {
        return Err(ApiError::failed_request(format!(
            "A dashboard user with the email {email} exists already"
        )));
    }
    if store.list_environments().await?.is_empty() {
        store
            .ensure_environment(FIRST_ENVIRONMENT, &new_id(), now)
            .await?;
    }
    Ok(CreatedUser { id: user.id, email })
}

/// Trimmed and checked; compared case-insensitively by the store.
pub fn normalize_email(email: &str) -> Result<String, ApiError> {
    let email = email.trim();
    let valid = email.chars().count() <= MAX_EMAIL_CHARS
        && !email.chars().any(char::is_whitespace)
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty());
    if valid {
        Ok(email.to_owned())
    } else {
        Err(ApiError::invalid_parameters(
            "email must look like name@example.com",
        ))
    }
}

pub fn check_password(password: &str) -> Result<(), ApiError> {
    let chars = password.chars().count();
    if (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        Ok(())
    } else {
        Err(ApiError::invalid_parameters(format!(
            "password must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
        )))
    }
}

/// The user whose email and password these are. An unknown email costs the same Argon2 time
/// as a wrong password, so answers do not reveal which emails exist.
pub async fn verify_password(
    store: &dyn Store,
    email: &str,
    password: &str,
) -> Result<Option<DashboardUser>, ApiError> {
    let user = store.dashboard_user_by_email(email.trim()).await?;
    let stored_hash = user.as_ref().map(|user| user.password_hash.clone());
    let password = password.to_owned();
    let matches = argon2_slots::run(move || {
        let stored_hash = stored_hash.as_deref().unwrap_or_else(|| decoy_hash());
        secret_matches(&password, stored_hash)
    })
    .await?;
    Ok(user.filter(|_| matches))
}

/// A hash no password is checked against successfully in practice, to spend the same time.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_secret(&oriel_store::new_secret()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_and_passwords_are_checked() {
        assert_eq!(
            normalize_email("  ada@example.com ").unwrap(),
            "ada@example.com"
        );
        for bad in ["", "ada", "@example.com", "ada@", "a da@example.com"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
        assert!(check_password("12345678").is_ok());
        assert!(check_password("1234567").is_err());
        assert!(check_password(&"x".repeat(1025)).is_err());
    }

    #[tokio::test]
    async fn users_sign_in_only_with_their_password() {
        let dir = std::env::temp_dir().join(format!("oriel-dashboard-users-{}", new_id()));
        let store = oriel_store::SqliteStore::open(&dir).await.unwrap();
        let user = create_user(&store, "Ada@Example.com", "correct horse")
            .await
            .unwrap();
        assert_eq!(user.email, "Ada@Example.com");
        let stored = store
            .dashboard_user_by_email("ada@example.com")
            .await
            .unwrap()
            .unwrap();
        assert!(stored.password_hash.starts_with("$argon2id$"));
        assert!(!stored.password_hash.contains("correct horse"));
        let again = create_user(&store, "ada@example.com", "another one").await;
        assert_eq!(again.unwrap_err().status().as_u16(), 412);
        let names: Vec<String> = store
            .list_environments()
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["development"]);

        let ok = verify_password(&store, "ADA@example.com", "correct horse")
            .await
            .unwrap();
        assert_eq!(ok.map(|u| u.id), Some(user.id));
        for (email, password) in [
            ("ada@example.com", "wrong password"),
            ("nobody@example.com", "correct horse"),
        ] {
            assert!(verify_password(&store, email, password)
                .await
                .unwrap()
                .is_none());
        }
        store.close().await;
        std::fs::remove_dir_all(dir).unwrap();
    }
}
