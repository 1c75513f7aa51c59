package loadgen

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// SetupOptions say how to prepare the movies of a scenario.
type SetupOptions struct {
	// Connections is how many registrations are sent at once.
	Connections int
	// WaitActive also waits until TMDB's facts arrived (status active),
	// not only until the projection lists the movies. TMDB is asked at
	// about 40 requests a second, so this takes a while for many movies.
	WaitActive bool
	// Timeout bounds the whole setup (default 2 minutes).
	Timeout time.Duration
	// PollInterval is how often the listing is read while waiting
	// (default 500ms).
	PollInterval time.Duration
}

// SetupResult says what a setup did.
type SetupResult struct {
	Registered int     `json:"registered"`
	Already    int     `json:"already"`
	Seconds    float64 `json:"seconds"`
}

// Setup registers the movies through the API (a 409, already registered,
// is fine) and waits until the projection lists every one of them. A
// movie TMDB does not know is removed and never listed: Setup then times
// out and names it.
func (a *API) Setup(ctx context.Context, ids []int64, o SetupOptions) (SetupResult, error) {
	start := time.Now()
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 500 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	res, err := a.registerAll(ctx, ids, max(o.Connections, 1))
	if err != nil {
		return res, err
	}
	err = a.waitListed(ctx, ids, o)
	res.Seconds = time.Since(start).Seconds()
	return res, err
}

func (a *API) registerAll(ctx context.Context, ids []int64, connections int) (SetupResult, error) {
	var registered, already atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(connections)
	for _, id := range ids {
		g.Go(func() error {
			status, err := a.Register(gctx, id)
			switch {
			case err != nil:
				return fmt.Errorf("register movie %d: %w", id, err)
			case status == http.StatusAccepted:
				registered.Add(1)
			case status == http.StatusConflict:
				already.Add(1)
			default:
				return fmt.Errorf("register movie %d: status %d, want 202 or 409", id, status)
			}
			return nil
		})
	}
	err := g.Wait()
	return SetupResult{Registered: int(registered.Load()), Already: int(already.Load())}, err
}

// waitListed polls until every id is listed (and active, if asked). It
// reads the cheap total first and pages through the movies only when
// there can be enough of them. Movies reads each listed movie exactly
// once even while the ranking moves (see Movies): a movie crossing a page
// boundary between two page reads is not taken for one not listed.
func (a *API) waitListed(ctx context.Context, ids []int64, o SetupOptions) error {
	for {
		n, err := a.Listed(ctx)
		if err == nil && n >= int64(len(ids)) {
			var movies []Movie
			if movies, err = a.Movies(ctx); err == nil && len(notReady(ids, movies, o.WaitActive)) == 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return a.setupTimeout(ctx, ids, err, o.WaitActive)
		case <-time.After(o.PollInterval):
		}
	}
}

// setupTimeout says which movies did not appear, read once more so the
// error names them even when the cheap total showed too few.
func (a *API) setupTimeout(ctx context.Context, ids []int64, lastErr error, active bool) error {
	what := "listed"
	if active {
		what = "active"
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	movies, err := a.Movies(rctx)
	if err != nil {
		return fmt.Errorf("waiting for %d movies to be %s: %w (last error: %v)", len(ids), what, ctx.Err(), cmp.Or(lastErr, err))
	}
	missing := notReady(ids, movies, active)
	return fmt.Errorf("waiting for %d movies to be %s: %w; %d are not, e.g. %v (does the TMDB service know them?)",
		len(ids), what, ctx.Err(), len(missing), missing[:min(len(missing), 5)])
}

// notReady lists the ids that are not among movies (or not active).
func notReady(ids []int64, movies []Movie, active bool) []int64 {
	ready := make(map[int64]bool, len(movies))
	for _, m := range movies {
		ready[m.TMDBID] = !active || m.Status == "active"
	}
	var out []int64
	for _, id := range ids {
		if !ready[id] {
			out = append(out, id)
		}
	}
	return out
}
