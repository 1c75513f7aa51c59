-- +goose Up

-- ln(exp(a) + exp(b)) without overflow, and now without underflow: for a
-- gap over about 745, exp(-gap) is below the smallest double and
-- PostgreSQL raises "value out of range: underflow" instead of giving 0.
-- The attention's exponents grow by lambda a hour, so a movie's first
-- view after about three years (the day window) failed its whole batch,
-- and every replay. Past a gap of 37, ln(1 + exp(-gap)) is 0 in double
-- precision anyway: the result is unchanged wherever it did not fail.
CREATE OR REPLACE FUNCTION trend_logaddexp(a double precision, b double precision) RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN a = '-Infinity' THEN b WHEN b = '-Infinity' THEN a
                WHEN abs(a - b) > 700 THEN greatest(a, b)
                ELSE greatest(a, b) + ln(1 + exp(-abs(a - b))) END;

-- +goose Down
CREATE OR REPLACE FUNCTION trend_logaddexp(a double precision, b double precision) RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN a = '-Infinity' THEN b WHEN b = '-Infinity' THEN a
                ELSE greatest(a, b) + ln(1 + exp(-abs(a - b))) END;
