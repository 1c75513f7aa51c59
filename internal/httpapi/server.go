// Package httpapi is the HTTP API: commands in, the trend projection out,
// live updates over Server-Sent Events, health checks. Every error is an
// RFC 9457 problem.
package httpapi

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/movietrend/trend/commands"
	"github.com/movietrend/trend/internal/metrics"
	"github.com/movietrend/trend/internal/pipeline"
	"github.com/movietrend/trend/internal/registry"
	"github.com/movietrend/trend/projections/trend"
)

// Commands is the write side the API drives.
type Commands interface {
	RegisterMovie(ctx context.Context, id int64, correlationID string) (registry.Registration, error)
	RefreshMovie(ctx context.Context, id int64, correlationID string) error
	RecordView(ctx context.Context, v commands.View) error
}

// Queries is the read side the API serves.
type Queries interface {
	List(ctx context.Context, limit, offset int) ([]trend.Movie, int64, error)
	Get(ctx context.Context, id int64) (trend.Movie, error)
	ChangedSince(ctx context.Context, since int64, limit int) ([]trend.Movie, error)
	Head(ctx context.Context) (int64, error)
}

// Trends answers the time-decayed ranking and explains scores.
type Trends interface {
	Trending(ctx context.Context, w trend.Window, limit, offset int, now time.Time) ([]trend.Trending, int64, error)
	Explain(ctx context.Context, id int64, resolution string, now time.Time) (trend.Breakdown, error)
	// Pending explains a registered movie the ranking has not got yet.
	Pending(ctx context.Context, id int64, resolution string, now time.Time) (trend.Breakdown, error)
}

// Registrations tells about movies the projection has not caught up with.
type Registrations interface {
	Get(ctx context.Context, id int64) (registry.Registration, error)
}

// Pipeline reports the state of the message pipeline.
type Pipeline interface {
	Stats(ctx context.Context) (pipeline.Stats, error)
}

// Check is one readiness check (PostgreSQL, RabbitMQ).
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// Deps are the API's dependencies.
type Deps struct {
	Commands      Commands
	Queries       Queries
	Registrations Registrations
	Trends        Trends
	Replays       Replays
	DeadLetters   DeadLetters
	// AdminToken enables the admin endpoints; empty disables them.
	AdminToken string
	// Metrics, if set, measures every request and is served on /metrics.
	Metrics *metrics.Metrics
	// RateLimit is the write requests per second allowed to one client
	// (by IP), with bursts of RateBurst; 0 turns the limit off.
	RateLimit float64
	RateBurst int
	// CORSOrigins are the origins browsers may call the API from; empty
	// means the API's own origin only.
	CORSOrigins []string
	Checks      []Check
	Pipeline    Pipeline
	// Dashboard serves the web dashboard at / (optional).
	Dashboard http.Handler
	// RabbitMQManagementURL is shown to operators (the management UI).
	RabbitMQManagementURL string
	Logger                *slog.Logger
	Now                   func() time.Time
	// StreamInterval is how often the live stream looks for changes (the
	// coalescing window); default 250ms.
	StreamInterval time.Duration
	// StreamKeepAlive is how long a stream stays quiet before it sends a
	// comment that keeps it open through proxies (default 15s), and
	// StreamWriteTimeout how long one write to its client may take
	// (default 10s).
	StreamKeepAlive, StreamWriteTimeout time.Duration
	// StreamMaxClients bounds the live streams open at once; more are
	// refused (503) until one ends. Default 1000.
	StreamMaxClients int
	// BodyReadTimeout bounds the reading of a request's body, from when
	// its handler starts reading it (default 10 s).
	BodyReadTimeout time.Duration
	// Draining is closed when the server begins to shut down: live
	// streams end then (their clients reconnect to another instance, or
	// to this one when it is back), so that the shutdown need not wait
	// for them. Nil: a stream ends with its request only.
	Draining <-chan struct{}
}

type server struct {
	Deps
	stream *hub
	pages  *pageCache
	ready  *readiness
	// ctx lives as long as the API: background work (replays) runs in it.
	ctx context.Context
}

// New returns the API's handler. Its background work (the live stream's
// poller, the list's head lookups, replays) runs until ctx ends: cancel it
// once the server has stopped, so that requests still being answered
// during a shutdown are answered in full.
func New(ctx context.Context, d Deps) http.Handler {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.StreamInterval == 0 {
		d.StreamInterval = 250 * time.Millisecond
	}
	if d.StreamKeepAlive == 0 {
		d.StreamKeepAlive = 15 * time.Second
	}
	if d.StreamWriteTimeout == 0 {
		d.StreamWriteTimeout = 10 * time.Second
	}
	if d.StreamMaxClients <= 0 {
		d.StreamMaxClients = 1000
	}
	if d.BodyReadTimeout == 0 {
		d.BodyReadTimeout = 10 * time.Second
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	s := &server{Deps: d, stream: newHub(d.Queries, d.StreamInterval, d.StreamKeepAlive, d.StreamMaxClients, d.Logger), pages: newPageCache(ctx, d.Queries.Head), ready: &readiness{checks: d.Checks}, ctx: ctx}
	go s.stream.run(ctx)

	r := chi.NewRouter()
	r.Use(s.deadlines, requestID, s.logRequests, s.recoverer)
	if d.Metrics != nil {
		// Outside cors and limitWrites, which answer before routing
		// (preflights, 429s), so that their answers are measured too; inside
		// the recoverer, so that a panic is measured (as a 500) on its way
		// to it. The fast lane serves through this same chain: its requests
		// are measured here, once.
		r.Use(d.Metrics.HTTP)
	}
	// GetHead answers HEAD with the GET route (health checks, curl -I).
	r.Use(decodedPath, middleware.GetHead, s.cors, s.limitWrites)
	if d.Metrics != nil {
		r.Method(http.MethodGet, "/metrics", answerWithin(d.Metrics.Handler().ServeHTTP))
	}
	// The dashboard answers GET and HEAD of every path outside /api.
	dashboardPath := func(path string) bool {
		return d.Dashboard != nil && path != "/api" && !strings.HasPrefix(path, "/api/")
	}
	notFound := func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, Problem{Type: typeNotFound, Status: http.StatusNotFound, Detail: "no such endpoint: " + echo(r.URL.Path)})
	}
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case !dashboardPath(r.URL.Path):
			notFound(w, r)
		case r.Method == http.MethodGet || r.Method == http.MethodHead:
			answerDeadline(w)
			d.Dashboard.ServeHTTP(w, r)
		default:
			methodNotAllowed(http.MethodGet, http.MethodHead)(w, r)
		}
	})
	// chi sends here every method it does not know (FOO), whatever the
	// path: a path no route serves is a 404, or the dashboard's.
	r.MethodNotAllowed(func(w http.ResponseWriter, req *http.Request) {
		// The path chi routed on: a raw one keeps its escaped slash (see
		// decodedPath), and the decoded one named the methods of another
		// route (POST .../27205%2Frefresh was told to use POST).
		routed := req.URL.Path
		if req.URL.RawPath != "" {
			routed = req.URL.RawPath
		}
		allowed := allowedMethods(r, routed)
		switch {
		case len(allowed) > 0:
			methodNotAllowed(allowed...)(w, req)
		case dashboardPath(req.URL.Path):
			methodNotAllowed(http.MethodGet, http.MethodHead)(w, req)
		default:
			notFound(w, req)
		}
	})
	s.docsRoutes(r)
	r.Get("/healthz", s.healthz)
	// The Python system's path, kept for its probes.
	r.Get("/health", s.healthz)
	r.Get("/readyz", s.readyz)
	// The API's routes sit in the top router, not in an /api sub-router:
	// each request is then one tree lookup, where a mounted sub-router
	// costs a second (and 7 of BenchmarkRecordView's 56 allocations).
	r.Post("/api/movies/register", s.registerMovie)
	r.Post("/api/movies/view", s.recordView)
	r.Post("/api/views", s.recordViews)
	// Without these, GET /api/movies/register would match /api/movies/{tmdb_id}.
	for _, path := range getGuards {
		r.Method(http.MethodGet, path, methodNotAllowed(http.MethodPost))
	}
	r.Post("/api/movies/{tmdb_id}/refresh", s.refreshMovie)
	// The Python system's path, kept for its clients.
	r.Post("/api/movies/trigger_external_update/{tmdb_id}", s.refreshMovie)
	r.Get("/api/movies", s.listMovies)
	r.Get("/api/movies/{tmdb_id}", s.getMovie)
	r.Get("/api/movies/{tmdb_id}/trend", s.explainMovie)
	r.Get("/api/trending", s.trending)
	r.Get("/api/stream", s.streamChanges)
	r.Get("/api/pipeline", s.pipeline)
	r.Route("/api/admin", func(r chi.Router) {
		r.Use(s.requireAdmin)
		r.Post("/replay", s.startReplay)
		r.Get("/replay", s.replayStatus)
		s.deadLetterRoutes(r)
	})
	return r
}

// getGuards are the command paths whose GET route only answers 405 (so
// that GET does not reach /api/movies/{tmdb_id}): a route, but not a
// method they serve.
var getGuards = []string{"/api/movies/register", "/api/movies/view"}

// allowedMethods lists the methods the router serves for path: not the
// GET of a guard, and HEAD wherever GET is served (middleware.GetHead
// answers it with the GET route).
func allowedMethods(r chi.Routes, path string) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		served := r.Match(chi.NewRouteContext(), m, path)
		switch m {
		case http.MethodGet:
			served = served && !slices.Contains(getGuards, path)
		case http.MethodHead:
			served = served || slices.Contains(out, http.MethodGet)
		}
		if served {
			out = append(out, m)
		}
	}
	return out
}

func methodNotAllowed(allowed ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeProblem(w, Problem{Type: typeMethod, Status: http.StatusMethodNotAllowed,
			Detail: r.Method + " is not allowed on " + echo(r.URL.EscapedPath()) + "; allowed: " + strings.Join(allowed, ", ")})
	}
}

// logRequests logs every request with its request id, which also travels
// as the correlation id of the messages the request causes: debug for
// success, info for a client error, warn for a server error.
func (s *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		level := slog.LevelDebug
		switch {
		case ww.Status() >= 500:
			level = slog.LevelWarn
		case ww.Status() >= 400:
			level = slog.LevelInfo
		}
		// Most requests are logged at debug, usually off: building the
		// record's arguments would cost allocations on every request.
		if !s.Logger.Enabled(r.Context(), level) {
			return
		}
		// The path cut as a problem cuts it: a client's megabyte-long paths
		// rotated the whole log away in a few dozen requests.
		s.Logger.Log(r.Context(), level, "request", "method", r.Method, "path", echo(r.URL.Path), "status", ww.Status(),
			"took", time.Since(start).String(), "correlation_id", middleware.GetReqID(r.Context()))
	})
}

func (s *server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Logger.ErrorContext(r.Context(), "panic in HTTP handler", "panic", v, "path", r.URL.Path)
				writeProblem(w, Problem{Type: typeInternalError, Status: http.StatusInternalServerError, Detail: "an unexpected error occurred"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// writeJSON encodes v before it sends the status: an answer that cannot
// be encoded (a float JSON cannot carry) is a 500 problem, not a 200 with
// an empty body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeProblem(w, Problem{Type: typeInternalError, Status: http.StatusInternalServerError, Detail: "the answer could not be encoded"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	answerDeadline(w)
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// unavailable answers a failure of PostgreSQL or of a timeout: the
// request was not accepted, and may be retried.
func (s *server) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil && errors.Is(err, context.Canceled) {
		// The client went away while it waited: not the service's failure.
		s.Logger.InfoContext(r.Context(), "request abandoned by the client", "path", r.URL.Path)
	} else {
		s.Logger.ErrorContext(r.Context(), "request failed", "path", r.URL.Path, "error", err)
	}
	writeProblem(w, Problem{Type: typeUnavailable, Status: http.StatusServiceUnavailable,
		Detail: "the service cannot store or read data right now; retry shortly"})
}

func correlationID(r *http.Request) string { return middleware.GetReqID(r.Context()) }

// maxRequestIDLength bounds a client's X-Request-Id: it is stored with
// every command and event the request causes (the log's correlation_id,
// kept for ever), and a header can be a megabyte long.
const maxRequestIDLength = 128

// requestID gives each request an id: the client's X-Request-Id as it is,
// but for ids that are too long or hold other than letters, digits and
// ._:/+=@- (a UUID, NGINX's $request_id and most tracing ids pass), which
// are replaced by one of our own. The answer says the id, so that a
// client can quote it (the API logs it, and the commands carry it). Our
// own are random: chi's generator told every client the host's name and
// how many requests it had served.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(middleware.RequestIDHeader)
		if id == "" || !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set(middleware.RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), middleware.RequestIDKey, id)))
	})
}

// newRequestID is 16 random hex digits: unique enough to find a request
// in the logs, and telling nothing.
func newRequestID() string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64())
	return hex.EncodeToString(b[:])
}

func validRequestID(id string) bool {
	if len(id) > maxRequestIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("._:/+=@-", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func (s *server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// pipelineView is the pipeline's state with where to look further.
type pipelineView struct {
	pipeline.Stats
	RabbitMQManagementURL string `json:"rabbitmq_management_url"`
}

func (s *server) pipeline(w http.ResponseWriter, r *http.Request) {
	if s.Pipeline == nil {
		writeProblem(w, Problem{Type: typeNotFound, Status: http.StatusNotFound, Detail: "pipeline statistics are not available in this role"})
		return
	}
	st, err := s.Pipeline.Stats(r.Context())
	if err != nil {
		s.unavailable(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, pipelineView{Stats: st, RabbitMQManagementURL: s.RabbitMQManagementURL})
}

// decodedPath routes a request on its decoded path. chi routes on the raw
// path when it has escapes Go would not have written (/api/movies/%76iew),
// so such a request missed its route, and a percent-encoded id did not
// parse: RFC 3986 makes them the same URI as their decoded forms. An
// escaped slash is not a slash (it is data within a segment): such a path
// is routed as it came, and matches no route with the slash.
func decodedPath(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawPath != "" && !strings.Contains(strings.ToLower(r.URL.RawPath), "%2f") {
			r = r.WithContext(r.Context()) // a copy, with its own URL
			u := *r.URL
			u.RawPath = ""
			r.URL = &u
		}
		next.ServeHTTP(w, r)
	})
}
