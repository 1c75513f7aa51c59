-- +goose Up

-- A removal now resets facts_position (the facts it clears were the
-- position's): rows written by the older code keep the position of facts
-- logged before their removal, which a rebuild has as 0, and
-- `trend replay --check` would list each of them.
UPDATE trend_movies SET facts_position = 0
WHERE removed_position > 0 AND facts_position <> 0 AND facts_position <= removed_position;

-- +goose Down
SELECT 1;
