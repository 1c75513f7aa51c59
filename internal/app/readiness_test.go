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
