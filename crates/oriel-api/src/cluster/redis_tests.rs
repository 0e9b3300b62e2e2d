//! The cluster's Redis parts against a real `redis-server` (started here on a free loopback
//! port, no persistence, stopped at the end): nodes racing to place one space agree on one
//! holder, a relayed join never travels twice, a node gone from the registry loses its spaces,
//! and one node leads.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::placement::{self, Route};
use super::{leader, registry, Cluster, ClusterSettings};

/// A private redis-server, killed when dropped.
struct RedisServer {
    child: Child,
    url: String,
}

impl RedisServer {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (Debian package redis-server; scripts/test.sh installs it)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            url: format!("redis://127.0.0.1:{port}"),
        }
    }

    async fn node(&self, name: &str) -> Cluster {
        let cluster = Cluster::connect(&ClusterSettings {
            redis_url: self.url.clone(),
            advertise_url: format!("http://{name}.invalid:8080"),
            spill_space_after: 250,
        })
        .await
        .expect("connects to the test's redis-server");
        registry::register(&cluster, 0, 0, 0, 1).await.unwrap();
        cluster
    }
}

impl RedisServer {
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `leader::lead` running for a node, started once it leads.
struct Leader {
    is_leader: tokio::sync::watch::Receiver<bool>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Leader {
    async fn started(node: std::sync::Arc<Cluster>) -> Self {
        let (leading, mut is_leader) = tokio::sync::watch::channel(false);
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(leader::lead(node, leading, stopped));
        tokio::time::timeout(Duration::from_secs(5), is_leader.wait_for(|leads| *leads))
            .await
            .expect("the node leads within seconds")
            .unwrap();
        Self {
            is_leader,
            stop,
            task,
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        self.task.await.unwrap();
    }
}

/// The id of the node a route sends the join to.
fn served_by<'a>(route: &'a Route, from: &'a Cluster) -> &'a str {
    match route {
        Route::Local => from.node_id(),
        Route::Remote(node) => &node.id,
        Route::Moved => "moved",
    }
}

#[tokio::test]
async fn nodes_placing_one_space_at_once_agree_on_one_holder() {
    let redis = RedisServer::start();
    let (a, b, c) = (
        redis.node("a").await,
        redis.node("b").await,
        redis.node("c").await,
    );
    let mut holders = std::collections::HashSet::new();
    for i in 0..40 {
        let space = format!("space-{i}");
        let (ra, rb, rc) = tokio::join!(
            placement::route(&a, &space, false),
            placement::route(&b, &space, false),
            placement::route(&c, &space, false),
        );
        let (ha, hb, hc) = (served_by(&ra, &a), served_by(&rb, &b), served_by(&rc, &c));
        assert_eq!((ha, hb), (hc, hc), "space {i}: one holder");
        assert_ne!(ha, "moved");
        holders.insert(ha.to_owned());
    }
    assert_eq!(
        holders.len(),
        3,
        "idle nodes share the new spaces: {holders:?}"
    );
}

#[tokio::test]
async fn a_relayed_join_is_served_by_its_holder_and_never_relayed_again() {
    let redis = RedisServer::start();
    let (a, b) = (redis.node("a").await, redis.node("b").await);
    assert_eq!(
        placement::route(&a, "s", true).await,
        Route::Local,
        "a relayed join claims the space for the node it reached"
    );
    match placement::route(&b, "s", false).await {
        Route::Remote(node) => assert_eq!(node.id, a.node_id()),
        other => panic!("b relays to a: {other:?}"),
    }
    assert_eq!(
        placement::route(&b, "s", true).await,
        Route::Moved,
        "a join relayed to a node not holding the space goes no further"
    );
    a.draining.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        placement::route(&a, "s", true).await,
        Route::Moved,
        "a draining node serves no relayed join"
    );
    assert_eq!(
        placement::holders(&a, &["s".to_owned()]).await.unwrap(),
        vec![None],
        "and gives the space up"
    );
}

#[tokio::test]
async fn a_node_gone_from_the_registry_loses_its_spaces_at_the_next_join() {
    let redis = RedisServer::start();
    let (a, b) = (redis.node("a").await, redis.node("b").await);
    assert_eq!(placement::route(&a, "s", true).await, Route::Local);
    // a's record expired (it died); b's next join of the space places it again, on b.
    registry::forget(&b, a.node_id()).await.unwrap();
    assert_eq!(placement::route(&b, "s", false).await, Route::Local);
    assert_eq!(
        placement::holders(&b, &["s".to_owned()]).await.unwrap(),
        vec![Some(b.node_id().to_owned())]
    );
    // a, if it still ran, learns that another node holds what it serves.
    assert_eq!(
        placement::keep(&a, &["s".to_owned()]).await.unwrap(),
        vec!["s".to_owned()]
    );
    // A relay that finds the holder's listener closed moves the space on at once.
    assert_eq!(placement::route(&b, "t", true).await, Route::Local);
    placement::holder_unreachable(&a, "t", b.node_id())
        .await
        .unwrap();
    registry::register(&a, 0, 0, 0, 1).await.unwrap();
    assert_eq!(
        placement::route(&a, "t", false).await,
        Route::Local,
        "b is out of the registry: a takes the space"
    );
}

#[tokio::test]
async fn claims_are_kept_and_released_only_by_their_holder() {
    let redis = RedisServer::start();
    let (a, b) = (redis.node("a").await, redis.node("b").await);
    assert_eq!(placement::route(&a, "s", true).await, Route::Local);
    placement::release(&b, &["s".to_owned()]).await.unwrap();
    assert_eq!(
        placement::holders(&a, &["s".to_owned()]).await.unwrap(),
        vec![Some(a.node_id().to_owned())],
        "b cannot release a's claim"
    );
    assert_eq!(
        placement::keep(&a, &["s".to_owned(), "u".to_owned()])
            .await
            .unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        placement::holders(&a, &["u".to_owned()]).await.unwrap(),
        vec![Some(a.node_id().to_owned())],
        "a takes back a claim that lapsed while it served the space"
    );
    placement::release(&a, &["s".to_owned(), "u".to_owned()])
        .await
        .unwrap();
    assert_eq!(
        placement::holders(&a, &["s".to_owned(), "u".to_owned()])
            .await
            .unwrap(),
        vec![None, None]
    );
}

#[tokio::test]
async fn the_registry_lists_live_nodes_and_one_node_leads() {
    let redis = RedisServer::start();
    let (a, b) = (
        std::sync::Arc::new(redis.node("a").await),
        redis.node("b").await,
    );
    let mut ids: Vec<String> = registry::live_nodes(&b)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.id)
        .collect();
    ids.sort();
    let mut expected = vec![a.node_id().to_owned(), b.node_id().to_owned()];
    expected.sort();
    assert_eq!(ids, expected);
    registry::deregister(&b).await.unwrap();
    assert_eq!(registry::live_nodes(&a).await.unwrap().len(), 1);

    Leader::started(a.clone()).await.stop().await;
}

#[tokio::test]
async fn a_leader_cut_off_from_redis_steps_down_before_another_node_could_lead() {
    let mut redis = RedisServer::start();
    let a = std::sync::Arc::new(redis.node("a").await);
    let mut leader = Leader::started(a).await;
    // The key was last refreshed at most a second ago; it lives 5 s after that, and only then
    // can another node take it: this one must have stopped leading by then.
    let cut_off = Instant::now();
    redis.kill();
    tokio::time::timeout(
        Duration::from_secs(10),
        leader.is_leader.wait_for(|leads| !*leads),
    )
    .await
    .expect("a leader without Redis steps down")
    .unwrap();
    let stepped_down = cut_off.elapsed();
    assert!(
        stepped_down < Duration::from_secs(5),
        "stepped down {stepped_down:?} after Redis went away: another node could lead by then"
    );
    assert!(
        stepped_down >= Duration::from_secs(2),
        "stepped down after {stepped_down:?}: a blip of a second must not stop the compositors"
    );
    leader.stop().await;
}
