//go:build unix

package loadgen

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// A connection the server closed while idle is noticed before use, so
// the request goes on a new one instead of failing; an open one is kept.
func TestLeanClientNoticesAnIdleClose(t *testing.T) {
	srv := newLeanServer(t, func(http.ResponseWriter, *http.Request) {},
		func(s *http.Server) { s.IdleTimeout = 100 * time.Millisecond })
	ep, c := leanConn(t, srv.URL)
	req := ep.request(http.MethodGet, "/", nil)
	get := func(what string) {
		t.Helper()
		c.used = time.Now().Add(-time.Hour) // idle long enough to be checked
		if status, err := c.do(context.Background(), req); err != nil || status != 200 {
			t.Fatalf("%s: %d, %v", what, status, err)
		}
	}
	get("first")
	get("at once")
	if n := srv.conns.Load(); n != 1 {
		t.Fatalf("%d connections for two requests in a row, want 1", n)
	}
	time.Sleep(300 * time.Millisecond) // the server closes the idle connection
	get("after the server's idle timeout")
	if n := srv.conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}
