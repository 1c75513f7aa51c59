package httpapi

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
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

	// maxClients bounds the streams open at once (STREAM_MAX_CLIENTS):
	// each holds a connection, a goroutine and up to maxBacklog rows.
	maxClients int
	// maxBacklog is the most distinct rows a lagging client's backlog
	// holds before it is dropped (streamBacklogCap).
	maxBacklog int

	mu      sync.Mutex
	clients map[*streamClient]struct{}
	// cursor is the newest change already sent; -1 while nobody listens.
	cursor int64
}

// streamClient is one listener. While it keeps up, it gets each broadcast
// as the one encoding every client shares (ch). Once ch is full, the rows
// of the next broadcasts are merged into backlog instead, by tmdb_id,
// newest change winning, and nothing more goes to ch until the client has
// taken ch's events and then the backlog (takeBacklog): so its events
// stay in order, and a slow link gets fewer, larger events instead of
// being dropped, reconnecting and reloading the whole ranking for ever.
type streamClient struct {
	ch      chan []byte
	backlog map[int64]trend.Movie // guarded by hub.mu; nil while keeping up
}

// streamBacklogCap: a client that has missed changes to more distinct
// movies than this is dropped (it reconnects and reloads the list). Ten
// times the 1,000 rows the dashboard loads: a catalog of that size never
// gets a lagging client dropped, and beyond it the catch-up event (about
// 370 bytes a row, 4 MB) would cost more than the reload. It bounds a
// lagging client's backlog to about 2 MB.
const streamBacklogCap = 10_000

func newHub(q Queries, interval, staleAfter time.Duration, maxClients int, log *slog.Logger) *hub {
	return &hub{queries: q, interval: interval, staleAfter: staleAfter, maxClients: maxClients, maxBacklog: streamBacklogCap,
		log: log, clients: map[*streamClient]struct{}{}, cursor: -1}
}

// errStale refuses a subscriber while the hub cannot read the projection.
var errStale = errors.New("the live stream cannot read the projection")

// errTooManyStreams refuses a subscriber beyond maxClients.
var errTooManyStreams = errors.New("too many live streams")

// fresh tells whether the hub read the projection within staleAfter.
func (h *hub) fresh() bool {
	return time.Since(time.Unix(0, h.lastOK.Load())) < h.staleAfter
}

// pollTimeout bounds one read of the changes: without it, a PostgreSQL
// that stopped answering held the hub, and every stream, for good.
func (h *hub) pollTimeout() time.Duration { return min(5*time.Second, h.staleAfter) }

// subscribe registers a client. The projection's head is known before it
// returns, so every change after the client's "ready" event reaches it, or
// (for a client that fell behind) a newer change of the same row; a change
// just before may arrive twice, which a client merges.
func (h *hub) subscribe(ctx context.Context) (*streamClient, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.clients) >= h.maxClients {
		return nil, errTooManyStreams
	}
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
	c := &streamClient{ch: make(chan []byte, 16)}
	h.clients[c] = struct{}{}
	return c, nil
}

func (h *hub) unsubscribe(c *streamClient) {
	h.mu.Lock()
	delete(h.clients, c)
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
	for c := range h.clients {
		if c.backlog == nil {
			select {
			case c.ch <- data:
				continue
			default:
				c.backlog = make(map[int64]trend.Movie, len(changed))
			}
		}
		for _, m := range changed {
			if old, ok := c.backlog[m.TMDBID]; !ok || m.Change > old.Change {
				c.backlog[m.TMDBID] = m
			}
		}
		if len(c.backlog) > h.maxBacklog {
			// Too far behind to catch up by merging: dropped, it
			// reconnects (EventSource does by itself) and reloads the list.
			c.backlog = nil
			close(c.ch)
			delete(h.clients, c)
		}
	}
}

// takeBacklog returns, oldest change first, the rows c missed while ch was
// full, once it has taken every event in ch (nil before, or if it missed
// none); broadcasts go to ch again after it. Only ch's receiver calls it,
// after each event: a backlog starts only when ch is full, so the event
// that empties ch is followed by the call that takes it.
func (h *hub) takeBacklog(c *streamClient) []trend.Movie {
	h.mu.Lock()
	if len(c.ch) > 0 || c.backlog == nil {
		h.mu.Unlock()
		return nil
	}
	b := c.backlog
	c.backlog = nil
	h.mu.Unlock()
	return slices.SortedFunc(maps.Values(b), func(x, y trend.Movie) int { return cmp.Compare(x.Change, y.Change) })
}

// streamChanges serves Server-Sent Events: "movies" events carry the rows
// that changed (removed ones with status "removed"), at most one per
// interval; comments keep idle connections alive through proxies.
func (s *server) streamChanges(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	c, err := s.stream.subscribe(r.Context())
	if errors.Is(err, errTooManyStreams) {
		// Not the store's failure (unavailable would say so, and log an
		// error per refused client): the same 503 and Retry-After.
		writeProblem(w, Problem{Type: typeUnavailable, Status: http.StatusServiceUnavailable,
			Detail: "the server holds as many live streams as it allows; retry shortly"})
		return
	}
	if err != nil {
		s.unavailable(w, r, err)
		return
	}
	defer s.stream.unsubscribe(c)
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
	// From 2 to 3 s, each stream its own: after a restart of the server,
	// its clients do not all come back at the same moment.
	if !send("retry: %d\nevent: ready\ndata: {}\n\n", 2000+rand.IntN(1001)) {
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
		case data, ok := <-c.ch:
			if !ok || !send("event: movies\ndata: %s\n\n", data) {
				return
			}
			// Fell behind meanwhile: what it missed since, merged and
			// encoded for it alone.
			if rows := s.stream.takeBacklog(c); rows != nil {
				data, err := json.Marshal(rows)
				if err != nil {
					s.Logger.Error("live stream: encode", "error", err)
					return // the client reconnects and reloads
				}
				if !send("event: movies\ndata: %s\n\n", data) {
					return
				}
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
