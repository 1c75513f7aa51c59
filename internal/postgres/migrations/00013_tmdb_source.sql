-- +goose Up

-- Where the TMDB facts in this database come from: TMDB itself, or the
-- built-in stand-in a worker starts when no key is configured. A worker
-- that lost its key (a .env not mounted) must not fall back to the
-- stand-in on a database TMDB fed: its answers (a 404 for every movie
-- outside its 924) would become removals in the log.
CREATE TABLE tmdb_source (
    one        boolean PRIMARY KEY DEFAULT true CHECK (one),
    stand_in   boolean NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE tmdb_source;
