package messaging_test

import (
	"io"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/movietrend/trend/internal/messaging"
	"github.com/movietrend/trend/internal/testenv"
)

// TestADroppedDatabaseConnectionIsRetried: the error pgx returns when
// PostgreSQL's connection drops in the middle of a statement (a killed
// backend, a proxy restarting) is not permanent. It wraps
// io.ErrUnexpectedEOF, which once counted as a truncated payload and sent
// the message to the dead letters on its first attempt.
func TestADroppedDatabaseConnectionIsRetried(t *testing.T) {
	u, err := url.Parse(testenv.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	// A proxy in front of PostgreSQL that cuts its connections on demand.
	cut := make(chan struct{})
	u.Host = testenv.Proxy(t, u.Host, func(c, up net.Conn) {
		go func() { _, _ = io.Copy(up, c) }()
		go func() { _, _ = io.Copy(c, up) }()
		<-cut
		c.Close()
		up.Close()
	})
	pool, err := pgxpool.New(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	// Connected first, so that the cut falls in the statement.
	if err := pool.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(300*time.Millisecond, func() { close(cut) })
	err = pgx.BeginFunc(t.Context(), pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(t.Context(), "SELECT pg_sleep($1::float8)", 5)
		return err
	})
	if err == nil {
		t.Fatal("a statement whose connection was cut: got no error")
	}
	if messaging.Permanent(err) {
		t.Errorf("Permanent(%v) = true: a dropped connection would send the message to the dead letters", err)
	}
}

// TestAnUnreachableDatabaseIsUnavailable: the errors pgx returns when
// PostgreSQL cannot be reached, or is shutting down, say so, and a message
// failing with them goes back to its queue however long that lasts.
func TestAnUnreachableDatabaseIsUnavailable(t *testing.T) {
	addr := testenv.UnusedAddr(t) // nothing listens there
	pool, err := pgxpool.New(t.Context(), "postgres://trend:trend@"+addr+"/trend?connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	_, err = pool.Exec(t.Context(), "SELECT 1")
	if err == nil {
		t.Fatal("no error from a database that is not there")
	}
	if !messaging.Unavailable(err) {
		t.Errorf("Unavailable(%v) = false", err)
	}

	// A backend ended by an administrator (as in a shutdown): 57P01.
	live, err := pgxpool.New(t.Context(), testenv.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(live.Close)
	err = pgx.BeginFunc(t.Context(), live, func(tx pgx.Tx) error {
		_, err := tx.Exec(t.Context(), "SELECT pg_terminate_backend(pg_backend_pid())")
		return err
	})
	if err == nil {
		t.Fatal("a terminated backend: got no error")
	}
	if !messaging.Unavailable(err) {
		t.Errorf("Unavailable(%v) = false for a terminated backend", err)
	}
}
