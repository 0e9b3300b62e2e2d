-- The session a space had last, kept after it goes idle: a rating arrives after the call.
ALTER TABLE spaces ADD COLUMN last_session_id TEXT;
UPDATE spaces SET last_session_id = active_session_id;

-- Call-quality ratings (Absolute Category Rating, 1..5) that the Mux SDK's submitAcrScore sends.
-- One per participant and session: rating again replaces it, so a replayed token cannot stack.
CREATE TABLE call_ratings (
    seq                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    environment_id       TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    space_id             TEXT NOT NULL REFERENCES spaces(id) ON DELETE CASCADE,
    -- The space's active (or last) session when the rating arrived: the server's word.
    session_id           TEXT NOT NULL,
    participant_id       TEXT NOT NULL,
    -- What the SDK reported about itself, kept as sent.
    connection_id        TEXT,
    reported_session_id  TEXT,
    score                SMALLINT NOT NULL CHECK (score BETWEEN 1 AND 5),
    created_at           BIGINT NOT NULL,
    UNIQUE (space_id, session_id, participant_id)
);
CREATE INDEX call_ratings_by_space ON call_ratings(space_id, created_at);
