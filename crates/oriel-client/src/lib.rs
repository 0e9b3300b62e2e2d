//! A Rust client SDK for Oriel (and any server speaking the Spaces protocol): the signaling of
//! `/pluto/v1` as `@mux/spaces-web` 1.2.0 speaks it, and WebRTC media over str0m.
//!
//! Two layers:
//!
//! * [`Session`], a sans-IO core: it is fed server frames, datagrams and time, and produces
//!   frames, datagrams, events and timeouts. It never blocks, allocates nothing per received
//!   packet beyond str0m's own, and can be driven by any I/O loop (or an in-memory test).
//! * [`connect`] and [`Client`], a small tokio driver: one task per client owning its
//!   WebSocket (tokio-tungstenite) and its UDP sockets (one per peer connection, as a browser
//!   gathers one host candidate per peer connection). Hundreds of clients share the runtime.
//!
//! ```no_run
//! # async fn demo(token: String) -> Result<(), Box<dyn std::error::Error>> {
//! use oriel_client::{connect, ClientEvent, ClientOptions, PublishOptions};
//! let options = ClientOptions::new("ws://127.0.0.1:8080/pluto", token);
//! let (client, mut events) = connect(options).await?;
//! client.publish(PublishOptions::default()).await?;
//! while let Some(event) = events.recv().await {
//!     if let ClientEvent::Media(packet) = event {
//!         println!("{} bytes of {}", packet.payload.len(), packet.tid);
//!     }
//! }
//! client.leave().await;
//! # Ok(()) }
//! ```
//!
//! Publishers send synthetic media ([`media`]): VP8 simulcast in the layers the server's
//! `joined.simulcast` asks for, and Opus with audio levels, each payload carrying a send
//! stamp ([`stamp`]) from which subscribers in the same process measure delay
//! ([`ReceivedPacket::sent_at`]). Heavy receivers should use a [`MediaSink`], called inside
//! the client's task, rather than [`ClientEvent::Media`].
//!
//! Not implemented: reconnection (`reconnect_id`), unpublishing and muting of published
//! tracks, and screen shares.

mod counters;
mod driver;
mod events;
pub mod kernel_receive;
pub mod media;
mod pacer;
mod session;
pub mod stamp;

pub use counters::ClientCounters;
pub use driver::{connect, join_url, Client, ClientOptions, EventStream, SDK_VERSION};
pub use events::{
    ClientError, ClientEvent, JoinError, JoinedInfo, MediaDelivery, MediaPacket, MediaSink,
    PublishedTrack, ReceivedPacket, RequestOk, Speaker,
};
pub use session::{
    role_of_token, Output, PublishOptions, Session, SessionOptions, SessionState, SocketFactory,
    REQUEST_TIMEOUT,
};
/// The WebRTC stack, for its media types ([`str0m::media::MediaKind`], [`str0m::media::Mid`]).
pub use str0m;
