/// A connection inside a space, chosen by the shell (unique per worker).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionKey(pub u64);

/// A published track inside a space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ProducerId(pub(crate) u64);

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
