package app

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/movietrend/trend/internal/config"
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
