package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/movietrend/trend/internal/messaging"
	"github.com/movietrend/trend/internal/testenv"
	"github.com/movietrend/trend/internal/tmdbfake"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "trend-e2e-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "trend")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build trend:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fakeTMDB serves the bundled catalog, with scripted failures per movie.
type fakeTMDB struct {
	*httptest.Server
	mu       sync.Mutex
	failures map[string][]int // movie id -> statuses to answer before the real one
	requests map[string]int
}

const testKey = "e2e-secret-key-0123456789"

func newFakeTMDB(t *testing.T) *fakeTMDB {
	catalog, err := tmdbfake.DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	real := tmdbfake.NewHandler(catalog, tmdbfake.Options{APIKey: testKey})
	f := &fakeTMDB{failures: map[string][]int{}, requests: map[string]int{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		f.mu.Lock()
		f.requests[id]++
		var status int
		if q := f.failures[id]; len(q) > 0 {
			status, f.failures[id] = q[0], q[1:]
		}
		f.mu.Unlock()
		switch status {
		case 0:
			real.ServeHTTP(w, r)
		case http.StatusNotFound: // TMDB does not know the movie
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `{"success":false,"status_code":34,"status_message":"The resource you requested could not be found."}`)
		case http.StatusTooManyRequests:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `{"success":false,"status_code":25,"status_message":"Your request count (41) is over the allowed limit of 40."}`)
		default:
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `{"success":false,"status_code":11,"status_message":"Internal error: Something went wrong, contact TMDb."}`)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeTMDB) fail(id int64, statuses ...int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures[strconv.FormatInt(id, 10)] = statuses
}

func (f *fakeTMDB) requestsFor(id int64) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[strconv.FormatInt(id, 10)]
}

// system is one running `trend all` on its own database and vhost.
type system struct {
	t       *testing.T
	base    string
	amqpURL string
	dbURL   string
	tmdb    *fakeTMDB
	logs    *bytes.Buffer
	proc    *process // trend all
}

// process is a started trend process. exited is closed once it has
// ended, after err got cmd.Wait's result: tests ask exited, never
// cmd.ProcessState, which cmd.Wait writes from its own goroutine.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

// startProcess starts cmd, failing t if it cannot.
func startProcess(t testing.TB, cmd *exec.Cmd) *process {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", strings.Join(cmd.Args, " "), err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p
}

// running reports whether the process has not exited yet, without waiting.
func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// terminate sends SIGTERM and waits for the exit, as an orchestrator
// does: up to 30 s, then SIGKILL. It returns how the process ended, and
// whether it did so within the 30 s.
func (p *process) terminate() (err error, inTime bool) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return p.err, true
	case <-time.After(30 * time.Second):
		p.kill()
		return p.err, false
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *process) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

type sysOptions struct {
	amqpURL string // default: a fresh vhost
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startSystem(t *testing.T, o sysOptions) *system {
	t.Helper()
	s := &system{t: t, dbURL: testenv.DatabaseURL(t), tmdb: newFakeTMDB(t), logs: &bytes.Buffer{}}
	s.amqpURL = o.amqpURL
	if s.amqpURL == "" {
		s.amqpURL = testenv.BrokerURL(t)
	}
	addr := freeAddr(t)
	s.base = "http://" + addr
	cmd := exec.Command(binary, "all")
	cmd.Env = s.env(addr)
	cmd.Stdout, cmd.Stderr = syncWriter(s.logs), syncWriter(s.logs)
	s.proc = startProcess(t, cmd)
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("trend all logs:\n%s", tail(s.logsText(), 60))
		}
	})
	waitHealthy(t, s.base, 30*time.Second)
	return s
}

// waitHealthy waits until the API at base answers /healthz with 200.
func waitHealthy(t *testing.T, base string, timeout time.Duration) {
	t.Helper()
	testenv.WaitFor(t, timeout, "the API to answer /healthz", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

var logMu sync.Mutex

type lockedWriter struct{ w io.Writer }

func (l lockedWriter) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	return l.w.Write(p)
}

func syncWriter(w io.Writer) io.Writer { return lockedWriter{w} }

func (s *system) logsText() string {
	logMu.Lock()
	defer logMu.Unlock()
	return s.logs.String()
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// env is the environment of the system's processes.
func (s *system) env(addr string) []string {
	return append(os.Environ(),
		"DATABASE_URL="+s.dbURL, "AMQP_URL="+s.amqpURL, "HTTP_ADDR="+addr,
		"TMDB_BASE_URL="+s.tmdb.URL+"/3", "TMDB_API_KEY="+testKey, "LOG_LEVEL=debug", "ADMIN_TOKEN="+adminToken)
}

const adminToken = "e2e-admin-token"

// stop sends SIGTERM and waits for a clean exit. trend all having exited
// by itself before (a crash after the test's last request) fails the test.
func (s *system) stop() {
	if !s.proc.running() {
		// The test's cleanup logs the tail of trend all's logs after this.
		s.t.Errorf("trend all exited by itself before the test stopped it: %v; want it running until SIGTERM", s.proc.err)
		return
	}
	switch err, inTime := s.proc.terminate(); {
	case !inTime:
		s.t.Error("trend all did not stop within 30s of SIGTERM")
	case err != nil:
		s.t.Errorf("trend all after SIGTERM: got %v, want a clean exit", err)
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (s *system) do(method, path, contentType, body string) response {
	s.t.Helper()
	h := http.Header{}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	return s.send(method, path, h, body)
}

// send makes one request with the given headers, and fails the test at
// once if it gets no answer. Only the test's own goroutine may call it
// (t.Fatal ends the goroutine that calls it); others call trySend.
func (s *system) send(method, path string, header http.Header, body string) response {
	s.t.Helper()
	r, err := s.trySend(method, path, header, body)
	if err != nil {
		s.t.Fatal(err)
	}
	return r
}

// trySend makes one request with the given headers and returns the error
// that left it without an answer, for goroutines other than the test's:
// they report it with t.Errorf and return.
func (s *system) trySend(method, path string, header http.Header, body string) (response, error) {
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		return response{}, err
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}, nil
}

func (s *system) postJSON(path, body string) response {
	s.t.Helper()
	return s.do(http.MethodPost, path, "application/json", body)
}

// tryPostJSON is postJSON for goroutines other than the test's (trySend).
func (s *system) tryPostJSON(path, body string) (response, error) {
	return s.trySend(http.MethodPost, path, http.Header{"Content-Type": {"application/json"}}, body)
}

type movie struct {
	TMDBID             int64    `json:"tmdb_id"`
	Title              *string  `json:"title"`
	Status             string   `json:"status"`
	InternalViewsCount int64    `json:"internal_views_count"`
	ExternalScore      *float64 `json:"external_score"`
	FinalTrendScore    float64  `json:"final_trend_score"`
	RegisteredAt       string   `json:"registered_at"`
	LastUpdatedAt      string   `json:"last_updated_at"`
}

// movie returns the movie and the HTTP status of GET /api/movies/{id}.
func (s *system) movie(id int64) (movie, int) {
	s.t.Helper()
	r := s.do(http.MethodGet, "/api/movies/"+strconv.FormatInt(id, 10), "", "")
	var m movie
	if r.status == http.StatusOK {
		if err := json.Unmarshal(r.body, &m); err != nil {
			s.t.Fatalf("decode movie: %v: %s", err, r.body)
		}
	}
	return m, r.status
}

func (s *system) register(id int64) {
	s.t.Helper()
	if r := s.postJSON("/api/movies/register", fmt.Sprintf(`{"tmdb_id":%d}`, id)); r.status != http.StatusAccepted {
		s.t.Fatalf("register %d: got %d %s, want 202", id, r.status, r.body)
	}
}

func (s *system) waitActive(id int64) movie {
	s.t.Helper()
	var m movie
	testenv.WaitFor(s.t, 30*time.Second, fmt.Sprintf("movie %d to become active", id), func() bool {
		m, _ = s.movie(id)
		return m.Status == "active"
	})
	return m
}

func (s *system) waitViews(id, want int64) {
	s.t.Helper()
	var m movie
	testenv.WaitFor(s.t, 60*time.Second, fmt.Sprintf("movie %d to count %d views", id, want), func() bool {
		m, _ = s.movie(id)
		return m.InternalViewsCount >= want
	})
	// Let anything in flight land, then check nothing was counted twice.
	s.waitQuiet(id)
	if m, _ = s.movie(id); m.InternalViewsCount != want {
		s.t.Errorf("movie %d: got %d views, want exactly %d", id, m.InternalViewsCount, want)
	}
}

// waitQuiet waits until nothing is left to land, as GET /api/pipeline
// sees it (no outbox backlog, no event the projection has not applied, no
// message ready in a queue but the dead letters), twice in a row, and a
// further second with the views counted of ids (the movies whose counts
// the caller compares next) the same from the first look to the last. No
// figure shows a message a handler holds unacknowledged: a second count
// of a view landing late would change a count read once after the quiet
// look, and here it starts the wait over instead, so that the caller's
// exact comparison sees it.
func (s *system) waitQuiet(ids ...int64) {
	s.t.Helper()
	quiet := func() bool {
		r := s.do(http.MethodGet, "/api/pipeline", "", "")
		if r.status != http.StatusOK {
			return false
		}
		var p struct {
			OutboxBacklog       int64 `json:"outbox_backlog"`
			ProjectionLagEvents int64 `json:"projection_lag_events"`
			Queues              []struct {
				Name     string `json:"name"`
				Messages int    `json:"messages"`
			} `json:"queues"`
		}
		if err := json.Unmarshal(r.body, &p); err != nil {
			s.t.Fatalf("decode the pipeline's state: %v: %s", err, r.body)
		}
		if p.OutboxBacklog != 0 || p.ProjectionLagEvents != 0 {
			return false
		}
		for _, q := range p.Queues {
			if q.Messages != 0 && q.Name != messaging.DeadLetterTopic {
				return false
			}
		}
		return true
	}
	counts := func() []int64 {
		out := make([]int64, len(ids))
		for k, id := range ids {
			m, _ := s.movie(id)
			out[k] = m.InternalViewsCount
		}
		return out
	}
	testenv.WaitFor(s.t, 60*time.Second, "the pipeline to be quiet and the views counted to stay the same", func() bool {
		if !quiet() {
			return false
		}
		before := counts()
		time.Sleep(1100 * time.Millisecond) // the pipeline view's snapshot lives a second
		if !quiet() {
			return false
		}
		time.Sleep(time.Second) // for messages being handled
		return quiet() && slices.Equal(counts(), before)
	})
}

// streamViews sends views of ids, in turn, from workers clients at once,
// until the stop it returns is called; stop waits for the clients and
// returns how many views of each id were accepted.
func (s *system) streamViews(workers int, ids ...int64) (stop func() []int64) {
	accepted := make([]atomic.Int64, len(ids))
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				k := (w + i) % len(ids)
				r, err := s.tryPostJSON("/api/movies/view", fmt.Sprintf(`{"tmdb_id":%d}`, ids[k]))
				if err != nil {
					s.t.Errorf("view: %v", err)
					return
				}
				if r.status != http.StatusAccepted {
					s.t.Errorf("view: got %d", r.status)
					return
				}
				accepted[k].Add(1)
			}
		})
	}
	return func() []int64 {
		close(done)
		wg.Wait()
		out := make([]int64, len(ids))
		for k := range accepted {
			out[k] = accepted[k].Load()
		}
		return out
	}
}
