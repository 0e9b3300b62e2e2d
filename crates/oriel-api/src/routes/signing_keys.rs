//! `/system/v1/signing-keys` and its deprecated alias `/video/v1/signing-keys`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use oriel_store::{new_id, SigningKey};
use rsa::pkcs1::{EncodeRsaPrivateKey, LineEnding};
use rsa::pkcs8::EncodePublicKey;
use rsa::RsaPrivateKey;

use crate::auth::Caller;
use crate::clock::unix_now;
use crate::error::{ApiError, ApiResult};
use crate::json_body::JsonObject;
use crate::pagination::Pagination;
use crate::path_id::PathId;
use crate::state::AppState;
use crate::views::{Data, SigningKeyView};

const KEY_BITS: usize = 2048;

pub fn router() -> Router<AppState> {
    let mut router = Router::new();
    for base in ["/system/v1/signing-keys", "/video/v1/signing-keys"] {
        router = router
            .route(base, get(list).post(create))
            .route(&format!("{base}/{{key_id}}"), get(fetch).delete(delete));
    }
    router
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    // The body carries nothing, but it must still be JSON (or empty) like every other one.
    _body: JsonObject,
) -> ApiResult<(StatusCode, Json<Data<SigningKeyView>>)> {
    let (private_pem, public_pem) = tokio::task::spawn_blocking(generate_key_pair)
        .await
        .map_err(ApiError::internal)??;
    let key = SigningKey {
        id: new_id(),
        environment_id: caller.environment_id,
        public_key_pem: public_pem,
        created_at: unix_now(),
    };
    state.store.insert_signing_key(&key).await?;
    // Mux hands out the PKCS#1 PEM, base64-encoded, exactly once; it is never stored.
    let mut view = SigningKeyView::from(key);
    view.private_key = Some(base64::engine::general_purpose::STANDARD.encode(private_pem));
    Ok((StatusCode::CREATED, Data::json(view)))
}

/// A 2048-bit RSA pair: the private key as PKCS#1 PEM, the public key as SPKI PEM.
pub(crate) fn generate_key_pair() -> ApiResult<(String, String)> {
    let private =
        RsaPrivateKey::new(&mut rand::rngs::OsRng, KEY_BITS).map_err(ApiError::internal)?;
    let private_pem = private
        .to_pkcs1_pem(LineEnding::LF)
        .map_err(ApiError::internal)?
        .to_string();
    let public_pem = private
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(ApiError::internal)?;
    Ok((private_pem, public_pem))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Pagination(page): Pagination,
) -> ApiResult<Json<Data<Vec<SigningKeyView>>>> {
    let keys = state
        .store
        .list_signing_keys(&caller.environment_id, page)
        .await?;
    Ok(Data::json(
        keys.into_iter().map(SigningKeyView::from).collect(),
    ))
}

async fn fetch(
    State(state): State<AppState>,
    caller: Caller,
    PathId(key_id): PathId,
) -> ApiResult<Json<Data<SigningKeyView>>> {
    let key = state
        .store
        .signing_key(&caller.environment_id, &key_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Signing Key"))?;
    Ok(Data::json(key.into()))
}

async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathId(key_id): PathId,
) -> ApiResult<StatusCode> {
    if state
        .store
        .delete_signing_key(&caller.environment_id, &key_id)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("Signing Key"))
    }
}
