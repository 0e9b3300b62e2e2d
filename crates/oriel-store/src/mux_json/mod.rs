//! The JSON shapes of Mux's objects, built from stored ones: what the API answers and what
//! webhook events carry, so both always agree.

mod broadcast;
mod live_stream;
mod space;

pub use broadcast::BroadcastView;
pub use live_stream::{LiveStreamView, PlaybackIdView, SimulcastTargetView};
pub use space::SpaceView;
