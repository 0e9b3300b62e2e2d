use std::net::SocketAddr;

use oriel_proto::{Limits, SimulcastEncoding, SimulcastSettings};

/// Settings shared by every space of a worker.
#[derive(Clone, Debug)]
pub struct SpaceConfig {
    /// Where this worker receives media; advertised as the only (host) candidate.
    pub media_addr: SocketAddr,
    /// Limits sent in `joined` and enforced by the server.
    pub limits: Limits,
    /// Tracks per source a connection may publish.
    pub max_tracks_per_source: usize,
}

impl SpaceConfig {
    pub fn new(media_addr: SocketAddr) -> Self {
        Self {
            media_addr,
            limits: Limits {
                custom_events_per_second: 5,
                default_track_limit: 2,
                seconds_per_set_display_name: 10,
            },
            max_tracks_per_source: 2,
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
