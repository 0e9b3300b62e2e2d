//! The compositor of broadcasts: joins a space as a hidden subscriber (through
//! `oriel-client`), lays out and mixes its publishers with GStreamer, and writes H.264 + AAC
//! as HLS and to RTMP targets. It runs as its own process (`oriel-compositor`) so that a
//! GStreamer fault never takes the node down.

pub mod background;
pub mod layout;
pub mod pipeline;
pub mod playlist;
pub mod roster;
pub mod rtmp;
pub mod status;
