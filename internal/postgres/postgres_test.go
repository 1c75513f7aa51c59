package postgres_test

import (
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/movietrend/trend/internal/postgres"
	"github.com/movietrend/trend/internal/testenv"
)

// A DATABASE_URL asking for fewer connections than a role needs is raised
// to MinConns, with a warning; pgx's own default (no parameter) silently.
func TestConnectRaisesASmallPool(t *testing.T) {
	t.Parallel()
	base := testenv.DatabaseURL(t)
	for _, c := range []struct {
		param    string
		want     int32
		warnings int
	}{
		{"", postgres.MinConns, 0},
		{"4", postgres.MinConns, 1},
		{"40", 40, 0},
	} {
		var logs testenv.Buffer
		pool, err := postgres.Connect(t.Context(), withParam(t, base, "pool_max_conns", c.param), slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		pool.Close()
		if got := pool.Config().MaxConns; got != c.want {
			t.Errorf("pool_max_conns %q: %d connections at most, want %d", c.param, got, c.want)
		}
		if got := strings.Count(logs.String(), "level=WARN"); got != c.warnings {
			t.Errorf("pool_max_conns %q: %d warnings, want %d:\n%s", c.param, got, c.warnings, logs.String())
		}
	}
}

// Trend's sessions end a transaction left idle for IdleInTransactionTimeout
// (a writer whose machine died keeps its locks until then), unless the
// URL says otherwise.
func TestSessionsBoundIdleTransactions(t *testing.T) {
	t.Parallel()
	base := testenv.DatabaseURL(t)
	for _, c := range []struct{ param, want string }{{"", postgres.IdleInTransactionTimeout}, {"1h", "1h"}} {
		pool, err := postgres.Connect(t.Context(), withParam(t, base, "idle_in_transaction_session_timeout", c.param), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		var got string
		err = pool.QueryRow(t.Context(), `SHOW idle_in_transaction_session_timeout`).Scan(&got)
		pool.Close()
		if err != nil || got != c.want {
			t.Errorf("URL parameter %q: idle_in_transaction_session_timeout %q (%v), want %q", c.param, got, err, c.want)
		}
	}
}

// withParam is base with the URL parameter key set to value (unless empty).
func withParam(t *testing.T, base, key, value string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	if value != "" {
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
	}
	return u.String()
}
