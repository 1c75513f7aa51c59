-- +goose Up

-- Outbox payloads are JSON batches of events or views, often 3 to 10 KB:
-- above the 2 KB at which PostgreSQL compresses a value. Its default,
-- pglz, spent about 120 µs a row here; lz4 about 45 µs, and compresses
-- these batches as well (measured in docs/benchmarks.md, "Analysis").
-- New rows only; a server built without lz4 keeps pglz.
-- +goose StatementBegin
DO $$
BEGIN
    ALTER TABLE watermill_outbox ALTER COLUMN payload SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'this PostgreSQL has no lz4: outbox payloads stay pglz-compressed';
END;
$$;
-- +goose StatementEnd

-- +goose Down
ALTER TABLE watermill_outbox ALTER COLUMN payload SET COMPRESSION default;
