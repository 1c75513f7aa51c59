package messaging_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/movietrend/trend/internal/messaging"
)

// Dial gives up within its timeout on a broker that accepts the
// connection and never speaks, even with a context that has no deadline.
func TestDialEndsWithinItsTimeout(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close() // held open, silent
		}
	}()
	done := make(chan error, 1)
	go func() {
		conn, err := messaging.Dial(context.Background(), "amqp://guest:guest@"+ln.Addr().String()+"/", "test", 300*time.Millisecond)
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
