//! Join tokens the node mints itself (the dashboard's test joins, a broadcast's compositor),
//! signed with a key it holds for the environment: made on first use, hidden from the REST
//! API, accepted by the join verifier like any signing key.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use oriel_store::{new_id, DashboardJoinKey, SigningKey};
use serde_json::{Map, Value};

use crate::clock::unix_now;
use crate::error::{ApiError, ApiResult};
use crate::routes::generate_key_pair;
use crate::state::AppState;

/// The environment's internal key, made on first use.
pub async fn internal_key(state: &AppState, environment_id: &str) -> ApiResult<DashboardJoinKey> {
    if let Some(key) = state.store.dashboard_join_key(environment_id).await? {
        return Ok(key);
    }
    let (private_pem, public_pem) = tokio::task::spawn_blocking(generate_key_pair)
        .await
        .map_err(ApiError::internal)??;
    let key = SigningKey {
        id: new_id(),
        environment_id: environment_id.to_owned(),
        public_key_pem: public_pem,
        created_at: unix_now(),
    };
    // Two first uses at once: one insert wins, both use the winner's key.
    state
        .store
        .insert_dashboard_join_key(&key, &private_pem)
        .await?;
    state
        .store
        .dashboard_join_key(environment_id)
        .await?
        .ok_or_else(|| ApiError::internal("the environment's internal join key is missing"))
}

/// A join token for `space_id` with `claims` (role, participant_id, ...) beside `sub`, `aud`
/// and `exp`, signed with the environment's internal key.
pub async fn mint(
    state: &AppState,
    environment_id: &str,
    space_id: &str,
    expires_at: i64,
    mut claims: Map<String, Value>,
) -> ApiResult<String> {
    let key = internal_key(state, environment_id).await?;
    claims.insert("sub".into(), space_id.into());
    claims.insert("aud".into(), "rt".into());
    claims.insert("exp".into(), expires_at.into());
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(key.key_id.clone());
    let encoding =
        EncodingKey::from_rsa_pem(key.private_key_pem.as_bytes()).map_err(ApiError::internal)?;
    jsonwebtoken::encode(&header, &claims, &encoding).map_err(ApiError::internal)
}
