package main_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The API's fast lane (internal/fastlane) reads single views and list
// reads itself. On one keep-alive connection, the same requests are
// answered first by the lane and then, after a GET of a movie hands the
// connection to net/http, by net/http: the answers must be the same, and
// every accepted view counted once.
func TestViewsAnswerTheSameThroughTheFastLaneAndNetHTTP(t *testing.T) {
	t.Parallel()
	s := startSystem(t, sysOptions{})
	s.register(278)
	host := strings.TrimPrefix(s.base, "http://")
	view := func(contentType, body string) string {
		return fmt.Sprintf("POST /api/movies/view HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s",
			host, contentType, len(body), body)
	}
	// Each view's own id, so that the answers can be compared: the first
	// is the client's, the second the API's.
	const placeholder = "VIEW-ID"
	sameViewID := func(a string) string {
		if i := strings.Index(a, `{"view_id":"`); i >= 0 {
			a = a[:i] + `{"view_id":"` + placeholder + a[i+len(`{"view_id":"`)+36:]
		}
		return a
	}
	views := func() []string {
		id := uuid.NewString()
		return []string{
			view("application/json", `{"tmdb_id":278,"view_id":"`+id+`"}`),
			view("application/json", `{"tmdb_id":278}`),
			view("application/json", `{"tmdb_id":999999}`),        // not registered: 404
			view("application/json", `{"tmdb_id":278,"extra":1}`), // 422
			view("application/json", `{"tmdb_id":`),               // 400
			view("text/plain", `{"tmdb_id":278}`),                 // 415
		}
	}
	throughBoth(t, s, "view", views, sameViewID, []string{"202", "202", "404", "422", "400", "415"})
	s.waitViews(278, 4)

	// List reads, once nothing changes the ranking (the views counted,
	// the facts in).
	s.waitActive(278)
	lists := func() []string {
		return []string{
			"GET /api/movies?limit=5 HTTP/1.1\r\nHost: " + host + "\r\n\r\n",
			"GET /api/movies?limit=5&offset=0 HTTP/1.1\r\nHost: " + host + "\r\nAccept-Encoding: gzip\r\n\r\n",
			"GET /api/movies HTTP/1.1\r\nHost: " + host + "\r\n\r\n",
			"GET /api/movies?limit=abc HTTP/1.1\r\nHost: " + host + "\r\n\r\n",
		}
	}
	throughBoth(t, s, "list read", lists, func(a string) string { return a }, []string{"200", "200", "200", "422"})
}

// throughBoth sends requests() on one new connection, where the fast lane
// must answer every one, then GETs a movie (which hands the connection to
// net/http) and sends requests() again, which net/http must answer. Each
// answer, without its Date and request id and passed through normalize, must be the same
// both times, with the status in want.
func throughBoth(t *testing.T, s *system, what string, requests func() []string, normalize func(string) string, want []string) {
	t.Helper()
	host := strings.TrimPrefix(s.base, "http://")
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	br := bufio.NewReader(c)
	exchange := func(raw string) string {
		t.Helper()
		if _, err := io.WriteString(c, raw); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		// The request id is the request's own, one of the API's making.
		if resp.Header.Get("X-Request-Id") == "" {
			t.Errorf("%s: answer without X-Request-Id", strings.Fields(raw)[:2])
		}
		resp.Header.Del("Date")
		resp.Header.Del("X-Request-Id")
		out, err := httputil.DumpResponse(resp, true)
		if err != nil {
			t.Fatal(err)
		}
		return normalize(string(out))
	}
	answers := func() (out []string) {
		for _, raw := range requests() {
			out = append(out, exchange(raw))
		}
		return out
	}
	const served = `^trend_http_fast_lane_requests_total$`
	before := s.scrape(t, served)
	lane := answers()
	if n := s.scrape(t, served) - before; n != float64(len(want)) {
		t.Errorf("the fast lane answered %v %ss, want all %d", n, what, len(want))
	}
	if got := exchange("GET /api/movies/278 HTTP/1.1\r\nHost: " + host + "\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.1 200") {
		t.Fatalf("GET of a movie on the same connection: %s", got)
	}
	before = s.scrape(t, served)
	netHTTP := answers()
	if n := s.scrape(t, served) - before; n != 0 {
		t.Errorf("the fast lane answered %v %ss after the handoff, want none", n, what)
	}
	for i := range lane {
		if lane[i] != netHTTP[i] {
			t.Errorf("%s %d: the fast lane answered\n%s\nnet/http answered\n%s", what, i+1, lane[i], netHTTP[i])
		}
		if !strings.HasPrefix(lane[i], "HTTP/1.1 "+want[i]) {
			t.Errorf("%s %d: got %.40q, want %s", what, i+1, lane[i], want[i])
		}
	}
}
