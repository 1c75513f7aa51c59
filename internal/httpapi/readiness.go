package httpapi

import (
	"context"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

const (
	// checkTimeout bounds each readiness check, on its own: run one after
	// the other under one deadline, a PostgreSQL that used it all made the
	// RabbitMQ check fail at once, and /readyz blamed both.
	checkTimeout = 3 * time.Second
	// readyMaxAge is how long one round of checks answers /readyz: each
	// round opens a RabbitMQ connection, and the path is public (probes,
	// NGINX on port 3000), so a burst of calls costs one round, not one
	// connection each.
	readyMaxAge = time.Second
)

// readiness runs the checks, concurrently, and shares the outcome among
// the calls that come while it runs or for readyMaxAge after.
type readiness struct {
	checks []Check
	flight singleflight.Group

	mu     sync.Mutex
	at     time.Time
	result map[string]string
	ok     bool
}

type readyResult struct {
	result map[string]string
	ok     bool
}

// get returns the latest round's outcome, running a new round when it is
// older than readyMaxAge; ctx only bounds this call's wait.
func (rd *readiness) get(ctx context.Context) (map[string]string, bool, error) {
	rd.mu.Lock()
	if rd.result != nil && time.Since(rd.at) < readyMaxAge {
		defer rd.mu.Unlock()
		return rd.result, rd.ok, nil
	}
	rd.mu.Unlock()
	ch := rd.flight.DoChan("ready", func() (any, error) {
		r := rd.run()
		rd.mu.Lock()
		rd.at, rd.result, rd.ok = time.Now(), r.result, r.ok
		rd.mu.Unlock()
		return r, nil
	})
	select {
	case res := <-ch:
		r := res.Val.(readyResult)
		return r.result, r.ok, nil
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
}

// run runs every check at once, each within checkTimeout. It does not
// depend on any caller's context: its outcome is shared.
func (rd *readiness) run() readyResult {
	errs := make([]error, len(rd.checks))
	var wg sync.WaitGroup
	for i, c := range rd.checks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
			defer cancel()
			errs[i] = c.Run(ctx)
		})
	}
	wg.Wait()
	r := readyResult{result: make(map[string]string, len(rd.checks)), ok: true}
	for i, c := range rd.checks {
		if errs[i] != nil {
			r.result[c.Name], r.ok = "unavailable: "+errs[i].Error(), false
		} else {
			r.result[c.Name] = "ok"
		}
	}
	return r
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	result, ok, err := s.ready.get(r.Context())
	if err != nil {
		return // the client left
	}
	if !ok {
		w.Header().Set("Retry-After", "2")
		writeJSON(w, http.StatusServiceUnavailable, result)
		return
	}
	writeJSON(w, http.StatusOK, result)
}
