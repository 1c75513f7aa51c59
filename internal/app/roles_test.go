package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/movietrend/trend/internal/config"
	"github.com/movietrend/trend/internal/metrics"
	"github.com/movietrend/trend/internal/testenv"
)

// A stop asked for while a role waits for PostgreSQL is a clean exit, but
// not for migrate: a migration that never ran is no success, and compose
// starts the other roles on migrate's exit status.
func TestAStopBeforeTheDatabaseAnswersFailsOnlyMigrate(t *testing.T) {
	addr := testenv.UnusedAddr(t) // nothing listens there
	cfg := config.Config{DatabaseURL: "postgres://trend:trend@" + addr + "/trend?connect_timeout=1"}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		role    string
		wantErr bool
	}{{"migrate", true}, {"api", false}} {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(300*time.Millisecond, cancel)
		err := Run(ctx, tc.role, cfg, Options{}, log)
		cancel()
		if got := err != nil; got != tc.wantErr {
			t.Errorf("%s stopped while waiting for PostgreSQL: got %v, want an error: %v", tc.role, err, tc.wantErr)
		}
	}
}

// A short ADMIN_TOKEN is said at the API's start: the admin API is not
// rate-limited, so it can be guessed by trying. Said, not refused.
func TestTheAPIWarnsOfAShortAdminToken(t *testing.T) {
	pool := testenv.Pool(t)
	for token, warned := range map[string]bool{"short": true, strings.Repeat("x", minAdminToken): false, "": false} {
		var logs testenv.Buffer
		b := &base{cfg: config.Config{HTTPAddr: "127.0.0.1:0", AdminToken: token}, pool: pool,
			log: slog.New(slog.NewTextHandler(&logs, nil)), wlog: watermillLogger(slog.New(slog.DiscardHandler)), metrics: metrics.New()}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- b.runAPI(ctx) }()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("token %q: the API ended with %v", token, err)
		}
		if got := strings.Contains(logs.String(), "ADMIN_TOKEN is short"); got != warned {
			t.Errorf("token of %d characters: warned %v, want %v:\n%s", len(token), got, warned, logs.String())
		}
	}
}

// A stop of `trend all` while it waits for RabbitMQ (the API accepting
// meanwhile) that has to cut a request in flight fails with that: the
// cancelled wait for RabbitMQ ended first and was the group's only error
// kept, so the process exited 0, as if every client had its answer.
func TestAStopThatCutsARequestFailsWhileRabbitMQIsAway(t *testing.T) {
	defer func(d time.Duration) { shutdownGrace = d }(shutdownGrace)
	shutdownGrace = 500 * time.Millisecond
	api := testenv.UnusedAddr(t)
	cfg := config.Config{DatabaseURL: testenv.DatabaseURL(t), AMQPURL: "amqp://guest:guest@" + testenv.UnusedAddr(t) + "/", HTTPAddr: api}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, "all", cfg, Options{}, slog.New(slog.DiscardHandler)) }()
	var conn net.Conn
	testenv.WaitFor(t, 30*time.Second, "the API to listen", func() bool {
		c, err := net.Dial("tcp", api)
		conn = c
		return err == nil
	})
	defer conn.Close()
	// A request whose body never comes in full: the drain waits for it.
	if _, err := io.WriteString(conn, "POST /api/movies HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "requests still in flight were cut") {
			t.Errorf("trend all stopped with a request cut: got %v, want the cut reported", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("trend all did not stop within 30 s")
	}
}
