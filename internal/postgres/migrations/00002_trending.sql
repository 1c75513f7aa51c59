-- +goose Up

-- Decayed attention, stored as s = ln(sum(exp(lambda * t_i))) with t in
-- hours since 2020-01-01 UTC: the attention at time now is
-- exp(s - lambda * now), so the order of movies by s is their order by
-- attention at any time, and only a movie's own views change its s.
-- '-Infinity' is ln(0): no views.
ALTER TABLE trend_movies
    ADD COLUMN attention_day  double precision NOT NULL DEFAULT '-Infinity',
    ADD COLUMN attention_week double precision NOT NULL DEFAULT '-Infinity',
    ADD COLUMN facts_fetched_at timestamptz;
CREATE INDEX trend_movies_attention_day ON trend_movies (attention_day DESC, tmdb_id) WHERE status <> 'removed';
CREATE INDEX trend_movies_attention_week ON trend_movies (attention_week DESC, tmdb_id) WHERE status <> 'removed';

-- Views per movie per time bucket: per minute for two days, per hour for a
-- month (pruned, relative to the newest view applied, as they age).
CREATE TABLE trend_movies_buckets (
    tmdb_id    bigint NOT NULL,
    resolution text NOT NULL CHECK (resolution IN ('minute', 'hour')),
    bucket     timestamptz NOT NULL,
    views      bigint NOT NULL,
    PRIMARY KEY (tmdb_id, resolution, bucket)
);
CREATE INDEX trend_movies_buckets_age ON trend_movies_buckets (resolution, bucket);

-- When TMDB's facts were last fetched, and when a refresh was last asked
-- for: what the stale-facts scheduler reads.
ALTER TABLE movies
    ADD COLUMN facts_fetched_at timestamptz,
    ADD COLUMN refresh_requested_at timestamptz;
CREATE INDEX movies_facts_age ON movies (facts_fetched_at) WHERE status = 'active';

-- ln(exp(a) + exp(b)) without overflow; ln(0) is '-Infinity'.
CREATE FUNCTION trend_logaddexp(a double precision, b double precision) RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN a = '-Infinity' THEN b WHEN b = '-Infinity' THEN a
                ELSE greatest(a, b) + ln(1 + exp(-abs(a - b))) END;

-- +goose Down
DROP FUNCTION trend_logaddexp(double precision, double precision);
DROP INDEX movies_facts_age;
ALTER TABLE movies DROP COLUMN refresh_requested_at, DROP COLUMN facts_fetched_at;
DROP TABLE trend_movies_buckets;
DROP INDEX trend_movies_attention_week;
DROP INDEX trend_movies_attention_day;
ALTER TABLE trend_movies DROP COLUMN facts_fetched_at, DROP COLUMN attention_week, DROP COLUMN attention_day;
