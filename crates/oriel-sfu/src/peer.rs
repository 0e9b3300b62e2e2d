//! One WebRTC peer connection: a str0m `Rtc` and the bookkeeping to drive it.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::bwe::Bitrate;
use str0m::net::{Protocol, Receive, TcpType};
use str0m::rtp::Extension;
use str0m::{Candidate, Event, Input, Output as RtcOutput, Rtc, RtcConfig};

use crate::config::MediaCandidates;
use crate::output::Output;

/// Starting point of the bandwidth estimate towards a subscriber: enough for the middle
/// simulcast layer plus audio, so first frames come quickly.
const INITIAL_EGRESS_ESTIMATE_KBPS: u64 = 800;

/// How often str0m reports a subscriber's link (loss, round trip).
const LINK_STATS_INTERVAL: Duration = Duration::from_secs(1);
/// Header extension id of playout-delay on subscriber connections (we offer, so we pick it).
const PLAYOUT_DELAY_EXTENSION_ID: u8 = 6;

pub(crate) struct Peer {
    pub(crate) rtc: Rtc,
    next_timeout: Option<Instant>,
    /// Cleared when str0m reports an error: the peer is then closed and skipped.
    alive: bool,
}

impl Peer {
    /// A peer on a connection built for it (see [`build_rtc`]).
    pub(crate) fn from_rtc(rtc: Rtc, now: Instant) -> Self {
        Self {
            rtc,
            next_timeout: Some(now),
            alive: true,
        }
    }

    pub(crate) fn is_alive(&self) -> bool {
        self.alive && self.rtc.is_alive()
    }

    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        self.next_timeout.filter(|_| self.is_alive())
    }

    /// Whether a datagram from `source` belongs to this peer (an ICE check for our
    /// credentials, or a packet from an address ICE validated).
    pub(crate) fn accepts(
        &self,
        now: Instant,
        proto: Protocol,
        source: SocketAddr,
        destination: SocketAddr,
        contents: &[u8],
    ) -> bool {
        if !self.is_alive() {
            return false;
        }
        match Receive::new(proto, source, destination, contents) {
            Ok(receive) => self.rtc.accepts(&Input::Receive(now, receive)),
            Err(_) => false,
        }
    }

    pub(crate) fn receive(
        &mut self,
        now: Instant,
        proto: Protocol,
        source: SocketAddr,
        destination: SocketAddr,
        contents: &[u8],
    ) {
        let Ok(receive) = Receive::new(proto, source, destination, contents) else {
            return;
        };
        if let Err(error) = self.rtc.handle_input(Input::Receive(now, receive)) {
            tracing::debug!(%error, %source, "datagram refused by peer connection");
        }
        self.next_timeout = Some(now);
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if !self.is_alive() {
            return;
        }
        if let Err(error) = self.rtc.handle_input(Input::Timeout(now)) {
            self.fail(&error);
        }
    }

    /// Marks the peer as needing a drain (after a write or an SDP change).
    pub(crate) fn touch(&mut self, now: Instant) {
        self.next_timeout = Some(self.next_timeout.map_or(now, |t| t.min(now)));
    }

    /// Drains outputs up to the next event: datagrams go to `outputs`, the event is returned.
    /// `None` once str0m waits for time or input.
    pub(crate) fn poll_event(&mut self, outputs: &mut VecDeque<Output>) -> Option<Event> {
        if !self.is_alive() {
            return None;
        }
        loop {
            match self.rtc.poll_output() {
                Ok(RtcOutput::Transmit(transmit)) => outputs.push_back(Output::Transmit {
                    proto: transmit.proto,
                    source: transmit.source,
                    destination: transmit.destination,
                    contents: transmit.contents.into(),
                }),
                Ok(RtcOutput::Timeout(at)) => {
                    self.next_timeout = Some(at);
                    return None;
                }
                Ok(RtcOutput::Event(event)) => return Some(event),
                Err(error) => {
                    self.fail(&error);
                    return None;
                }
            }
        }
    }

    fn fail(&mut self, error: &str0m::RtcError) {
        tracing::warn!(%error, "peer connection failed; closing it");
        self.alive = false;
        self.rtc.disconnect();
    }

    pub(crate) fn close(&mut self) {
        self.alive = false;
        self.rtc.disconnect();
    }
}

/// A connection in RTP mode (we forward packets, never decode), ICE-lite (we only answer
/// connectivity checks, on known addresses), with the codecs Oriel forwards. About a
/// millisecond of work (DTLS and ICE setup): see [`PreparedPeers`].
pub(crate) fn build_rtc(candidates: &[MediaCandidates], sends_media: bool, now: Instant) -> Rtc {
    let mut config = RtcConfig::new()
        .set_rtp_mode(true)
        .set_ice_lite(true)
        .clear_codecs()
        .enable_opus(true, false)
        .enable_vp8(true)
        .enable_h264(true);
    if sends_media {
        // Stats: the receiver's loss and the round trip, for the playout delay.
        config = config
            .enable_bwe(Some(Bitrate::kbps(INITIAL_EGRESS_ESTIMATE_KBPS)))
            .set_extension(PLAYOUT_DELAY_EXTENSION_ID, Extension::PlayoutDelay)
            .set_stats_interval(Some(LINK_STATS_INTERVAL));
    }
    let mut rtc = config.build(now);
    // UDP on every address first, then passive TCP (the browser opens the connection: its
    // candidates are active TCP ones).
    let udp = candidates.iter().map(|c| Candidate::host(c.udp, "udp"));
    let tcp = candidates.iter().filter_map(|c| c.tcp).map(|addr| {
        Candidate::builder()
            .tcp()
            .host(addr)
            .tcptype(TcpType::Passive)
            .build()
    });
    for candidate in udp.chain(tcp) {
        match candidate {
            Ok(candidate) => {
                rtc.add_local_candidate(candidate);
            }
            Err(error) => {
                tracing::error!(%error, ?candidates, "media address cannot be a candidate")
            }
        }
    }
    rtc
}

/// The connections of one participant, built before it reaches its worker, so that a worker
/// forwarding everyone's media never spends a millisecond per connection on a join (200 joins
/// at once would stall its media for a third of a second). The publisher connection is built
/// only for a publisher; the core builds whatever it was not given.
pub struct PreparedPeers {
    pub(crate) subscriber: Rtc,
    pub(crate) publisher: Option<Rtc>,
}

impl PreparedPeers {
    /// Builds them for a worker that advertises `candidates`; `publisher` for a participant
    /// that may publish.
    pub fn build(candidates: &[MediaCandidates], publisher: bool, now: Instant) -> Self {
        Self {
            subscriber: build_rtc(candidates, true, now),
            publisher: publisher.then(|| build_rtc(candidates, false, now)),
        }
    }
}

impl std::fmt::Debug for PreparedPeers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedPeers")
            .field("publisher", &self.publisher.is_some())
            .finish_non_exhaustive()
    }
}
