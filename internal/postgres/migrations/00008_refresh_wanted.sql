-- +goose Up

-- Since when a fetch of an active movie's facts has been wanted and has
-- not succeeded: TMDB was down, throttled us or refused our key when a
-- refresh was asked for. The refresher asks again, at the growing
-- intervals it uses for a movie left pending; fresh facts (or a removal)
-- clear it. Without it, a refresh asked for during a TMDB outage was lost
-- until the facts were TMDB_REFRESH_AGE old.
ALTER TABLE movies ADD COLUMN refresh_wanted_since timestamptz;

-- +goose Down
ALTER TABLE movies DROP COLUMN refresh_wanted_since;
