package messaging_test

import (
	"context"
	"testing"
	"time"

	"github.com/movietrend/trend/internal/messaging"
	"github.com/movietrend/trend/internal/testenv"
)

// Dial gives up within its timeout on a broker that accepts the
// connection and never speaks, even with a context that has no deadline.
func TestDialEndsWithinItsTimeout(t *testing.T) {
	t.Parallel()
	addr := testenv.SilentServer(t)
	err := testenv.EndsWithin(t, 10*time.Second, "Dial, with a 300 ms timeout,", func() error {
		conn, err := messaging.Dial(context.Background(), "amqp://guest:guest@"+addr+"/", "test", 300*time.Millisecond)
		if err == nil {
			conn.Close()
		}
		return err
	})
	if err == nil {
		t.Error("connected to a broker that never answered")
	}
}
