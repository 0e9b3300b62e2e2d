//! The relay binary between a UDP echo "node" and a client, on loopback, its impairment changed
//! over stdin while packets flow.

use std::io::{BufRead, BufReader, Write};
use std::net::UdpSocket;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

struct Relay {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Relay {
    fn start(port: u16) -> (Self, Value) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_oriel-impair"))
            .args(["--listen-ip", "127.0.0.2", "--node-ip", "127.0.0.1"])
            .args(["--ports", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("relay starts");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut relay = Self {
            child,
            stdin,
            stdout,
        };
        let ready = relay.line();
        (relay, ready)
    }

    fn line(&mut self) -> Value {
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .expect("a line from the relay");
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("JSON from the relay: {line:?}"))
    }

    fn control(&mut self, line: &str) -> Value {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("control written");
        self.line()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A node that echoes every datagram, on a free port of 127.0.0.1 (a thread, bounded by
/// its socket's timeout).
fn echo_node() -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("node socket");
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let port = socket.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            let _ = socket.send_to(&buf[..n], from);
        }
    });
    port
}

/// Sends `count` numbered datagrams 2 ms apart, then collects echoes for `wait`: returns how
/// many came back and the smallest round trip.
fn exchange(client: &UdpSocket, port: u16, count: u32, wait: Duration) -> (usize, Duration) {
    let mut sent_at = Vec::new();
    for i in 0..count {
        sent_at.push(Instant::now());
        client
            .send_to(&i.to_be_bytes(), ("127.0.0.2", port))
            .expect("sent");
        std::thread::sleep(Duration::from_millis(2));
    }
    let deadline = Instant::now() + wait;
    let mut seen = std::collections::HashSet::new();
    let mut fastest = Duration::MAX;
    let mut buf = [0u8; 16];
    while Instant::now() < deadline {
        if let Ok(4) = client.recv(&mut buf) {
            let i = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
            if let Some(at) = sent_at.get(i as usize) {
                fastest = fastest.min(at.elapsed());
                seen.insert(i);
            }
        }
    }
    (seen.len(), fastest)
}

#[test]
fn packets_pass_then_are_delayed_then_lost_as_told() {
    let port = echo_node();
    let (mut relay, ready) = Relay::start(port);
    assert_eq!(ready["event"], "ready", "{ready}");
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();

    let (back, _) = exchange(&client, port, 100, Duration::from_millis(500));
    assert_eq!(back, 100, "nothing lost without impairment");

    let set = relay.control(r#"{"down": {"delay_ms": 120}}"#);
    assert_eq!(set["down"]["delay_ms"], 120, "{set}");
    let (back, fastest) = exchange(&client, port, 20, Duration::from_millis(800));
    assert_eq!(back, 20);
    assert!(
        fastest >= Duration::from_millis(120),
        "round trip {fastest:?}"
    );

    relay.control(r#"{"down": {}}"#);
    relay.control(r#"{"up": {"loss": 0.5}}"#);
    let (back, _) = exchange(&client, port, 400, Duration::from_millis(500));
    assert!(
        (120..280).contains(&back),
        "{back} of 400 came back at 50 % loss"
    );

    // A bad line is answered with an error and changes nothing.
    let error = relay.control(r#"{"up": {"loss": 2}}"#);
    assert_eq!(error["event"], "error", "{error}");
    let stats = relay.control(r#"{"stats": true}"#);
    assert_eq!(stats["event"], "stats", "{stats}");
    assert!(stats["up"]["in"].as_u64().unwrap() > stats["up"]["out"].as_u64().unwrap());

    // Closing stdin ends the relay.
    relay.stdin = None;
    let deadline = Instant::now() + Duration::from_secs(5);
    while relay.child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the relay ends when its stdin closes"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
