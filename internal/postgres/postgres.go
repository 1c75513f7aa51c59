// Package postgres owns the connection pool, the schema migrations and the
// transaction helper every writer uses.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Migrations holds the schema migrations, applied in order by Migrate.
//
//go:embed migrations/*.sql
var Migrations embed.FS

// IdleInTransactionTimeout is the idle_in_transaction_session_timeout of
// trend's sessions, unless DATABASE_URL sets one.
const IdleInTransactionTimeout = "5min"

// SessionDefaults are the server settings of trend's sessions that
// DATABASE_URL may override (as a URL parameter of the same name).
//
// A worker or relay whose machine dies (power, a kernel panic, a network
// cut) sends no FIN or RST, and its session keeps its locks: the
// projection's writer lock, the relay's offset row. Without these, the
// server learns of it when its TCP keep-alive gives up, about two hours
// on Linux, and every other worker or the standby relay waits as long.
//   - The keep-alives (30 s idle, then 3 probes 10 s apart) end an idle
//     session whose client stopped answering within about a minute; a
//     live client's kernel answers the probes, however long its
//     transaction.
//   - tcp_user_timeout ends one whose client stopped acknowledging the
//     data sent to it (a result in flight when it died) after a minute,
//     where retransmissions would go on for some 15 minutes.
//   - idle_in_transaction_session_timeout ends a transaction a live
//     client left idle; no trend transaction idles that long, but for the
//     relay's round while RabbitMQ holds its publishes back (a resource
//     alarm): ended, its batch is sent again later, which the consumers'
//     idempotence absorbs.
//
// The TCP settings do nothing over a Unix socket, where a dead client's
// machine is the server's own.
//
// TimeZone is UTC so that every role reads the clock alike: the outbox's
// created_at is a timestamp without time zone, written as
// CURRENT_TIMESTAMP by the API and worker and compared with
// LOCALTIMESTAMP by the relay (its retention, its lag), which roles in
// different zones (sessions took the server's default) shifted by hours;
// and "interval '7 days'" is 168 hours only where no clock change falls.
//
// pgx reads PGTZ (as timezone) and PGOPTIONS from the environment into the
// same settings as the URL's, so those win over these defaults too.
var SessionDefaults = map[string]string{
	"timezone":                            "UTC",
	"idle_in_transaction_session_timeout": IdleInTransactionTimeout,
	"tcp_keepalives_idle":                 "30",
	"tcp_keepalives_interval":             "10",
	"tcp_keepalives_count":                "3",
	"tcp_user_timeout":                    "60000",
}

// MinConns is the fewest connections a role's pool opens at most: a
// DATABASE_URL's pool_max_conns below it is raised to it.
const MinConns = 16

// Connect opens a pool and waits (bounded by ctx) until the server answers,
// so that roles started together with PostgreSQL do not fail at once.
func Connect(ctx context.Context, url string, log *slog.Logger) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, errors.New("DATABASE_URL is not a valid PostgreSQL URL")
	}
	if cfg.MaxConns < MinConns {
		// Not known to be safe below: a role's loops (group commit, relay,
		// worker batches, refresher, head lookups) each hold a connection,
		// and the code was never run with fewer. pgx's default is 4 on
		// two cores, so only a value the URL sets is worth a warning.
		if strings.Contains(url, "pool_max_conns") {
			log.Warn("DATABASE_URL's pool_max_conns is below what a role needs: raised", "pool_max_conns", cfg.MaxConns, "used", MinConns)
		}
		cfg.MaxConns = MinConns
	}
	params := cfg.ConnConfig.RuntimeParams
	for name, value := range SessionDefaults {
		if !setIn(params, name) {
			params[name] = value
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL pool: %w", err)
	}
	delay := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = pool.Ping(pingCtx)
		cancel()
		if err == nil {
			return pool, nil
		}
		if Refused(err) {
			pool.Close()
			return nil, fmt.Errorf("PostgreSQL at %s:%d refused the connection: %s: %w",
				cfg.ConnConfig.Host, cfg.ConnConfig.Port, RefusedAdvice, err)
		}
		if attempt == 1 {
			log.Warn("PostgreSQL is not reachable yet, retrying", "host", cfg.ConnConfig.Host, "error", err)
		}
		select {
		case <-ctx.Done():
			pool.Close()
			if errors.Is(ctx.Err(), context.Canceled) {
				return nil, ctx.Err() // asked to stop while waiting
			}
			return nil, fmt.Errorf("PostgreSQL at %s:%d is unreachable: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
		case <-time.After(delay):
		}
		delay = min(delay*2, 5*time.Second)
	}
}

// RefusedAdvice is what to check when the server refused who asked
// (Refused).
const RefusedAdvice = "check DATABASE_URL's user, password and database"

// Refused tells whether err is the server's refusal of who asked (a wrong
// password, an unknown role or database), which no wait mends: retrying it
// for the whole start-up window, then calling the server unreachable, sent
// people looking at the network.
func Refused(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (strings.HasPrefix(pgErr.Code, "28") || pgErr.Code == "3D000")
}

// Unmigrated tells whether err is a query's failure on a table, column or
// function the database lacks: one this build's migrations add.
func Unmigrated(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "42703" || pgErr.Code == "42883")
}

// setIn tells whether params set the setting name, whose case does not
// matter to PostgreSQL (TimeZone, timezone).
func setIn(params map[string]string, name string) bool {
	for k := range params {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// Migrate applies every pending migration. A PostgreSQL advisory lock keeps
// replicas that start together from racing.
func Migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	return migrate(ctx, db, log)
}

func migrate(ctx context.Context, db *sql.DB, log *slog.Logger) error {
	provider, err := migrations(db)
	if err != nil {
		return err
	}
	results, err := provider.Up(ctx)
	if err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	for _, r := range results {
		log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "took", r.Duration)
	}
	return renumberRestoredLog(ctx, db, log)
}

// RestoredLog tells whether the event log holds transaction ids this
// cluster has not given out yet: a database restored from a dump into
// another cluster, whose ids ran higher. One probe of the log's
// (transaction_id, position) index.
const RestoredLog = `SELECT EXISTS (SELECT 1 FROM events WHERE transaction_id >= pg_snapshot_xmax(pg_current_snapshot()))`

// renumberRestoredLog gives the events of a log restored from another
// cluster (RestoredLog) the transaction id 1, so that a replay, which
// reads the log in (transaction_id, position) order, reads them first and
// in their positions' order. Kept, they sorted after every event this
// cluster writes (its ids run lower), and a replay applied the whole old
// history last: a movie removed then and registered again since came out
// removed. Every event up to the highest restored position counts as
// restored; events written since come after it. The log refuses updates
// (its trigger), so the trigger is off for this one statement, in its
// transaction. It rewrites the restored rows once, at the first start
// after the restore.
func renumberRestoredLog(ctx context.Context, db *sql.DB, log *slog.Logger) error {
	var restored bool
	if err := db.QueryRowContext(ctx, RestoredLog).Scan(&restored); err != nil {
		return fmt.Errorf("check the event log's transaction ids: %w", err)
	}
	if !restored {
		return nil
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `ALTER TABLE events DISABLE TRIGGER events_append_only`); err != nil {
		return fmt.Errorf("renumber the restored event log: %w", err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE events SET transaction_id = '1'
		WHERE position <= (SELECT max(position) FROM events WHERE transaction_id >= pg_snapshot_xmax(pg_current_snapshot()))
		  AND transaction_id <> '1'`)
	if err != nil {
		return fmt.Errorf("renumber the restored event log: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `ALTER TABLE events ENABLE TRIGGER events_append_only`); err != nil {
		return fmt.Errorf("renumber the restored event log: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("renumber the restored event log: %w", err)
	}
	n, _ := res.RowsAffected()
	if n == 0 {
		return nil // another role starting at the same time did it
	}
	log.Warn("the event log holds transaction ids of another cluster (restored from a dump?): its events now have transaction id 1, so that replays read them before newer ones", "events", n)
	return nil
}

// migrations is the goose provider of this build's migrations.
func migrations(db *sql.DB) (*goose.Provider, error) {
	fsys, err := fs.Sub(Migrations, "migrations")
	if err != nil {
		return nil, err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, err
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, fsys, goose.WithSessionLocker(locker))
	if err != nil {
		return nil, fmt.Errorf("prepare migrations: %w", err)
	}
	return provider, nil
}

// MigrationsPending tells, without applying any, whether this build has
// migrations that the database has not applied.
func MigrationsPending(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	provider, err := migrations(db)
	if err != nil {
		return false, err
	}
	pending, err := provider.HasPending(ctx)
	if err != nil {
		return false, fmt.Errorf("read the database's migrations: %w", err)
	}
	return pending, nil
}

// InTx runs fn in one transaction, committing when it returns nil.
func InTx(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, pool, fn)
}

// CollectUUIDs reads rows of one uuid column. It scans pgtype values:
// uuid.UUID is a sql.Scanner, which pgx feeds the text form (see UUIDs).
func CollectUUIDs(rows pgx.Rows) ([]uuid.UUID, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (uuid.UUID, error) {
		var id pgtype.UUID
		err := r.Scan(&id)
		return id.Bytes, err
	})
}

// UUIDs passes ids to PostgreSQL as pgtype values. uuid.UUID is a
// driver.Valuer, which pgx encodes by its text form with an error and a
// fallback for every element: 44 µs for an array of 28, against 2 µs this
// way (BenchmarkEncodeUUIDs). Every hot statement with a uuid[] uses it.
func UUIDs(ids []uuid.UUID) []pgtype.UUID {
	out := make([]pgtype.UUID, len(ids))
	for i, id := range ids {
		out[i] = pgtype.UUID{Bytes: id, Valid: true}
	}
	return out
}
