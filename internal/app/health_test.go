package app

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/movietrend/trend/internal/liveness"
)

// TestAStaleLoopEndsTheRole: with HEALTH_EXIT_AFTER, a heartbeat stale
// that long ends the role with an error naming it (the process exits 1,
// and a supervisor that restarts on exit restarts it), and a process that
// does not stop after that is ended at once. Fresh heartbeats end nothing.
func TestAStaleLoopEndsTheRole(t *testing.T) {
	defer func(d time.Duration, f func(int)) { exitStopTimeout, exitNow = d, f }(exitStopTimeout, exitNow)
	exitStopTimeout = 100 * time.Millisecond
	exited := make(chan int, 1)
	exitNow = func(code int) { exited <- code }
	log := slog.New(slog.DiscardHandler)

	m := liveness.New(50*time.Millisecond, time.Now)
	fresh, stuck := m.Heartbeat("relay"), m.Heartbeat("worker")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- exitWhenStale(ctx, m, 200*time.Millisecond, 10*time.Millisecond, log) }()
	// Both beat for a while: nothing ends.
	beat := time.NewTicker(10 * time.Millisecond)
	defer beat.Stop()
	for deadline := time.Now().Add(500 * time.Millisecond); time.Now().Before(deadline); <-beat.C {
		fresh.Beat()
		stuck.Beat()
	}
	select {
	case err := <-done:
		t.Fatalf("ended with every heartbeat fresh: %v", err)
	default:
	}
	// The worker's stops beating.
	began := time.Now()
	var err error
	for err == nil {
		select {
		case err = <-done:
		case <-beat.C:
			fresh.Beat()
		case <-time.After(10 * time.Second):
			t.Fatal("still running 10 s after a heartbeat stopped")
		}
	}
	if took := time.Since(began); took < 200*time.Millisecond {
		t.Errorf("ended %v after the heartbeat stopped, want after it was stale (50ms) for HEALTH_EXIT_AFTER (200ms)", took)
	}
	if msg := err.Error(); !strings.Contains(msg, "worker") || strings.Contains(msg, "relay") {
		t.Errorf("error %q, want it to name the stale worker alone", msg)
	}
	select {
	case code := <-exited:
		if code != 1 {
			t.Errorf("exited with %d, want 1", code)
		}
	case <-time.After(5 * time.Second):
		t.Error("not ended at once when it did not stop after the error")
	}
}
