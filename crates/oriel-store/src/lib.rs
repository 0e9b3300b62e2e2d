//! Durable state of an Oriel node: environments, access tokens, signing keys and spaces.
//!
//! Everything goes through the [`Store`] trait so that a node can run on the embedded SQLite
//! database ([`SqliteStore`], the default) or, for several nodes, on a shared PostgreSQL.
//! Callers hand in every id and timestamp; the store only keeps and finds things, which keeps
//! the backends small and identical in behaviour.

mod error;
mod ids;
mod model;
mod page;
mod sqlite;
mod store;

pub use error::StoreError;
pub use ids::{new_id, new_secret};
pub use model::{
    AccessToken, CallRating, DashboardJoinKey, DashboardSession, DashboardUser, Environment,
    SigningKey, Space, SpaceDeletion, SpaceStatus,
};
pub use page::Page;
pub use sqlite::SqliteStore;
pub use store::Store;
