package messaging

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Unavailable tells whether err says that PostgreSQL could not serve the
// attempt (not reachable, shutting down, out of connections or disk, a
// conflict with another transaction), rather than anything about the
// message. Such a message goes back to its queue however long the outage
// lasts, never to the dead letters, where the views it carries would wait
// for an operator.
func Unavailable(err error) bool {
	var connect *pgconn.ConnectError
	if errors.As(err, &connect) || pgconn.SafeToRetry(err) || errors.Is(err, ErrSlowCommit) {
		return true
	}
	var pg *pgconn.PgError
	if !errors.As(err, &pg) {
		return false
	}
	switch pg.Code {
	case "57P01", "57P02", "57P03", // admin shutdown, crash shutdown, cannot connect now
		"40001", "40P01", // serialization failure, deadlock
		"25006",          // read-only transaction: a failover in progress
		lockNotAvailable: // see LockTimeout
		return true
	}
	// 08: connection exception; 53: insufficient resources.
	return strings.HasPrefix(pg.Code, "08") || strings.HasPrefix(pg.Code, "53")
}

// ErrSlowCommit marks a commit that outlasted its bound: the database was
// too slow (overloaded, its disk stalled) while it still answered. It says
// nothing about the message, which goes back to its queue, not to the dead
// letters, where it waited for an operator though it could be handled
// once the load fell.
var ErrSlowCommit = errors.New("the database did not commit in time")

// LockTimeout tells whether err is a lock wait that outlasted
// lock_timeout (SQLSTATE 55P03): another session holds the lock (a writer
// on a machine that died), nothing about the message.
func LockTimeout(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == lockNotAvailable
}

// lockNotAvailable is the SQLSTATE of a lock wait past lock_timeout.
const lockNotAvailable = "55P03"

// healthCheckTimeout bounds the check that decides a failing message's
// fate.
const healthCheckTimeout = 3 * time.Second

// undeliverable decides whether a message whose retries are spent goes
// to the dead letters: not when the worker is stopping, nor when its error
// or a check of the database (healthy, if set) says the database is what
// failed. An error can hide that: a connection cut in the middle of a
// statement returns io.ErrUnexpectedEOF, which a truncated payload could
// return as well, so the check asks the database itself.
func undeliverable(healthy func(context.Context) error) func(error) bool {
	return func(err error) bool {
		if errors.Is(err, errStopping) || Unavailable(err) {
			return false
		}
		// The message is at fault, whatever the database's state: asked
		// about, a database that is down would send it back to its queue,
		// to fail again at once, with no retries in between.
		if Permanent(err) || healthy == nil {
			return true
		}
		ctx, cancel := context.WithTimeout(context.Background(), healthCheckTimeout)
		defer cancel()
		return healthy(ctx) == nil
	}
}
