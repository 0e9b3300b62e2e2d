//! `oriel-impair`: the impairment relay's socket shell.
//!
//! ```text
//! oriel-impair --listen-ip 127.0.0.2 --node-ip 127.0.0.1 --ports 40000-40003 \
//!   [--up '{"loss":0.05}'] [--down '{"delay_ms":40,"jitter_ms":20}']
//! ```
//!
//! Each port P is relayed from `--listen-ip:P` (where clients send, the address a node
//! advertises with `--public-ip`) to `--node-ip:P`. Control on stdin, one JSON object per line,
//! answered on stdout: `{"up": IMPAIRMENT}`, `{"down": ...}`, `{"both": ...}` (each replaces
//! that direction's impairment), `{"stats": true}`. An impairment is `{"loss", "loss_burst",
//! "delay_ms", "jitter_ms", "duplicate", "reorder_gap", "rate_kbps", "queue_ms"}`, all optional.
//! The relay ends when stdin closes, so it never outlives the test that started it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use oriel_impair::{Direction, Impairment, Relay, Transmit};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

#[derive(Parser, Debug)]
#[command(
    version,
    about = "UDP impairment relay between clients and an Oriel node"
)]
struct Args {
    /// Where clients send (the node advertises it with --public-ip).
    #[arg(long)]
    listen_ip: IpAddr,
    /// The node's media address.
    #[arg(long)]
    node_ip: IpAddr,
    /// Ports relayed, each to the same port on the node: `A-B` or `A,B,...` (at most 64).
    #[arg(long)]
    ports: String,
    /// Client-to-node impairment (JSON).
    #[arg(long)]
    up: Option<String>,
    /// Node-to-client impairment (JSON).
    #[arg(long)]
    down: Option<String>,
}

enum Event {
    FromClient {
        port: usize,
        client: SocketAddr,
        data: Vec<u8>,
    },
    FromNode {
        session: usize,
        data: Vec<u8>,
    },
    Control(String),
    ControlClosed,
    /// Something queued fell due.
    Due,
}

const MAX_DATAGRAM: usize = 2048;

fn parse_ports(spec: &str) -> Result<Vec<u16>> {
    let ports: Vec<u16> = match spec.split_once('-') {
        Some((a, b)) => {
            let (a, b): (u16, u16) = (a.trim().parse()?, b.trim().parse()?);
            if a > b {
                bail!("--ports {spec}: the range runs backwards");
            }
            (a..=b).collect()
        }
        None => spec
            .split(',')
            .map(|p| p.trim().parse::<u16>().context("--ports: not a port"))
            .collect::<Result<_>>()?,
    };
    if ports.is_empty() || ports.len() > 64 || ports.contains(&0) {
        bail!("--ports {spec}: give 1 to 64 ports, none of them 0");
    }
    Ok(ports)
}

fn impairment(text: &str) -> Result<Impairment, String> {
    let impairment: Impairment = serde_json::from_str(text).map_err(|e| e.to_string())?;
    impairment.validate()?;
    Ok(impairment)
}

fn say(value: Value) {
    println!("{value}");
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = Args::parse();
    let ports = parse_ports(&args.ports)?;
    let mut relay = Relay::new();
    for (direction, text) in [(Direction::Up, &args.up), (Direction::Down, &args.down)] {
        if let Some(text) = text {
            relay.set(direction, impairment(text).map_err(anyhow::Error::msg)?);
        }
    }

    let (events, mut inbox) = mpsc::channel::<(Instant, Event)>(4096);
    let mut listeners = Vec::new();
    for (index, port) in ports.iter().enumerate() {
        let socket = Arc::new(
            UdpSocket::bind((args.listen_ip, *port))
                .await
                .with_context(|| format!("cannot listen on {}:{port}", args.listen_ip))?,
        );
        let (socket_rx, events) = (Arc::clone(&socket), events.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; MAX_DATAGRAM];
            while let Ok((n, client)) = socket_rx.recv_from(&mut buf).await {
                let event = Event::FromClient {
                    port: index,
                    client,
                    data: buf[..n].to_vec(),
                };
                if events.send((Instant::now(), event)).await.is_err() {
                    break;
                }
            }
        });
        listeners.push(socket);
    }
    {
        let events = events.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(tokio::io::stdin()).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if events
                    .send((Instant::now(), Event::Control(line)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            let _ = events.send((Instant::now(), Event::ControlClosed)).await;
        });
    }
    say(
        json!({"event": "ready", "ports": ports, "up": relay.impairment(Direction::Up), "down": relay.impairment(Direction::Down)}),
    );

    let mut upstream: Vec<Arc<UdpSocket>> = Vec::new();
    let mut due = Vec::new();
    loop {
        let wake = relay.next_due();
        let received = tokio::select! {
            received = inbox.recv() => received,
            _ = sleep_until(wake) => Some((Instant::now(), Event::Due)),
        };
        let Some((at, event)) = received else { break };
        match event {
            Event::FromClient { port, client, data } => {
                if let Some((session, true)) = relay.from_client(at, port, client, data) {
                    let socket = Arc::new(UdpSocket::bind((args.node_ip, 0)).await?);
                    let (socket_rx, events) = (Arc::clone(&socket), events.clone());
                    tokio::spawn(async move {
                        let mut buf = vec![0u8; MAX_DATAGRAM];
                        while let Ok(n) = socket_rx.recv(&mut buf).await {
                            let event = Event::FromNode {
                                session,
                                data: buf[..n].to_vec(),
                            };
                            if events.send((Instant::now(), event)).await.is_err() {
                                break;
                            }
                        }
                    });
                    socket.connect((args.node_ip, ports[port])).await?;
                    upstream.push(socket);
                }
            }
            Event::FromNode { session, data } => relay.from_node(at, session, data),
            Event::Control(line) if line.trim().is_empty() => {}
            Event::Control(line) => control(&mut relay, &line),
            Event::Due => {}
            Event::ControlClosed => break,
        }
        relay.poll(Instant::now(), &mut due);
        for transmit in due.drain(..) {
            // A send that fails (the node went away) is a lost packet, as on a real link.
            match transmit {
                Transmit::ToNode { session, data } => {
                    let _ = upstream[session].send(&data).await;
                }
                Transmit::ToClient { session, data } => {
                    if let Some((port, client)) = relay.session(session) {
                        let _ = listeners[port].send_to(&data, client).await;
                    }
                }
            }
        }
    }
    Ok(())
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

fn control(relay: &mut Relay, line: &str) {
    let answer = (|| -> Result<Value, String> {
        let value: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let object = value.as_object().ok_or("a control line is a JSON object")?;
        if object.get("stats").is_some() {
            let [(up_in, up_out), (down_in, down_out)] = relay.counts();
            return Ok(json!({"event": "stats",
                "up": {"in": up_in, "out": up_out}, "down": {"in": down_in, "out": down_out}}));
        }
        let mut changes = Vec::new();
        for (key, value) in object {
            let directions: &[Direction] = match key.as_str() {
                "up" => &[Direction::Up],
                "down" => &[Direction::Down],
                "both" => &[Direction::Up, Direction::Down],
                other => return Err(format!("unknown key {other:?}: up, down, both or stats")),
            };
            let impairment = impairment(&value.to_string())?;
            changes.extend(directions.iter().map(|d| (*d, impairment.clone())));
        }
        for (direction, impairment) in changes {
            relay.set(direction, impairment);
        }
        Ok(
            json!({"event": "set", "up": relay.impairment(Direction::Up), "down": relay.impairment(Direction::Down)}),
        )
    })();
    say(answer.unwrap_or_else(|message| json!({"event": "error", "message": message})));
}
