-- +goose Up

-- trend_close took "no views" (ln 0, -Infinity) as close to any attention:
-- the tolerance is Infinity when either side is. A replay's check then
-- missed attention that one copy lost or gained. Both ln(0) stay equal.
CREATE OR REPLACE FUNCTION trend_close(a double precision, b double precision) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN a = b OR (a > '-Infinity' AND b > '-Infinity' AND abs(a - b) <= 1e-9 * greatest(abs(a), abs(b)));

-- +goose Down
CREATE OR REPLACE FUNCTION trend_close(a double precision, b double precision) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN a = b OR abs(a - b) <= 1e-9 * greatest(abs(a), abs(b));
