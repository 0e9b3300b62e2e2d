//! Who is still connected at the end of a run, and how long each participant took to join and
//! to receive its first media: counted alike by `oriel load-test` and the Janus generator of
//! `bench/`, so that their reports compare.

use std::time::{Duration, Instant};

use oriel_client::stamp;

use crate::run::{ms, Percentiles};

/// One participant as a run ends.
pub struct Attendee {
    pub publisher: bool,
    /// Its media is connected and its task still runs.
    pub connected: bool,
    /// When it began to join, and when the server took it in.
    pub opened_at: Instant,
    pub joined_at: Instant,
    /// When its first media arrived, in nanoseconds after [`stamp::epoch`]; 0 if none did.
    pub first_media_nanos: u64,
}

#[derive(Default)]
pub struct Census {
    pub publishers_connected: usize,
    pub subscribers_connected: usize,
    /// Subscribers that received any media.
    pub subscribers_receiving: usize,
    join_ms: Vec<f64>,
    first_media_ms: Vec<f64>,
}

impl Census {
    pub fn count(&mut self, attendee: &Attendee) {
        self.join_ms.push(ms(attendee
            .joined_at
            .saturating_duration_since(attendee.opened_at)));
        if attendee.publisher {
            self.publishers_connected += usize::from(attendee.connected);
            return;
        }
        self.subscribers_connected += usize::from(attendee.connected);
        if attendee.first_media_nanos > 0 {
            self.subscribers_receiving += 1;
            let first_media_at = stamp::epoch() + Duration::from_nanos(attendee.first_media_nanos);
            self.first_media_ms.push(ms(
                first_media_at.saturating_duration_since(attendee.opened_at)
            ));
        }
    }

    /// Time from opening the signaling connection to the server's answer, in ms.
    pub fn join_ms(&self) -> Percentiles {
        Percentiles::of(self.join_ms.clone())
    }

    /// Time from opening the signaling connection to a subscriber's first media, in ms.
    pub fn first_media_ms(&self) -> Percentiles {
        Percentiles::of(self.first_media_ms.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attendee(publisher: bool, connected: bool, first_media_after: Option<Duration>) -> Attendee {
        let opened_at = stamp::epoch() + Duration::from_millis(5);
        Attendee {
            publisher,
            connected,
            opened_at,
            joined_at: opened_at + Duration::from_millis(20),
            first_media_nanos: first_media_after
                .map_or(0, |after| stamp::nanos_since_epoch(opened_at + after)),
        }
    }

    #[test]
    fn counts_connections_by_role_and_times_from_the_opening() {
        let mut census = Census::default();
        census.count(&attendee(true, true, None));
        census.count(&attendee(false, true, Some(Duration::from_millis(70))));
        census.count(&attendee(false, false, None));
        assert_eq!(census.publishers_connected, 1);
        assert_eq!(census.subscribers_connected, 1);
        assert_eq!(
            census.subscribers_receiving, 1,
            "only the one that received media"
        );
        assert_eq!(
            census.join_ms().max,
            Some(20.0),
            "every attendee's join counts"
        );
        assert_eq!(census.first_media_ms().p50, Some(70.0));
    }
}
