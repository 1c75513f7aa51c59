package fastlane

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/movietrend/trend/internal/testenv"
)

var (
	route = Route{Method: http.MethodPost, Path: "/hot"}
	// A GET route whose requests may carry a query, as the ranking's.
	listRoute = Route{Method: http.MethodGet, Path: "/list", Query: true}
)

// echo answers what it was asked, and which path served it: net/http
// puts its server in the request's context, the lane does not.
func echo(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	path := "lane"
	if r.Context().Value(http.ServerContextKey) != nil {
		path = "net/http"
	}
	w.Header().Set("X-Path", path)
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, "%s %s host=%s len=%d ct=%q id=%q close=%v body=%q header=%s",
		r.Method, r.URL.RequestURI(), r.Host, r.ContentLength, r.Header.Get("Content-Type"),
		r.Header.Get("X-Request-Id"), r.Close, body, headerLine(r.Header))
}

// headerLine is a request's header as its handler sees it, sorted.
func headerLine(h http.Header) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(h)) {
		fmt.Fprintf(&b, "%s=%q;", k, h[k])
	}
	return b.String()
}

// start serves h with a lane for route, and plain net/http beside it.
func start(t *testing.T, h http.Handler, timeout time.Duration, errorLog ...*log.Logger) (lane, plain string, s *Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: timeout}
	if len(errorLog) > 0 {
		srv.ErrorLog = errorLog[0]
	}
	s = New(srv, route, listRoute)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	pln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ps := &http.Server{Handler: h, ReadHeaderTimeout: timeout}
	go func() { _ = ps.Serve(pln) }()
	t.Cleanup(func() {
		_ = s.Close()
		_ = ps.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
		}
	})
	return ln.Addr().String(), pln.Addr().String(), s
}

// dial connects to addr for the rest of the test, with a deadline that
// turns a hang into a failure.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	return c
}

// exchange sends raw on a new connection and reads n responses.
func exchange(t *testing.T, addr, raw string, n int) []*http.Response {
	t.Helper()
	c := dial(t, addr)
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	return read(t, bufio.NewReader(c), n)
}

func read(t *testing.T, br *bufio.Reader, n int) []*http.Response {
	t.Helper()
	var out []*http.Response
	for range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d of %d: %v", len(out)+1, n, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body = io.NopCloser(strings.NewReader(string(body)))
		out = append(out, resp)
	}
	return out
}

// dump is a response as the client saw it, without its Date.
func dump(t *testing.T, r *http.Response) string {
	t.Helper()
	r.Header.Del("Date")
	b, err := httputil.DumpResponse(r, true)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sameAnswer fails the test unless got, from the lane's port, is the
// answer want, from net/http, but for X-Path (who served it).
func sameAnswer(t *testing.T, what string, got, want *http.Response) {
	t.Helper()
	got.Header.Del("X-Path")
	want.Header.Del("X-Path")
	if g, w := dump(t, got), dump(t, want); g != w {
		t.Errorf("%s: the lane's port answered\n%s\nnet/http answers\n%s", what, g, w)
	}
}

func post(body string, headers ...string) string {
	return "POST /hot HTTP/1.1\r\nHost: example.test:8000\r\nContent-Type: application/json\r\n" +
		strings.Join(append(headers, ""), "\r\n") +
		fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
}

// The lane answers simple requests of its route itself, exactly as
// net/http answers them; every other request reaches net/http unchanged.
func TestLaneAnswersAsNetHTTPDoes(t *testing.T) {
	lane, plain, _ := start(t, http.HandlerFunc(echo), 5*time.Second)
	cases := []struct {
		name, raw string
		lane      bool // served by the lane, or else by net/http (or refused by it)
	}{
		{"simple", post(`{"tmdb_id":27205}`), true},
		{"request id and other headers", post(`{}`, "X-Request-Id: abc-1", "User-Agent: t", "Accept: */*"), true},
		{"empty body", post(""), true},
		{"keep-alive spelled out", post(`{}`, "Connection: keep-alive"), true},
		{"another route", "POST /cold HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}", false},
		{"a query", "POST /hot?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}", false},
		{"another method", "GET /hot HTTP/1.1\r\nHost: h\r\n\r\n", false},
		{"HTTP/1.0", "POST /hot HTTP/1.0\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}", false},
		{"chunked", "POST /hot HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", false},
		{"expect", "POST /hot HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}", false},
		{"body larger than the buffer", post(strings.Repeat("x", bufferSize)), false},
		{"header larger than the buffer", post(`{}`, "X-Big: "+strings.Repeat("y", bufferSize)), false},
		{"signed length", "POST /hot HTTP/1.1\r\nHost: h\r\nContent-Length: +2\r\n\r\n{}", false},
		{"unusual host", "POST /hot HTTP/1.1\r\nHost: a@b\r\nContent-Length: 2\r\n\r\n{}", false},
		{"upgrade", post(`{}`, "Connection: Upgrade", "Upgrade: websocket"), false},
		{"a POST without a length", "POST /hot HTTP/1.1\r\nHost: h\r\n\r\n", false},
		{"Pragma: no-cache", post(`{}`, "Pragma: no-cache"), true},
		{"Pragma and Cache-Control", post(`{}`, "Pragma: no-cache", "Cache-Control: max-age=5"), true},
		// The GET route: a plain query, no length needed.
		{"GET with a query", "GET /list?limit=50&offset=0 HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n", true},
		{"GET without a query", "GET /list HTTP/1.1\r\nHost: h\r\n\r\n", true},
		{"GET with escapes, pluses and commas", "GET /list?q=%41%zz+b,c~d.e_f-g HTTP/1.1\r\nHost: h\r\n\r\n", true},
		{"GET with length 0", "GET /list?a=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", true},
		{"GET with a body", "GET /list HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}", true},
		{"GET with two lengths", "GET /list HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n", false},
		{"an empty query", "GET /list? HTTP/1.1\r\nHost: h\r\n\r\n", false},
		{"a semicolon in the query", "GET /list?a=1;b=2 HTTP/1.1\r\nHost: h\r\n\r\n", false},
		{"a quote in the query", "GET /list?a=\"x\" HTTP/1.1\r\nHost: h\r\n\r\n", false},
		{"a fragment", "GET /list?a=1#f HTTP/1.1\r\nHost: h\r\n\r\n", false},
		{"a second question mark", "GET /list?a=1?b HTTP/1.1\r\nHost: h\r\n\r\n", false},
		{"a longer path", "GET /list/1 HTTP/1.1\r\nHost: h\r\n\r\n", false},
		{"a path that only begins the same", "GET /listing HTTP/1.1\r\nHost: h\r\n\r\n", false},
		{"another method on the GET route", "DELETE /list HTTP/1.1\r\nHost: h\r\n\r\n", false},
		{"POST to the GET route", "POST /list HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}", false},
		{"a GET with chunks", "GET /list HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := exchange(t, lane, tc.raw, 1)[0]
			want := exchange(t, plain, tc.raw, 1)[0]
			if served := got.Header.Get("X-Path") == "lane"; served != tc.lane {
				t.Errorf("served by the lane: %v, want %v (X-Path %q, status %d)", served, tc.lane, got.Header.Get("X-Path"), got.StatusCode)
			}
			sameAnswer(t, "the answer", got, want)
		})
	}
}

// Requests that net/http refuses are refused the same way: the lane
// hands them over rather than judge them.
func TestBadRequestsGetNetHTTPsAnswer(t *testing.T) {
	lane, plain, _ := start(t, http.HandlerFunc(echo), 5*time.Second)
	for _, raw := range []string{
		"POST /hot HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",                                 // no Host
		"POST /hot HTTP/1.1\r\nHost: a\r\nHost: b\r\nContent-Length: 2\r\n\r\n{}",           // two
		"POST /hot HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", // two lengths
		"POST /hot HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\n{}",                      // not a number
		"POST /hot HTTP/1.1\r\nHost: h\r\nBad Header: 1\r\nContent-Length: 2\r\n\r\n{}",     // space in a name
		"POST /hot HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\nContent-Length: 2\r\n\r\n{}",         // NUL in a value
		"POST /hot HTTP/1.1\r\nHost: h\r\n folded: 1\r\nContent-Length: 2\r\n\r\n{}",        // leading space
	} {
		want := exchange(t, plain, raw, 1)[0]
		got := exchange(t, lane, raw, 1)[0]
		if got.StatusCode != want.StatusCode || (want.StatusCode < 300 && got.Header.Get("X-Path") != "net/http") {
			t.Errorf("%q: the lane's port answered %d (%s), net/http %d", raw, got.StatusCode, got.Header.Get("X-Path"), want.StatusCode)
		}
	}
}

// Requests sent back to back (pipelined, or split across packets) are
// each answered, in order; a connection handed to net/http stays there.
func TestOneConnectionCarriesManyRequests(t *testing.T) {
	lane, plain, _ := start(t, http.HandlerFunc(echo), 5*time.Second)
	raw := post(`{"a":1}`) + post(`{"b":2}`) + "GET /cold HTTP/1.1\r\nHost: h\r\n\r\n" + post(`{"c":3}`)
	rs := exchange(t, lane, raw, 4)
	var paths []string
	for _, r := range rs {
		paths = append(paths, r.Header.Get("X-Path"))
	}
	if want := []string{"lane", "lane", "net/http", "net/http"}; !slices.Equal(paths, want) {
		t.Errorf("served by %v, want %v", paths, want)
	}
	if b, _ := io.ReadAll(rs[3].Body); !strings.Contains(string(b), `body="{\"c\":3}"`) {
		t.Errorf("the last response is %q", b)
	}

	// A request that arrives in pieces.
	c := dial(t, lane)
	br := bufio.NewReader(c)
	req := post(`{"tmdb_id":1}`)
	for _, piece := range []string{req[:10], req[10:40], req[40 : len(req)-3], req[len(req)-3:]} {
		if _, err := io.WriteString(c, piece); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	r := read(t, br, 1)[0]
	if b, _ := io.ReadAll(r.Body); r.Header.Get("X-Path") != "lane" || !strings.Contains(string(b), `len=13`) {
		t.Errorf("a request in pieces: %s, %q", r.Header.Get("X-Path"), b)
	}
	// net/http skips up to four CR or LF bytes after a POST (for old
	// clients that end its body with a CRLF they did not count); so does
	// the lane, before the next request, its own or net/http's.
	for _, next := range []string{"GET /list?a=1 HTTP/1.1\r\nHost: h\r\n\r\n", "GET /cold HTTP/1.1\r\nHost: h\r\n\r\n"} {
		raw := post(`{}`) + "\r\n" + next
		got, want := exchange(t, lane, raw, 2), exchange(t, plain, raw, 2)
		for i := range got {
			sameAnswer(t, fmt.Sprintf("a CRLF after a POST, then %.20q: answer %d", next, i+1), got[i], want[i])
		}
	}

	// A GET with a query, in pieces cut inside its request line.
	get := "GET /list?limit=5 HTTP/1.1\r\nHost: h\r\n\r\n"
	for _, piece := range []string{get[:4], get[4:12], get[12:20], get[20:]} {
		if _, err := io.WriteString(c, piece); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	r = read(t, br, 1)[0]
	if b, _ := io.ReadAll(r.Body); r.Header.Get("X-Path") != "lane" || !strings.Contains(string(b), `GET /list?limit=5 `) {
		t.Errorf("a GET in pieces: %s, %q", r.Header.Get("X-Path"), b)
	}
}

// A connection waiting for its next request holds no response buffers
// (they go back to the pool), however large its last answer, and whatever
// part of the next request came already: kept, they were up to 128 KB an
// idle connection.
func TestIdleConnectionsHoldNoResponseBuffers(t *testing.T) {
	sized := func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n, _ := strconv.Atoi(string(body))
		_, _ = io.WriteString(w, strings.Repeat("a", n))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(&http.Server{Handler: http.HandlerFunc(sized), ReadHeaderTimeout: 5 * time.Second}, route)
	held := make(chan int, 10) // bytes of buffers held while waiting
	s.waiting = func(c *conn) {
		n := 0
		for _, b := range []*[]byte{c.out, c.body} {
			if b != nil {
				n += cap(*b)
			}
		}
		held <- n
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })
	c := dial(t, ln.Addr().String())
	// The second request's first bytes come with the first: the
	// connection waits for the rest.
	if _, err := io.WriteString(c, post("60000")+"PO"); err != nil {
		t.Fatal(err)
	}
	read(t, bufio.NewReader(c), 1)
	if n := <-held; n != 0 {
		t.Errorf("an idle connection holds %d bytes of response buffers, want 0", n)
	}
}

// TestAnswersOfEverySizeOnOneConnection: each answer is made in pooled
// buffers that earlier answers used (or, above maxKeptBuffer, not): no
// byte of an earlier answer shows in a later one.
func TestAnswersOfEverySizeOnOneConnection(t *testing.T) {
	sized := func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n, _ := strconv.Atoi(string(body))
		w.Header().Set("X-Path", "lane")
		if r.Context().Value(http.ServerContextKey) != nil {
			w.Header().Set("X-Path", "net/http")
		}
		// As the API's pages do: net/http would send a longer body in
		// chunks, where the lane always counts it.
		w.Header().Set("Content-Length", strconv.Itoa(n))
		_, _ = io.WriteString(w, strings.Repeat(string(rune('a'+n%26)), n))
	}
	lane, plain, _ := start(t, http.HandlerFunc(sized), 5*time.Second)
	var raw string
	for _, n := range []int{3000, 10, maxKeptBuffer + 1000, 500, 0, 20} {
		raw += post(strconv.Itoa(n))
	}
	got, want := exchange(t, lane, raw, 6), exchange(t, plain, raw, 6)
	for i := range got {
		if got[i].Header.Get("X-Path") != "lane" {
			t.Errorf("answer %d: served by %s, want the lane", i+1, got[i].Header.Get("X-Path"))
		}
		sameAnswer(t, fmt.Sprintf("answer %d", i+1), got[i], want[i])
	}
}

func TestConnectionClose(t *testing.T) {
	lane, _, _ := start(t, http.HandlerFunc(echo), 5*time.Second)
	c := dial(t, lane)
	// The second request is never read: the client asked to close.
	if _, err := io.WriteString(c, post(`{}`, "Connection: close")+post(`{}`)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	r := read(t, br, 1)[0]
	// (ReadResponse takes "Connection: close" out of the header into Close.)
	if !r.Close || r.Header.Get("X-Path") != "lane" {
		t.Errorf("close %v, path %q", r.Close, r.Header.Get("X-Path"))
	}
	if b, _ := io.ReadAll(r.Body); !strings.Contains(string(b), "close=true") {
		t.Errorf("the handler saw %q", b)
	}
	if n, err := br.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("after the response: %d bytes, %v; want EOF", n, err)
	}
}

// Headers a handler sets, statuses without a body, and an unset
// Content-Type come out as net/http writes them.
func TestResponsesAreFormattedAsNetHTTPDoes(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("X-Case") {
		case "nocontent":
			w.WriteHeader(http.StatusNoContent)
			_, _ = io.WriteString(w, "dropped")
		case "sniff":
			_, _ = io.WriteString(w, "<html><body>hi</body></html>")
		case "headers":
			w.Header().Set("Retry-After", "2")
			w.Header().Add("Vary", "Origin")
			w.Header().Add("Vary", "Accept-Encoding")
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"status":503}`)
		case "twice":
			w.WriteHeader(http.StatusCreated)
			w.WriteHeader(http.StatusTeapot)
		}
	})
	lane, plain, _ := start(t, h, 5*time.Second)
	for _, c := range []string{"nocontent", "sniff", "headers", "twice"} {
		raw := post(`{}`, "X-Case: "+c)
		if g, w := dump(t, exchange(t, lane, raw, 1)[0]), dump(t, exchange(t, plain, raw, 1)[0]); g != w {
			t.Errorf("%s: the lane answered\n%s\nnet/http answers\n%s", c, g, w)
		}
	}
}

// A client that stops in the middle of its header is cut off after
// ReadHeaderTimeout, as net/http does.
func TestSlowClientsAreCutOff(t *testing.T) {
	lane, _, _ := start(t, http.HandlerFunc(echo), 150*time.Millisecond)
	// From before the dial: the server's timeout runs from when it took
	// the connection, which a loaded machine can put well before the
	// header's first bytes are written.
	start := time.Now()
	c := dial(t, lane)
	if _, err := io.WriteString(c, "POST /hot HTTP/1.1\r\nHost: h\r\n"); err != nil {
		t.Fatal(err)
	}
	_, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read: %v (the server never closed the connection)", err)
	}
	// Closed by the timeout, not at once: no sooner than it.
	if took := time.Since(start); took < 150*time.Millisecond {
		t.Errorf("closed after %v, before ReadHeaderTimeout (150ms)", took)
	}
}

// A request the lane hands over keeps the header deadline it had: net/http
// sets its own at the handover, and a client that made its request line
// last nearly ReadHeaderTimeout before showing it is not the lane's got
// as long again for the rest of its header.
func TestAHandedOverRequestKeepsItsHeaderDeadline(t *testing.T) {
	const timeout = 2 * time.Second
	lane, _, _ := start(t, http.HandlerFunc(echo), timeout)
	start := time.Now()
	c := dial(t, lane)
	if _, err := io.WriteString(c, "POST /ho"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(timeout * 3 / 4)
	// Not the lane's route: handed over at the line's end, the header
	// never finished.
	if _, err := io.WriteString(c, "x HTTP/1.1\r\nHost: h\r\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("read: %v (the server never closed the connection)", err)
	}
	// Without the lane's deadline, net/http's would close it at 3.5 s.
	if took := time.Since(start); took > timeout*3/2 {
		t.Errorf("closed after %v, want about ReadHeaderTimeout (%v) from the accept", took.Round(time.Millisecond), timeout)
	}
}

// Shutdown lets a request in progress finish and answers it, closes idle
// connections, and makes Serve return.
func TestShutdownFinishesRequestsInProgress(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Wait") != "" {
			once.Do(func() { close(entered) })
			<-release
		}
		echo(w, r)
	})
	lane, _, s := start(t, h, 5*time.Second)

	idle := dial(t, lane)
	ibr := bufio.NewReader(idle)
	_, _ = io.WriteString(idle, post(`{}`))
	read(t, ibr, 1)

	busy := dial(t, lane)
	_, _ = io.WriteString(busy, post(`{"slow":1}`, "X-Wait: 1"))
	<-entered

	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	// The idle connection is closed at once.
	if n, err := ibr.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("idle connection: %d bytes, %v; want it closed", n, err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v while a request was in progress", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	r := read(t, bufio.NewReader(busy), 1)[0]
	if r.StatusCode != http.StatusAccepted || r.Header.Get("X-Path") != "lane" {
		t.Errorf("the request in progress got %d from %s", r.StatusCode, r.Header.Get("X-Path"))
	}
	// As net/http's would, the answer tells the client not to send
	// another request on this connection.
	if !r.Close {
		t.Error("the answer during the shutdown has no Connection: close")
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if _, err := net.Dial("tcp", lane); err == nil {
		t.Error("still accepting after Shutdown")
	}
}

// A connection opened just before a shutdown, its request not sent yet,
// is served (with Connection: close) as net/http serves it, not reset;
// one that stays silent is closed once the grace has passed.
func TestShutdownServesAConnectionOpenedJustBefore(t *testing.T) {
	defer func(g time.Duration) { newConnGrace = g }(newConnGrace)
	newConnGrace = time.Second
	lane, _, s := start(t, http.HandlerFunc(echo), 5*time.Second)
	fresh, silent := dial(t, lane), dial(t, lane)
	awaitConns(t, s, 2)
	shut := beginShutdown(t, s)
	_, _ = io.WriteString(fresh, post(`{}`))
	r := read(t, bufio.NewReader(fresh), 1)[0]
	if r.StatusCode != http.StatusAccepted || !r.Close {
		t.Errorf("a request sent during the shutdown got %d (close %v); want 202 with Connection: close", r.StatusCode, r.Close)
	}
	if !closedWithin(t, silent, 3*time.Second) {
		t.Error("a silent new connection stayed open past the grace")
	}
	select {
	case err := <-shut:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Error("Shutdown did not return")
	}
}

// TestShutdownTellsHandedOverConnectionsToClose: while the lane waits
// for its own connections, one it handed to net/http is not kept alive:
// an answer on it says Connection: close, or it is closed, as net/http's
// own shutdown does. It had been answered keep-alive, and kept.
func TestShutdownTellsHandedOverConnectionsToClose(t *testing.T) {
	defer func(g time.Duration) { newConnGrace = g }(newConnGrace)
	newConnGrace = 2 * time.Second
	lane, _, s := start(t, http.HandlerFunc(echo), 5*time.Second)
	handed := dial(t, lane)
	hbr := bufio.NewReader(handed)
	const get = "GET /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n"
	_, _ = io.WriteString(handed, get)
	if r := read(t, hbr, 1)[0]; r.Header.Get("X-Path") != "net/http" || r.Close {
		t.Fatalf("before the shutdown: served by %s, close %v; want net/http, kept alive", r.Header.Get("X-Path"), r.Close)
	}
	_ = dial(t, lane) // silent and new: the shutdown waits for it
	awaitConns(t, s, 1)
	shut := beginShutdown(t, s)
	defer func() { // before newConnGrace is restored
		select {
		case <-shut:
		case <-time.After(10 * time.Second):
			t.Error("Shutdown did not return")
		}
	}()
	if _, err := io.WriteString(handed, get); err != nil {
		return // closed: told
	}
	r, err := http.ReadResponse(hbr, nil)
	if err == nil && !r.Close {
		t.Errorf("a handed-over connection during the shutdown got %d kept alive; want Connection: close", r.StatusCode)
	}
}

// awaitConns waits until the lane holds n connections.
func awaitConns(t *testing.T, s *Server, n int) {
	t.Helper()
	testenv.WaitFor(t, 5*time.Second, fmt.Sprintf("the lane to hold %d connections", n), func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.conns) == n
	})
}

// beginShutdown starts s's Shutdown and returns once it has begun; its
// result comes on the channel.
func beginShutdown(t *testing.T, s *Server) <-chan error {
	t.Helper()
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	testenv.WaitFor(t, 5*time.Second, "the shutdown to begin", s.closing.Load)
	return shut
}

// A panic that gets past the handler's middleware closes that connection
// only; the server goes on.
func TestAPanicClosesOnlyItsConnection(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("X-Panic") {
		case "abort":
			panic(http.ErrAbortHandler)
		case "boom":
			panic("boom")
		}
		echo(w, r)
	})
	var logged testenv.Buffer
	lane, _, _ := start(t, h, 5*time.Second, log.New(&logged, "", 0))
	for _, kind := range []string{"abort", "boom"} {
		c := dial(t, lane)
		_, _ = io.WriteString(c, post(`{}`, "X-Panic: "+kind))
		if b, err := io.ReadAll(c); err != nil || len(b) != 0 {
			t.Errorf("after a panic (%s): %q, %v; want the connection closed without an answer", kind, b, err)
		}
	}
	if r := exchange(t, lane, post(`{}`), 1)[0]; r.StatusCode != http.StatusAccepted {
		t.Errorf("the next connection got %d", r.StatusCode)
	}
	// http.ErrAbortHandler is a deliberate abort, not logged; the other
	// panic is, with its stack, in the server's ErrorLog.
	if got := logged.String(); strings.Count(got, "fastlane: panic serving") != 1 || !strings.Contains(got, "boom") || !strings.Contains(got, "goroutine") {
		t.Errorf("the error log has %q, want one panic with boom and its stack", got)
	}
}

// A client still sending a body that net/http refused (on a connection
// the lane handed over, with part of the body already buffered) reads the
// refusal. (handedConn passes CloseWrite through so that net/http can
// half-close as it does on its own connections; on loopback this test
// passed without it too.)
func TestRefusalsReachClientsStillSending(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 10)); err != nil {
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			return
		}
		echo(w, r)
	})
	lane, _, _ := start(t, h, 5*time.Second)
	for range 5 {
		c := dial(t, lane)
		const size = 4 << 20
		go func() {
			_, _ = io.WriteString(c, fmt.Sprintf("POST /hot HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n", size))
			_, _ = c.Write(make([]byte, size))
		}()
		r := read(t, bufio.NewReader(c), 1)[0]
		if r.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("got %d, want 413", r.StatusCode)
		}
	}
}

// closedWithin tells whether the server closes c, which has sent what it
// will send, within d; it reads and discards what the server answers.
func closedWithin(t *testing.T, c net.Conn, d time.Duration) bool {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	if err == nil {
		return true
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return false
	}
	return true // reset: closed too
}

// A connection that never sends a byte is closed after ReadHeaderTimeout
// on both paths, counted from the accept, as net/http counts it.
func TestSilentConnectionsAreClosed(t *testing.T) {
	lane, plain, _ := start(t, http.HandlerFunc(echo), 200*time.Millisecond)
	for name, addr := range map[string]string{"lane": lane, "net/http": plain} {
		if !closedWithin(t, dial(t, addr), 3*time.Second) {
			t.Errorf("%s: a connection that sent nothing was still open after 3 s (ReadHeaderTimeout 200 ms)", name)
		}
	}
}

// A request's ReadHeaderTimeout runs from its first byte: a client that
// sends a byte now and then does not keep the connection open by it.
func TestTricklingClientsAreCutOff(t *testing.T) {
	lane, plain, _ := start(t, http.HandlerFunc(echo), 300*time.Millisecond)
	raw := post(`{}`)
	for name, addr := range map[string]string{"lane": lane, "net/http": plain} {
		c := dial(t, addr)
		closed := make(chan struct{})
		go func() {
			defer close(closed)
			_, _ = io.Copy(io.Discard, c)
		}()
		cut := false
		// One byte every 100 ms, each within the timeout of the one
		// before: 3 s of header in all, ten times the timeout.
		for i := 0; i < 30 && !cut; i++ {
			if _, err := io.WriteString(c, raw[i:i+1]); err != nil {
				cut = true
				break
			}
			select {
			case <-closed:
				cut = true
			case <-time.After(100 * time.Millisecond):
			}
		}
		if !cut {
			t.Errorf("%s: a client sending a byte every 100 ms kept its connection for 3 s (ReadHeaderTimeout 300 ms)", name)
		}
	}
}

// A header whose lines end with a bare LF is read by net/http, which ends
// a line there: the lane, which reads CRLF lines, must not find another
// end of the header (and so another body, or another next request).
func TestBareLFsAreNetHTTPs(t *testing.T) {
	lane, plain, _ := start(t, http.HandlerFunc(echo), time.Minute)
	for _, tc := range []struct {
		name, raw string
		answers   int
	}{
		{"a second request behind a bare LF", "POST /hot HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", 2},
		{"a body behind a bare LF", "POST /hot HTTP/1.1\r\nHost: a\r\nContent-Length: 13\r\n\n{\"tmdb_id\":1}XX\r\n\r\n{\"tmdb_id\":2}", 1},
		// Without a CRLF CRLF at all: answered at once, not after the
		// lane waited for the end of a header it would never see.
		{"LF lines only, another route", "GET /cold HTTP/1.1\nHost: a\n\n", 1},
		{"LF lines only, the lane's route", "POST /hot HTTP/1.1\nHost: a\nContent-Length: 2\n\n{}", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := exchange(t, lane, tc.raw, tc.answers)
			want := exchange(t, plain, tc.raw, tc.answers)
			for i := range got {
				if p := got[i].Header.Get("X-Path"); p == "lane" {
					t.Errorf("answer %d: served by the lane, want net/http", i+1)
				}
				sameAnswer(t, fmt.Sprintf("answer %d", i+1), got[i], want[i])
			}
		})
	}
}

// A request line that, while it is still arriving, already leaves every
// route goes to net/http at once: the lane does not wait for its end.
func TestARequestLineOffTheRoutesIsHandedOverEarly(t *testing.T) {
	lane, _, s := start(t, http.HandlerFunc(echo), 5*time.Second)
	for _, start := range []string{"GET /list/", "GET /listing", "POST /hot?", "POST /hot/x"} {
		_, before := s.Stats()
		c := dial(t, lane)
		if _, err := io.WriteString(c, start); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(2 * time.Second)
		for {
			if _, after := s.Stats(); after > before {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%q: still in the lane after 2 s, its line unfinished", start)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if _, err := io.WriteString(c, "1 HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		if r := read(t, bufio.NewReader(c), 1)[0]; r.Header.Get("X-Path") != "net/http" {
			t.Errorf("%q: answered by %q, want net/http", start, r.Header.Get("X-Path"))
		}
	}
}

// A write deadline the handler asks for (http.ResponseController) bounds
// the lane's write of its answer, as it bounds net/http's: a client that
// never reads cannot hold the connection's goroutine and its buffered
// answer for ever.
func TestTheHandlersWriteDeadlineBoundsTheAnswer(t *testing.T) {
	const size = 32 << 20 // more than the sockets' buffers hold
	big := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		_, _ = w.Write(make([]byte, size))
	})
	lane, plain, _ := start(t, big, time.Second)
	for name, addr := range map[string]string{"lane": lane, "net/http": plain} {
		c := dial(t, addr)
		if _, err := io.WriteString(c, "POST /hot HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second) // not reading: the server's write blocks
		// The lane builds the 32 MB answer before it writes it, which a
		// loaded machine under -race can take seconds over: the read
		// waits long enough to tell a close from a connection held open.
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		n, err := io.Copy(io.Discard, c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("%s: the connection was still open after its answer's write deadline (read %d bytes)", name, n)
		}
		if n >= size {
			t.Errorf("%s: read the whole answer (%d bytes), want it cut at the deadline", name, n)
		}
	}
}

// The write deadline of a lane answer does not follow its connection to
// net/http, which sets none of its own without a WriteTimeout: a later
// answer there (a live stream, say) failed at the lane's deadline.
func TestALaneWriteDeadlineStaysOnTheLane(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hot" {
			_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = io.WriteString(w, "lane")
			return
		}
		time.Sleep(1500 * time.Millisecond) // past the lane answer's deadline
		_, _ = io.WriteString(w, "net/http")
	})
	lane, _, s := start(t, h, time.Second)
	c := dial(t, lane)
	br := bufio.NewReader(c)
	for _, path := range []string{"/hot", "/elsewhere"} {
		if _, err := io.WriteString(c, "POST "+path+" HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		res := read(t, br, 1)[0]
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK || len(b) == 0 {
			t.Fatalf("%s: %d %q", path, res.StatusCode, b)
		}
	}
	if _, handedOff := s.Stats(); handedOff != 1 {
		t.Errorf("%d connections handed over, want 1", handedOff)
	}
}

// A write deadline the lane keeps from an earlier answer is never one
// already past, nor a later one than asked: answers on one connection
// that each ask for a short one are each written.
func TestEachAnswerOnALaneConnectionGetsTheWriteDeadlineItAskedFor(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = io.WriteString(w, "ok")
	})
	lane, _, _ := start(t, h, time.Second)
	c := dial(t, lane)
	br := bufio.NewReader(c)
	for i := range 2 {
		if i > 0 {
			time.Sleep(1500 * time.Millisecond) // the first answer's deadline has passed
		}
		if _, err := io.WriteString(c, "POST /hot HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		res := read(t, br, 1)[0]
		if b, _ := io.ReadAll(res.Body); string(b) != "ok" {
			t.Fatalf("answer %d: %q", i+1, b)
		}
	}
}
