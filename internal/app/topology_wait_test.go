package app

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/movietrend/trend/internal/config"
	"github.com/movietrend/trend/internal/testenv"
)

// TestTheTopologyWaitsForRabbitMQPastTheStartupTimeout: RabbitMQ down at
// start must not end the process (in `trend all`, the API with it) once
// the startup timeout passes; the wait goes on, saying so, until asked to
// stop.
func TestTheTopologyWaitsForRabbitMQPastTheStartupTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there
	defer func(d time.Duration) { topologyWarnEvery = d }(topologyWarnEvery)
	topologyWarnEvery = 300 * time.Millisecond
	var logs testenv.Buffer
	b := &base{
		cfg:  config.Config{AMQPURL: "amqp://guest:guest@" + addr + "/"},
		opts: Options{StartupTimeout: 100 * time.Millisecond},
		log:  slog.New(slog.NewTextHandler(&logs, nil)),
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- b.declareTopology(ctx) }()
	// Past the startup timeout it still waits, and says so again and again.
	testenv.WaitFor(t, 10*time.Second, "two warnings that RabbitMQ is not reachable yet", func() bool {
		select {
		case err := <-done:
			t.Fatalf("gave up after %v: %v", b.opts.StartupTimeout, err)
		default:
		}
		return strings.Count(logs.String(), "RabbitMQ is not reachable yet") >= 2
	})
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("stopped with %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("did not stop when asked")
	}
}
