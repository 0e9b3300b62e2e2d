//! The JSON shapes of Mux's objects, built from stored ones.

pub use oriel_store::mux_json::SpaceView;
use oriel_store::SigningKey;
use serde::Serialize;

#[derive(Serialize)]
pub struct SigningKeyView {
    pub id: String,
    pub created_at: String,
    /// Only in the response that creates the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_key: Option<String>,
}

impl From<SigningKey> for SigningKeyView {
    fn from(key: SigningKey) -> Self {
        Self {
            id: key.id,
            created_at: key.created_at.to_string(),
            private_key: None,
        }
    }
}

/// Mux's success envelope: `{"data": ...}`.
#[derive(Serialize)]
pub struct Data<T> {
    pub data: T,
}

impl<T> Data<T> {
    pub fn json(data: T) -> axum::Json<Self> {
        axum::Json(Self { data })
    }
}
