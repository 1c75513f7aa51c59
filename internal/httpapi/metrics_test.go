package httpapi_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/movietrend/trend/internal/fastlane"
	"github.com/movietrend/trend/internal/httpapi"
	"github.com/movietrend/trend/internal/metrics"
	"github.com/movietrend/trend/internal/registry"
)

// httpSamples is the request count of trend_http_request_duration_seconds
// by "route method status".
func httpSamples(t *testing.T, m *metrics.Metrics) map[string]uint64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, mf := range mfs {
		if mf.GetName() != "trend_http_request_duration_seconds" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range mt.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			out[l["route"]+" "+l["method"]+" "+l["status"]] += mt.GetHistogram().GetSampleCount()
		}
	}
	return out
}

func metricsDeps(f fakes) httpapi.Deps {
	d := f.deps()
	d.Metrics = metrics.New()
	return d
}

// A 429 of the rate limit is answered before routing: it must be
// measured, under the route it was sent to.
func TestMetricsCountRateLimited(t *testing.T) {
	d := metricsDeps(newFakes())
	d.RateLimit, d.RateBurst = 1, 1
	h := httpapi.New(t.Context(), d)
	for i, want := range []int{http.StatusAccepted, http.StatusTooManyRequests} {
		if rec := postJSON(h, "/api/movies/view", `{"tmdb_id":27205}`); rec.Code != want {
			t.Fatalf("POST %d: status %d, want %d (%s)", i+1, rec.Code, want, rec.Body)
		}
	}
	got := httpSamples(t, d.Metrics)
	for _, k := range []string{"/api/movies/view POST 202", "/api/movies/view POST 429"} {
		if got[k] != 1 {
			t.Errorf("samples %q: %d, want 1 (all: %v)", k, got[k], got)
		}
	}
}

type panickingCommands struct{ *fakeCommands }

func (panickingCommands) RegisterMovie(context.Context, int64, string) (registry.Registration, error) {
	panic("boom")
}

// A handler's panic is answered 500 by the recoverer: measured once, as 500.
func TestMetricsCountPanicAs500(t *testing.T) {
	f := newFakes()
	d := metricsDeps(f)
	d.Commands = panickingCommands{f.cmd}
	h := httpapi.New(t.Context(), d)
	if rec := postJSON(h, "/api/movies/register", `{"tmdb_id":27205}`); rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500 (%s)", rec.Code, rec.Body)
	}
	got := httpSamples(t, d.Metrics)
	if k := "/api/movies/register POST 500"; got[k] != 1 || len(got) != 1 {
		t.Errorf("samples: %v, want only %q once", got, k)
	}
}

// A CORS preflight is answered by the cors middleware, before routing:
// measured under the route of the method it asks for. A refused one too.
func TestMetricsCountPreflights(t *testing.T) {
	const origin = "https://board.example.com"
	d := metricsDeps(newFakes())
	d.CORSOrigins = []string{origin}
	h := httpapi.New(t.Context(), d)
	for _, o := range []string{origin, "https://evil.example.com"} {
		req := httptest.NewRequest(http.MethodOptions, "/api/movies/view", nil)
		req.Header.Set("Origin", o)
		req.Header.Set("Access-Control-Request-Method", http.MethodPost)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNoContent && rec.Code != http.StatusForbidden {
			t.Fatalf("preflight from %s: status %d", o, rec.Code)
		}
	}
	got := httpSamples(t, d.Metrics)
	for _, k := range []string{"/api/movies/view OPTIONS 204", "/api/movies/view OPTIONS 403"} {
		if got[k] != 1 {
			t.Errorf("samples %q: %d, want 1 (all: %v)", k, got[k], got)
		}
	}
	// A preflight for no route stays in one bounded series.
	req := httptest.NewRequest(http.MethodOptions, "/no/such/path/123", nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "BREW")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if got := httpSamples(t, d.Metrics); got["unmatched OPTIONS 204"] != 1 {
		t.Errorf("a preflight for no route: samples %v, want \"unmatched OPTIONS 204\" once", got)
	}
}

// The fast lane serves through the same handler: each request it answers
// is measured once, as those net/http answers are.
func TestMetricsCountFastLaneRequestsOnce(t *testing.T) {
	d := metricsDeps(newFakes())
	h := httpapi.New(t.Context(), d)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lane := fastlane.New(&http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second},
		fastlane.Route{Method: http.MethodPost, Path: "/api/movies/view"})
	done := make(chan error, 1)
	go func() { done <- lane.Serve(ln) }()
	t.Cleanup(func() { _ = lane.Close(); <-done })

	client := &http.Client{Timeout: 5 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	const n = 5
	for range n {
		resp, err := client.Post("http://"+ln.Addr().String()+"/api/movies/view", "application/json", strings.NewReader(`{"tmdb_id":27205}`))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if served, _ := lane.Stats(); served == 0 {
		t.Fatalf("the lane served none of the requests: the test does not test it")
	}
	if got := httpSamples(t, d.Metrics); got["/api/movies/view POST 202"] != n || len(got) != 1 {
		t.Errorf("samples: %v, want only \"/api/movies/view POST 202\" %d times", got, n)
	}
}
