/// A connection inside a space, chosen by the shell (unique per worker).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionKey(pub u64);

/// A published track inside a space, unique across the space's shards: the shard's number in
/// the top 16 bits, a counter of that shard below.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProducerId(pub(crate) u64);

impl ProducerId {
    pub(crate) fn new(shard: u16, sequence: u64) -> Self {
        Self(u64::from(shard) << 48 | (sequence & ((1 << 48) - 1)))
    }
}

/// Which of a connection's peer connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum PeerKind {
    Publisher,
    Subscriber,
}

/// One peer connection of one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PeerKey {
    pub(crate) connection: ConnectionKey,
    pub(crate) kind: PeerKind,
}
