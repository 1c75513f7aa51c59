-- +goose Up

-- The log position of a movie's latest removal. Views logged before it
-- belong to the registration TMDB removed: one delivered after the removal
-- (a view in flight while TMDB removed the movie, or a batch redelivered)
-- must not count for a registration that follows, live or in a replay,
-- which reads the log in another order than the live copy receives it.
ALTER TABLE trend_movies ADD COLUMN removed_position bigint NOT NULL DEFAULT 0;
-- Before this column, nothing moved a removed row's last_position after
-- its removal (its views and facts were dropped): it is the removal's.
UPDATE trend_movies SET removed_position = last_position WHERE status = 'removed';

-- +goose Down
ALTER TABLE trend_movies DROP COLUMN removed_position;
