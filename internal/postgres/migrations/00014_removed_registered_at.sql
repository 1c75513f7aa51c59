-- +goose Up

-- A removal now clears registered_at, as a registration logged before
-- the removal and applied after it always left it: rows removed by the
-- older code keep their registration's time, which a rebuild clears, and
-- `trend replay --check` would list each of them. A removed movie
-- registered again gets the new registration's time either way.
UPDATE trend_movies SET registered_at = NULL
WHERE status = 'removed' AND registered_at IS NOT NULL;

-- +goose Down
SELECT 1;
