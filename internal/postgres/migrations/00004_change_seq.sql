-- +goose Up

-- The order in which rows of the trend projection changed, for the live
-- stream (GET /api/stream) and the list cache. last_position cannot serve:
-- the worker applies batches of events in the order they are delivered,
-- not in log order, so a row can change while its newest position stays
-- the same. Every write of a row takes the next number.
CREATE SEQUENCE trend_change_seq;
ALTER TABLE trend_movies ADD COLUMN change_seq bigint NOT NULL DEFAULT nextval('trend_change_seq');
CREATE INDEX trend_movies_change ON trend_movies (change_seq);

-- +goose Down
-- The column takes its index along, whatever a replay named it; CASCADE
-- drops the default of an old copy kept by `trend replay --keep`.
ALTER TABLE trend_movies DROP COLUMN change_seq;
DROP SEQUENCE trend_change_seq CASCADE;
