package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// leanServer is an httptest server that counts the connections it
// accepted.
type leanServer struct {
	*httptest.Server
	conns atomic.Int64
}

// newLeanServer starts a server of h, after configure (if any) has set
// its http.Server up.
func newLeanServer(t testing.TB, h http.HandlerFunc, configure ...func(*http.Server)) *leanServer {
	s := &leanServer{Server: httptest.NewUnstartedServer(h)}
	for _, f := range configure {
		f(s.Config)
	}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// leanConn returns a lean connection to target, closed with the test.
func leanConn(t testing.TB, target string) (*endpoint, *conn) {
	ep := newEndpoint(target)
	if ep == nil {
		t.Fatalf("no endpoint for %s", target)
	}
	c := ep.newConn()
	t.Cleanup(c.Close)
	return ep, c
}

// bodyHandler answers /{status}?size=n&chunked=1 with n bytes, with a
// Content-Length or, flushed in pieces, chunked.
func bodyHandler(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	status, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
	size, _ := strconv.Atoi(r.URL.Query().Get("size"))
	body := strings.Repeat("x", size)
	if r.URL.Query().Get("chunked") == "" {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
		return
	}
	w.WriteHeader(status)
	for len(body) > 0 { // each flush is a chunk of its own
		n := min(len(body), 777)
		_, _ = io.WriteString(w, body[:n])
		w.(http.Flusher).Flush()
		body = body[n:]
	}
}

func TestLeanClientReadsStatusesAndDrainsBodiesOnOneConnection(t *testing.T) {
	srv := newLeanServer(t, bodyHandler)
	ep, c := leanConn(t, srv.URL)
	ctx := context.Background()
	n := 0
	for range 5 {
		for _, status := range []int{202, 200, 404, 500} {
			for _, size := range []int{0, 1, 50, 5000, 100_000} { // 100 KB: more than the read buffer
				for _, chunked := range []string{"", "&chunked=1"} {
					got, err := c.do(ctx, ep.request(http.MethodGet, fmt.Sprintf("/%d?size=%d%s", status, size, chunked), nil))
					if err != nil || got != status {
						t.Fatalf("status %d, size %d%s: got %d, %v", status, size, chunked, got, err)
					}
					n++
				}
			}
		}
	}
	// Any byte of a body left unread would have broken a later answer; and
	// every request went over one connection.
	if got := srv.conns.Load(); got != 1 {
		t.Errorf("%d requests used %d connections, want 1", n, got)
	}
}

func TestLeanClientSendsTheRequest(t *testing.T) {
	type seen struct{ method, uri, host, contentType, length, body string }
	got := make(chan seen, 1)
	srv := newLeanServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.RequestURI, r.Host, r.Header.Get("Content-Type"), r.Header.Get("Content-Length"), string(b)}
		w.WriteHeader(http.StatusAccepted)
	})
	// A target with a path is a prefix of every request's, as with net/http.
	ep, c := leanConn(t, srv.URL+"/prefix")
	host := strings.TrimPrefix(srv.URL, "http://")
	body := []byte(`{"tmdb_id":42}`)
	if status, err := c.do(context.Background(), ep.request(http.MethodPost, "/api/movies/view", body)); err != nil || status != 202 {
		t.Fatalf("POST: %d, %v", status, err)
	}
	want := seen{"POST", "/prefix/api/movies/view", host, "application/json", strconv.Itoa(len(body)), string(body)}
	if s := <-got; s != want {
		t.Errorf("the server got %+v, want %+v", s, want)
	}
	if status, err := c.do(context.Background(), ep.request(http.MethodGet, "/api/movies?limit=50", nil)); err != nil || status != 202 {
		t.Fatalf("GET: %d, %v", status, err)
	}
	want = seen{"GET", "/prefix/api/movies?limit=50", host, "", "", ""}
	if s := <-got; s != want {
		t.Errorf("the server got %+v, want %+v", s, want)
	}
}

func TestLeanClientRedialsAfterConnectionClose(t *testing.T) {
	srv := newLeanServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		_, _ = io.WriteString(w, "ok")
	})
	ep, c := leanConn(t, srv.URL)
	for i, path := range []string{"/", "/close", "/", "/", "/close", "/"} {
		if status, err := c.do(context.Background(), ep.request(http.MethodGet, path, nil)); err != nil || status != 200 {
			t.Fatalf("request %d (%s): %d, %v", i, path, status, err)
		}
	}
	if got := srv.conns.Load(); got != 3 {
		t.Errorf("%d connections, want 3: one, and one after each close", got)
	}
}

// A server that breaks the connection, or answers what is not HTTP,
// fails that request only: the next one gets a new connection.
func TestLeanClientFailsABrokenAnswerAndRecovers(t *testing.T) {
	var raw atomic.Value // what /raw writes before closing the connection
	srv := newLeanServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/raw" {
			_, _ = io.WriteString(w, "ok")
			return
		}
		nc, bw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		_, _ = bw.WriteString(raw.Load().(string))
		_ = bw.Flush()
		_ = nc.Close()
	})
	ep, c := leanConn(t, srv.URL)
	for _, tc := range []struct {
		name, raw, kind string
	}{
		{"no answer", "", "connection closed"},
		{"cut in the status line", "HTTP/1.1 20", "connection closed"},
		{"cut in the headers", "HTTP/1.1 200 OK\r\nContent-Le", "connection closed"},
		{"cut in a body", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc", "connection closed"},
		{"cut in a chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc", "connection closed"},
		{"no last chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", "connection closed"},
		{"not HTTP", "SSH-2.0-OpenSSH_9.6\r\n\r\n", "malformed response"},
		{"bad header", "HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "malformed response"},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "malformed response"},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed response"},
		{"chunk longer than its size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc\r\n0\r\n\r\n", "malformed response"},
		{"1xx", "HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "malformed response"},
	} {
		raw.Store(tc.raw)
		_, err := c.do(context.Background(), ep.request(http.MethodGet, "/raw", nil))
		if err == nil || errorKind(err) != tc.kind {
			t.Errorf("%s: got %v (%s), want a %q error", tc.name, err, errorKind(err), tc.kind)
		}
		if status, err := c.do(context.Background(), ep.request(http.MethodGet, "/", nil)); err != nil || status != 200 {
			t.Errorf("after %s: %d, %v; want 200", tc.name, status, err)
		}
	}
}

// An HTTP/1.0 answer without a length ends when the server closes.
func TestLeanClientReadsABodyUntilClose(t *testing.T) {
	srv := newLeanServer(t, func(w http.ResponseWriter, r *http.Request) {
		nc, bw, _ := http.NewResponseController(w).Hijack()
		_, _ = bw.WriteString("HTTP/1.0 404 Not Found\r\nX-Long: " + strings.Repeat("y", 1000) + "\r\n\r\n" + strings.Repeat("z", 100_000))
		_ = bw.Flush()
		_ = nc.Close()
	})
	ep, c := leanConn(t, srv.URL)
	for range 3 {
		if status, err := c.do(context.Background(), ep.request(http.MethodGet, "/", nil)); err != nil || status != 404 {
			t.Fatalf("got %d, %v; want 404", status, err)
		}
	}
	if got := srv.conns.Load(); got != 3 {
		t.Errorf("%d connections for 3 answers that each closed theirs", got)
	}
}

func TestLeanClientHonoursTheContext(t *testing.T) {
	srv := newLeanServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select { // until the client gives up
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}
	})
	ep, c := leanConn(t, srv.URL)
	slow := ep.request(http.MethodGet, "/slow", nil)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	// The server holds /slow for 10 s: an answer before that, with the
	// context's error, is the context ending the request.
	if _, err := c.do(ctx, slow); !errors.Is(err, context.DeadlineExceeded) || errorKind(err) != "timeout" {
		t.Errorf("past the context's deadline: got %v", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	if _, err := c.do(ctx, slow); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v", err)
	}
	if _, err := c.do(ctx, slow); !errors.Is(err, context.Canceled) {
		t.Errorf("with a cancelled context: got %v", err)
	}

	if status, err := c.do(context.Background(), ep.request(http.MethodGet, "/", nil)); err != nil || status != 200 {
		t.Errorf("afterwards: %d, %v", status, err)
	}
}

func TestNewEndpoint(t *testing.T) {
	for target, want := range map[string]*endpoint{
		"http://127.0.0.1:8000":      {addr: "127.0.0.1:8000", host: "127.0.0.1:8000"},
		"http://api.example":         {addr: "api.example:80", host: "api.example"},
		"HTTP://[::1]:8000/trend/":   {addr: "[::1]:8000", host: "[::1]:8000", prefix: "/trend"},
		"https://api.example":        nil,
		"http://user:pw@api.example": nil,
		"http://api.example/?a=b":    nil,
		"api.example:8000":           nil,
	} {
		got := newEndpoint(target)
		if got == nil || want == nil {
			if got != want {
				t.Errorf("%s: got %+v, want %+v", target, got, want)
			}
		} else if *got != *want {
			t.Errorf("%s: got %+v, want %+v", target, *got, *want)
		}
	}
}

// An https target is loaded through net/http.
func TestLoadFallsBackToNetHTTPForHTTPS(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b, _ := io.ReadAll(r.Body); r.Method == http.MethodPost && string(b) == `{"tmdb_id":7}` {
			hits.Add(1)
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	defer srv.Close()
	a := NewAPI(srv.URL, 2)
	if a.lean != nil {
		t.Fatal("a lean endpoint for https")
	}
	a.client = srv.Client() // trusts the test certificate
	res, err := RunWorkers(context.Background(), Config{Connections: 2, Requests: 20, Expect: 202}, a.viewOp([]int64{7}))
	if err != nil || res.Succeeded != 20 || hits.Load() != 20 {
		t.Errorf("%d of 20 succeeded (%d at the server), %v", res.Succeeded, hits.Load(), err)
	}
}

// TestBenchServer is the benchmarks' server, not a test: run as a process
// of its own, so that the benchmarks' CPU time and allocations are the
// client's alone, it serves views as the API does until its standard
// input closes.
func TestBenchServer(t *testing.T) {
	if os.Getenv("LOADGEN_BENCH_SERVER") == "" {
		t.Skip("the benchmarks' server process")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"view_id":"00000000-0000-0000-0000-000000000000"}`)
	}))
	defer srv.Close()
	fmt.Println(srv.URL)
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// benchServer starts TestBenchServer and returns its URL.
func benchServer(b *testing.B) string {
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchServer$")
	cmd.Env = append(os.Environ(), "LOADGEN_BENCH_SERVER=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
	url, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("the server process: %v", err)
	}
	return strings.TrimSpace(url)
}

// BenchmarkLeanClient and BenchmarkNetHTTPClient post views to a local
// httptest server in another process: one at a time on one connection
// (serial), and from 8 goroutines a core at once (parallel). ns/op is a
// request's latency (serial) or the inverse of the throughput
// (parallel); cpu-ns/op is the CPU time, user and system, this process
// spent a request: what a load generator takes from a server on the same
// machine.
func BenchmarkLeanClient(b *testing.B) {
	url := benchServer(b)
	ep := newEndpoint(url)
	req := ep.request(http.MethodPost, "/api/movies/view", idBody(42))
	newOp := func() (func(), func()) {
		c := ep.newConn()
		return func() {
			if status, err := c.do(context.Background(), req); err != nil || status != 202 {
				b.Fatal(status, err)
			}
		}, c.Close
	}
	benchClient(b, newOp)
}

func BenchmarkNetHTTPClient(b *testing.B) {
	url := benchServer(b)
	a := NewAPI(url, benchParallelism*runtime.GOMAXPROCS(0))
	body := idBody(42)
	newOp := func() (func(), func()) {
		return func() {
			if status, err := a.post(context.Background(), "/api/movies/view", body); err != nil || status != 202 {
				b.Fatal(status, err)
			}
		}, func() {}
	}
	benchClient(b, newOp)
}

// BenchmarkRawHTTP measures what HTTP alone does on this machine, the
// ceiling of views accepted one a request: rawHTTPConnections keep-alive
// connections of the lean client (as `trend load` opens), each with one
// request in flight, posting a view to a do-nothing net/http handler in
// another process that answers 202 as the API does. The rate is b.N
// requests over the time they took. Run it with a count, e.g.
// -benchtime 300000x.
func BenchmarkRawHTTP(b *testing.B) {
	ep := newEndpoint(benchServer(b))
	req := ep.request(http.MethodPost, "/api/movies/view", idBody(42))
	conns := make([]*conn, rawHTTPConnections)
	for i := range conns {
		conns[i] = ep.newConn()
		defer conns[i].Close()
		// Dial outside the measurement.
		if status, err := conns[i].do(b.Context(), req); err != nil || status != http.StatusAccepted {
			b.Fatal(status, err)
		}
	}
	var left atomic.Int64
	left.Store(int64(b.N))
	failed := make(chan error, len(conns))
	b.ResetTimer()
	cpu0, start := processCPU(), time.Now()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				if status, err := c.do(b.Context(), req); err != nil || status != http.StatusAccepted {
					failed <- fmt.Errorf("status %d, error %v", status, err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(failed)
	for err := range failed {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "client-cpu-ns/op")
}

// rawHTTPConnections is the connections of the views benchmark.
const rawHTTPConnections = 64

const benchParallelism = 8

// benchClient runs the requests of newOp, each op on a goroutine of its
// own, and reports their CPU time.
func benchClient(b *testing.B, newOp func() (request, done func())) {
	b.Run("serial", func(b *testing.B) {
		request, done := newOp()
		defer done()
		request() // dials outside the measurement
		b.ReportAllocs()
		cpu0 := processCPU()
		for b.Loop() {
			request()
		}
		b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetParallelism(benchParallelism)
		b.ReportAllocs()
		cpu0 := processCPU()
		b.RunParallel(func(pb *testing.PB) {
			request, done := newOp()
			defer done()
			for pb.Next() {
				request()
			}
		})
		b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
	})
}
