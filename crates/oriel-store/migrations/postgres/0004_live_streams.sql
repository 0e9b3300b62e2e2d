-- Live streams (Mux Video's subset a broadcasting app uses): what a broadcast feeds, played
-- over HLS by its playback ids and pushed over RTMP to its simulcast targets.
CREATE TABLE live_streams (
    seq                      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                       TEXT NOT NULL UNIQUE,
    environment_id           TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    stream_key               TEXT NOT NULL UNIQUE,
    status                   TEXT NOT NULL CHECK (status IN ('idle', 'active', 'disabled')),
    passthrough              TEXT,
    latency_mode             TEXT NOT NULL CHECK (latency_mode IN ('low', 'reduced', 'standard')),
    reconnect_window         DOUBLE PRECISION NOT NULL,
    max_continuous_duration  BIGINT NOT NULL,
    test                     BOOLEAN NOT NULL DEFAULT FALSE,
    -- As the client sent it (JSON): Oriel records no assets, but apps read it back.
    new_asset_settings       TEXT,
    created_at               BIGINT NOT NULL,
    -- When `complete` was called for the latest recording; NULL while one may still grow.
    completed_at             BIGINT
);
CREATE INDEX live_streams_by_environment ON live_streams(environment_id, seq);

-- Playback ids are looked up alone (`/hls/{PLAYBACK_ID}.m3u8`), hence their own table.
CREATE TABLE live_stream_playback_ids (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    live_stream_id  TEXT NOT NULL REFERENCES live_streams(id) ON DELETE CASCADE,
    policy          TEXT NOT NULL CHECK (policy IN ('public', 'signed'))
);
CREATE INDEX playback_ids_by_live_stream ON live_stream_playback_ids(live_stream_id, seq);

CREATE TABLE live_stream_simulcast_targets (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    live_stream_id  TEXT NOT NULL REFERENCES live_streams(id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    stream_key      TEXT,
    passthrough     TEXT,
    status          TEXT NOT NULL CHECK (status IN ('idle', 'starting', 'broadcasting', 'errored'))
);
CREATE INDEX simulcast_targets_by_live_stream ON live_stream_simulcast_targets(live_stream_id, seq);
