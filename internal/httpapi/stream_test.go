package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/movietrend/trend/internal/httpapi"
	"github.com/movietrend/trend/internal/testenv"
	"github.com/movietrend/trend/projections/trend"
)

// sinceQueries records the cursor the hub last read the changes from: a
// read from n means the changes up to n were broadcast.
type sinceQueries struct {
	*fakeQueries
	since atomic.Int64
}

func (q *sinceQueries) ChangedSince(ctx context.Context, since int64, limit int) ([]trend.Movie, error) {
	q.since.Store(since)
	return q.fakeQueries.ChangedSince(ctx, since, limit)
}

// waitSince waits until the hub has broadcast the changes up to n.
func (q *sinceQueries) waitSince(t *testing.T, n int64) {
	t.Helper()
	testenv.WaitFor(t, 5*time.Second, fmt.Sprintf("the hub to read the changes from %d (the change broadcast)", n),
		func() bool { return q.since.Load() >= n })
}

// pipeWriter is a ResponseWriter whose body goes through a pipe: each
// write waits until the test reads it, as on a client's slow link.
type pipeWriter struct {
	header http.Header
	pw     *io.PipeWriter
}

func (w *pipeWriter) Header() http.Header         { return w.header }
func (w *pipeWriter) WriteHeader(int)             {}
func (w *pipeWriter) Write(b []byte) (int, error) { return w.pw.Write(b) }
func (w *pipeWriter) Flush()                      {}

// TestALaggingStreamGetsItsChangesCoalesced: a client that does not take
// the events as fast as they come is not dropped (it reconnected and
// reloaded the whole ranking, which on a slow link looped for ever): what
// it missed comes as one event, each row once at its newest change.
func TestALaggingStreamGetsItsChangesCoalesced(t *testing.T) {
	t.Parallel()
	f := newFakes()
	q := &sinceQueries{fakeQueries: f.qry}
	d := f.deps()
	d.Queries = q
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	h := httpapi.New(ctx, d)
	pr, pw := io.Pipe()
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		h.ServeHTTP(&pipeWriter{header: http.Header{}, pw: pw}, httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/stream", nil))
		pw.Close()
	}()
	t.Cleanup(func() { cancel(); pr.Close(); <-ended })
	r := bufio.NewReader(pr)
	if ev, err := readEvent(r); err != nil || ev.name != "ready" {
		t.Fatalf("first event: got %+v (%v), want ready", ev, err)
	}
	f.qry.waitHead(t)

	// 40 changes of 5 movies, each broadcast apart, while the client
	// reads nothing: far more than its 16 events of buffer.
	const changes, movies = 40, 5
	var rows []trend.Movie
	for i := int64(1); i <= changes; i++ {
		m := movie(i%movies+1, float64(i))
		m.Change = i
		rows = append(rows, m)
		f.qry.setChanged(rows...)
		q.waitSince(t, i)
	}
	newest := map[int64]int64{} // tmdb_id -> the change the client holds
	caughtUp := func() bool {
		for _, m := range rows[changes-movies:] {
			if newest[m.TMDBID] != m.Change {
				return false
			}
		}
		return true
	}
	events := 0
	var last []trend.Movie
	for !caughtUp() {
		ev, err := readEvent(r)
		if err != nil {
			t.Fatalf("after %d events: %v, want the stream open until every movie's newest change came (got %v)", events, err, newest)
		}
		if ev.name != "movies" {
			continue
		}
		events++
		last = nil
		if err := json.Unmarshal([]byte(ev.data), &last); err != nil {
			t.Fatalf("movies data: got %q (%v)", ev.data, err)
		}
		for _, m := range last {
			newest[m.TMDBID] = max(newest[m.TMDBID], m.Change)
		}
	}
	if events >= changes {
		t.Errorf("%d events for %d broadcasts, want fewer (what the client missed, merged)", events, changes)
	}
	// The catch-up event: each movie once, at its newest change, oldest first.
	var got []string
	for _, m := range last {
		got = append(got, strconv.FormatInt(m.TMDBID, 10)+"@"+strconv.FormatInt(m.Change, 10))
	}
	if want := "2@36 3@37 4@38 5@39 1@40"; strings.Join(got, " ") != want {
		t.Errorf("the last event: got %v, want %s (tmdb_id@change)", got, want)
	}

	// Caught up, it gets each change as it comes again.
	m := movie(9, 1)
	m.Change = changes + 1
	f.qry.setChanged(append(rows, m)...)
	ev, err := readEvent(r)
	if err != nil || ev.name != "movies" || !strings.Contains(ev.data, `"tmdb_id":9,`) {
		t.Fatalf("after catching up: got %+v (%v), want event movies with movie 9", ev, err)
	}
}

// TestStreamsBeyondTheLimitAreRefused: at StreamMaxClients streams, one
// more is refused with a 503 problem and Retry-After (as the document
// says), until a stream ends; without a limit, every browser tab held a
// connection and a goroutine, however many.
func TestStreamsBeyondTheLimitAreRefused(t *testing.T) {
	t.Parallel()
	f := newFakes()
	d := f.deps()
	d.StreamMaxClients = 2
	h := httpapi.New(t.Context(), d)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	firstCtx, endFirst := context.WithCancel(ctx)
	openReadyStream(t, firstCtx, srv)
	openReadyStream(t, ctx, srv)

	// Bounded: a stream it opened would hold the request until it ended.
	overCtx, endOver := context.WithTimeout(ctx, time.Second)
	defer endOver()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(overCtx, http.MethodGet, "/api/stream", nil))
	if p := checkProblem(t, rec, http.StatusServiceUnavailable); p.Type != "/problems/unavailable" {
		t.Errorf("problem type: got %q, want /problems/unavailable", p.Type)
	}
	if rec.Header().Get("Retry-After") == "" {
		t.Error("Retry-After: got none, want one")
	}
	doc := loadOpenAPI(t)
	item := doc.Paths.Value("/api/stream")
	req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/api/stream", nil)
	in := &openapi3filter.RequestValidationInput{Request: req, Route: &routers.Route{Spec: doc, Path: "/api/stream", PathItem: item,
		Method: http.MethodGet, Operation: item.Get}, Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if err := openapi3filter.ValidateResponse(t.Context(), &openapi3filter.ResponseValidationInput{RequestValidationInput: in,
		Status: rec.Code, Header: rec.Header(), Body: io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, SchemaValidationOptions: schemaOptions}}); err != nil {
		t.Errorf("the 503 does not match the document: %v", err)
	}

	// A stream that ends frees its place.
	endFirst()
	testenv.WaitFor(t, 5*time.Second, fmt.Sprintf("a stream accepted (200) after one of %d ended", d.StreamMaxClients), func() bool {
		resp := openStream(t, ctx, srv)
		if resp.StatusCode == http.StatusOK {
			return true // left open: the test's end closes it
		}
		resp.Body.Close()
		return false
	})
}

// TestStreamRetryIsJittered: each stream tells its client to reconnect
// after 2 to 3 s, not all after 2 s: after a restart, every browser came
// back at the same moment.
func TestStreamRetryIsJittered(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(newHandler(t, t.Context(), newFakes()))
	t.Cleanup(srv.Close)
	seen := map[int]bool{}
	for range 20 {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		line, err := bufio.NewReader(openStream(t, ctx, srv).Body).ReadString('\n')
		cancel()
		ms, convErr := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "retry:")))
		if err != nil || convErr != nil || ms < 2000 || ms > 3000 {
			t.Fatalf("first line: got %q (%v), want retry: 2000 to 3000", line, err)
		}
		seen[ms] = true
	}
	if len(seen) < 2 {
		t.Errorf("retry of 20 streams: got only %v, want them spread over 2000 to 3000", seen)
	}
}
