//! Deterministic simulation of one space and its browsers, on virtual time; the space on one
//! worker, or spread over several ([`Sim::with_shards`]) as the node spreads a big one.
//!
//! Modelled on quinn-proto's test `Pair` and str0m's `progress()`: one virtual clock `now`,
//! every component sans-IO, and [`Sim::step`] jumps straight to the earliest moment anything
//! has to happen (a `poll_timeout` of the space or of a client `Rtc`, a media frame, a
//! datagram or a signaling message arriving). Nothing sleeps and nothing reads the clock
//! except [`Sim::new`], once, for a base `Instant`. The harness's randomness (loss, media
//! bases, garbage) and str0m's (SSRCs, ICE credentials, pacer jitter) come from the seed.
//! What does not: DTLS/SRTP key material, sctp-proto's `rand`, and the iteration order of the
//! space's `HashMap`s, which can reorder outputs of one instant between runs. Scenarios
//! therefore assert properties, never exact packet counts.
//!
//! Topology: the SFU's media socket is 10.0.0.1:5000 (shard K's 10.0.0.1:5000+K); client N is
//! on shard N mod shards, at 10.0.0.(N+2), its
//! subscriber PC on port 6000 and its publisher PC on 6001. Each client has an uplink and a
//! downlink [`Link`] shared by its two PCs; its WebSocket is a reliable, ordered channel with
//! a fixed latency. Shards are made as the node makes them: when the first client placed on
//! one joins, after the state of the others; dropped when their last client left. What a
//! shard relays reaches the others after [`RELAY_LATENCY`], in order.
//!
//! Set `SIM_LOG=debug` (any `tracing` filter) to see the space's and str0m's logs.

#![allow(dead_code)] // Each scenario binary uses a different part of the harness.

pub mod client;
pub mod core_cpu;
pub mod link;
pub mod media;
pub mod recorder;
pub mod rng;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use oriel_proto::{ClientMessage, ServerMessage};
use oriel_sfu::{
    ConnectionKey, JoinRequest, Output, Protocol, ShardEvent, ShardWireDecoder, ShardWireEncoder,
    Space, SpaceConfig,
};

pub use client::{Client, ClientConfig, ClientState};
pub use link::{Datagram, LinkConfig};
pub use rng::Rng;

/// The SFU's media address, the only ICE candidate it advertises.
pub const SFU_ADDR: ([u8; 4], u16) = ([10, 0, 0, 1], 5000);
/// One-way latency of every WebSocket.
pub const SIGNALING_LATENCY: Duration = Duration::from_millis(15);
/// From one shard to another (a queue between worker threads).
pub const RELAY_LATENCY: Duration = Duration::from_micros(50);
/// Steps at one instant before the simulation calls it a livelock (a `poll_timeout` that
/// does not move although it was served).
const MAX_STEPS_WITHOUT_PROGRESS: u32 = 100_000;

/// Counters of things that are not any one client's business.
#[derive(Clone, Copy, Debug, Default)]
pub struct SimStats {
    pub steps: u64,
    /// Datagrams from the SFU to an address no active client owns.
    pub sent_to_nobody: u64,
    /// Datagrams the space did not accept.
    pub unaccepted: u64,
    /// Signals for a connection that is not joined any more.
    pub signals_to_departed: u64,
    /// Client frames `ClientMessage::parse` refused.
    pub parse_errors: u64,
    /// What shards relayed to each other (events, counted once however many shards got it).
    pub relayed: u64,
    /// Datagrams the shards sent.
    pub transmits: u64,
    /// The CPU time spent in the shards' own calls, when measured.
    pub core_cpu: core_cpu::CoreCpu,
}

/// How the space's shards are laid out.
#[derive(Clone, Copy, Debug)]
pub enum Spread {
    /// Over this many workers of one node (1: the space on one worker).
    Workers(usize),
    /// Over this many nodes, one shard each: relays cross the wire between nodes.
    Nodes(usize),
}

impl From<usize> for Spread {
    fn from(workers: usize) -> Self {
        Self::Workers(workers)
    }
}

pub struct Sim {
    pub now: Instant,
    pub start: Instant,
    /// The space's shards, by shard number; `None` while no client is placed on it.
    pub shards: Vec<Option<Space>>,
    pub clients: Vec<Client>,
    pub stats: SimStats,
    rng: Rng,
    to_server: VecDeque<(Instant, ConnectionKey, String)>,
    to_clients: VecDeque<(Instant, ConnectionKey, ServerMessage)>,
    /// What shards relayed: when it arrives, from which shard to which.
    relayed: VecDeque<(Instant, usize, usize, ShardEvent)>,
    /// With the shards on different nodes ([`Sim::across_nodes`]): the byte stream from each
    /// shard to each other, its two ends; every relayed event crosses it.
    wires: Option<Vec<Vec<(ShardWireEncoder, ShardWireDecoder)>>>,
    /// Datagrams injected straight onto the SFU socket (scenario 5), with arrival times.
    injected: VecDeque<(Instant, Datagram)>,
    stalled_steps: u32,
}

impl Sim {
    /// The space on one worker.
    pub fn new(seed: u64) -> Self {
        Self::with_shards(seed, 1)
    }

    /// The space spread over `shards` workers (or nodes: [`Spread::Nodes`]), clients placed
    /// on them in turn.
    pub fn with_shards(seed: u64, spread: impl Into<Spread>) -> Self {
        let shards = match spread.into() {
            Spread::Workers(shards) => shards,
            Spread::Nodes(nodes) => return Self::across_nodes(seed, nodes),
        };
        assert!((1..=16).contains(&shards));
        init_log();
        VIRTUAL_ELAPSED.with(|e| e.set(Duration::ZERO));
        // str0m draws SSRCs, ICE credentials and pacer jitter from fastrand's thread-local
        // generator; each test runs on its own thread, so this makes them replay too.
        fastrand::seed(seed);
        let now = Instant::now();
        Self {
            now,
            start: now,
            shards: (0..shards).map(|_| None).collect(),
            clients: Vec::new(),
            stats: SimStats::default(),
            rng: Rng::new(seed),
            to_server: VecDeque::new(),
            to_clients: VecDeque::new(),
            relayed: VecDeque::new(),
            wires: None,
            injected: VecDeque::new(),
            stalled_steps: 0,
        }
    }

    /// The space spanning `nodes` nodes, one shard each: what the shards relay crosses the
    /// wire between nodes ([`oriel_sfu::ShardWireEncoder`]) instead of a queue between threads.
    pub fn across_nodes(seed: u64, nodes: usize) -> Self {
        let mut sim = Self::with_shards(seed, Spread::Workers(nodes));
        sim.wires = Some(
            (0..nodes)
                .map(|_| (0..nodes).map(|_| Default::default()).collect())
                .collect(),
        );
        sim
    }

    /// What shard `from` relays to shard `to`, as `to` reads it: over the wire between their
    /// nodes, or the same event between workers.
    fn carry(&mut self, from: usize, to: usize, event: ShardEvent) -> Vec<ShardEvent> {
        let Some(wires) = self.wires.as_mut() else {
            return vec![event];
        };
        let (encoder, decoder) = &mut wires[from][to];
        let mut bytes = Vec::new();
        encoder.encode(self.now, &event, &mut bytes);
        decoder.feed(&bytes);
        let mut events = Vec::new();
        while let Some(event) = decoder.next_event(self.now).expect("the wire reads back") {
            events.push(event);
        }
        events
    }

    /// Shard `shard`'s media address.
    pub fn sfu_addr(shard: usize) -> SocketAddr {
        let (ip, port) = SFU_ADDR;
        SocketAddr::from((ip, port + shard as u16))
    }

    /// The shard a client is placed on.
    pub fn shard_of(&self, index: usize) -> usize {
        index % self.shards.len()
    }

    /// Every shard that holds clients.
    pub fn spaces(&self) -> impl Iterator<Item = &Space> {
        self.shards.iter().flatten()
    }

    /// Whether no shard holds anyone.
    pub fn is_empty(&self) -> bool {
        self.spaces().all(Space::is_empty)
    }

    /// The shard a client is placed on, made if it does not exist: it hears the state of the
    /// others first, and from then on everyone relays.
    fn open_shard(&mut self, shard: usize) -> &mut Space {
        if self.shards[shard].is_none() {
            let mut space = Space::new(SpaceConfig {
                shard: shard as u16,
                ..SpaceConfig::new(Self::sfu_addr(shard))
            });
            let mut others = 0;
            for from in 0..self.shards.len() {
                let Some(other) = self.shards[from].as_mut() else {
                    continue;
                };
                let state = other.shard_state();
                other.set_relaying(true);
                others += 1;
                for event in state {
                    for event in self.carry(from, shard, event) {
                        space.handle_shard_event(self.now, event);
                    }
                }
            }
            space.set_relaying(others > 0);
            self.shards[shard] = Some(space);
            // Whatever it had to say about the state it heard (nothing can be signaled: no
            // client of its own yet).
            self.drain_shard(shard);
        }
        self.shards[shard].as_mut().expect("just made")
    }

    /// Drops a shard nobody is left on while others remain, as the node does (the last one
    /// stays, for scenarios to look at); a shard alone stops relaying.
    fn close_if_empty(&mut self, shard: usize) {
        let others = self.spaces().count() - usize::from(self.shards[shard].is_some());
        if others > 0 && self.shards[shard].as_ref().is_some_and(Space::is_empty) {
            self.shards[shard] = None;
            let mut remaining = self.shards.iter_mut().flatten().collect::<Vec<_>>();
            if remaining.len() == 1 {
                remaining[0].set_relaying(false);
            }
        }
    }

    /// Virtual time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    pub fn client(&self, index: usize) -> &Client {
        &self.clients[index]
    }

    pub fn client_mut(&mut self, index: usize) -> &mut Client {
        &mut self.clients[index]
    }

    // ----- commands -----

    /// A participant passes the signaling layer's checks and joins the space now.
    pub fn join(&mut self, config: ClientConfig) -> usize {
        let index = self.clients.len();
        let rng = self.rng.fork(index as u64 + 100);
        let client = Client::new(index, config, self.now, rng);
        let request = JoinRequest {
            connection: client.key,
            connection_id: client.connection_id.clone(),
            participant_id: client.config.name.clone(),
            session_id: format!("session-{index}"),
            role: client.config.role,
            display_name: client.config.name.clone(),
            managed_subscriptions: client.config.managed_subscriptions,
            hidden: false,
            ice_servers: Vec::new(),
        };
        self.clients.push(client);
        let shard = self.shard_of(index);
        let now = self.now;
        self.open_shard(shard).join(now, request);
        self.drain_shard(shard);
        index
    }

    /// The participant closes its WebSocket and PCs.
    pub fn leave(&mut self, index: usize) {
        let key = self.clients[index].key;
        self.clients[index].state = ClientState::Left;
        let shard = self.shard_of(index);
        if let Some(space) = self.shards[shard].as_mut() {
            space.leave(self.now, key);
        }
        self.drain_shard(shard);
        self.close_if_empty(shard);
    }

    /// Sends a text frame on a client's WebSocket, as its SDK would.
    pub fn send_frame(&mut self, index: usize, frame: impl Into<String>) {
        let key = self.clients[index].key;
        self.to_server
            .push_back((self.now + SIGNALING_LATENCY, key, frame.into()));
    }

    /// Hands a message to every shard for any connection key, known or not.
    pub fn handle_message(&mut self, key: ConnectionKey, message: ClientMessage) {
        for shard in 0..self.shards.len() {
            if let Some(space) = self.shards[shard].as_mut() {
                space.handle_message(self.now, key, message.clone());
                self.drain_shard(shard);
            }
        }
    }

    /// A datagram arrives on shard 0's socket now, from anywhere.
    pub fn inject_datagram(&mut self, source: SocketAddr, contents: Vec<u8>) {
        let datagram = Datagram {
            source,
            destination: Self::sfu_addr(0),
            contents,
        };
        self.injected.push_back((self.now, datagram));
    }

    pub fn set_downlink(&mut self, index: usize, config: LinkConfig) {
        self.clients[index].downlink.config = config;
    }

    pub fn set_uplink(&mut self, index: usize, config: LinkConfig) {
        self.clients[index].uplink.config = config;
    }

    // ----- running -----

    pub fn run_for(&mut self, duration: Duration) {
        let end = self.now + duration;
        while self.step_until(end) {}
        self.now = self.now.max(end);
    }

    /// Runs until `done` holds (checked after every step) or `limit` passed; whether it held.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Self) -> bool) -> bool {
        let end = self.now + limit;
        loop {
            if done(self) {
                return true;
            }
            if !self.step_until(end) {
                self.now = self.now.max(end);
                return done(self);
            }
        }
    }

    /// Jumps to the next moment something happens, if that is before `end`, and does it.
    fn step_until(&mut self, end: Instant) -> bool {
        match self.next_event() {
            Some(at) if at <= end => {
                self.step();
                true
            }
            _ => false,
        }
    }

    /// The earliest of every component's next deadline.
    fn next_event(&self) -> Option<Instant> {
        let links = self
            .clients
            .iter()
            .flat_map(|c| [c.uplink.poll_timeout(), c.downlink.poll_timeout()]);
        let clients = self.clients.iter().map(Client::poll_timeout);
        let queues = [
            self.to_server.front().map(|(at, ..)| *at),
            self.to_clients.front().map(|(at, ..)| *at),
            self.injected.front().map(|(at, _)| *at),
            self.relayed.front().map(|(at, ..)| *at),
        ];
        let spaces = self.spaces().map(Space::poll_timeout);
        links
            .chain(clients)
            .chain(queues)
            .chain(spaces)
            .flatten()
            .min()
    }

    /// One step: advance `now` to the next deadline and serve everything due then.
    pub fn step(&mut self) {
        let Some(at) = self.next_event() else {
            return;
        };
        self.stats.steps += 1;
        if at > self.now {
            self.now = at;
            self.stalled_steps = 0;
            VIRTUAL_ELAPSED.with(|e| e.set(self.now - self.start));
        } else {
            self.stalled_steps += 1;
            assert!(
                self.stalled_steps < MAX_STEPS_WITHOUT_PROGRESS,
                "livelock at {:?}: the shards' poll_timeout() = {:?}, clients = {:?}",
                self.elapsed(),
                self.spaces()
                    .map(|s| s
                        .poll_timeout()
                        .map(|t| t.saturating_duration_since(self.start)))
                    .collect::<Vec<_>>(),
                self.clients
                    .iter()
                    .map(Client::poll_timeout)
                    .collect::<Vec<_>>(),
            );
        }
        let now = self.now;

        // Datagrams that arrived.
        for index in 0..self.clients.len() {
            while let Some(datagram) = self.clients[index].uplink.poll_delivery(now) {
                self.deliver_to_sfu(&datagram);
            }
            while let Some(datagram) = self.clients[index].downlink.poll_delivery(now) {
                let client = &mut self.clients[index];
                if client.is_active() {
                    client.handle_datagram(now, &datagram);
                }
            }
        }
        while self.injected.front().is_some_and(|(at, _)| *at <= now) {
            let (_, datagram) = self.injected.pop_front().expect("front checked");
            self.deliver_to_sfu(&datagram);
        }

        // What shards relayed to each other.
        while self.relayed.front().is_some_and(|(at, ..)| *at <= now) {
            let (_, _, to, event) = self.relayed.pop_front().expect("front checked");
            if let Some(space) = self.shards[to].as_mut() {
                self.stats
                    .core_cpu
                    .time(|| space.handle_shard_event(now, event));
                self.drain_shard(to);
            }
        }

        // Signaling that arrived.
        while self.to_server.front().is_some_and(|(at, ..)| *at <= now) {
            let (_, key, frame) = self.to_server.pop_front().expect("front checked");
            let Some(index) = self.clients.iter().position(|c| c.key == key) else {
                continue;
            };
            let shard = self.shard_of(index);
            match ClientMessage::parse(&frame) {
                Ok(message) => {
                    if let Some(space) = self.shards[shard].as_mut() {
                        self.stats
                            .core_cpu
                            .time(|| space.handle_message(now, key, message));
                    }
                }
                // The shell answers these itself; the space never sees them.
                Err(_) => self.stats.parse_errors += 1,
            }
            self.drain_shard(shard);
        }
        while self.to_clients.front().is_some_and(|(at, ..)| *at <= now) {
            let (_, key, message) = self.to_clients.pop_front().expect("front checked");
            if let Some(client) = self.clients.iter_mut().find(|c| c.key == key) {
                if client.is_active() {
                    client.handle_signal(now, message);
                }
            }
        }

        // Timers.
        for shard in 0..self.shards.len() {
            if let Some(space) = self.shards[shard].as_mut() {
                let due = self
                    .stats
                    .core_cpu
                    .time(|| space.poll_timeout().is_some_and(|t| t <= now));
                if due {
                    self.stats.core_cpu.time(|| space.handle_timeout(now));
                    self.drain_shard(shard);
                }
            }
        }
        for client in &mut self.clients {
            if client.poll_timeout().is_some_and(|t| t <= now) {
                client.handle_timeout(now);
            }
        }

        // What the clients want to say.
        for client in &mut self.clients {
            for frame in client.outbox.drain(..) {
                self.to_server
                    .push_back((now + SIGNALING_LATENCY, client.key, frame));
            }
        }
    }

    fn deliver_to_sfu(&mut self, datagram: &Datagram) {
        let now = self.now;
        let Some(shard) =
            (0..self.shards.len()).find(|&k| Self::sfu_addr(k) == datagram.destination)
        else {
            return;
        };
        let Some(space) = self.shards[shard].as_mut() else {
            self.stats.unaccepted += 1;
            return;
        };
        // The shell asks every space of the worker; this one is the only one.
        let accepted = self.stats.core_cpu.time(|| {
            space.accepts(
                now,
                Protocol::Udp,
                datagram.source,
                datagram.destination,
                &datagram.contents,
            )
        });
        if !accepted {
            self.stats.unaccepted += 1;
            return;
        }
        self.stats.core_cpu.time(|| {
            space.handle_datagram(
                now,
                Protocol::Udp,
                datagram.source,
                datagram.destination,
                &datagram.contents,
            )
        });
        self.drain_shard(shard);
    }

    fn drain_shard(&mut self, shard: usize) {
        let now = self.now;
        let mut closed = Vec::new();
        // Taken all at once, so that the space's share of the CPU is read twice per drain,
        // not per output; nothing below feeds the space before the drain ends.
        let outputs = self.stats.core_cpu.time(|| {
            let mut outputs = Vec::new();
            while let Some(output) = self.shards[shard].as_mut().and_then(Space::poll_output) {
                outputs.push(output);
            }
            outputs
        });
        for output in outputs {
            match output {
                Output::Transmit {
                    proto,
                    source,
                    destination,
                    contents,
                } => {
                    assert_eq!(
                        source,
                        Self::sfu_addr(shard),
                        "a shard sends from its worker's media socket"
                    );
                    assert_eq!(proto, Protocol::Udp, "the simulated clients speak UDP only");
                    self.stats.transmits += 1;
                    let Some(client) = self
                        .clients
                        .iter_mut()
                        .find(|c| c.is_active() && c.owns(destination))
                    else {
                        self.stats.sent_to_nobody += 1;
                        continue;
                    };
                    client.wire.record(now, &contents);
                    client.downlink.send(
                        now,
                        Datagram {
                            source,
                            destination,
                            contents,
                        },
                    );
                }
                Output::Signal {
                    connection,
                    message,
                } => self.signal(connection, message),
                Output::Close {
                    connection,
                    message,
                } => {
                    self.signal(connection, message);
                    closed.push(connection);
                }
                Output::Relay(event) => {
                    self.stats.relayed += 1;
                    for to in 0..self.shards.len() {
                        if to != shard && self.shards[to].is_some() {
                            let at = now + RELAY_LATENCY;
                            for event in self.carry(shard, to, event.clone()) {
                                self.relayed.push_back((at, shard, to, event));
                            }
                        }
                    }
                }
            }
        }
        // The shell closes the WebSocket, whose end makes it leave the space.
        for key in closed {
            if let Some(client) = self.clients.iter_mut().find(|c| c.key == key) {
                client.state = ClientState::Closed;
            }
            if let Some(space) = self.shards[shard].as_mut() {
                space.leave(now, key);
            }
            self.drain_shard(shard);
            self.close_if_empty(shard);
        }
    }

    fn signal(&mut self, connection: ConnectionKey, message: ServerMessage) {
        // Every message must serialise; the SDK only ever sees the JSON.
        let json = message.to_json();
        assert!(
            serde_json::from_str::<serde_json::Value>(&json).is_ok(),
            "server frame is not JSON: {json}"
        );
        let active = self
            .clients
            .iter()
            .any(|c| c.key == connection && c.is_active());
        if !active {
            self.stats.signals_to_departed += 1;
            return;
        }
        self.to_clients
            .push_back((self.now + SIGNALING_LATENCY, connection, message));
    }
}

thread_local! {
    /// The running simulation's virtual time, which its log lines carry (each test runs on
    /// its own thread, and logs on it).
    static VIRTUAL_ELAPSED: std::cell::Cell<Duration> = const { std::cell::Cell::new(Duration::ZERO) };
}

/// Stamps log lines with the simulation's virtual time instead of the wall clock.
struct VirtualTime;

impl tracing_subscriber::fmt::time::FormatTime for VirtualTime {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        let elapsed = VIRTUAL_ELAPSED.with(|e| e.get());
        write!(w, "{:>9.3}s", elapsed.as_secs_f64())
    }
}

/// `SIM_LOG=<filter>` turns on logs (stamped with virtual time); once per test binary.
fn init_log() {
    use std::sync::Once;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if let Ok(filter) = std::env::var("SIM_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_timer(VirtualTime)
                .with_ansi(false)
                .with_test_writer()
                .try_init();
        }
    });
}
