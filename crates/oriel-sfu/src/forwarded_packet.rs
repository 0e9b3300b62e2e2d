//! A publisher's packet as the SFU forwards it: only what a consumer writes on, so that it can
//! also come from another shard or another node (str0m's `RtpPacket` can be made by str0m alone).

use std::sync::Arc;

use str0m::media::Pt;
use str0m::rtp::{RtpPacket, VideoOrientation};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardedPacket {
    /// Extended (never wrapping) sequence number of the publisher's stream.
    pub seq_no: u64,
    /// The RTP timestamp as the publisher sent it.
    pub rtp_timestamp: u32,
    pub payload_type: Pt,
    pub marker: bool,
    /// The media extensions that travel on to subscribers (the transport ones are per leg).
    pub audio_level: Option<i8>,
    pub voice_activity: Option<bool>,
    pub video_orientation: Option<VideoOrientation>,
    pub payload: Arc<[u8]>,
}

impl From<RtpPacket> for ForwardedPacket {
    fn from(packet: RtpPacket) -> Self {
        let ext = &packet.header.ext_vals;
        Self {
            seq_no: *packet.seq_no,
            rtp_timestamp: packet.header.timestamp,
            payload_type: packet.header.payload_type,
            marker: packet.header.marker,
            audio_level: ext.audio_level,
            voice_activity: ext.voice_activity,
            video_orientation: ext.video_orientation,
            payload: packet.payload,
        }
    }
}
