package app

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/movietrend/trend/internal/fastlane"
)

// TestAPIServerClosesIdleConnections: a keep-alive connection left idle is
// closed after the API server's IdleTimeout, by net/http and by the fast
// lane alike (it takes its idle timeout from the same http.Server), instead
// of being held for ever. No WriteTimeout: it would cut the live stream.
func TestAPIServerClosesIdleConnections(t *testing.T) {
	srv := newAPIServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"view_id":"x"}`)
	}), slog.New(slog.DiscardHandler))
	if srv.IdleTimeout <= 0 {
		t.Errorf("API server IdleTimeout: got %v, want a positive one (ReadTimeout, the fallback, is %v)", srv.IdleTimeout, srv.ReadTimeout)
	}
	if srv.WriteTimeout != 0 {
		t.Errorf("API server WriteTimeout: got %v, want none (it would end every SSE stream)", srv.WriteTimeout)
	}
	if srv.ReadHeaderTimeout <= 0 {
		t.Errorf("API server ReadHeaderTimeout: got %v, want one", srv.ReadHeaderTimeout)
	}
	if t.Failed() {
		return
	}

	// The same server, its idle timeout shortened so the test is quick.
	idle := 300 * time.Millisecond
	srv.IdleTimeout = idle
	lane := fastlane.New(srv, fastlane.Route{Method: http.MethodPost, Path: "/api/movies/view"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = lane.Serve(ln) }()
	t.Cleanup(func() { _ = lane.Close() })

	for name, req := range map[string]string{
		"fast lane": "POST /api/movies/view HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"tmdb_id\":550}",
		"net/http":  "GET /api/movies HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, req); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted || resp.Close {
				t.Fatalf("got %d (close %v), want 202 on a kept-alive connection", resp.StatusCode, resp.Close)
			}
			// Idle now: the server must hang up soon after the timeout.
			start := time.Now()
			_ = c.SetReadDeadline(start.Add(idle + 5*time.Second))
			_, err = br.ReadByte()
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				t.Errorf("idle connection still open after %v, want it closed after IdleTimeout (%v)", time.Since(start).Round(time.Millisecond), idle)
			case err == nil:
				t.Errorf("idle connection: got a byte, want the connection closed")
			case time.Since(start) < idle/2:
				t.Errorf("idle connection closed after %v, want about IdleTimeout (%v)", time.Since(start), idle)
			}
		})
	}
}

// TestAShutdownThatCutsRequestsIsAnError: a request still running when the
// grace period ends is cut, and serveHTTP says so (the process then exits
// non-zero); a request that ends in time lets it return nil.
func TestAShutdownThatCutsRequestsIsAnError(t *testing.T) {
	defer func(d time.Duration) { shutdownGrace = d }(shutdownGrace)
	shutdownGrace = time.Second

	for _, tc := range []struct {
		name    string
		endsIn  bool // the test lets the request end within the grace
		wantErr string
	}{
		{"ends in time", true, ""},
		{"outlasts the grace period", false, "did not stop within 1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			entered, release := make(chan struct{}), make(chan struct{})
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				close(entered)
				select {
				case <-release:
				case <-r.Context().Done():
				}
			})}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- serveHTTP(ctx, srv, ln) }()
			go func() {
				if resp, err := http.Get("http://" + ln.Addr().String() + "/"); err == nil {
					resp.Body.Close()
				}
			}()
			select {
			case <-entered:
			case <-time.After(10 * time.Second):
				t.Fatal("the request did not reach the handler within 10 s")
			}
			cancel()
			if tc.endsIn {
				time.AfterFunc(50*time.Millisecond, func() { close(release) })
			}
			select {
			case err := <-done:
				if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
					t.Errorf("serveHTTP after the stop: %v, want an error saying %q", err, tc.wantErr)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("serveHTTP did not return within 10 s of the stop")
			}
		})
	}
}

// TestASideServerEndsItsRequestsAtTheStop: a CPU profile being taken when
// the role stops (30 s by default) ends at once, and the profiler's server
// stops without an error, so the role exits cleanly.
func TestASideServerEndsItsRequestsAtTheStop(t *testing.T) {
	b := &base{log: slog.New(slog.DiscardHandler)}
	defer func(d time.Duration) { shutdownGrace = d }(shutdownGrace)
	shutdownGrace = 2 * time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // serveSide listens on it itself
	entered := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- b.serveSide(ctx, "PPROF_ADDR", addr, "profiler", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(entered)
			<-r.Context().Done() // as pprof.Profile waits out its seconds
		}))
	}()
	go func() {
		for range 100 {
			if resp, err := http.Get("http://" + addr + "/debug/pprof/profile"); err == nil {
				resp.Body.Close()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the request did not reach the handler within 10 s")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("the profiler's server after the stop: %v, want nil", err)
		}
	case <-time.After(shutdownGrace / 2):
		t.Fatalf("the profiler's server still waits for its request %v after the stop", shutdownGrace/2)
	}
}
