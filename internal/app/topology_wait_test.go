package app

import (
	"context"
	"errors"
	"log/slog"
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
	addr := testenv.UnusedAddr(t) // nothing listens there
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

// A broker that refuses AMQP_URL's password or virtual host is told apart
// from one that cannot be reached: no wait mends it, so it is an error
// naming what to check, though the wait goes on.
func TestTheTopologyWaitSaysWhenTheLoginIsRefused(t *testing.T) {
	defer func(d time.Duration) { topologyWarnEvery = d }(topologyWarnEvery)
	topologyWarnEvery = 300 * time.Millisecond
	wrongPassword, noVhost := testenv.Refused(t, testenv.AMQPBaseURL(), "/no-such-vhost-here")
	for name, u := range map[string]string{"a wrong password": wrongPassword, "an unknown virtual host": noVhost} {
		var logs testenv.Buffer
		b := &base{cfg: config.Config{AMQPURL: u}, log: slog.New(slog.NewTextHandler(&logs, nil))}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- b.declareTopology(ctx) }()
		testenv.WaitFor(t, 20*time.Second, name+": the login's refusal logged", func() bool {
			return strings.Contains(logs.String(), "level=ERROR msg=\"RabbitMQ refused the login")
		})
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("%s: stopped with %v, want context.Canceled", name, err)
		}
		if strings.Contains(logs.String(), "not-the-password") {
			t.Errorf("%s: the password is in the log:\n%s", name, logs.String())
		}
	}
}
