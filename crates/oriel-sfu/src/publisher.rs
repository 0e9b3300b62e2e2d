//! A connection's publisher peer connection: the browser offers, the server answers.

use std::collections::HashMap;

use std::time::Instant;

use str0m::change::SdpOffer;
use str0m::media::Mid;
use str0m::rtp::Ssrc;

use crate::config::{layer_of_rid, MediaCandidates};
use crate::ids::ProducerId;
use crate::peer::{build_rtc, Peer};
use str0m::Rtc;

pub(crate) struct PublisherPc {
    pub(crate) peer: Peer,
    pub(crate) by_mid: HashMap<Mid, ProducerId>,
    /// Which producer and layer an incoming SSRC carries; filled on first sight.
    ssrcs: HashMap<Ssrc, (ProducerId, u8)>,
}

impl PublisherPc {
    /// On `rtc` when one was built ahead (see [`crate::PreparedPeers`]).
    pub(crate) fn new(candidates: &[MediaCandidates], rtc: Option<Rtc>, now: Instant) -> Self {
        let rtc = rtc.unwrap_or_else(|| build_rtc(candidates, false, now));
        Self {
            peer: Peer::from_rtc(rtc, now),
            by_mid: HashMap::new(),
            ssrcs: HashMap::new(),
        }
    }

    /// Answers an offer of the browser's publisher PC.
    pub(crate) fn accept_offer(&mut self, now: Instant, sdp: &str) -> Result<String, String> {
        let offer =
            SdpOffer::from_sdp_string(sdp).map_err(|e| format!("offer SDP is invalid: {e}"))?;
        let answer = self
            .peer
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| format!("offer was refused: {e}"))?;
        self.peer.touch(now);
        Ok(answer.to_sdp_string())
    }

    /// The producer and spatial layer of a packet's SSRC.
    pub(crate) fn route(&mut self, ssrc: Ssrc) -> Option<(ProducerId, u8)> {
        if let Some(route) = self.ssrcs.get(&ssrc) {
            return Some(*route);
        }
        let (mid, layer) = {
            let mut api = self.peer.rtc.direct_api();
            let stream = api.stream_rx(&ssrc)?;
            (stream.mid(), layer_of_rid(stream.rid().as_deref()))
        };
        let producer = *self.by_mid.get(&mid)?;
        self.ssrcs.insert(ssrc, (producer, layer));
        Some((producer, layer))
    }

    pub(crate) fn forget(&mut self, producer: ProducerId) {
        self.by_mid.retain(|_, p| *p != producer);
        self.ssrcs.retain(|_, (p, _)| *p != producer);
    }
}
