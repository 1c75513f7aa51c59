-- +goose Up

-- Write model: one row per registration. The unique key is what turns a
-- second registration into a 409, in the same transaction as the outbox row.
CREATE TABLE movies (
    tmdb_id       bigint PRIMARY KEY CHECK (tmdb_id BETWEEN 1 AND 2147483647),
    status        text NOT NULL CHECK (status IN ('pending', 'active', 'removed')),
    registered_at timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

-- The event log: every accepted fact, in one global order (position), never
-- updated or deleted. dedup_key carries a client-chosen id (a view_id) so
-- that a fact sent twice is stored once.
CREATE TABLE events (
    position       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id       uuid NOT NULL UNIQUE,
    type           text NOT NULL,
    version        integer NOT NULL CHECK (version >= 1),
    tmdb_id        bigint NOT NULL,
    dedup_key      uuid,
    occurred_at    timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    correlation_id text NOT NULL DEFAULT '',
    data           jsonb NOT NULL
);
CREATE UNIQUE INDEX events_dedup_key ON events (dedup_key) WHERE dedup_key IS NOT NULL;
CREATE INDEX events_tmdb_id ON events (tmdb_id, position);

-- +goose StatementBegin
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only: % is not allowed', TG_OP;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();

-- What each handler has handled, written in the same transaction as the
-- handler's effect: this is what makes redelivery harmless.
CREATE TABLE handled_messages (
    handler    text NOT NULL,
    message_id uuid NOT NULL,
    handled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (handler, message_id)
);

-- The trend projection (read model). Disposable: rebuilt from the log.
CREATE TABLE trend_movies (
    tmdb_id              bigint PRIMARY KEY,
    title                text,
    status               text NOT NULL CHECK (status IN ('pending', 'active', 'removed')),
    internal_views_count bigint NOT NULL DEFAULT 0,
    external_score       double precision,
    vote_count           bigint,
    popularity           double precision,
    release_date         text,
    poster_path          text,
    genres               jsonb NOT NULL DEFAULT '[]',
    final_trend_score    double precision NOT NULL DEFAULT 0,
    registered_at        timestamptz,
    last_updated_at      timestamptz NOT NULL,
    last_position        bigint NOT NULL DEFAULT 0
);
CREATE INDEX trend_movies_rank ON trend_movies (final_trend_score DESC, tmdb_id) WHERE status <> 'removed';

-- The transactional outbox, in the layout watermill-sql's default
-- PostgreSQL schema and offsets adapter expect (created here, versioned,
-- instead of at run time by the library).
CREATE TABLE watermill_outbox (
    "offset"       bigserial,
    uuid           varchar(36) NOT NULL,
    created_at     timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
    payload        json DEFAULT NULL,
    metadata       json DEFAULT NULL,
    transaction_id xid8 NOT NULL,
    PRIMARY KEY (transaction_id, "offset")
);
CREATE TABLE watermill_offsets_outbox (
    consumer_group                varchar(255) NOT NULL,
    offset_acked                  bigint,
    last_processed_transaction_id xid8 NOT NULL,
    PRIMARY KEY (consumer_group)
);

-- +goose Down
DROP TABLE watermill_offsets_outbox;
DROP TABLE watermill_outbox;
DROP TABLE trend_movies;
DROP TABLE handled_messages;
DROP TABLE events;
DROP FUNCTION events_append_only();
DROP TABLE movies;
