use std::net::SocketAddr;
use std::sync::Arc;

use oriel_proto::{Limits, SimulcastEncoding, SimulcastSettings};

/// Settings shared by every space of a worker.
#[derive(Clone, Debug)]
pub struct SpaceConfig {
    /// The addresses browsers reach this worker's media at (one entry per media IP: dual
    /// stack, several NICs), advertised as its ICE candidates.
    pub candidates: Arc<[MediaCandidates]>,
    /// Limits sent in `joined` and enforced by the server.
    pub limits: Limits,
    /// Tracks per source a connection may publish.
    pub max_tracks_per_source: usize,
    /// This shard's number among the shards of a space spread over several workers (the
    /// worker's index): it makes producer ids unique across them.
    pub shard: u16,
}

impl SpaceConfig {
    /// A worker with one UDP address and no TCP candidate.
    pub fn new(media_addr: SocketAddr) -> Self {
        Self {
            candidates: Arc::new([MediaCandidates {
                udp: media_addr,
                tcp: None,
            }]),
            limits: Limits {
                custom_events_per_second: 5,
                default_track_limit: 2,
                seconds_per_set_display_name: 10,
            },
            max_tracks_per_source: 2,
            shard: 0,
        }
    }

    /// The three camera layers publishers send: quarter, half and full resolution.
    pub(crate) fn simulcast(&self) -> SimulcastSettings {
        SimulcastSettings {
            camera_encodings: LAYERS
                .iter()
                .map(|layer| SimulcastEncoding {
                    rid: layer.rid,
                    max_bitrate: layer.max_bitrate,
                    scale_resolution_down_by: layer.scale_down_by,
                    max_framerate: 0,
                })
                .collect(),
            // Screen shares go as one high-quality layer.
            screenshare_encodings: Vec::new(),
        }
    }
}

/// Where a worker takes media on one of its IPs, as clients are told in candidates. These are the addresses the
/// clients send to: behind a 1:1 NAT, the public ones. The shell hands every datagram in with
/// the candidate address it arrived on, so ICE matches it to the right candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaCandidates {
    pub udp: SocketAddr,
    /// The passive ICE-TCP candidate (RFC 6544), for clients that cannot send UDP.
    pub tcp: Option<SocketAddr>,
}

/// One simulcast layer as publishers are asked to send it.
pub(crate) struct LayerSpec {
    pub(crate) rid: &'static str,
    pub(crate) max_bitrate: u32,
    pub(crate) scale_down_by: f32,
}

/// Lowest first; a layer's index is its spatial layer number.
pub(crate) const LAYERS: [LayerSpec; 3] = [
    LayerSpec {
        rid: "q",
        max_bitrate: 150_000,
        scale_down_by: 4.0,
    },
    LayerSpec {
        rid: "h",
        max_bitrate: 500_000,
        scale_down_by: 2.0,
    },
    LayerSpec {
        rid: "f",
        max_bitrate: 1_500_000,
        scale_down_by: 1.0,
    },
];

/// The spatial layer of a rid (`None` for streams without simulcast: layer 0).
pub(crate) fn layer_of_rid(rid: Option<&str>) -> u8 {
    match rid {
        None => 0,
        Some(rid) => LAYERS
            .iter()
            .position(|layer| layer.rid == rid)
            .map_or(0, |index| index as u8),
    }
}
