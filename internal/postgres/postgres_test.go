package postgres_test

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

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

// Trend's sessions end a transaction left idle for IdleInTransactionTimeout,
// and a session whose client's machine died within about a minute (a
// writer whose machine died keeps its locks until then), unless the URL
// says otherwise.
func TestSessionsBoundIdleTransactionsAndDeadClients(t *testing.T) {
	t.Parallel()
	base := testenv.DatabaseURL(t)
	if u, err := url.Parse(base); err != nil || strings.HasPrefix(u.Hostname(), "/") || u.Hostname() == "" {
		// The TCP settings read 0 over a Unix socket, whatever was asked
		// (PostgreSQL shows what the socket has, not what was set).
		t.Fatalf("the test database must be reached over TCP: %q", base)
	}
	for _, c := range []struct{ name, param, want string }{
		{"idle_in_transaction_session_timeout", "", postgres.IdleInTransactionTimeout},
		{"idle_in_transaction_session_timeout", "1h", "1h"},
		{"tcp_keepalives_idle", "", "30"},
		{"tcp_keepalives_interval", "", "10"},
		{"tcp_keepalives_count", "", "3"},
		{"tcp_user_timeout", "", "60000"},
		{"tcp_user_timeout", "5000", "5000"},
		{"timezone", "", "UTC"},
		{"TimeZone", "Europe/Berlin", "Europe/Berlin"},
	} {
		pool, err := postgres.Connect(t.Context(), withParam(t, base, c.name, c.param), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		var got string
		err = pool.QueryRow(t.Context(), `SELECT current_setting($1)`, c.name).Scan(&got)
		pool.Close()
		if err != nil || got != c.want {
			t.Errorf("URL parameter %s=%q: %q (%v), want %q", c.name, c.param, got, err, c.want)
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

// A wrong password or database is refused by the server, and waiting does
// not mend it: Connect says so at once instead of retrying for the whole
// start-up window and then calling the server unreachable.
func TestConnectGivesUpAtOnceWhenRefused(t *testing.T) {
	t.Parallel()
	wrongPassword, noDatabase := testenv.Refused(t, testenv.DatabaseURL(t), "/no_such_database_here")
	for name, u := range map[string]string{"a wrong password": wrongPassword, "an unknown database": noDatabase} {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		start := time.Now()
		_, err := postgres.Connect(ctx, u, slog.New(slog.NewTextHandler(io.Discard, nil)))
		cancel()
		if err == nil {
			t.Fatalf("%s: connected", name)
		}
		if !strings.Contains(err.Error(), "refused the connection") || strings.Contains(err.Error(), "not-the-password") {
			t.Errorf("%s: %v, want a refusal that does not show the password", name, err)
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("%s: Connect took %v, want it to give up at once", name, took)
		}
	}
}
