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

// The API's fast lane (internal/fastlane) reads single views itself. On
// one keep-alive connection, the same view requests are answered first by
// the lane and then, after a GET hands the connection to net/http, by
// net/http: the answers must be the same, and every accepted view counted
// once.
func TestViewsAnswerTheSameThroughTheFastLaneAndNetHTTP(t *testing.T) {
	t.Parallel()
	s := startSystem(t, sysOptions{})
	s.register(278)
	c, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	br := bufio.NewReader(c)
	host := strings.TrimPrefix(s.base, "http://")
	exchange := func(raw string) string {
		t.Helper()
		if _, err := io.WriteString(c, raw); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Header.Del("Date")
		out, err := httputil.DumpResponse(resp, true)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	view := func(contentType, body string) string {
		return fmt.Sprintf("POST /api/movies/view HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s",
			host, contentType, len(body), body)
	}
	// Each view's own id, so that the answers can be compared.
	const placeholder = "VIEW-ID"
	requests := func() []string {
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
	answers := func() []string {
		var out []string
		for _, raw := range requests() {
			a := exchange(raw)
			// The view ids differ: the first is the client's, the second
			// the API's.
			if i := strings.Index(a, `{"view_id":"`); i >= 0 {
				a = a[:i] + `{"view_id":"` + placeholder + a[i+len(`{"view_id":"`)+36:]
			}
			out = append(out, a)
		}
		return out
	}
	const served = `^trend_http_fast_lane_requests_total$`
	before := s.scrape(t, served)
	lane := answers()
	if n := s.scrape(t, served) - before; n != 6 {
		t.Errorf("the fast lane answered %v requests, want all 6", n)
	}
	if got := exchange("GET /api/movies/278 HTTP/1.1\r\nHost: " + host + "\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.1 200") {
		t.Fatalf("GET on the same connection: %s", got)
	}
	before = s.scrape(t, served)
	netHTTP := answers()
	if n := s.scrape(t, served) - before; n != 0 {
		t.Errorf("the fast lane answered %v requests after the handoff, want none", n)
	}
	for i := range lane {
		if lane[i] != netHTTP[i] {
			t.Errorf("request %d: the fast lane answered\n%s\nnet/http answered\n%s", i+1, lane[i], netHTTP[i])
		}
	}
	for i, want := range []string{"202", "202", "404", "422", "400", "415"} {
		if !strings.HasPrefix(lane[i], "HTTP/1.1 "+want) {
			t.Errorf("request %d: got %.40q, want %s", i+1, lane[i], want)
		}
	}
	s.waitViews(278, 4)
	s.waitActive(278)

	// List reads, now that nothing changes the ranking (its views counted,
	// its facts in): the lane answers them too, as net/http does.
	c2, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	_ = c2.SetDeadline(time.Now().Add(60 * time.Second))
	c, br = c2, bufio.NewReader(c2)
	lists := func() []string {
		var out []string
		for _, raw := range []string{
			"GET /api/movies?limit=5 HTTP/1.1\r\nHost: " + host + "\r\n\r\n",
			"GET /api/movies?limit=5&offset=0 HTTP/1.1\r\nHost: " + host + "\r\nAccept-Encoding: gzip\r\n\r\n",
			"GET /api/movies HTTP/1.1\r\nHost: " + host + "\r\n\r\n",
			"GET /api/movies?limit=abc HTTP/1.1\r\nHost: " + host + "\r\n\r\n", // 422
		} {
			out = append(out, exchange(raw))
		}
		return out
	}
	before = s.scrape(t, served)
	laneLists := lists()
	if n := s.scrape(t, served) - before; n != 4 {
		t.Errorf("the fast lane answered %v list reads, want all 4", n)
	}
	if got := exchange("GET /api/movies/278 HTTP/1.1\r\nHost: " + host + "\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.1 200") {
		t.Fatalf("GET of a movie on the same connection: %s", got)
	}
	netHTTPLists := lists()
	for i := range laneLists {
		if laneLists[i] != netHTTPLists[i] {
			t.Errorf("list read %d: the fast lane answered\n%s\nnet/http answered\n%s", i+1, laneLists[i], netHTTPLists[i])
		}
	}
	for i, want := range []string{"200", "200", "200", "422"} {
		if !strings.HasPrefix(laneLists[i], "HTTP/1.1 "+want) {
			t.Errorf("list read %d: got %.40q, want %s", i+1, laneLists[i], want)
		}
	}
}
