//! The sans-IO relay table: each client address seen on a listening port is a session with its
//! own upstream socket (so the node's answers find their way back) and one emulator per
//! direction. Time comes in with every call; nothing here touches a socket.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use str0m_netem::{Input, Netem, Output};

use crate::{Direction, Impairment};

/// At most this many client sessions: a bound on memory, far above what a test makes.
pub const MAX_SESSIONS: usize = 1024;

/// Index of a session, stable for the relay's life.
pub type SessionId = usize;

/// A packet to send now.
#[derive(Debug, PartialEq, Eq)]
pub enum Transmit {
    /// From the session's upstream socket to the node's port of its listening port.
    ToNode { session: SessionId, data: Vec<u8> },
    /// From the listening port to the session's client.
    ToClient { session: SessionId, data: Vec<u8> },
}

struct Session {
    port: usize,
    client: SocketAddr,
    up: Netem<Vec<u8>>,
    down: Netem<Vec<u8>>,
}

/// The relay's sessions and the impairment of each direction (the same for every session).
pub struct Relay {
    sessions: Vec<Session>,
    by_client: HashMap<(usize, SocketAddr), SessionId>,
    up: Impairment,
    down: Impairment,
    /// Packets in and out per direction, for `stats`.
    counts: [(u64, u64); 2],
}

impl Default for Relay {
    fn default() -> Self {
        Self::new()
    }
}

impl Relay {
    pub fn new() -> Self {
        Self {
            sessions: Vec::new(),
            by_client: HashMap::new(),
            up: Impairment::default(),
            down: Impairment::default(),
            counts: [(0, 0); 2],
        }
    }

    /// Sets one direction's impairment for every session, present and future. Packets already
    /// queued keep their schedule.
    pub fn set(&mut self, direction: Direction, impairment: Impairment) {
        for (i, session) in self.sessions.iter_mut().enumerate() {
            let seed = seed(i, direction);
            match direction {
                Direction::Up => session.up.set_config(impairment.netem_config(seed)),
                Direction::Down => session.down.set_config(impairment.netem_config(seed)),
            }
        }
        match direction {
            Direction::Up => self.up = impairment,
            Direction::Down => self.down = impairment,
        }
    }

    pub fn impairment(&self, direction: Direction) -> &Impairment {
        match direction {
            Direction::Up => &self.up,
            Direction::Down => &self.down,
        }
    }

    /// A datagram from `client` on listening port `port`. Returns its session, and whether it
    /// is new (the shell then opens its upstream socket); None when the table is full.
    pub fn from_client(
        &mut self,
        now: Instant,
        port: usize,
        client: SocketAddr,
        data: Vec<u8>,
    ) -> Option<(SessionId, bool)> {
        let (id, new) = match self.by_client.get(&(port, client)) {
            Some(id) => (*id, false),
            None if self.sessions.len() >= MAX_SESSIONS => return None,
            None => {
                let id = self.sessions.len();
                self.sessions.push(Session {
                    port,
                    client,
                    up: Netem::new(self.up.netem_config(seed(id, Direction::Up))),
                    down: Netem::new(self.down.netem_config(seed(id, Direction::Down))),
                });
                self.by_client.insert((port, client), id);
                (id, true)
            }
        };
        self.counts[0].0 += 1;
        self.sessions[id].up.handle_input(Input::Packet(now, data));
        Some((id, new))
    }

    /// A datagram from the node to session `id`'s upstream socket.
    pub fn from_node(&mut self, now: Instant, id: SessionId, data: Vec<u8>) {
        if let Some(session) = self.sessions.get_mut(id) {
            self.counts[1].0 += 1;
            session.down.handle_input(Input::Packet(now, data));
        }
    }

    /// What is due by `now`, in order per direction.
    pub fn poll(&mut self, now: Instant, out: &mut Vec<Transmit>) {
        for (id, session) in self.sessions.iter_mut().enumerate() {
            for (direction, netem) in [(0, &mut session.up), (1, &mut session.down)] {
                netem.handle_input(Input::Timeout(now));
                while let Some(output) = netem.poll_output() {
                    if let Output::Packet(data) = output {
                        self.counts[direction].1 += 1;
                        out.push(if direction == 0 {
                            Transmit::ToNode { session: id, data }
                        } else {
                            Transmit::ToClient { session: id, data }
                        });
                    }
                }
            }
        }
    }

    /// When something next falls due, if anything waits.
    pub fn next_due(&self) -> Option<Instant> {
        self.sessions
            .iter()
            .flat_map(|s| [&s.up, &s.down])
            .filter(|n| !n.is_empty())
            .map(|n| n.poll_timeout())
            .min()
    }

    /// The listening port index and client address of a session.
    pub fn session(&self, id: SessionId) -> Option<(usize, SocketAddr)> {
        self.sessions.get(id).map(|s| (s.port, s.client))
    }

    /// Packets in and out, up then down.
    pub fn counts(&self) -> [(u64, u64); 2] {
        self.counts
    }
}

fn seed(session: SessionId, direction: Direction) -> u64 {
    (session as u64) * 2 + u64::from(direction == Direction::Down) + 1
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn client(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn each_client_is_a_session_and_packets_pass_untouched_without_impairment() {
        let mut relay = Relay::new();
        let now = Instant::now();
        assert_eq!(
            relay.from_client(now, 0, client(5000), vec![1]),
            Some((0, true))
        );
        assert_eq!(
            relay.from_client(now, 0, client(5000), vec![2]),
            Some((0, false))
        );
        assert_eq!(
            relay.from_client(now, 1, client(5000), vec![3]),
            Some((1, true))
        );
        relay.from_node(now, 0, vec![9]);
        let mut out = Vec::new();
        relay.poll(now, &mut out);
        assert_eq!(
            out,
            vec![
                Transmit::ToNode {
                    session: 0,
                    data: vec![1]
                },
                Transmit::ToNode {
                    session: 0,
                    data: vec![2]
                },
                Transmit::ToClient {
                    session: 0,
                    data: vec![9]
                },
                Transmit::ToNode {
                    session: 1,
                    data: vec![3]
                },
            ]
        );
        assert_eq!(relay.session(1), Some((1, client(5000))));
    }

    #[test]
    fn delay_holds_packets_until_due_and_one_direction_only() {
        let mut relay = Relay::new();
        relay.set(
            Direction::Down,
            Impairment {
                delay_ms: 40,
                ..Impairment::default()
            },
        );
        let t0 = Instant::now();
        relay.from_client(t0, 0, client(5000), vec![1]);
        relay.from_node(t0, 0, vec![2]);
        let mut out = Vec::new();
        relay.poll(t0, &mut out);
        assert_eq!(
            out,
            vec![Transmit::ToNode {
                session: 0,
                data: vec![1]
            }]
        );
        assert_eq!(relay.next_due(), Some(t0 + Duration::from_millis(40)));
        out.clear();
        relay.poll(t0 + Duration::from_millis(39), &mut out);
        assert!(out.is_empty());
        relay.poll(t0 + Duration::from_millis(40), &mut out);
        assert_eq!(
            out,
            vec![Transmit::ToClient {
                session: 0,
                data: vec![2]
            }]
        );
    }

    #[test]
    fn loss_drops_about_its_share_and_bursts_keep_the_share() {
        for burst in [None, Some(4.0)] {
            let mut relay = Relay::new();
            relay.set(
                Direction::Up,
                Impairment {
                    loss: 0.2,
                    loss_burst: burst,
                    ..Impairment::default()
                },
            );
            let t0 = Instant::now();
            let mut out = Vec::new();
            for i in 0..10_000u32 {
                relay.from_client(t0, 0, client(5000), i.to_be_bytes().to_vec());
            }
            relay.poll(t0, &mut out);
            let share = 1.0 - out.len() as f64 / 10_000.0;
            assert!(
                (0.15..0.25).contains(&share),
                "burst {burst:?}: lost {share}"
            );
        }
    }

    #[test]
    fn a_rate_cap_paces_and_drops_beyond_its_queue() {
        let mut relay = Relay::new();
        // 80 kbit/s = 10 kB/s; a 100 ms queue holds 1 kB (at least one full packet, 1500 B).
        relay.set(
            Direction::Down,
            Impairment {
                rate_kbps: Some(80),
                queue_ms: 100,
                ..Impairment::default()
            },
        );
        let t0 = Instant::now();
        relay.from_client(t0, 0, client(5000), vec![0]);
        for _ in 0..10 {
            relay.from_node(t0, 0, vec![0; 500]);
        }
        let mut out = Vec::new();
        relay.poll(t0 + Duration::from_secs(5), &mut out);
        let delivered = out
            .iter()
            .filter(|t| matches!(t, Transmit::ToClient { .. }))
            .count();
        assert!((1..10).contains(&delivered), "delivered {delivered} of 10");
    }

    #[test]
    fn bad_values_are_refused() {
        for bad in [
            r#"{"loss": 1.5}"#,
            r#"{"rate_kbps": 0}"#,
            r#"{"loss_burst": 0.5}"#,
            r#"{"reorder_gap": 0}"#,
        ] {
            let i: Impairment = serde_json::from_str(bad).unwrap();
            assert!(i.validate().is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<Impairment>(r#"{"lossy": 1}"#).is_err());
    }
}
