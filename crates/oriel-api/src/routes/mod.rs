mod broadcasts;
mod demo;
mod health;
mod live_streams;
mod sdk;
mod signing_keys;
mod spaces;

pub use broadcasts::router as broadcasts;
pub(crate) use broadcasts::BroadcastRequest;
pub use demo::router as demo;
pub use health::router as health;
pub use live_streams::router as live_streams;
pub use sdk::router as sdk;
pub(crate) use sdk::Asset;
pub(crate) use signing_keys::generate_key_pair;
pub use signing_keys::router as signing_keys;
pub use spaces::router as spaces;
