//! Checks a join token against the store: its key, its signature and claims, and that its
//! space belongs to the key's environment.

use oriel_jointoken::{JoinGrant, JoinTokenError, PublicSigningKey};
use oriel_store::Store;

use crate::clock::unix_now;

/// A join the store vouches for.
#[derive(Debug)]
pub struct AuthorizedJoin {
    pub grant: JoinGrant,
    pub environment_id: String,
}

/// Why a join was refused: the token itself, or the store failing to answer.
#[derive(Debug, thiserror::Error)]
pub enum JoinRefusal {
    #[error("{0}")]
    Token(#[from] JoinTokenError),
    #[error("the server could not check the token: {0}")]
    Store(#[from] oriel_store::StoreError),
}

pub async fn authorize_join(store: &dyn Store, token: &str) -> Result<AuthorizedJoin, JoinRefusal> {
    authorize(store, token, 0).await
}

/// [`authorize_join`] for what a participant does after its call: the token may have expired
/// up to `expiry_grace_seconds` ago (signature, audience and space are checked all the same).
pub(crate) async fn authorize_after_call(
    store: &dyn Store,
    token: &str,
    expiry_grace_seconds: u64,
) -> Result<AuthorizedJoin, JoinRefusal> {
    authorize(store, token, expiry_grace_seconds).await
}

async fn authorize(
    store: &dyn Store,
    token: &str,
    expiry_grace_seconds: u64,
) -> Result<AuthorizedJoin, JoinRefusal> {
    let key_id = oriel_jointoken::key_id(token)?;
    let key = store
        .signing_key_by_id(&key_id)
        .await?
        .ok_or(JoinTokenError::UnknownKey)?;
    let public_key = PublicSigningKey {
        id: &key.id,
        public_key_pem: &key.public_key_pem,
    };
    let now = u64::try_from(unix_now()).unwrap_or(0);
    let grant =
        oriel_jointoken::verify_with_expiry_grace(token, &public_key, now, expiry_grace_seconds)?;
    // A key may only admit to its own environment's spaces.
    if store
        .space(&key.environment_id, &grant.space_id)
        .await?
        .is_none()
    {
        return Err(JoinTokenError::SpaceNotInEnvironment.into());
    }
    // Hidden participants (a broadcast's compositor) watch unseen: only the node mints them,
    // with its own key of the environment.
    if grant.hidden {
        let internal = store.dashboard_join_key(&key.environment_id).await?;
        if internal.is_none_or(|internal| internal.key_id != key.id) {
            return Err(JoinTokenError::HiddenNotAllowed.into());
        }
    }
    Ok(AuthorizedJoin {
        grant,
        environment_id: key.environment_id,
    })
}
