package liveness

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// clock is a test's settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type answer struct {
	Status string  `json:"status"`
	Stale  []Stale `json:"stale"`
}

func get(t *testing.T, h http.Handler, method, path string) (int, answer) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	var a answer
	if method == http.MethodGet && rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed {
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q, want application/json", ct)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
			t.Fatalf("body %q: %v", rec.Body.String(), err)
		}
	}
	return rec.Code, a
}

func TestFreshHeartbeatsAnswerOK(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	m := New(2*time.Minute, c.now)
	relay := m.Heartbeat("relay")
	m.Heartbeat("worker")
	// Just registered: fresh (the loop's first round may wait for the broker).
	if code, a := get(t, m, http.MethodGet, "/healthz"); code != http.StatusOK || a.Status != "ok" || len(a.Stale) != 0 {
		t.Errorf("just registered: got %d %+v, want 200 ok", code, a)
	}
	// A round at the limit is still fresh.
	c.advance(2 * time.Minute)
	relay.Beat()
	if code, a := get(t, m, http.MethodGet, "/healthz"); code != http.StatusOK || a.Status != "ok" {
		t.Errorf("worker beat exactly 2m ago: got %d %+v, want 200 ok", code, a)
	}
}

func TestStaleHeartbeatAnswers503NamingIt(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	m := New(2*time.Minute, c.now)
	relay, worker := m.Heartbeat("relay"), m.Heartbeat("worker")
	c.advance(90 * time.Second)
	relay.Beat()
	c.advance(31 * time.Second) // worker: 2m1s since its last beat; relay: 31s
	code, a := get(t, m, http.MethodGet, "/healthz")
	if code != http.StatusServiceUnavailable || a.Status != "stale" {
		t.Fatalf("got %d %+v, want 503 stale", code, a)
	}
	if len(a.Stale) != 1 || a.Stale[0].Name != "worker" || a.Stale[0].Since != "2m1s" {
		t.Errorf("stale: got %+v, want only worker, last beat 2m1s ago", a.Stale)
	}
	// The loop going round again makes it healthy again.
	worker.Beat()
	if code, a := get(t, m, http.MethodGet, "/healthz"); code != http.StatusOK || a.Status != "ok" {
		t.Errorf("after the worker beat again: got %d %+v, want 200 ok", code, a)
	}
}

func TestOnlyGetHealthz(t *testing.T) {
	m := New(time.Minute, nil)
	if code, _ := get(t, m, http.MethodGet, "/metrics"); code != http.StatusNotFound {
		t.Errorf("GET /metrics: got %d, want 404", code)
	}
	if code, _ := get(t, m, http.MethodPost, "/healthz"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz: got %d, want 405", code)
	}
	if code, _ := get(t, m, http.MethodHead, "/healthz"); code != http.StatusOK {
		t.Errorf("HEAD /healthz: got %d, want 200", code)
	}
}
