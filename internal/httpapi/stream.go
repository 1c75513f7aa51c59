package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/movietrend/trend/projections/trend"
)

// hub polls the projection for changed rows while clients listen, and
// sends each change set to every client: one query per interval however
// many clients there are, and at most one update per interval per client.
type hub struct {
	queries  Queries
	interval time.Duration
	// staleAfter: a hub whose last successful read of the projection is
	// older than this is stale, and its streams send no keep-alive, so
	// that their clients take them for dead and reconnect (the read
	// fails then, and they say so) instead of showing "Live" over a
	// frozen ranking. It also bounds each read.
	staleAfter time.Duration
	log        *slog.Logger
	// lastOK is when the projection was last read (Unix ns).
	lastOK atomic.Int64

	mu      sync.Mutex
	clients map[chan []byte]struct{}
	// cursor is the newest change already sent; -1 while nobody listens.
	cursor int64
}

func newHub(q Queries, interval, staleAfter time.Duration, log *slog.Logger) *hub {
	return &hub{queries: q, interval: interval, staleAfter: staleAfter, log: log, clients: map[chan []byte]struct{}{}, cursor: -1}
}

// errStale refuses a subscriber while the hub cannot read the projection.
var errStale = errors.New("the live stream cannot read the projection")

// fresh tells whether the hub read the projection within staleAfter.
func (h *hub) fresh() bool {
	return time.Since(time.Unix(0, h.lastOK.Load())) < h.staleAfter
}

// pollTimeout bounds one read of the changes: without it, a PostgreSQL
// that stopped answering held the hub, and every stream, for good.
func (h *hub) pollTimeout() time.Duration { return min(5*time.Second, h.staleAfter) }

// subscribe registers a client. The projection's head is known before it
// returns, so every change after the client's "ready" event reaches it
// (a change just before may arrive twice, which a client merges).
func (h *hub) subscribe(ctx context.Context) (chan []byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cursor >= 0 && !h.fresh() {
		// Its clients are kept waiting (no ping), and a new one would get
		// "ready" over a projection the hub cannot read: refused (503),
		// as the first subscriber's failing read would be.
		return nil, errStale
	}
	if h.cursor < 0 {
		// Bounded: the hub's lock is held, and every client's arrival and
		// departure waits for it.
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		head, err := h.queries.Head(ctx)
		if err != nil {
			return nil, err
		}
		h.cursor = head
		h.lastOK.Store(time.Now().UnixNano())
	}
	ch := make(chan []byte, 16)
	h.clients[ch] = struct{}{}
	return ch, nil
}

func (h *hub) unsubscribe(ch chan []byte) {
	h.mu.Lock()
	delete(h.clients, ch)
	if len(h.clients) == 0 {
		h.cursor = -1
	}
	h.mu.Unlock()
}

func (h *hub) run(ctx context.Context) {
	t := time.NewTicker(h.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h.mu.Lock()
		cursor := h.cursor
		h.mu.Unlock()
		if cursor < 0 {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, h.pollTimeout())
		changed, err := h.queries.ChangedSince(pctx, cursor, 1000)
		cancel()
		if err != nil {
			h.log.Warn("live stream: read changes", "error", err)
			continue
		}
		h.lastOK.Store(time.Now().UnixNano())
		if len(changed) > 0 {
			h.broadcast(cursor, changed)
		}
	}
}

// broadcast sends changed to every client and moves the cursor past them.
func (h *hub) broadcast(from int64, changed []trend.Movie) {
	data, err := json.Marshal(changed)
	if err != nil {
		h.log.Error("live stream: encode", "error", err)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cursor != from {
		return // every client left (or a new one reset the cursor) meanwhile
	}
	h.cursor = changed[len(changed)-1].Change
	for ch := range h.clients {
		select {
		case ch <- data:
		default:
			// A client too slow to take updates is dropped; it reconnects
			// (EventSource does by itself) and reloads the list.
			close(ch)
			delete(h.clients, ch)
		}
	}
}

// streamChanges serves Server-Sent Events: "movies" events carry the rows
// that changed (removed ones with status "removed"), at most one per
// interval; comments keep idle connections alive through proxies.
func (s *server) streamChanges(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	ch, err := s.stream.subscribe(r.Context())
	if err != nil {
		s.unavailable(w, r, err)
		return
	}
	defer s.stream.unsubscribe(ch)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // NGINX: do not buffer
	if r.Method == http.MethodHead {
		// The status and headers a GET would get, and no stream: net/http
		// drops a HEAD's body, so a stream never saw its client leave and
		// held the connection (and a subscription) until the server
		// stopped.
		w.WriteHeader(http.StatusOK)
		return
	}
	// A client that stops reading must not hold its handler for ever: each
	// write gets StreamWriteTimeout from when it starts, not from when the
	// wait for it began (which cut every quiet stream at its first
	// keep-alive). Ignored where the writer has no deadlines.
	send := func(format string, args ...any) bool {
		select {
		case <-s.Draining:
			// Not after the drain began: the deadline set below would
			// replace the drain's 100 ms with StreamWriteTimeout.
			return false
		default:
		}
		_ = rc.SetWriteDeadline(time.Now().Add(s.StreamWriteTimeout))
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	w.WriteHeader(http.StatusOK)
	if !send("retry: 2000\nevent: ready\ndata: {}\n\n") {
		return
	}
	keepAlive := time.NewTicker(s.StreamKeepAlive)
	defer keepAlive.Stop()
	// A write blocked on a slow client ends soon after the drain begins,
	// so that no stream holds the shutdown up to its write timeout; soon,
	// not at once, so that an idle stream still ends with its last chunk.
	ended := make(chan struct{})
	defer close(ended)
	go func() {
		select {
		case <-s.Draining:
			_ = rc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		case <-ended:
		}
	}()
	for {
		// A queued event select picks over the drain is not sent: send
		// refuses once the drain began.
		select {
		case <-r.Context().Done():
			return
		case <-s.Draining:
			return
		case data, ok := <-ch:
			if !ok || !send("event: movies\ndata: %s\n\n", data) {
				return
			}
		case <-keepAlive.C:
			// A named event, not a comment: EventSource hands comments to
			// no one, and a client can only tell a live but quiet stream
			// from a dead connection by an event it sees. None while the
			// hub cannot read the projection: the stream is not live then.
			if s.stream.fresh() && !send("event: ping\ndata: {}\n\n") {
				return
			}
		}
	}
}
