//! A connection's subscriber peer connection: the server offers, the browser answers.
//!
//! Changes (consumers added or removed) are batched into one offer at a time: the SDK keeps
//! no glare handling, so a new `sub_offer` waits until the previous one is answered.

use std::collections::HashMap;

use std::time::Instant;

use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind, Mid};

use crate::config::MediaCandidates;
use crate::consumer::Consumer;
use crate::ids::ProducerId;
use crate::peer::{build_rtc, Peer};
use str0m::Rtc;

pub(crate) struct SubscriberPc {
    pub(crate) peer: Peer,
    pub(crate) sfu_id: String,
    pub(crate) consumers: Vec<Consumer>,
    pub(crate) by_producer: HashMap<ProducerId, usize>,
    pub(crate) by_mid: HashMap<Mid, usize>,
    pending_offer: Option<SdpPendingOffer>,
    /// Producers to add in the next offer, with their kind and tid (the msid stream id).
    to_add: Vec<(ProducerId, MediaKind, String)>,
    /// Mids to turn inactive in the next offer.
    to_remove: Vec<Mid>,
    /// Latest bandwidth estimate towards this subscriber, bits per second.
    pub(crate) egress_estimate_bps: u64,
    /// The tallest picture it draws of a video, when it said so (Oriel's `max_height`): the
    /// layer forwarded is the smallest that fills it.
    pub(crate) max_heights: HashMap<ProducerId, u32>,
    /// The minimum playout delay its browser is asked for (raised while its link loses packets).
    pub(crate) playout_delay: oriel_media::PlayoutDelay,
    /// Whether this subscriber is already in the space's list of peers to drain: a flag
    /// rather than a search of that list, which a fan-out would do once per subscriber.
    pub(crate) awaiting_drain: bool,
}

impl SubscriberPc {
    /// On `rtc` when one was built ahead (see [`crate::PreparedPeers`]).
    pub(crate) fn new(
        candidates: &[MediaCandidates],
        rtc: Option<Rtc>,
        sfu_id: String,
        now: Instant,
    ) -> Self {
        let rtc = rtc.unwrap_or_else(|| build_rtc(candidates, true, now));
        Self {
            peer: Peer::from_rtc(rtc, now),
            sfu_id,
            consumers: Vec::new(),
            by_producer: HashMap::new(),
            by_mid: HashMap::new(),
            pending_offer: None,
            to_add: Vec::new(),
            to_remove: Vec::new(),
            egress_estimate_bps: 800_000,
            max_heights: HashMap::new(),
            playout_delay: oriel_media::PlayoutDelay::default(),
            awaiting_drain: false,
        }
    }

    pub(crate) fn is_subscribed(&self, producer: ProducerId) -> bool {
        self.by_producer.contains_key(&producer) || self.to_add.iter().any(|(p, ..)| *p == producer)
    }

    pub(crate) fn subscribe(&mut self, producer: ProducerId, kind: MediaKind, tid: &str) {
        if !self.is_subscribed(producer) {
            self.to_add.push((producer, kind, tid.to_owned()));
        }
    }

    pub(crate) fn unsubscribe(&mut self, producer: ProducerId) {
        self.max_heights.remove(&producer);
        self.to_add.retain(|(p, ..)| *p != producer);
        if let Some(index) = self.by_producer.remove(&producer) {
            let mid = self.consumers[index].mid;
            self.consumers[index].close();
            self.to_remove.push(mid);
        }
    }

    /// The first offer, sent inside `joined`. With nothing to forward yet it carries one
    /// inactive audio m-line, so that the transport (ICE, DTLS) comes up at once: a data
    /// channel would do too, but its SCTP association costs CPU on every poll for the whole
    /// call.
    pub(crate) fn initial_offer(&mut self, now: Instant) -> Option<String> {
        let mut changes = self.peer.rtc.sdp_api();
        if self.to_add.is_empty() {
            changes.add_media(MediaKind::Audio, Direction::Inactive, None, None, None);
        }
        stage_changes(
            &mut changes,
            &mut self.to_add,
            &mut self.to_remove,
            &mut self.consumers,
            &mut self.by_producer,
            &mut self.by_mid,
        );
        let (offer, pending) = changes.apply()?;
        self.pending_offer = Some(pending);
        self.peer.touch(now);
        Some(offer.to_sdp_string())
    }

    /// A renegotiation offer when changes wait and no offer is outstanding.
    pub(crate) fn next_offer(&mut self, now: Instant) -> Option<String> {
        if self.pending_offer.is_some() || (self.to_add.is_empty() && self.to_remove.is_empty()) {
            return None;
        }
        let mut changes = self.peer.rtc.sdp_api();
        stage_changes(
            &mut changes,
            &mut self.to_add,
            &mut self.to_remove,
            &mut self.consumers,
            &mut self.by_producer,
            &mut self.by_mid,
        );
        let (offer, pending) = changes.apply()?;
        self.pending_offer = Some(pending);
        self.peer.touch(now);
        Some(offer.to_sdp_string())
    }

    /// Applies the browser's answer. Errors are the browser's or a stale answer.
    pub(crate) fn accept_answer(&mut self, now: Instant, sdp: &str) -> Result<(), String> {
        let pending = self
            .pending_offer
            .take()
            .ok_or_else(|| "no subscriber offer is waiting for an answer".to_owned())?;
        let answer =
            SdpAnswer::from_sdp_string(sdp).map_err(|e| format!("answer SDP is invalid: {e}"))?;
        self.peer
            .rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| format!("answer was refused: {e}"))?;
        self.peer.touch(now);
        Ok(())
    }
}

/// Puts the waiting additions and removals into one SDP change.
fn stage_changes(
    changes: &mut str0m::change::SdpApi<'_>,
    to_add: &mut Vec<(ProducerId, MediaKind, String)>,
    to_remove: &mut Vec<Mid>,
    consumers: &mut Vec<Consumer>,
    by_producer: &mut HashMap<ProducerId, usize>,
    by_mid: &mut HashMap<Mid, usize>,
) {
    for (producer, kind, tid) in to_add.drain(..) {
        // The SDK finds the publisher by the MediaStream id: it must be the track id.
        let mid = changes.add_media(kind, Direction::SendOnly, Some(tid), None, None);
        by_producer.insert(producer, consumers.len());
        by_mid.insert(mid, consumers.len());
        consumers.push(Consumer::new(producer, mid, kind));
    }
    for mid in to_remove.drain(..) {
        changes.set_direction(mid, Direction::Inactive);
    }
}
