-- +goose Up

-- The log position of a movie's latest removal. Views logged before it
-- belong to the registration TMDB removed: one delivered after the removal
-- (a view in flight while TMDB removed the movie, or a batch redelivered)
-- must not count for a registration that follows, live or in a replay,
-- which reads the log in another order than the live copy receives it.
ALTER TABLE trend_movies ADD COLUMN removed_position bigint NOT NULL DEFAULT 0;
-- From the log, for every movie ever removed (also those registered
-- again since). One scan of the log, once.
UPDATE trend_movies t SET removed_position = r.position
FROM (SELECT tmdb_id, max(position) AS position FROM events WHERE type = 'MovieRemoved' GROUP BY tmdb_id) AS r
WHERE t.tmdb_id = r.tmdb_id;

-- +goose Down
ALTER TABLE trend_movies DROP COLUMN removed_position;
