// Package liveness answers "is this process's work still going round?" for
// the roles that serve no API (relay, worker): each loop stamps a
// Heartbeat every round, and the Monitor's /healthz handler reports 503
// once one has not been stamped for longer than the stale threshold.
//
// It is liveness, not readiness: a loop that waits for PostgreSQL or
// RabbitMQ to come back still goes round (each failed attempt is a round)
// and stays live; only one that stopped going round (deadlocked, stuck)
// turns stale.
package liveness

import (
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Monitor holds the heartbeats of one process.
type Monitor struct {
	staleAfter time.Duration
	now        func() time.Time

	mu    sync.Mutex
	beats []*Heartbeat
}

// New returns a Monitor that reports a heartbeat stale once it is older
// than staleAfter; now is the clock (time.Now, or a test's).
func New(staleAfter time.Duration, now func() time.Time) *Monitor {
	if now == nil {
		now = time.Now
	}
	return &Monitor{staleAfter: staleAfter, now: now}
}

// Heartbeat registers a heartbeat named name, stamped now: a loop gets
// staleAfter to make its first round (a role starting up waits for the
// database and the broker first).
func (m *Monitor) Heartbeat(name string) *Heartbeat {
	h := &Heartbeat{name: name, now: m.now}
	h.Beat()
	m.mu.Lock()
	m.beats = append(m.beats, h)
	m.mu.Unlock()
	return h
}

// Heartbeat is stamped by a loop each round.
type Heartbeat struct {
	name string
	now  func() time.Time
	last atomic.Int64 // unix nanoseconds
}

// Beat records a round. Safe for concurrent use.
func (h *Heartbeat) Beat() { h.last.Store(h.now().UnixNano()) }

// Stale is a heartbeat that has not beaten for too long.
type Stale struct {
	Name string `json:"name"`
	// Since is how long ago it last beat.
	Since string `json:"last_beat_ago"`
}

// Stale lists the heartbeats older than the threshold.
func (m *Monitor) Stale() []Stale { return m.StaleFor(0) }

// StaleFor lists the heartbeats that have been stale for longer than d:
// older than the threshold plus d.
func (m *Monitor) StaleFor(d time.Duration) []Stale {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	var stale []Stale
	for _, h := range m.beats {
		if age := now.Sub(time.Unix(0, h.last.Load())); age > m.staleAfter+d {
			stale = append(stale, Stale{Name: h.name, Since: age.Round(time.Second).String()})
		}
	}
	return stale
}

// ServeHTTP answers GET /healthz: 200 {"status":"ok"} while every
// heartbeat is fresh, 503 naming the stale ones otherwise.
func (m *Monitor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/healthz" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body := struct {
		Status    string  `json:"status"`
		Stale     []Stale `json:"stale,omitempty"`
		Threshold string  `json:"stale_after,omitempty"`
	}{Status: "ok"}
	code := http.StatusOK
	if stale := m.Stale(); len(stale) > 0 {
		body.Status, body.Stale, body.Threshold = "stale", stale, m.staleAfter.String()
		code = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}
