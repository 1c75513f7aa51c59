package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/movietrend/trend/internal/testenv"
)

// A broker that accepts the connection and never answers (frozen, or
// something else on its port) fails the readiness check within the
// check's deadline instead of holding it for ever.
func TestTheRabbitMQCheckEndsWithItsDeadline(t *testing.T) {
	addr := testenv.SilentServer(t)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	err := testenv.EndsWithin(t, 10*time.Second, "the check, with a 300 ms deadline,",
		func() error { return amqpCheck("amqp://guest:guest@" + addr + "/")(ctx) })
	if err == nil {
		t.Error("the check passed against a broker that never answered")
	}
}

// The PostgreSQL check's failure, which /readyz shows to anyone, names
// neither the database nor its user nor its address.
func TestThePostgresCheckHidesTheConnectionDetails(t *testing.T) {
	addr := testenv.UnusedAddr(t) // nothing listens there
	pool, err := pgxpool.New(t.Context(), "postgres://secretuser:pw@"+addr+"/secretdb?connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	err = pgCheck(pool)(t.Context())
	if err == nil {
		t.Fatal("the check passed with nothing listening")
	}
	for _, secret := range []string{"secretuser", "secretdb", addr} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("the check's error %q names %q", err, secret)
		}
	}
}

// A refusal of who asks (a wrong password, a missing database or virtual
// host) is told from a server that is down: both were "unreachable",
// which sent operators looking at the network after a password rotation.
func TestTheChecksSayWhenTheServerRefusedTheLogin(t *testing.T) {
	t.Parallel()
	pgWrongPassword, pgNoDatabase := testenv.Refused(t, testenv.DatabaseURL(t), "/no_such_database_here")
	amqpWrongPassword, amqpNoVhost := testenv.Refused(t, testenv.AMQPBaseURL(), "/no-such-vhost-here")
	down := testenv.UnusedAddr(t)
	for _, c := range []struct {
		name, want string
		check      func(ctx context.Context) error
	}{
		{"PostgreSQL, a wrong password", "PostgreSQL refused the connection", pgCheckOf(t, pgWrongPassword)},
		{"PostgreSQL, no such database", "PostgreSQL refused the connection", pgCheckOf(t, pgNoDatabase)},
		{"PostgreSQL down", "PostgreSQL is unreachable", pgCheckOf(t, "postgres://trend:trend@"+down+"/trend?connect_timeout=2")},
		{"RabbitMQ, a wrong password", "RabbitMQ refused the login", amqpCheck(amqpWrongPassword)},
		{"RabbitMQ, no such virtual host", "RabbitMQ refused the login", amqpCheck(amqpNoVhost)},
		{"RabbitMQ down", "RabbitMQ is unreachable", amqpCheck("amqp://guest:guest@" + down + "/")},
	} {
		err := c.check(t.Context())
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "not-the-password") {
			t.Errorf("%s: the error %q holds the password", c.name, err)
		}
	}
}

func pgCheckOf(t *testing.T, url string) func(ctx context.Context) error {
	t.Helper()
	pool, err := pgxpool.New(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pgCheck(pool)
}
