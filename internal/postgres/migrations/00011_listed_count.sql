-- +goose Up

-- How many movies each copy of the trend projection lists (status not
-- 'removed'), kept by triggers in the transactions that change it. The
-- list's X-Total-Count read it with count(*), a scan of every row: about
-- 2 to 3 ms at 10,000 movies, paid again at every change of the
-- projection (the API caches its pages until then), on the path of the
-- reads waiting for the page. Rows are keyed by the table's oid, which a
-- rename keeps: a replay's copy takes its count with it into the switch.
CREATE TABLE trend_listed (
    relid  oid PRIMARY KEY,
    listed bigint NOT NULL
);

-- Rows inserted: one statement-level trigger, whose transition table holds
-- only the rows an INSERT ... ON CONFLICT inserted (the views' upserts
-- mostly update, and pay no more than the call).
-- +goose StatementBegin
CREATE FUNCTION trend_listed_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    SELECT count(*) INTO n FROM inserted WHERE status <> 'removed';
    IF n > 0 THEN
        UPDATE trend_listed SET listed = listed + n WHERE relid = TG_RELID;
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- A row that enters or leaves the list: a removal, a registration after
-- one, a delete.
-- +goose StatementBegin
CREATE FUNCTION trend_listed_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE trend_listed SET listed = listed + CASE
        WHEN TG_OP = 'DELETE' OR NEW.status = 'removed' THEN -1 ELSE 1 END
    WHERE relid = TG_RELID;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION trend_listed_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE trend_listed SET listed = 0 WHERE relid = TG_RELID;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- trend_track_listed(t) puts the triggers on t and counts what it lists.
-- A replay calls it for the copy it built, under the switch's lock (its
-- bulk load runs without the triggers). It also forgets the counts of
-- tables that are gone (a replay drops the copy it replaced).
-- +goose StatementBegin
CREATE FUNCTION trend_track_listed(t regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TRIGGER trend_listed_inserted AFTER INSERT ON %s
        REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION trend_listed_inserted()', t);
    EXECUTE format('CREATE TRIGGER trend_listed_status AFTER UPDATE OF status ON %s
        FOR EACH ROW WHEN ((OLD.status = ''removed'') <> (NEW.status = ''removed''))
        EXECUTE FUNCTION trend_listed_changed()', t);
    EXECUTE format('CREATE TRIGGER trend_listed_deleted AFTER DELETE ON %s
        FOR EACH ROW WHEN (OLD.status <> ''removed'') EXECUTE FUNCTION trend_listed_changed()', t);
    EXECUTE format('CREATE TRIGGER trend_listed_truncated AFTER TRUNCATE ON %s
        FOR EACH STATEMENT EXECUTE FUNCTION trend_listed_truncated()', t);
    DELETE FROM trend_listed l WHERE NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = l.relid);
    EXECUTE format('INSERT INTO trend_listed (relid, listed)
        SELECT %s, count(*) FROM %s WHERE status <> ''removed''
        ON CONFLICT (relid) DO UPDATE SET listed = excluded.listed', t::oid, t);
END;
$$;
-- +goose StatementEnd

-- The triggers take the table's lock before the count: no writer can
-- change it in between.
SELECT trend_track_listed('trend_movies');

-- +goose Down
-- CASCADE: with the triggers of every table that has them (a copy a
-- replay kept with --keep, too).
DROP FUNCTION trend_track_listed(regclass);
DROP FUNCTION trend_listed_truncated() CASCADE;
DROP FUNCTION trend_listed_changed() CASCADE;
DROP FUNCTION trend_listed_inserted() CASCADE;
DROP TABLE trend_listed;
