-- Webhook endpoints, one environment each, with the secret their deliveries are signed with.
CREATE TABLE webhook_endpoints (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    environment_id  TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    signing_secret  TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_by_environment ON webhook_endpoints(environment_id, seq);

-- The outbox: an event is written in the same transaction as the change it tells of, with the
-- object as it was then; `seq` orders the events of one object.
CREATE TABLE webhook_events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    environment_id  TEXT NOT NULL,
    type            TEXT NOT NULL,
    object_type     TEXT NOT NULL,
    object_id       TEXT NOT NULL,
    data            TEXT NOT NULL,
    -- Unix milliseconds: the delay from a change to its delivery is measured from here.
    created_at_ms   INTEGER NOT NULL
);

-- One row per event and endpoint of its environment, made with the event.
CREATE TABLE webhook_deliveries (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    event_seq       INTEGER NOT NULL REFERENCES webhook_events(seq) ON DELETE CASCADE,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    object_id       TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    last_status     INTEGER,
    last_error      TEXT,
    last_attempt_ms INTEGER
);
-- What the dispatcher asks: an endpoint's pending deliveries, oldest first, per object.
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(endpoint_id, state, object_id, event_seq);
CREATE INDEX webhook_deliveries_recent ON webhook_deliveries(endpoint_id, seq);

-- Each attempt, as Mux listed them in the envelope's `attempts`.
CREATE TABLE webhook_attempts (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    delivery_seq    INTEGER NOT NULL REFERENCES webhook_deliveries(seq) ON DELETE CASCADE,
    address         TEXT NOT NULL,
    status          INTEGER,
    response_body   TEXT,
    error           TEXT,
    created_at_ms   INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts(delivery_seq, seq);
