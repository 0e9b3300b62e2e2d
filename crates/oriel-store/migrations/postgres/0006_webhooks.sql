-- Webhook endpoints, one environment each, with the secret their deliveries are signed with.
CREATE TABLE webhook_endpoints (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    environment_id  TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    signing_secret  TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_by_environment ON webhook_endpoints(environment_id, seq);

-- The outbox: an event is written in the same transaction as the change it tells of, with the
-- object as it was then; `seq` orders the events of one object (the store writes events under
-- one lock, so `seq` follows the order the transactions commit in).
CREATE TABLE webhook_events (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    environment_id  TEXT NOT NULL,
    type            TEXT NOT NULL,
    object_type     TEXT NOT NULL,
    object_id       TEXT NOT NULL,
    data            TEXT NOT NULL,
    -- Unix milliseconds: the delay from a change to its delivery is measured from here.
    created_at_ms   BIGINT NOT NULL
);

-- One row per event and endpoint of its environment, made with the event.
CREATE TABLE webhook_deliveries (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_seq       BIGINT NOT NULL REFERENCES webhook_events(seq) ON DELETE CASCADE,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    object_id       TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL,
    last_status     INTEGER,
    last_error      TEXT,
    last_attempt_ms BIGINT,
    -- PostgreSQL only: several nodes deliver from one database. A node's store claims the
    -- deliveries it hands its dispatcher until their attempt is kept, the node stops, or the
    -- claim lapses (a node that died mid-attempt), so no two nodes send one at once.
    claimed_by       TEXT,
    claimed_until_ms BIGINT
);
-- What the dispatcher asks: an endpoint's pending deliveries, oldest first, per object.
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(endpoint_id, state, object_id, event_seq);
CREATE INDEX webhook_deliveries_recent ON webhook_deliveries(endpoint_id, seq);
-- Pruning finds an event's deliveries by it.
CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries(event_seq);
-- A stopping node gives up its claims.
CREATE INDEX webhook_deliveries_claimed ON webhook_deliveries(claimed_by) WHERE claimed_by IS NOT NULL;

-- Each attempt, as Mux listed them in the envelope's `attempts`.
CREATE TABLE webhook_attempts (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    delivery_seq    BIGINT NOT NULL REFERENCES webhook_deliveries(seq) ON DELETE CASCADE,
    address         TEXT NOT NULL,
    status          INTEGER,
    response_body   TEXT,
    error           TEXT,
    created_at_ms   BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts(delivery_seq, seq);
