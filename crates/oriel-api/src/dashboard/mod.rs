//! The dashboard: a web app at `/` for people (not programs) to manage environments, access
//! tokens, signing keys and spaces, watch a space's participants live and read its call-quality ratings, run the REST requests
//! it shows, and try a join.
//!
//! Its JSON API lives under `/dashboard/api/...` and is authenticated only by the session
//! cookie ([`session::SignedIn`]) with a CSRF token on every unsafe method; HTTP Basic never
//! opens it, and the session cookie never opens `/video/v1` or `/system/v1`. The front end is
//! built from `dashboard/` at the repository root and embedded ([`pages`]).

mod access_tokens;
mod csrf;
mod environments;
mod pages;
mod participants;
mod ratings;
mod run;
mod session;
mod sign_in;
mod test_join;
mod users;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::Router;
use oriel_store::Environment;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

pub(crate) use participants::view as participants_view;
pub use users::{create_user, CreatedUser, MIN_PASSWORD_CHARS};

/// What the dashboard keeps in memory.
#[derive(Default)]
pub struct DashboardState {
    sign_in_limiter: sign_in::SignInLimiter,
}

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(sign_in::router())
        .merge(environments::router())
        .merge(access_tokens::router())
        .merge(run::router())
        .merge(participants::router())
        .merge(ratings::router())
        .merge(test_join::router())
        .merge(pages::router())
}

/// Path parameters, with bad ones refused in the API's error envelope.
pub(crate) struct DashPath<T>(pub T);

impl<T, S> FromRequestParts<S> for DashPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| Self(value))
            .map_err(|rejection| {
                ApiError::invalid_parameters(format!("Invalid id in path: {rejection}"))
            })
    }
}

/// The environment a dashboard request names, or 404.
pub(crate) async fn environment(state: &AppState, id: &str) -> Result<Environment, ApiError> {
    state
        .store
        .environment(id)
        .await?
        .ok_or_else(|| ApiError::not_found("Environment"))
}

/// Stored unix seconds as Mux writes them: a string.
pub(crate) fn timestamp(seconds: i64) -> String {
    seconds.to_string()
}
