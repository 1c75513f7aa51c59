package httpapi_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/movietrend/trend/internal/httpapi"
	"github.com/movietrend/trend/internal/metrics"
	"github.com/movietrend/trend/internal/testenv"
)

func TestRateLimitPerClient(t *testing.T) {
	t.Parallel()
	f := newFakes()
	d := f.deps()
	d.RateLimit, d.RateBurst = 1, 3
	h := httpapi.New(t.Context(), d)
	post := func(ip string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/api/movies/view", strings.NewReader(`{"tmdb_id":1}`))
		r.Header.Set("Content-Type", "application/json")
		r.RemoteAddr = ip + ":4000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for i := range 3 {
		if w := post("10.0.0.1"); w.Code != http.StatusAccepted {
			t.Fatalf("request %d within the burst: got %d, want 202", i, w.Code)
		}
	}
	w := post("10.0.0.1")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" || w.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("over the limit: got %d, Retry-After %q; want 429 with Retry-After as a problem", w.Code, w.Header().Get("Retry-After"))
	}
	if w := post("10.0.0.2"); w.Code != http.StatusAccepted {
		t.Errorf("another client: got %d, want 202 (limits are per client)", w.Code)
	}
	// An IPv6 client is its /64: another address of the block is the same
	// client, another block is another.
	for i := range 3 {
		if w := post(fmt.Sprintf("[2001:db8:1:2::%d]", i+1)); w.Code != http.StatusAccepted {
			t.Fatalf("IPv6 request %d within the burst: got %d, want 202", i, w.Code)
		}
	}
	if w := post("[2001:db8:1:2:ffff::9]"); w.Code != http.StatusTooManyRequests {
		t.Errorf("another address of the same /64 over the limit: got %d, want 429", w.Code)
	}
	if w := post("[2001:db8:1:3::1]"); w.Code != http.StatusAccepted {
		t.Errorf("another /64: got %d, want 202", w.Code)
	}
	r := httptest.NewRequest(http.MethodGet, "/api/movies", nil)
	r.RemoteAddr = "10.0.0.1:4000"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		t.Errorf("a read from the limited client: got %d, want 200 (reads are not limited)", rec.Code)
	}
	// Off by default.
	h = httpapi.New(t.Context(), newFakes().deps())
	for i := range 50 {
		if w := serve(h, http.MethodPost, "/api/movies/view", "application/json", []byte(`{"tmdb_id":1}`)); w.Code != http.StatusAccepted {
			t.Fatalf("request %d without a limit: got %d", i, w.Code)
		}
	}
}

func TestCORSAllowsOnlyListedOrigins(t *testing.T) {
	t.Parallel()
	d := newFakes().deps()
	d.CORSOrigins = []string{"https://board.example.com"}
	h := httpapi.New(t.Context(), d)
	preflight := func(origin string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodOptions, "/api/movies/register", nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", "POST")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := preflight("https://board.example.com"); w.Code != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Origin") != "https://board.example.com" ||
		!strings.Contains(w.Header().Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("preflight from an allowed origin: got %d %v", w.Code, w.Header())
	}
	if w := preflight("https://evil.example.com"); w.Code != http.StatusForbidden || w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin: got %d, Allow-Origin %q; want 403 and none", w.Code, w.Header().Get("Access-Control-Allow-Origin"))
	}
	r := httptest.NewRequest(http.MethodGet, "/api/movies", nil)
	r.Header.Set("Origin", "https://evil.example.com")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a simple request from another origin got Access-Control-Allow-Origin %q", w.Header().Get("Access-Control-Allow-Origin"))
	}
	// Every answer says it depends on the Origin (refused, allowed or
	// none), beside what else it varies on: a cache must keep them apart.
	for _, c := range []struct{ path, origin string }{
		{"/api/movies", "https://evil.example.com"}, {"/api/movies", "https://board.example.com"},
		{"/api/movies", ""}, {"/docs/", "https://board.example.com"},
	} {
		r := httptest.NewRequest(http.MethodGet, c.path, nil)
		if c.origin != "" {
			r.Header.Set("Origin", c.origin)
		}
		r.Header.Set("Accept-Encoding", "gzip")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		vary := strings.Join(w.Header().Values("Vary"), ", ")
		if !strings.Contains(vary, "Origin") || (c.path == "/api/movies" && !strings.Contains(vary, "Accept-Encoding")) {
			t.Errorf("GET %s from origin %q: Vary %q, want Origin (and Accept-Encoding for the list)", c.path, c.origin, vary)
		}
	}
	// Default: no origin is allowed cross-site.
	h = httpapi.New(t.Context(), newFakes().deps())
	r = httptest.NewRequest(http.MethodGet, "/api/movies", nil)
	r.Header.Set("Origin", "https://board.example.com")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("default: got Access-Control-Allow-Origin %q, want none", w.Header().Get("Access-Control-Allow-Origin"))
	}
}

// TestTheClientsRequestIDIsKeptOnlyWhenItIsShortAndPlain: the request id
// becomes the correlation id stored with every command and event of the
// request, for ever; a megabyte-long header must not. The answer says it.
func TestTheClientsRequestIDIsKeptOnlyWhenItIsShortAndPlain(t *testing.T) {
	f := newFakes()
	h := newHandler(t, t.Context(), f)
	long := strings.Repeat("a", 129)
	for i, c := range []struct {
		sent string
		kept bool
	}{
		{"3f0c2a1e-9b7d-4c1a-8f00-2b5c6d7e8f90", true},
		{"6c0b1d2e3f40516273849a5b6c7d8e9f", true}, // NGINX's $request_id
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true},
		{strings.Repeat("a", 128), true},
		{long, false},
		{"an id with spaces", false},
		{`"quoted"`, false},
		{"", false},
	} {
		req := httptest.NewRequest(http.MethodPost, "/api/movies/register", strings.NewReader(fmt.Sprintf(`{"tmdb_id": %d}`, i+1)))
		req.Header.Set("Content-Type", "application/json")
		if c.sent != "" {
			req.Header.Set("X-Request-Id", c.sent)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("%q: status %d (%s)", c.sent, rec.Code, rec.Body)
		}
		got := f.cmd.corrs[len(f.cmd.corrs)-1]
		if answered := rec.Header().Get("X-Request-Id"); answered != got {
			t.Errorf("%q: answered X-Request-Id %q, want the request's id %q (a client quotes it)", c.sent, answered, got)
		}
		switch {
		case c.kept && got != c.sent:
			t.Errorf("%q: correlation id %q, want the client's", c.sent, got)
		case !c.kept && (got == c.sent || len(got) != 16 || strings.Trim(got, "0123456789abcdef") != ""):
			// Random: chi's own told the host's name and a request count.
			t.Errorf("%q (%d bytes): correlation id %q (%d bytes), want one of the server's own, 16 hex digits", c.sent, len(c.sent), got, len(got))
		}
	}
}

// TestABodyThatNeverEndsIsCutOff: a client that sends its header and only
// part of its body gets an answer once BodyReadTimeout passes; it held
// its connection and a goroutine for ever.
func TestABodyThatNeverEndsIsCutOff(t *testing.T) {
	f := newFakes()
	d := f.deps()
	d.BodyReadTimeout = 200 * time.Millisecond
	srv := httptest.NewServer(httpapi.New(t.Context(), d))
	t.Cleanup(srv.Close)
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "POST /api/movies/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a body that stopped coming: %v", err)
	}
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("status %d, want 400", res.StatusCode)
	}
	if len(f.cmd.registered) != 0 {
		t.Errorf("registered %v from a body that never came", f.cmd.registered)
	}
}

// TestABodyNoHandlerReadsIsCutOffToo: the body's deadline holds whichever
// handler reads it, or none: net/http discards an unread body after the
// handler, and GET /healthz with a Content-Length and no body held its
// connection and goroutine for ever.
func TestABodyNoHandlerReadsIsCutOffToo(t *testing.T) {
	d := newFakes().deps()
	d.BodyReadTimeout = 200 * time.Millisecond
	srv := httptest.NewServer(httpapi.New(t.Context(), d))
	t.Cleanup(srv.Close)
	t.Cleanup(srv.CloseClientConnections) // first: a regression must fail, not hang Close
	for _, target := range []string{"/healthz", "/api/movies/27205/refresh", "/api/nowhere"} {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		method := "GET"
		if strings.HasSuffix(target, "/refresh") {
			method = "POST"
		}
		if _, err := io.WriteString(c, method+" "+target+" HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(c)
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: no answer: %v", target, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		// Then the server waits for the body it must discard: until the
		// deadline, not for ever.
		if _, err := br.ReadByte(); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s: the connection was still open 5 s after its answer (%v), want it closed at the body's deadline", target, err)
		}
		c.Close()
	}
}

// TestTheBodyDeadlineEndsWithTheBody: the deadline that bounds the body's
// reading must not outlive it, or it would fire in net/http's background
// read and cancel the request's context while its handler works on.
// (net/http clears the connection's read deadline when that read starts,
// at the body's end, which this test relies on: it fails if that changes.)
func TestTheBodyDeadlineEndsWithTheBody(t *testing.T) {
	f := newFakes()
	f.cmd.hold = 600 * time.Millisecond
	d := f.deps()
	d.BodyReadTimeout = 200 * time.Millisecond
	srv := httptest.NewServer(httpapi.New(t.Context(), d))
	t.Cleanup(srv.Close)
	res, err := http.Post(srv.URL+"/api/movies/register", "application/json", strings.NewReader(`{"tmdb_id": 27205}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Errorf("status %d, want 202", res.StatusCode)
	}
	f.cmd.mu.Lock()
	defer f.cmd.mu.Unlock()
	if f.cmd.ctxErr != nil {
		t.Errorf("the handler's context ended %v after the body was read: %v", f.cmd.hold, f.cmd.ctxErr)
	}
}

// TestAClientThatLeftIsNoServiceFailure: a request whose client went away
// while its view waited for the commit (the context cancelled) is logged
// at info, not as the service's error, which an operator would chase.
func TestAClientThatLeftIsNoServiceFailure(t *testing.T) {
	for _, c := range []struct {
		name   string
		left   bool
		err    error
		wantAt slog.Level
	}{
		{"client left", true, context.Canceled, slog.LevelInfo},
		{"database failed", false, errors.New("connection refused"), slog.LevelError},
		{"cancelled, the client still there", false, context.Canceled, slog.LevelError},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFakes()
			f.cmd.viewErr = c.err
			var logs testenv.Buffer
			d := f.deps()
			d.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			h := httpapi.New(t.Context(), d)
			ctx, cancel := context.WithCancel(t.Context())
			if c.left {
				cancel()
			}
			defer cancel()
			req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/api/movies/view", strings.NewReader(`{"tmdb_id":27205}`))
			req.Header.Set("Content-Type", "application/json")
			h.ServeHTTP(httptest.NewRecorder(), req)
			var got []string
			for line := range strings.Lines(logs.String()) {
				if strings.Contains(line, `msg="request failed"`) || strings.Contains(line, `msg="request abandoned by the client"`) {
					got = append(got, line)
				}
			}
			if len(got) != 1 || !strings.Contains(got[0], "level="+c.wantAt.String()+" ") {
				t.Errorf("logged %q, want once at %v", got, c.wantAt)
			}
		})
	}
}

// deadlineRecorder records the write deadline a handler asks for.
type deadlineRecorder struct {
	*httptest.ResponseRecorder
	writeBy time.Time
}

func (d *deadlineRecorder) SetWriteDeadline(t time.Time) error { d.writeBy = t; return nil }

// TestEveryAnswerAsksForAWriteDeadline: the server has no WriteTimeout (it
// would cut the live stream), so each answer bounds its own writing; a
// client that never read held the answer's goroutine and buffer for ever.
func TestEveryAnswerAsksForAWriteDeadline(t *testing.T) {
	t.Parallel()
	f := newFakes()
	f.qry.byID[27205] = movie(27205, 8.25)
	d := f.deps()
	d.Dashboard = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "dashboard") })
	d.Metrics = metrics.New()
	h := httpapi.New(t.Context(), d)
	for _, c := range []struct {
		method, target, body string
		status               int
	}{
		{http.MethodGet, "/api/movies/27205", "", http.StatusOK},        // JSON
		{http.MethodGet, "/api/movies/424242", "", http.StatusNotFound}, // a problem
		{http.MethodGet, "/api/movies?limit=5", "", http.StatusOK},      // a list page
		{http.MethodPost, "/api/movies/view", `{"tmdb_id": 27205}`, http.StatusAccepted},
		{http.MethodGet, "/docs", "", http.StatusOK},
		{http.MethodGet, "/api/openapi.json", "", http.StatusOK},
		{http.MethodGet, "/", "", http.StatusOK}, // the dashboard
		{http.MethodGet, "/metrics", "", http.StatusOK},
	} {
		rec := &deadlineRecorder{ResponseRecorder: httptest.NewRecorder()}
		req := httptest.NewRequest(c.method, c.target, strings.NewReader(c.body))
		if c.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		before := time.Now()
		h.ServeHTTP(rec, req)
		if rec.Code != c.status {
			t.Errorf("%s %s: status %d, want %d", c.method, c.target, rec.Code, c.status)
		}
		if rec.writeBy.Before(before.Add(20*time.Second)) || rec.writeBy.After(time.Now().Add(time.Minute)) {
			t.Errorf("%s %s (%d): write deadline %v, want about 30 s ahead", c.method, c.target, rec.Code, rec.writeBy)
		}
	}
}
