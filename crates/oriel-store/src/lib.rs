//! Durable state of an Oriel node: environments, access tokens, signing keys, spaces (with
//! their broadcasts), live streams, and webhook endpoints with the outbox of their events.
//!
//! Everything goes through the [`Store`] trait so that a node can run on the embedded SQLite
//! database ([`SqliteStore`], the default) or, for several nodes, on a shared PostgreSQL
//! ([`PostgresStore`]); [`open`] picks one from the node's settings.
//! Callers hand in every id and timestamp; the store only keeps and finds things, which keeps
//! the backends small and identical in behaviour.

mod broadcast;
mod error;
mod ids;
mod live_stream;
mod model;
pub mod mux_json;
mod open;
mod page;
mod postgres;
#[cfg(test)]
mod postgres_begin_tests;
mod postgres_broadcasts;
mod postgres_live_streams;
mod postgres_webhooks;
mod rows;
mod sqlite;
mod sqlite_broadcasts;
mod sqlite_live_streams;
mod sqlite_webhooks;
mod store;
#[cfg(test)]
mod store_tests;
#[cfg(test)]
mod test_postgres;
mod webhook;

pub use broadcast::{Broadcast, BroadcastChange, BroadcastDeletion, BroadcastInsert};
pub use error::StoreError;
pub use ids::{new_id, new_secret, new_uuid};
pub use live_stream::{LiveStream, LiveStreamStatus, PlaybackId, SimulcastTarget};
pub use model::{
    AccessToken, CallRating, DashboardJoinKey, DashboardSession, DashboardUser, Environment,
    SigningKey, Space, SpaceDeletion, SpaceStatus,
};
pub use open::{open, DatabaseUrl};
pub use page::Page;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
pub use store::Store;
pub use webhook::{
    DeliveryOutcome, DueDelivery, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent,
};
