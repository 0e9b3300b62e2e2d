//! Media on its way through: each publisher packet to its consumers, keyframe requests
//! back to the publisher, and the simulcast layer each subscriber gets.

use super::*;
use crate::forwarded_packet::ForwardedPacket;
use oriel_media::stream_allocator::{self, Demand};
use oriel_proto::TrackSource;
use std::sync::Arc;
use str0m::format::PayloadParams;

impl Space {
    /// A packet from one of this shard's publishers: to its consumers here, then (one shared
    /// copy) to the space's other shards.
    pub(super) fn forward(&mut self, now: Instant, key: ConnectionKey, packet: RtpPacket) {
        let Some(publisher) = self.publishers.get_mut(&key) else {
            return;
        };
        let Some((producer_id, layer)) = publisher.route(packet.header.ssrc) else {
            return;
        };
        let packet = ForwardedPacket::from(packet);
        let Some(producer) = self.producers.get_mut(&producer_id) else {
            return;
        };
        let pt = packet.payload_type;
        let params = match producer.payload_types.iter().find(|(p, _)| *p == pt) {
            Some((_, params)) => *params,
            None => {
                let Some(params) = publisher
                    .peer
                    .rtc
                    .codec_config()
                    .find(|p| p.pt() == pt)
                    .copied()
                else {
                    return;
                };
                producer.payload_types.push((pt, params));
                params
            }
        };
        let layer = layer.min(LAYER_COUNT as u8 - 1);
        let keyframe = crate::consumer::is_keyframe(params, &packet.payload);
        self.fan_out(now, producer_id, layer, params, keyframe, &packet);
        if self.relaying {
            self.outputs
                .push_back(Output::Relay(ShardEvent::Media(Arc::new(RelayedPacket {
                    producer: producer_id,
                    layer,
                    params,
                    keyframe,
                    packet,
                }))));
        }
    }

    /// A producer's packet to every consumer of it on this shard; the producer's meters,
    /// keyframe bookkeeping and audio level on the way.
    pub(super) fn fan_out(
        &mut self,
        now: Instant,
        producer_id: ProducerId,
        layer: u8,
        params: PayloadParams,
        keyframe: bool,
        packet: &ForwardedPacket,
    ) {
        let Some(producer) = self.producers.get_mut(&producer_id) else {
            return;
        };
        producer.meters[usize::from(layer)].record(packet.payload.len(), now);
        if producer.track.kind == TrackKind::Audio {
            if let Some(level) = packet.audio_level {
                self.speakers.handle_level(
                    producer_id,
                    level.unsigned_abs(),
                    packet.voice_activity,
                    now,
                );
                if self.next_speaker_poll.is_none() {
                    self.next_speaker_poll = self
                        .speakers
                        .poll_timeout()
                        .or(Some(now + SPEAKER_INTERVAL));
                }
            }
        }
        let lost = producer.track.kind == TrackKind::Video
            && producer.losses[usize::from(layer)].record(packet.seq_no, keyframe, now);
        if lost {
            tracing::debug!(producer = ?producer_id, layer, "packets lost for good upstream");
        }
        if keyframe {
            tracing::debug!(producer = ?producer_id, layer, "keyframe from the publisher");
            producer.keyframes.keyframe_received(layer, now);
            producer.keyframe_seen(layer, params, &packet.payload);
        }
        for &subscriber_key in &producer.consumers {
            let Some(subscriber) = self.subscribers.get_mut(&subscriber_key) else {
                continue;
            };
            let Some(&index) = subscriber.by_producer.get(&producer_id) else {
                continue;
            };
            let consumer = &mut subscriber.consumers[index];
            // What str0m sends at once is stamped with its clock (congestion control reads
            // those send times): bring it to now, cheaply, without a timeout round trip.
            subscriber.peer.rtc.advance_time(now);
            let forwarded = consumer.forward(
                now,
                packet,
                layer,
                keyframe,
                params,
                &mut subscriber.peer.rtc,
            );
            // A packet of this layer lost for good: only a keyframe repairs its consumers.
            if consumer.needs_keyframe() || (lost && consumer.current_layer() == Some(layer)) {
                producer.keyframes.request(consumer.wanted_layer(), now);
            }
            if forwarded {
                subscriber.peer.touch(now);
                if !subscriber.awaiting_drain {
                    subscriber.awaiting_drain = true;
                    self.dirty.push(subscriber_key);
                }
            }
        }
        self.send_keyframe_requests(now, producer_id);
    }

    /// Asks a publisher for a keyframe of a layer, through the producer's throttle.
    pub(super) fn request_keyframe(&mut self, now: Instant, producer_id: ProducerId, layer: u8) {
        if let Some(producer) = self.producers.get_mut(&producer_id) {
            producer.keyframes.request(layer, now);
        }
        self.send_keyframe_requests(now, producer_id);
    }

    /// Sends the PLIs a producer's throttle lets through now.
    pub(super) fn send_keyframe_requests(&mut self, now: Instant, producer_id: ProducerId) {
        let Some(producer) = self.producers.get_mut(&producer_id) else {
            return;
        };
        if producer.remote {
            // Its publisher is on another shard: the request goes there, throttled here too.
            while let Some(layer) = producer.keyframes.poll_request(now) {
                self.outputs
                    .push_back(Output::Relay(ShardEvent::KeyframeRequest {
                        producer: producer_id,
                        layer,
                    }));
            }
            return;
        }
        let Some(publisher) = self.publishers.get_mut(&producer.connection) else {
            return;
        };
        while let Some(layer) = producer.keyframes.poll_request(now) {
            let rid = producer
                .simulcast
                .then(|| str0m::media::Rid::from(LAYERS[usize::from(layer.min(2))].rid));
            if let Some(stream) = publisher
                .peer
                .rtc
                .direct_api()
                .stream_rx_by_mid(producer.mid, rid)
            {
                tracing::debug!(producer = ?producer_id, layer, "keyframe request to the publisher");
                stream.request_keyframe(KeyframeRequestKind::Pli);
                publisher.peer.touch(now);
                self.keyframe_requests += 1;
            }
        }
    }

    /// Shares a subscriber's bandwidth estimate among its video consumers and picks each
    /// one's layer.
    pub(super) fn select_layers(&mut self, now: Instant, key: ConnectionKey) {
        let Some(subscriber) = self.subscribers.get_mut(&key) else {
            return;
        };
        let open = |kind| {
            subscriber
                .consumers
                .iter()
                .filter(move |c| c.is_open() && c.kind == kind)
        };
        let audios = open(MediaKind::Audio).count() as u64;
        // The highest layer each video may get: the top, or the smallest that fills the
        // height the subscriber draws it at.
        let max_layer = |producer: &Producer| {
            subscriber
                .max_heights
                .get(&producer.id)
                .map_or(LAYER_COUNT as u8 - 1, |&height| {
                    producer.layer_fitting(height)
                })
        };
        // Ask the estimator to probe towards the top layer of every video, also those held
        // lower by max_height: when a tile grows, its layer can follow at the next keyframe
        // instead of waiting seconds for the estimate to climb. Probes are short bursts. No
        // padding floor: padding on a link already at capacity only causes loss.
        let videos_open = open(MediaKind::Video).count() as u64;
        let desired =
            audios * AUDIO_BPS + videos_open * u64::from(LAYERS[LAYER_COUNT - 1].max_bitrate);
        subscriber
            .peer
            .rtc
            .bwe()
            .set_bitrate(Bitrate::bps(0), Bitrate::bps(desired));
        // Once the estimate reaches everything asked for, there is headroom for bursts.
        let unpaced = subscriber.egress_estimate_bps >= desired;
        // The estimate left after audio, shared among the videos by priority.
        let video_estimate = subscriber
            .egress_estimate_bps
            .saturating_sub(audios * AUDIO_BPS);
        let speaker = self
            .announced_speakers
            .first()
            .and_then(|id| self.producers.get(id))
            .map(|p| p.connection);
        let videos: Vec<(usize, [u64; LAYER_COUNT], u8)> = subscriber
            .consumers
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_open() && c.kind == MediaKind::Video)
            .filter_map(|(i, c)| Some((i, self.producers.get(&c.producer)?)))
            .map(|(i, p)| (i, p.layer_bitrates(now), max_layer(p)))
            .collect();
        let demands: Vec<Demand<'_>> = videos
            .iter()
            .map(|(i, bitrates, max_layer)| {
                let producer = &self.producers[&subscriber.consumers[*i].producer];
                Demand {
                    priority: video_priority(producer, speaker),
                    layer_bitrates: if producer.simulcast {
                        &bitrates[..=usize::from(*max_layer)]
                    } else {
                        &bitrates[..1]
                    },
                }
            })
            .collect();
        let mut budgets = Vec::with_capacity(demands.len());
        stream_allocator::allocate(video_estimate, &demands, &mut budgets);
        let mut keyframes = Vec::new();
        for ((index, bitrates, max_layer), budget) in videos.iter().zip(budgets) {
            let consumer = &mut subscriber.consumers[*index];
            consumer.set_unpaced(unpaced);
            let Some(producer) = self.producers.get(&consumer.producer) else {
                continue;
            };
            if !producer.simulcast {
                continue;
            }
            let current_bps = consumer
                .current_layer()
                .map_or(0, |layer| bitrates[usize::from(layer).min(LAYER_COUNT - 1)]);
            consumer.set_over_budget(budget < current_bps);
            if let Some(layer) = consumer.retarget(now, budget, bitrates, *max_layer) {
                tracing::debug!(
                    connection = key.0,
                    layer,
                    budget_bps = budget,
                    layers_bps = ?bitrates,
                    "subscriber layer target"
                );
                keyframes.push((consumer.producer, layer));
            }
        }
        for (producer, layer) in keyframes {
            self.request_keyframe(now, producer, layer);
        }
    }
}

/// How much a video matters when a subscriber's link is short: screen shares first (slides
/// must stay legible), then the active speaker's camera, then everyone else.
fn video_priority(producer: &Producer, speaker: Option<ConnectionKey>) -> u8 {
    if producer.track.source == TrackSource::Screenshare {
        2
    } else if speaker == Some(producer.connection) {
        1
    } else {
        0
    }
}
