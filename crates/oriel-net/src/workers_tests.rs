//! Placement of a space that outgrows its node: filled here first, then another node's worker,
//! filled in turn before a third; a node that turned a join away is passed over.

use super::*;

fn peer(ordinal: u16, load: u64) -> PeerNode {
    PeerNode {
        ordinal,
        workers: 2,
        load,
        // Nothing listens there: links are opened lazily and placement does not wait for them.
        link_address: "127.0.0.1:9".into(),
    }
}

fn node_of_target(target: &MediaTarget) -> u16 {
    node_of(target.shard())
}

#[tokio::test]
async fn a_space_fills_its_node_then_spills_to_the_least_loaded_filling_each_in_turn() {
    let workers = MediaWorkers::start(&MediaSettings {
        ips: vec!["127.0.0.1".parse().unwrap()],
        udp_port: 0,
        tcp_port: None,
        public_ip: None,
        workers: 1,
        spread_space_after: 0,
    })
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    workers.join_cluster(listener, 3, "secret".into(), 2);
    workers.set_peer_nodes(vec![peer(7, 10), peer(5, 3)]);

    let nodes: Vec<u16> = (0..6)
        .map(|i| node_of_target(&workers.place("space", &format!("p{i}"))))
        .collect();
    // Two here, then node 5 (the least loaded) to two, then node 7.
    assert_eq!(nodes, [3, 3, 5, 5, 7, 7]);
    // A reconnection lands beside its predecessor, wherever that is.
    assert_eq!(node_of_target(&workers.place("space", "p2")), 5);
    // Cluster-wide numbers: node 3's first worker is 48.
    assert_eq!(workers.place("space", "p0").shard(), 48);

    // A node that turned a join away is passed over.
    let other = workers.place("other", "a");
    workers.place("other", "b");
    assert_eq!(node_of_target(&other), 3);
    workers.avoid_node_of(5 * 16);
    assert_eq!(node_of_target(&workers.place("other", "c")), 7);

    // Every node full: the node holding the space takes the rest itself.
    assert_eq!(node_of_target(&workers.place("space", "p9")), 3);
}
