mod call_quality;
mod demo;
mod health;
mod sdk;
mod signing_keys;
mod spaces;

pub use call_quality::router as call_quality;
pub use demo::router as demo;
pub use health::router as health;
pub use sdk::router as sdk;
pub(crate) use sdk::Asset;
pub(crate) use signing_keys::generate_key_pair;
pub use signing_keys::router as signing_keys;
pub use spaces::router as spaces;
