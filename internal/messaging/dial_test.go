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
	done := make(chan error, 1)
	go func() {
		conn, err := messaging.Dial(context.Background(), "amqp://guest:guest@"+addr+"/", "test", 300*time.Millisecond)
		if err == nil {
			conn.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("connected to a broker that never answered")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Dial still waits 10 s after its 300 ms timeout")
	}
}
