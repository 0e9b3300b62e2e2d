mod health;
mod signing_keys;
mod spaces;

pub use health::router as health;
pub use signing_keys::router as signing_keys;
pub use spaces::router as spaces;
