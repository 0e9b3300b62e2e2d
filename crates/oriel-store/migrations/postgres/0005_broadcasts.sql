-- A broadcast composes its space into a live stream. Mux allowed one per space by default; the
-- API enforces that, the schema allows more.
CREATE TABLE broadcasts (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    space_id        TEXT NOT NULL REFERENCES spaces(id) ON DELETE CASCADE,
    -- Not a foreign key: Mux let a live stream be deleted under a broadcast, whose start then fails.
    live_stream_id  TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('idle', 'active')),
    layout          TEXT NOT NULL CHECK (layout IN ('gallery', 'active-speaker', 'crop')),
    resolution      TEXT NOT NULL,
    background      TEXT,
    passthrough     TEXT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX broadcasts_by_space ON broadcasts(space_id, seq);
