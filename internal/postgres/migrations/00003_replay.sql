-- +goose Up

-- The transaction that appended an event, and the batch (the bus message)
-- it travelled in. A replay reads the log in (transaction_id, position)
-- order up to pg_snapshot_xmin, so that no event becomes visible behind its
-- cursor, and rebuilds exactly the batches the live projection has handled.
ALTER TABLE events
    ADD COLUMN transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
    ADD COLUMN batch_id uuid;
CREATE INDEX events_transaction ON events (transaction_id, position);

-- The log position of the facts a row shows: facts delivered out of order
-- (a redelivered or late batch) never replace newer ones.
ALTER TABLE trend_movies ADD COLUMN facts_position bigint NOT NULL DEFAULT 0;

-- One row per rebuild: what `trend replay` and the admin API show.
CREATE TABLE projection_replays (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    projection  text NOT NULL,
    mode        text NOT NULL CHECK (mode IN ('rebuild', 'check')),
    state       text NOT NULL CHECK (state IN ('running', 'done', 'failed')),
    done        bigint NOT NULL DEFAULT 0,
    total       bigint NOT NULL DEFAULT 0,
    rate        double precision NOT NULL DEFAULT 0,
    differences bigint,
    error       text,
    started_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);

-- Two stored attentions agree when equal to 1e-9 relative (both ln(0)
-- included): how a replay check compares them.
CREATE FUNCTION trend_close(a double precision, b double precision) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN a = b OR abs(a - b) <= 1e-9 * greatest(abs(a), abs(b));

-- +goose Down
DROP FUNCTION trend_close(double precision, double precision);
DROP TABLE projection_replays;
ALTER TABLE trend_movies DROP COLUMN facts_position;
DROP INDEX events_transaction;
ALTER TABLE events DROP COLUMN batch_id, DROP COLUMN transaction_id;
