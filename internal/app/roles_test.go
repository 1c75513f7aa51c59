package app

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"strings"
	"testing"
	"time"

	"github.com/movietrend/trend/internal/config"
	"github.com/movietrend/trend/internal/metrics"
	"github.com/movietrend/trend/internal/testenv"
	"golang.org/x/sync/errgroup"
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

// A part of a role that fails after a stop (the API's drain cutting
// requests in flight) is what the role reports, though another part (the
// wait for RabbitMQ in `trend all`) ended first with the stop's
// cancellation: a group keeps its first error only, and the process
// exited 0, as if every client had had its answer.
func TestAFailureAfterTheStopIsNotHiddenByTheCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	eg, ctx := errgroup.WithContext(ctx)
	g := parts{eg, ctx}
	cut := errors.New("requests still in flight were cut")
	cancelled := make(chan struct{})
	g.Go(func() error { // the wait for RabbitMQ
		<-ctx.Done()
		close(cancelled)
		return ctx.Err()
	})
	g.Go(func() error { // the API, whose drain ends after it
		<-ctx.Done()
		<-cancelled
		return cut
	})
	cancel()
	if err := g.Wait(); !errors.Is(err, cut) {
		t.Errorf("the role's parts after a stop: got %v, want the drain's failure", err)
	}
}
