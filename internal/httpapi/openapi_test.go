package httpapi_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/go-chi/chi/v5"

	"github.com/movietrend/trend/internal/dlq"
	"github.com/movietrend/trend/internal/httpapi"
	"github.com/movietrend/trend/internal/intake"
	"github.com/movietrend/trend/internal/metrics"
	"github.com/movietrend/trend/internal/pipeline"
	"github.com/movietrend/trend/internal/registry"
	"github.com/movietrend/trend/internal/replay"
	"github.com/movietrend/trend/projections/trend"
)

func init() {
	// Bodies that are not JSON are checked as text against their schema.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/event-stream", openapi3filter.PlainBodyDecoder)
}

// schemaOptions make formats (date-time, uuid, int32...) count.
var schemaOptions = []openapi3.SchemaValidationOption{
	openapi3.EnableFormatValidation(),
	openapi3.WithStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562)),
}

// undocumentedRoutes are routes of the router the OpenAPI document leaves
// out on purpose. Each must still exist (TestOpenAPIDescribesEveryRoute
// checks that too).
var undocumentedRoutes = map[string]string{
	// They only answer 405 (so that GET does not match /movies/{tmdb_id});
	// the document's introduction says any other method gives 405.
	"GET /api/movies/register": "405 guard",
	"GET /api/movies/view":     "405 guard",
	// The files the /docs page loads.
	"GET /docs/{asset}": "docs asset",
}

// loadOpenAPI fetches the document from the API and validates it against
// the OpenAPI specification (3.1: JSON Schema 2020-12), examples included.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	h := newHandler(t, t.Context(), newFakes())
	rec := serve(h, http.MethodGet, "/api/openapi.json", "", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /api/openapi.json: got %d, want 200 (body %s)", rec.Code, rec.Body)
	}
	if got := rec.Header().Get("Content-Type"); got != "application/json" {
		t.Errorf("GET /api/openapi.json Content-Type: got %q, want application/json", got)
	}
	onDisk, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rec.Body.Bytes(), onDisk) {
		t.Errorf("GET /api/openapi.json: got %d bytes that differ from openapi.json, want the file as it is", rec.Body.Len())
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(rec.Body.Bytes())
	if err != nil {
		t.Fatalf("load the OpenAPI document: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi: got %q, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(loader.Context, openapi3.EnableExamplesValidation(), openapi3.EnableMultiError()); err != nil {
		t.Fatalf("the OpenAPI document is not valid: %v", err)
	}
	return doc
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	ids := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			if op.OperationID == "" || op.Summary == "" || len(op.Tags) == 0 {
				t.Errorf("%s: got operationId %q, summary %q, tags %v; want all three", where, op.OperationID, op.Summary, op.Tags)
			}
			if other, dup := ids[op.OperationID]; dup {
				t.Errorf("operationId %q: used by %s and %s, want unique", op.OperationID, other, where)
			}
			ids[op.OperationID] = where
			admin := strings.HasPrefix(path, "/api/admin/")
			if admin {
				if op.Security == nil || len(*op.Security) != 1 || (*op.Security)[0]["adminToken"] == nil {
					t.Errorf("%s: got security %v, want adminToken", where, op.Security)
				}
				for _, status := range []int{401, 403, 404} {
					if op.Responses.Status(status) == nil {
						t.Errorf("%s: got no %d response, want one (admin endpoints)", where, status)
					}
				}
			} else if op.Security != nil {
				t.Errorf("%s: got security %v, want none (not an admin endpoint)", where, op.Security)
			}
			if op.RequestBody != nil {
				for _, status := range []int{400, 413, 415, 422} {
					if op.Responses.Status(status) == nil {
						t.Errorf("%s: got no %d response, want one (it reads a JSON body)", where, status)
					}
				}
			}
			for status, resp := range op.Responses.Map() {
				code, _ := strconv.Atoi(status)
				if code < 400 {
					continue
				}
				for ct := range resp.Value.Content {
					if ct != "application/problem+json" && path != "/readyz" {
						t.Errorf("%s %s: got content %s, want application/problem+json (errors are problems)", where, status, ct)
					}
				}
			}
		}
	}
	if doc.Components.SecuritySchemes["adminToken"] == nil || doc.Components.SecuritySchemes["adminToken"].Value.Scheme != "bearer" {
		t.Errorf("securitySchemes.adminToken: got %v, want an http bearer scheme", doc.Components.SecuritySchemes["adminToken"])
	}
}

// routeKey is "METHOD /path/{param}" in OpenAPI's template syntax.
func routeKey(method, pattern string) string {
	// chi writes {id:regexp}; OpenAPI writes {id}.
	pattern = regexp.MustCompile(`\{([^:}]+):[^}]*\}`).ReplaceAllString(pattern, "{$1}")
	if len(pattern) > 1 {
		pattern = strings.TrimSuffix(pattern, "/")
	}
	return method + " " + pattern
}

// routerRoutes lists the routes of the API's router, with every optional
// dependency present so that every route is mounted.
func routerRoutes(t *testing.T) map[string]bool {
	t.Helper()
	f := newDocFakes()
	routes, ok := httpapi.New(t.Context(), f.deps()).(chi.Routes)
	if !ok {
		t.Fatal("httpapi.New: got a handler that is not a chi.Routes, want the chi router")
	}
	got := map[string]bool{}
	err := chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		got[routeKey(method, route)] = true
		return nil
	})
	if err != nil {
		t.Fatalf("chi.Walk: %v", err)
	}
	return got
}

func documentedRoutes(doc *openapi3.T) map[string]bool {
	out := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			out[method+" "+path] = true
		}
	}
	return out
}

// TestOpenAPIDescribesEveryRoute fails when the router has a route the
// document does not describe, or the document a route the router lacks.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	inRouter := routerRoutes(t)
	inDoc := documentedRoutes(doc)
	for _, r := range sortedKeys(inRouter) {
		if !inDoc[r] && undocumentedRoutes[r] == "" {
			t.Errorf("route %s: in the router, not in openapi.json; describe it (or list it in undocumentedRoutes with the reason)", r)
		}
	}
	for _, r := range sortedKeys(inDoc) {
		if !inRouter[r] {
			t.Errorf("route %s: in openapi.json, not in the router; remove it from the document", r)
		}
	}
	for _, r := range sortedKeys(undocumentedRoutes) {
		if !inRouter[r] {
			t.Errorf("undocumentedRoutes lists %s, which the router does not have; remove it from the list", r)
		}
		if inDoc[r] {
			t.Errorf("undocumentedRoutes lists %s, which openapi.json describes; remove it from one of them", r)
		}
	}
	// The 405 guards answer nothing but 405.
	h := httpapi.New(t.Context(), newDocFakes().deps())
	for _, r := range sortedKeys(undocumentedRoutes) {
		if undocumentedRoutes[r] != "405 guard" {
			continue
		}
		method, path, _ := strings.Cut(r, " ")
		rec := serve(h, method, path, "", nil)
		checkProblem(t, rec, http.StatusMethodNotAllowed)
		if got := rec.Header().Get("Allow"); got != http.MethodPost {
			t.Errorf("%s Allow: got %q, want POST", r, got)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// docTrends is an in-memory Trends.
type docTrends struct {
	trending   []trend.Trending
	total      int64
	breakdowns map[int64]trend.Breakdown
	err        error
	pending    []string // the calls of Pending: "id/resolution"
}

func (f *docTrends) Trending(_ context.Context, _ trend.Window, _, _ int, _ time.Time) ([]trend.Trending, int64, error) {
	if f.err != nil {
		return nil, 0, f.err
	}
	return f.trending, f.total, nil
}

func (f *docTrends) Explain(_ context.Context, id int64, _ string, _ time.Time) (trend.Breakdown, error) {
	if f.err != nil {
		return trend.Breakdown{}, f.err
	}
	b, ok := f.breakdowns[id]
	if !ok {
		return trend.Breakdown{}, trend.ErrNotFound
	}
	return b, nil
}

// Pending answers as the ranker does for a movie it has not got yet: both
// scores 0, no views, an empty history.
func (f *docTrends) Pending(_ context.Context, id int64, resolution string, _ time.Time) (trend.Breakdown, error) {
	if f.err != nil {
		return trend.Breakdown{}, f.err
	}
	f.pending = append(f.pending, fmt.Sprintf("%d/%s", id, resolution))
	step, n := time.Hour, 168
	if resolution == "minute" {
		step, n = time.Minute, 2880
	} else {
		resolution = "hour"
	}
	history := make([]trend.Point, n)
	for i := range history {
		history[i].At = time.Date(2026, 11, 19, 11, 0, 0, 0, time.UTC).Add(time.Duration(i) * step)
	}
	terms := func(halfLife float64) trend.Decayed {
		return trend.Decayed{HalfLifeHours: halfLife, M: 500, C: 7.1, WeightedRating: 7.1}
	}
	return trend.Breakdown{TMDBID: id, Trend: map[trend.Window]trend.Decayed{trend.Day: terms(24), trend.Week: terms(168)},
		HistoryResolution: resolution, History: history}, nil
}

// docReplays is an in-memory Replays.
type docReplays struct {
	startErr  error
	latestErr error
	status    replay.Status
}

func (f *docReplays) Start(context.Context, string, bool, bool) (int64, error) {
	return f.status.ID, f.startErr
}

func (f *docReplays) Latest(_ context.Context, name string) (replay.Status, error) {
	st := f.status
	st.Projection = name
	return st, f.latestErr
}

func (f *docReplays) Projections() []string { return []string{"trend"} }

// docPipeline is an in-memory Pipeline.
type docPipeline struct {
	stats pipeline.Stats
	err   error
}

func (f *docPipeline) Stats(context.Context) (pipeline.Stats, error) { return f.stats, f.err }

// docFakes are fakes for every dependency, with realistic answers.
type docFakes struct {
	fakes
	trends     *docTrends
	replays    *docReplays
	pipe       *docPipeline
	dead       *docDeadLetters
	checks     []httpapi.Check
	adminToken string
	// rateLimit and rateBurst are the write limit: on in every case, so
	// that the document describes the API as it runs with one.
	rateLimit float64
	rateBurst int
}

// docOrigin is the origin the docFakes let call the API cross-site.
const docOrigin = "https://board.example.com"

const docAdminToken = "s3cret"

func fullMovie(id int64) trend.Movie {
	title, date, poster := "Inception", "2010-07-15", "/oYuLEt3zVCKq57qu2F8dT7NIa6f.jpg"
	vote, votes, pop := 8.4, int64(36512), 29.13
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	return trend.Movie{TMDBID: id, Title: &title, Status: registry.StatusActive, InternalViewsCount: 3,
		ExternalScore: &vote, VoteCount: &votes, Popularity: &pop, ReleaseDate: &date, PosterPath: &poster,
		Genres: []string{"Action", "Science Fiction"}, FinalTrendScore: 6.0, RegisteredAt: &at, LastUpdatedAt: at.Add(time.Minute), Change: 7}
}

func newDocFakes() docFakes {
	f := docFakes{fakes: newFakes(), adminToken: docAdminToken, rateLimit: 1000, rateBurst: 1000}
	active := fullMovie(27205)
	pending := trend.Movie{TMDBID: 550, Status: registry.StatusPending, Genres: []string{}, LastUpdatedAt: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
	f.qry.movies = []trend.Movie{active, pending}
	f.qry.total = 2
	f.qry.byID[27205] = active
	f.regs.regs[603] = registry.Registration{TMDBID: 603, Status: registry.StatusPending,
		RegisteredAt: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}

	windows := trend.Windows{LastHour: 1, Last24h: 2, Last7d: 3}
	history := make([]trend.Point, 0, 168)
	for i := range 168 {
		history = append(history, trend.Point{At: time.Date(2026, 11, 19, 11, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour), Views: int64(i % 2)})
	}
	f.trends = &docTrends{
		trending: []trend.Trending{
			{Movie: active, Window: trend.Day, TrendScore: 2.1, Attention: 2.9, WeightedRating: 7.3, Views: windows},
			{Movie: pending, Window: trend.Day, TrendScore: 0.7, Attention: 1, WeightedRating: 7.1, Views: trend.Windows{LastHour: 1, Last24h: 1, Last7d: 1}},
		},
		total: 2,
		breakdowns: map[int64]trend.Breakdown{27205: {
			TMDBID: 27205, Title: active.Title,
			Classic: trend.ClassicTerms{VoteAverage: 8.4, VoteTerm: 5.88, Views: 3, ViewsNormalized: 0.3, ViewsTerm: 0.09, FinalTrendScore: 6.0},
			Trend: map[trend.Window]trend.Decayed{
				trend.Day:  {HalfLifeHours: 24, Attention: 2.9, R: 8.4, V: 36512, M: 500, C: 7.1, WeightedRating: 8.38, TrendScore: 2.43},
				trend.Week: {HalfLifeHours: 168, Attention: 2.99, R: 8.4, V: 36512, M: 500, C: 7.1, WeightedRating: 8.38, TrendScore: 2.5},
			},
			Views: windows, HistoryResolution: "hour", History: history,
		}},
	}
	started, finished, diffs := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), time.Date(2026, 11, 26, 10, 1, 0, 0, time.UTC), int64(0)
	f.replays = &docReplays{status: replay.Status{ID: 4, Mode: "check", State: "done", Done: 1200, Total: 1200, Rate: 20,
		Differences: &diffs, StartedAt: &started, FinishedAt: &finished}}
	f.pipe = &docPipeline{stats: pipeline.Stats{At: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), LogHead: 120, EventsPerSecond: 3.5,
		OutboxBacklog: 2, ProjectionPosition: 118, ProjectionLagEvents: 2, ProjectionLagSeconds: 0.4,
		Queues: []pipeline.Queue{{Name: "commands", Messages: 0, Consumers: 1}, {Name: "poison", Messages: 1, Consumers: 0}}, DeadLetters: 1}}
	f.dead = newDocDeadLetters()
	f.checks = []httpapi.Check{
		{Name: "postgres", Run: func(context.Context) error { return nil }},
		{Name: "rabbitmq", Run: func(context.Context) error { return nil }},
	}
	return f
}

func (f docFakes) deps() httpapi.Deps {
	d := f.fakes.deps()
	if f.trends != nil {
		d.Trends = f.trends
	}
	if f.replays != nil {
		d.Replays = f.replays
	}
	if f.pipe != nil {
		d.Pipeline = f.pipe
	}
	if f.dead != nil {
		d.DeadLetters = f.dead
	}
	d.Checks = f.checks
	d.AdminToken = f.adminToken
	// Every optional part on, so that every route is mounted and every
	// answer can come up.
	d.Metrics = metrics.New()
	d.RateLimit, d.RateBurst = f.rateLimit, f.rateBurst
	d.CORSOrigins = []string{docOrigin}
	d.RabbitMQManagementURL = "http://localhost:15672"
	d.Dashboard = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<!doctype html><title>dashboard</title>")
	})
	return d
}

// reqCheck says what the document must say of a request.
type reqCheck int

const (
	reqUnchecked reqCheck = iota // the document cannot tell (a rule of the code beyond JSON Schema)
	reqValid                     // the document must accept it
	reqInvalid                   // the document must refuse it
)

// apiCase is a request and the answer the API gives.
type apiCase struct {
	name        string
	method      string
	target      string // the URL, with its query
	path        string // the document's path template
	contentType string
	body        string
	auth        string // the Authorization header; "" for none
	setup       func(*docFakes)
	timeout     time.Duration // for the stream: how long to listen
	prior       int           // the same request sent this many times first (to use up the rate limit)
	want        int
	req         reqCheck
}

var docBearer = "Bearer " + docAdminToken

func apiCases() []apiCase {
	const (
		register = "/api/movies/register"
		view     = "/api/movies/view"
		batch    = "/api/views"
		refresh  = "/api/movies/{tmdb_id}/refresh"
		trigger  = "/api/movies/trigger_external_update/{tmdb_id}"
		list     = "/api/movies"
		get      = "/api/movies/{tmdb_id}"
		explain  = "/api/movies/{tmdb_id}/trend"
		trending = "/api/trending"
		stream   = "/api/stream"
		pipe     = "/api/pipeline"
		replayP  = "/api/admin/replay"
	)
	bigBody := `{"tmdb_id":1,"x":"` + strings.Repeat("a", 1<<20) + `"}`
	storeDown := func(f *docFakes) {
		f.cmd.registerErr, f.cmd.viewErr, f.cmd.refreshErr = errDown, errDown, errDown
		f.qry.listErr, f.qry.getErr = errDown, errDown
		f.trends.err, f.pipe.err = errDown, errDown
		f.replays.startErr, f.replays.latestErr = errDown, errDown
	}
	notTracked := func(f *docFakes) { f.cmd.refreshErr, f.cmd.viewErr = intake.ErrNotTracked, intake.ErrNotTracked }
	noTrends := func(f *docFakes) { f.trends = nil }
	// One request a client, then none for a long while: the second is 429.
	oneWrite := func(f *docFakes) { f.rateLimit, f.rateBurst = 0.001, 1 }
	recent := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339Nano)
	cases := []apiCase{
		{name: "register", method: "POST", target: register, path: register, body: `{"tmdb_id":27205}`, want: 202, req: reqValid},
		{name: "register +json", method: "POST", target: register, path: register, contentType: "application/vnd.trend+json", body: `{"tmdb_id":27205}`, want: 202},
		{name: "register malformed", method: "POST", target: register, path: register, body: `{"tmdb_id":`, want: 400, req: reqInvalid},
		{name: "register twice", method: "POST", target: register, path: register, body: `{"tmdb_id":27205}`, want: 409, req: reqValid,
			setup: func(f *docFakes) { f.cmd.registerErr = intake.ErrAlreadyRegistered }},
		{name: "register too large", method: "POST", target: register, path: register, body: bigBody, want: 413, req: reqInvalid},
		{name: "register text", method: "POST", target: register, path: register, contentType: "text/plain", body: `{"tmdb_id":27205}`, want: 415, req: reqInvalid},
		{name: "register missing id", method: "POST", target: register, path: register, body: `{}`, want: 422, req: reqInvalid},
		{name: "register zero", method: "POST", target: register, path: register, body: `{"tmdb_id":0}`, want: 422, req: reqInvalid},
		{name: "register too big id", method: "POST", target: register, path: register, body: `{"tmdb_id":2147483648}`, want: 422, req: reqInvalid},
		{name: "register string id", method: "POST", target: register, path: register, body: `{"tmdb_id":"27205"}`, want: 422, req: reqInvalid},
		{name: "register fraction", method: "POST", target: register, path: register, body: `{"tmdb_id":1.5}`, want: 422, req: reqInvalid},
		{name: "register unknown field", method: "POST", target: register, path: register, body: `{"tmdb_id":1,"title":"x"}`, want: 422, req: reqInvalid},
		{name: "register array", method: "POST", target: register, path: register, body: `[1]`, want: 422, req: reqInvalid},
		{name: "register store down", method: "POST", target: register, path: register, body: `{"tmdb_id":27205}`, want: 503, req: reqValid, setup: storeDown},
		{name: "register over the rate", method: "POST", target: register, path: register, body: `{"tmdb_id":27205}`, want: 429, req: reqValid, setup: oneWrite, prior: 1},

		{name: "view", method: "POST", target: view, path: view, body: `{"tmdb_id":27205}`, want: 202, req: reqValid},
		{name: "view with id and time", method: "POST", target: view, path: view,
			body: `{"tmdb_id":27205,"view_id":"0b5c9f7e-3f2a-4c1d-9e8b-2a6f1c0d4e5f","viewed_at":"` + recent + `"}`, want: 202, req: reqValid},
		{name: "view nulls", method: "POST", target: view, path: view, body: `{"tmdb_id":27205,"view_id":null,"viewed_at":null}`, want: 202, req: reqValid},
		{name: "view malformed", method: "POST", target: view, path: view, body: `{`, want: 400, req: reqInvalid},
		{name: "view unknown movie", method: "POST", target: view, path: view, body: `{"tmdb_id":1}`, want: 404, req: reqValid, setup: notTracked},
		{name: "view too large", method: "POST", target: view, path: view, body: bigBody, want: 413, req: reqInvalid},
		{name: "view form", method: "POST", target: view, path: view, contentType: "application/x-www-form-urlencoded", body: `tmdb_id=1`, want: 415, req: reqInvalid},
		{name: "view bad uuid", method: "POST", target: view, path: view, body: `{"tmdb_id":1,"view_id":"nope"}`, want: 422, req: reqInvalid},
		{name: "view bad time", method: "POST", target: view, path: view, body: `{"tmdb_id":1,"viewed_at":"yesterday"}`, want: 422, req: reqInvalid},
		{name: "view too old", method: "POST", target: view, path: view, body: `{"tmdb_id":1,"viewed_at":"2001-01-01T00:00:00Z"}`, want: 422},
		{name: "view unknown field", method: "POST", target: view, path: view, body: `{"tmdb_id":1,"count":2}`, want: 422, req: reqInvalid},
		{name: "view store down", method: "POST", target: view, path: view, body: `{"tmdb_id":1}`, want: 503, req: reqValid, setup: storeDown},
		{name: "view over the rate", method: "POST", target: view, path: view, body: `{"tmdb_id":1}`, want: 429, req: reqValid, setup: oneWrite, prior: 1},

		{name: "batch", method: "POST", target: batch, path: batch, body: `{"views":[{"tmdb_id":27205},{"tmdb_id":157336,"view_id":"0b5c9f7e-3f2a-4c1d-9e8b-2a6f1c0d4e5f","viewed_at":"` + recent + `"}]}`, want: 202, req: reqValid},
		{name: "batch malformed", method: "POST", target: batch, path: batch, body: `{"views":[`, want: 400, req: reqInvalid},
		{name: "batch unknown movie", method: "POST", target: batch, path: batch, body: `{"views":[{"tmdb_id":1}]}`, want: 404, req: reqValid, setup: notTracked},
		{name: "batch over 1000", method: "POST", target: batch, path: batch, body: `{"views":[` + strings.TrimSuffix(strings.Repeat(`{"tmdb_id":1},`, 1001), ",") + `]}`, want: 413, req: reqInvalid},
		{name: "batch text", method: "POST", target: batch, path: batch, contentType: "text/plain", body: `{"views":[]}`, want: 415, req: reqInvalid},
		{name: "batch empty", method: "POST", target: batch, path: batch, body: `{"views":[]}`, want: 422, req: reqInvalid},
		{name: "batch bad view", method: "POST", target: batch, path: batch, body: `{"views":[{"tmdb_id":1},{"tmdb_id":"x"}]}`, want: 422, req: reqInvalid},
		{name: "batch store down", method: "POST", target: batch, path: batch, body: `{"views":[{"tmdb_id":1}]}`, want: 503, req: reqValid, setup: storeDown},
		{name: "batch over the rate", method: "POST", target: batch, path: batch, body: `{"views":[{"tmdb_id":1}]}`, want: 429, req: reqValid, setup: oneWrite, prior: 1},

		{name: "refresh", method: "POST", target: "/api/movies/27205/refresh", path: refresh, want: 202, req: reqValid},
		{name: "refresh unknown", method: "POST", target: "/api/movies/1/refresh", path: refresh, want: 404, req: reqValid, setup: notTracked},
		{name: "refresh bad id", method: "POST", target: "/api/movies/abc/refresh", path: refresh, want: 422, req: reqInvalid},
		{name: "refresh id 0", method: "POST", target: "/api/movies/0/refresh", path: refresh, want: 422, req: reqInvalid},
		{name: "refresh store down", method: "POST", target: "/api/movies/27205/refresh", path: refresh, want: 503, req: reqValid, setup: storeDown},
		{name: "refresh over the rate", method: "POST", target: "/api/movies/27205/refresh", path: refresh, want: 429, req: reqValid, setup: oneWrite, prior: 1},
		{name: "trigger", method: "POST", target: "/api/movies/trigger_external_update/27205", path: trigger, want: 202, req: reqValid},
		{name: "trigger unknown", method: "POST", target: "/api/movies/trigger_external_update/1", path: trigger, want: 404, req: reqValid, setup: notTracked},
		{name: "trigger bad id", method: "POST", target: "/api/movies/trigger_external_update/2147483648", path: trigger, want: 422, req: reqInvalid},
		{name: "trigger store down", method: "POST", target: "/api/movies/trigger_external_update/27205", path: trigger, want: 503, req: reqValid, setup: storeDown},
		{name: "trigger over the rate", method: "POST", target: "/api/movies/trigger_external_update/27205", path: trigger, want: 429, req: reqValid, setup: oneWrite, prior: 1},

		{name: "list", method: "GET", target: list, path: list, want: 200, req: reqValid},
		{name: "list page", method: "GET", target: list + "?limit=1000&offset=2147483647", path: list, want: 200, req: reqValid},
		{name: "list empty", method: "GET", target: list, path: list, want: 200, req: reqValid,
			setup: func(f *docFakes) { f.qry.movies, f.qry.total = []trend.Movie{}, 0 }},
		{name: "list limit 0", method: "GET", target: list + "?limit=0", path: list, want: 422, req: reqInvalid},
		{name: "list limit 1001", method: "GET", target: list + "?limit=1001", path: list, want: 422, req: reqInvalid},
		{name: "list offset -1", method: "GET", target: list + "?offset=-1", path: list, want: 422, req: reqInvalid},
		{name: "list limit not percent-encoded", method: "GET", target: list + "?limit=%zz", path: list, want: 422},
		{name: "list store down", method: "GET", target: list, path: list, want: 503, req: reqValid, setup: storeDown},

		{name: "get", method: "GET", target: "/api/movies/27205", path: get, want: 200, req: reqValid},
		{name: "get pending", method: "GET", target: "/api/movies/603", path: get, want: 200, req: reqValid},
		{name: "get unknown", method: "GET", target: "/api/movies/1", path: get, want: 404, req: reqValid},
		{name: "get bad id", method: "GET", target: "/api/movies/-5", path: get, want: 422, req: reqInvalid},
		{name: "get store down", method: "GET", target: "/api/movies/1", path: get, want: 503, req: reqValid, setup: storeDown},

		{name: "explain", method: "GET", target: "/api/movies/27205/trend", path: explain, want: 200, req: reqValid},
		{name: "explain minutes", method: "GET", target: "/api/movies/27205/trend?resolution=minute", path: explain, want: 200, req: reqValid},
		{name: "explain unknown", method: "GET", target: "/api/movies/1/trend", path: explain, want: 404, req: reqValid},
		{name: "explain pending", method: "GET", target: "/api/movies/603/trend", path: explain, want: 200, req: reqValid},
		{name: "explain pending minutes", method: "GET", target: "/api/movies/603/trend?resolution=minute", path: explain, want: 200, req: reqValid},
		{name: "explain without trends", method: "GET", target: "/api/movies/27205/trend", path: explain, want: 404, req: reqValid, setup: noTrends},
		{name: "explain bad id", method: "GET", target: "/api/movies/x/trend", path: explain, want: 422, req: reqInvalid},
		{name: "explain bad resolution", method: "GET", target: "/api/movies/27205/trend?resolution=second", path: explain, want: 422, req: reqInvalid},
		{name: "explain store down", method: "GET", target: "/api/movies/27205/trend", path: explain, want: 503, req: reqValid, setup: storeDown},

		{name: "trending", method: "GET", target: trending, path: trending, want: 200, req: reqValid},
		{name: "trending week", method: "GET", target: trending + "?window=week&limit=1000&offset=10000", path: trending, want: 200, req: reqValid},
		{name: "trending without trends", method: "GET", target: trending, path: trending, want: 404, req: reqValid, setup: noTrends},
		{name: "trending month", method: "GET", target: trending + "?window=month", path: trending, want: 422, req: reqInvalid},
		{name: "trending offset too far", method: "GET", target: trending + "?offset=10001", path: trending, want: 422, req: reqInvalid},
		{name: "trending store down", method: "GET", target: trending, path: trending, want: 503, req: reqValid, setup: storeDown},

		{name: "stream", method: "GET", target: stream, path: stream, want: 200, req: reqValid, timeout: 100 * time.Millisecond},
		{name: "stream store down", method: "GET", target: stream, path: stream, want: 503, req: reqValid, timeout: 50 * time.Millisecond,
			setup: func(f *docFakes) { f.qry.headGate = make(chan struct{}) }},

		{name: "pipeline", method: "GET", target: pipe, path: pipe, want: 200, req: reqValid},
		{name: "pipeline broker down", method: "GET", target: pipe, path: pipe, want: 200, req: reqValid,
			setup: func(f *docFakes) {
				f.pipe.stats.Queues, f.pipe.stats.DeadLetters, f.pipe.stats.BrokerError = []pipeline.Queue{}, -1, "RabbitMQ is unreachable"
			}},
		{name: "pipeline not here", method: "GET", target: pipe, path: pipe, want: 404, req: reqValid, setup: func(f *docFakes) { f.pipe = nil }},
		{name: "pipeline store down", method: "GET", target: pipe, path: pipe, want: 503, req: reqValid, setup: storeDown},

		{name: "replay", method: "POST", target: replayP, path: replayP, auth: docBearer, want: 202, req: reqValid},
		{name: "replay with body", method: "POST", target: replayP, path: replayP, auth: docBearer, body: `{"projection":"trend","check":true,"keep":false}`, want: 202, req: reqValid},
		{name: "replay running now", method: "POST", target: replayP, path: replayP, auth: docBearer, want: 202, req: reqValid,
			setup: func(f *docFakes) {
				f.replays.status = replay.Status{ID: 5, Mode: "rebuild", State: "running", Done: 10, Total: 1000, Rate: 100, LeftSeconds: 9.9, StartedAt: f.replays.status.StartedAt}
			}},
		{name: "replay malformed", method: "POST", target: replayP, path: replayP, auth: docBearer, body: `{"check":`, want: 400, req: reqInvalid},
		{name: "replay no token", method: "POST", target: replayP, path: replayP, want: 401},
		{name: "replay wrong token", method: "POST", target: replayP, path: replayP, auth: "Bearer nope", want: 403},
		{name: "replay admin off", method: "POST", target: replayP, path: replayP, auth: docBearer, want: 404, setup: func(f *docFakes) { f.adminToken = "" }},
		{name: "replay not here", method: "POST", target: replayP, path: replayP, auth: docBearer, want: 404, setup: func(f *docFakes) { f.replays = nil }},
		{name: "replay already running", method: "POST", target: replayP, path: replayP, auth: docBearer, want: 409, req: reqValid,
			setup: func(f *docFakes) { f.replays.startErr = fmt.Errorf("start: %w", replay.ErrRunning) }},
		{name: "replay of a log restored from another cluster", method: "POST", target: replayP, path: replayP, auth: docBearer, want: 409, req: reqValid,
			setup: func(f *docFakes) { f.replays.startErr = fmt.Errorf("start: %w", replay.ErrRestoredLog) }},
		{name: "replay too large", method: "POST", target: replayP, path: replayP, auth: docBearer, body: `{"projection":"` + strings.Repeat("a", 1<<20) + `"}`, want: 413},
		{name: "replay text", method: "POST", target: replayP, path: replayP, auth: docBearer, contentType: "text/plain", body: `check`, want: 415, req: reqInvalid},
		{name: "replay unknown projection", method: "POST", target: replayP, path: replayP, auth: docBearer, body: `{"projection":"nope"}`, want: 422},
		// The query names the projection when the body does not; it was
		// once dropped, and an unknown one started a rebuild of trend.
		{name: "replay unknown projection in the query", method: "POST", target: replayP + "?projection=nope", path: replayP, auth: docBearer, want: 422},
		{name: "replay projection in the query", method: "POST", target: replayP + "?projection=trend", path: replayP, auth: docBearer, want: 202, req: reqValid},
		{name: "replay unknown projection in the query, a body too", method: "POST", target: replayP + "?projection=nope", path: replayP, auth: docBearer, body: `{"check":true}`, want: 422},
		{name: "replay wrong type", method: "POST", target: replayP, path: replayP, auth: docBearer, body: `{"check":"yes"}`, want: 422, req: reqInvalid},
		{name: "replay keep with check", method: "POST", target: replayP, path: replayP, auth: docBearer, body: `{"check":true,"keep":true}`, want: 422},
		{name: "replay unknown field", method: "POST", target: replayP, path: replayP, auth: docBearer, body: `{"force":true}`, want: 422, req: reqInvalid},
		{name: "replay store down", method: "POST", target: replayP, path: replayP, auth: docBearer, want: 503, req: reqValid, setup: storeDown},
		{name: "replay status", method: "GET", target: replayP, path: replayP, auth: docBearer, want: 200, req: reqValid},
		{name: "replay status idle", method: "GET", target: replayP + "?projection=trend", path: replayP, auth: docBearer, want: 200, req: reqValid,
			setup: func(f *docFakes) { f.replays.status = replay.Status{State: "idle"} }},
		{name: "replay status failed", method: "GET", target: replayP, path: replayP, auth: docBearer, want: 200, req: reqValid,
			setup: func(f *docFakes) {
				msg := "interrupted"
				f.replays.status = replay.Status{ID: 6, Mode: "rebuild", State: "failed", Done: 3, Total: 9, Error: &msg,
					StartedAt: f.replays.status.StartedAt, FinishedAt: f.replays.status.FinishedAt}
			}},
		{name: "replay status no token", method: "GET", target: replayP, path: replayP, want: 401},
		{name: "replay status wrong token", method: "GET", target: replayP, path: replayP, auth: "Bearer nope", want: 403},
		{name: "replay status admin off", method: "GET", target: replayP, path: replayP, auth: docBearer, want: 404, setup: func(f *docFakes) { f.adminToken = "" }},
		{name: "replay status unknown projection", method: "GET", target: replayP + "?projection=nope", path: replayP, auth: docBearer, want: 422},
		{name: "replay status store down", method: "GET", target: replayP, path: replayP, auth: docBearer, want: 503, req: reqValid, setup: storeDown},

		{name: "healthz", method: "GET", target: "/healthz", path: "/healthz", want: 200, req: reqValid},
		{name: "health", method: "GET", target: "/health", path: "/health", want: 200, req: reqValid},
		{name: "readyz", method: "GET", target: "/readyz", path: "/readyz", want: 200, req: reqValid},
		{name: "readyz broker down", method: "GET", target: "/readyz", path: "/readyz", want: 503, req: reqValid,
			setup: func(f *docFakes) {
				f.checks[1].Run = func(context.Context) error { return errAMQPCheck }
			}},
		{name: "openapi", method: "GET", target: "/api/openapi.json", path: "/api/openapi.json", want: 200, req: reqValid},
		{name: "docs", method: "GET", target: "/docs", path: "/docs", want: 200, req: reqValid},
		{name: "metrics", method: "GET", target: "/metrics", path: "/metrics", want: 200, req: reqValid},
	}
	return append(cases, deadLetterCases()...)
}

// TestOpenAPIAnswersMatch sends requests to the real handlers (on fakes)
// and checks every answer against the document: the status is one it
// lists for the operation, the body matches its schema (which refuses
// unknown fields), and the headers it lists are there. Requests the API
// accepts must be valid by the document, and requests it refuses for their
// shape invalid. Every status the document lists must come up.
func TestOpenAPIAnswersMatch(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	var mu sync.Mutex
	seen := map[string]bool{} // "METHOD path status"
	t.Run("cases", func(t *testing.T) {
		for _, tc := range apiCases() {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				item := doc.Paths.Value(tc.path)
				if item == nil || item.GetOperation(tc.method) == nil {
					t.Fatalf("%s %s: not in the document", tc.method, tc.path)
				}
				route := &routers.Route{Spec: doc, Path: tc.path, PathItem: item, Method: tc.method, Operation: item.GetOperation(tc.method)}
				f := newDocFakes()
				if tc.setup != nil {
					tc.setup(&f)
				}
				h := httpapi.New(t.Context(), f.deps())
				rec, req := tc.do(t, h)
				if rec.Code != tc.want {
					t.Fatalf("%s %s: got %d, want %d (body %.300s)", tc.method, tc.target, rec.Code, tc.want, rec.Body)
				}
				mu.Lock()
				seen[tc.method+" "+tc.path+" "+strconv.Itoa(rec.Code)] = true
				mu.Unlock()

				in := &openapi3filter.RequestValidationInput{Request: req, PathParams: pathParams(tc.path, req.URL.Path), Route: route,
					Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
						SchemaValidationOptions: schemaOptions}}
				err := openapi3filter.ValidateResponse(t.Context(), &openapi3filter.ResponseValidationInput{
					RequestValidationInput: in, Status: rec.Code, Header: rec.Header(),
					Body: io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
					Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true,
						SchemaValidationOptions: schemaOptions},
				})
				if err != nil {
					t.Errorf("%s %s answered %d: the answer does not match the document: %v\nbody: %.500s", tc.method, tc.target, rec.Code, err, rec.Body)
				}
				resp := route.Operation.Responses.Status(rec.Code)
				if resp != nil {
					for name := range resp.Value.Headers {
						if rec.Header().Get(name) == "" {
							t.Errorf("%s %s answered %d: got no %s header, want one (the document lists it)", tc.method, tc.target, rec.Code, name)
						}
					}
				}

				if tc.req == reqUnchecked {
					return
				}
				vreq := tc.request(t.Context())
				in.Request = vreq
				err = openapi3filter.ValidateRequest(t.Context(), in)
				switch {
				case tc.req == reqValid && err != nil:
					t.Errorf("%s %s (answered %d): the document refuses the request: %v", tc.method, tc.target, rec.Code, err)
				case tc.req == reqInvalid && err == nil:
					t.Errorf("%s %s (answered %d): the document accepts the request, want it refused as the API does", tc.method, tc.target, rec.Code)
				}
			})
		}
	})
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for status := range op.Responses.Map() {
				if k := method + " " + path + " " + status; !seen[k] {
					t.Errorf("%s: documented, but no case of apiCases gets it; add one (or remove it from the document if the code cannot answer so)", k)
				}
			}
		}
	}
}

func (tc apiCase) request(ctx context.Context) *http.Request {
	var body io.Reader
	if tc.body != "" {
		body = strings.NewReader(tc.body)
	}
	req := httptest.NewRequestWithContext(ctx, tc.method, tc.target, body)
	ct := tc.contentType
	if ct == "" && tc.body != "" {
		ct = "application/json"
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if tc.auth != "" {
		req.Header.Set("Authorization", tc.auth)
	}
	return req
}

// do serves the request; a stream is listened to for tc.timeout.
func (tc apiCase) do(t *testing.T, h http.Handler) (*httptest.ResponseRecorder, *http.Request) {
	ctx := t.Context()
	if tc.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, tc.timeout)
		defer cancel()
	}
	for range tc.prior {
		h.ServeHTTP(httptest.NewRecorder(), tc.request(ctx))
	}
	req := tc.request(ctx)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec, req.WithContext(t.Context())
}

// pathParams matches a path against a template like /api/movies/{tmdb_id}.
func pathParams(template, path string) map[string]string {
	out := map[string]string{}
	ts, ps := strings.Split(template, "/"), strings.Split(path, "/")
	for i := range min(len(ts), len(ps)) {
		if name, ok := strings.CutPrefix(ts[i], "{"); ok {
			out[strings.TrimSuffix(name, "}")] = ps[i]
		}
	}
	return out
}

// TestOpenAPIStreamEvents checks the live stream's events against the
// document: "ready", then "movies" whose data is an array of Movie
// (removed movies included).
func TestOpenAPIStreamEvents(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	f := newDocFakes()
	srv := httptest.NewServer(httpapi.New(t.Context(), f.deps()))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/stream", nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	op := doc.Paths.Value("/api/stream").Get
	if op.Responses.Status(200).Value.Content.Get(resp.Header.Get("Content-Type")) == nil {
		t.Fatalf("stream Content-Type: got %q, want one the document lists", resp.Header.Get("Content-Type"))
	}
	r := bufio.NewReader(resp.Body)
	ev, err := readEvent(r)
	if err != nil || ev.name != "ready" {
		t.Fatalf("first event: got %+v (%v), want ready", ev, err)
	}
	f.qry.waitHead(t)
	removed := fullMovie(27205)
	removed.Status, removed.Change = registry.StatusRemoved, 8
	pending := trend.Movie{TMDBID: 550, Status: registry.StatusPending, Genres: []string{}, LastUpdatedAt: time.Now().UTC(), Change: 9}
	f.qry.setChanged(removed, pending)
	ev, err = readEvent(r)
	if err != nil || ev.name != "movies" {
		t.Fatalf("second event: got %+v (%v), want movies", ev, err)
	}
	var data any
	if err := json.Unmarshal([]byte(ev.data), &data); err != nil {
		t.Fatalf("movies data: got %q, want JSON (%v)", ev.data, err)
	}
	schema := &openapi3.Schema{Type: &openapi3.Types{"array"}, Items: doc.Components.Schemas["Movie"]}
	if err := schema.VisitJSON(data, append(schemaOptions, openapi3.EnableJSONSchema2020(), openapi3.VisitAsResponse())...); err != nil {
		t.Errorf("movies data: does not match an array of Movie: %v\ndata: %s", err, ev.data)
	}
}

// jsonFields lists the JSON members a Go type encodes to, with whether
// each is left out when empty (omitempty).
func jsonFields(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" || !sf.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if sf.Anonymous && name == "" {
			for k, v := range jsonFields(sf.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = sf.Name
		}
		out[name] = slices.Contains(strings.Split(opts, ","), "omitempty")
	}
	return out
}

// schemaFields lists a schema's properties (through allOf), with whether
// each is required.
func schemaFields(s *openapi3.Schema) map[string]bool {
	out := map[string]bool{}
	for _, sub := range s.AllOf {
		for k, v := range schemaFields(sub.Value) {
			out[k] = out[k] || v
		}
	}
	for k := range s.Properties {
		out[k] = out[k] || slices.Contains(s.Required, k)
	}
	return out
}

// TestOpenAPISchemasMatchGoTypes compares the response schemas with the Go
// types the handlers encode: the same members, required unless omitempty.
// It catches a field added to a type that no case of TestOpenAPIAnswersMatch
// fills in.
func TestOpenAPISchemasMatchGoTypes(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	pipelineView := jsonFields(reflect.TypeFor[pipeline.Stats]())
	pipelineView["rabbitmq_management_url"] = false // added by the handler
	tests := []struct {
		schema string
		fields map[string]bool
		// alwaysSet are omitempty members the code always fills in, which
		// the document may require.
		alwaysSet []string
	}{
		{"Problem", jsonFields(reflect.TypeFor[httpapi.Problem]()), []string{"detail"}},
		{"Movie", jsonFields(reflect.TypeFor[trend.Movie]()), nil},
		{"Trending", jsonFields(reflect.TypeFor[trend.Trending]()), nil},
		{"ViewWindows", jsonFields(reflect.TypeFor[trend.Windows]()), nil},
		{"Breakdown", jsonFields(reflect.TypeFor[trend.Breakdown]()), nil},
		{"ClassicTerms", jsonFields(reflect.TypeFor[trend.ClassicTerms]()), nil},
		{"DecayedTerms", jsonFields(reflect.TypeFor[trend.Decayed]()), nil},
		{"HistoryPoint", jsonFields(reflect.TypeFor[trend.Point]()), nil},
		{"PipelineStats", pipelineView, nil},
		{"Queue", jsonFields(reflect.TypeFor[pipeline.Queue]()), nil},
		{"ReplayStatus", jsonFields(reflect.TypeFor[replay.Status]()), nil},
	}
	tests = append(tests, deadLetterSchemaTests()...)
	for _, tt := range tests {
		ref := doc.Components.Schemas[tt.schema]
		if ref == nil {
			t.Errorf("schema %s: not in components.schemas", tt.schema)
			continue
		}
		doc := schemaFields(ref.Value)
		for _, name := range sortedKeys(tt.fields) {
			required, ok := doc[name]
			switch {
			case !ok:
				t.Errorf("schema %s: got no property %q, want one (the Go type has it)", tt.schema, name)
			case required && tt.fields[name] && !slices.Contains(tt.alwaysSet, name):
				t.Errorf("schema %s: %q is required, want it optional (omitempty in Go)", tt.schema, name)
			case !required && !tt.fields[name]:
				t.Errorf("schema %s: %q is optional, want it required (always encoded)", tt.schema, name)
			}
		}
		for _, name := range sortedKeys(doc) {
			if _, ok := tt.fields[name]; !ok {
				t.Errorf("schema %s: property %q is not in the Go type, want it removed", tt.schema, name)
			}
		}
	}
}

// TestDocsPage checks /docs: the page, not the dashboard; it loads the
// document from /api/openapi.json and Swagger UI from the API itself; the
// assets are the vendored files, gzipped or not, with their checksums.
func TestDocsPage(t *testing.T) {
	t.Parallel()
	h := httpapi.New(t.Context(), newDocFakes().deps())
	rec := serve(h, http.MethodGet, "/docs", "", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /docs: got %d, want 200", rec.Code)
	}
	page := rec.Body.String()
	if got := rec.Header().Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("GET /docs Content-Type: got %q, want text/html; charset=utf-8", got)
	}
	if strings.Contains(page, "<title>dashboard</title>") || !strings.Contains(page, "SwaggerUIBundle(") {
		t.Fatalf("GET /docs: got %.200s, want the Swagger UI page", page)
	}
	if !strings.Contains(page, `url: "/api/openapi.json"`) {
		t.Errorf("GET /docs: the page does not load /api/openapi.json")
	}
	if strings.Contains(page, "{{") {
		t.Errorf("GET /docs: the page has an unfilled placeholder")
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || rec.Header().Get("X-Frame-Options") != "DENY" {
		t.Errorf("GET /docs: CSP %q, X-Frame-Options %q; want the page never framed", csp, rec.Header().Get("X-Frame-Options"))
	}
	if m := regexp.MustCompile(`(?:src|href)="(https?:)?//`).FindString(page); m != "" {
		t.Errorf("GET /docs: the page loads %s from elsewhere, want everything from the API", m)
	}

	sums := map[string]string{}
	raw, err := os.ReadFile("docs/SHA256SUMS")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(raw)) {
		if sum, name, ok := strings.Cut(strings.TrimSpace(line), "  "); ok {
			sums[name] = sum
		}
	}
	assets := regexp.MustCompile(`(?:src|href)="(/docs/([^"?]+)\?v=[0-9a-f]+)"`).FindAllStringSubmatch(page, -1)
	if len(assets) != 2 {
		t.Fatalf("GET /docs: got assets %v, want the Swagger UI script and stylesheet", assets)
	}
	for _, a := range assets {
		url, name := a[1], a[2]
		wantType := map[string]string{"swagger-ui-bundle.js": "text/javascript; charset=utf-8", "swagger-ui.css": "text/css; charset=utf-8"}[name]
		for _, enc := range []string{"gzip, deflate, br", ""} {
			req := httptest.NewRequest(http.MethodGet, url, nil)
			if enc != "" {
				req.Header.Set("Accept-Encoding", enc)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != wantType {
				t.Fatalf("GET %s (Accept-Encoding %q): got %d %q, want 200 %q", url, enc, rec.Code, rec.Header().Get("Content-Type"), wantType)
			}
			body := rec.Body.Bytes()
			if gz := rec.Header().Get("Content-Encoding") == "gzip"; gz != (enc != "") {
				t.Fatalf("GET %s (Accept-Encoding %q): got Content-Encoding %q", url, enc, rec.Header().Get("Content-Encoding"))
			} else if gz {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatalf("GET %s: gzip: %v", url, err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatalf("GET %s: gzip: %v", url, err)
				}
			}
			sum := sha256.Sum256(body)
			if got := hex.EncodeToString(sum[:]); got != sums[name] {
				t.Errorf("GET %s (Accept-Encoding %q): got sha256 %s, want %s from docs/SHA256SUMS (the file as swagger-ui-dist ships it)", url, enc, got, sums[name])
			}
			if !strings.Contains(rec.Header().Get("Cache-Control"), "immutable") {
				t.Errorf("GET %s Cache-Control: got %q, want it cached for good", url, rec.Header().Get("Cache-Control"))
			}
		}
	}
	for _, tt := range []struct {
		path string
		want int
	}{
		{"/docs/swagger-ui-bundle.js.LICENSE.txt", 200},
		{"/docs/LICENSE", 200},
		{"/docs/nope.js", 404},
		{"/docs/..%2Fopenapi.json", 404},
	} {
		rec := serve(h, http.MethodGet, tt.path, "", nil)
		if rec.Code != tt.want {
			t.Errorf("GET %s: got %d, want %d", tt.path, rec.Code, tt.want)
		}
		if tt.want == 404 {
			checkProblem(t, rec, 404)
		}
	}
	// The dashboard still gets the other paths.
	if rec := serve(h, http.MethodGet, "/documentation", "", nil); !strings.Contains(rec.Body.String(), "<title>dashboard</title>") {
		t.Errorf("GET /documentation: got %.100s, want the dashboard", rec.Body)
	}
}

func TestOpenAPIDocumentCaching(t *testing.T) {
	t.Parallel()
	h := httpapi.New(t.Context(), newDocFakes().deps())
	rec := serve(h, http.MethodGet, "/api/openapi.json", "", nil)
	etag := rec.Header().Get("ETag")
	if etag == "" {
		t.Fatal("GET /api/openapi.json: got no ETag, want one")
	}
	req := httptest.NewRequest(http.MethodGet, "/api/openapi.json", nil)
	req.Header.Set("If-None-Match", etag)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Errorf("GET /api/openapi.json If-None-Match: got %d, want 304", rec.Code)
	}
	// Headers that would make ServeContent answer in plain text: the
	// document is sent whole instead.
	for _, hdr := range [][2]string{{"Range", "bytes=999999-"}, {"Range", "bytes=0-9"}, {"If-Match", `"x"`}, {"If-Unmodified-Since", "Mon, 02 Jan 2006 15:04:05 GMT"}} {
		req := httptest.NewRequest(http.MethodGet, "/api/openapi.json", nil)
		req.Header.Set(hdr[0], hdr[1])
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("GET /api/openapi.json %s: %s: got %d %s, want 200 and the document", hdr[0], hdr[1], rec.Code, rec.Header().Get("Content-Type"))
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	t.Parallel()
	h := httpapi.New(t.Context(), newDocFakes().deps())
	for _, tt := range []struct {
		header string
		gzip   bool
	}{
		{"", false},
		{"gzip", true},
		{"GZIP;q=0.5", true},
		{"br, gzip;q=0", false},
		{"*", true},
		{"*;q=0", false},
		{"*;q=0, gzip", true},
		{"gzip;q=0, *", false},
		{"identity", false},
		{"deflate, x-gzip", true},
	} {
		req := httptest.NewRequest(http.MethodGet, "/docs/swagger-ui.css", nil)
		if tt.header != "" {
			req.Header.Set("Accept-Encoding", tt.header)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if got := rec.Header().Get("Content-Encoding") == "gzip"; got != tt.gzip {
			t.Errorf("Accept-Encoding %q: got gzip %v, want %v", tt.header, got, tt.gzip)
		}
	}
}

// docDeadLetters is an in-memory DeadLetters.
type docDeadLetters struct {
	letters []dlq.Letter
	err     error
}

func (f *docDeadLetters) List(_ context.Context, _ dlq.Selection, limit int) (dlq.Listing, error) {
	if f.err != nil {
		return dlq.Listing{}, f.err
	}
	return dlq.Listing{Letters: f.letters[:min(limit, len(f.letters))], Total: len(f.letters)}, nil
}

func (f *docDeadLetters) Requeue(_ context.Context, sel dlq.Selection) (dlq.RequeueResult, error) {
	if sel.IsAll() {
		return dlq.RequeueResult{Requeued: len(f.letters) - 1, Skipped: []dlq.Skipped{{ID: f.letters[0].ID, Reason: "exchange gone has no queue"}}}, f.err
	}
	return dlq.RequeueResult{Requeued: 1, NotFound: []string{"missing"}}, f.err
}

func (f *docDeadLetters) Purge(_ context.Context, sel dlq.Selection) (dlq.PurgeResult, error) {
	if sel.IsAll() {
		return dlq.PurgeResult{Purged: len(f.letters)}, f.err
	}
	return dlq.PurgeResult{Purged: 1, NotFound: []string{"missing"}}, f.err
}

func newDocDeadLetters() *docDeadLetters {
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	return &docDeadLetters{letters: []dlq.Letter{
		{ID: "0b5c9f7e-3f2a-4c1d-9e8b-2a6f1c0d4e5f", Reason: "decode RecordViews: unexpected end of JSON input", Topic: "gone",
			Handler: "commands.RecordViews", PayloadPreview: `{"views":[`, PayloadBytes: 10},
		{ID: "6f1c0d4e-3f2a-4c1d-9e8b-2a6f1c0d4e5f", Reason: "movie 1: constraint violated", Topic: "commands.RecordViews",
			Handler: "commands.RecordViews", PayloadPreview: `{"views":[{"tmdb_id":1}]}`, PayloadBytes: 25, DeadLetteredAt: &at},
	}}
}

// deadLetterCases are the dead-letter admin endpoints' cases.
func deadLetterCases() []apiCase {
	const (
		list    = "/api/admin/dead-letters"
		requeue = "/api/admin/dead-letters/requeue"
		purge   = "/api/admin/dead-letters/purge"
	)
	down := func(f *docFakes) { f.dead.err = errors.New("RabbitMQ is unreachable") }
	off := func(f *docFakes) { f.adminToken = "" }
	none := func(f *docFakes) { f.dead = nil }
	cases := []apiCase{
		{name: "dead letters", method: "GET", target: list, path: list, auth: docBearer, want: 200, req: reqValid},
		{name: "dead letters picked", method: "GET", target: list + "?limit=10000&id=a&id=b", path: list, auth: docBearer, want: 200, req: reqValid},
		{name: "dead letters none", method: "GET", target: list + "?limit=1", path: list, auth: docBearer, want: 200, req: reqValid,
			setup: func(f *docFakes) { f.dead.letters = []dlq.Letter{} }},
		{name: "dead letters no token", method: "GET", target: list, path: list, want: 401},
		{name: "dead letters wrong token", method: "GET", target: list, path: list, auth: "Bearer nope", want: 403},
		{name: "dead letters admin off", method: "GET", target: list, path: list, auth: docBearer, want: 404, setup: off},
		{name: "dead letters not here", method: "GET", target: list, path: list, auth: docBearer, want: 404, setup: none},
		{name: "dead letters limit 0", method: "GET", target: list + "?limit=0", path: list, auth: docBearer, want: 422, req: reqInvalid},
		{name: "dead letters limit too big", method: "GET", target: list + "?limit=10001", path: list, auth: docBearer, want: 422, req: reqInvalid},
		{name: "dead letters empty id", method: "GET", target: list + "?id=", path: list, auth: docBearer, want: 422, req: reqInvalid},
		{name: "dead letters broker down", method: "GET", target: list, path: list, auth: docBearer, want: 503, req: reqValid, setup: down},
	}
	// What both take alike. sel is a body that selects every letter, for
	// the cases that need one to get past the selection.
	for _, op := range []struct{ name, path, all string }{{"requeue", requeue, ""}, {"purge", purge, `{"all":true}`}} {
		p := op.path
		cases = append(cases,
			apiCase{name: op.name + " all by all true", method: "POST", target: p, path: p, auth: docBearer, body: `{"all":true}`, want: 200, req: reqValid},
			apiCase{name: op.name + " null ids", method: "POST", target: p, path: p, auth: docBearer, body: `{"ids":null}`, want: 422, req: reqInvalid},
			apiCase{name: op.name + " some", method: "POST", target: p, path: p, auth: docBearer, body: `{"ids":["a","missing"]}`, want: 200, req: reqValid},
			apiCase{name: op.name + " malformed", method: "POST", target: p, path: p, auth: docBearer, body: `{"ids":[`, want: 400, req: reqInvalid},
			apiCase{name: op.name + " no token", method: "POST", target: p, path: p, body: op.all, want: 401},
			apiCase{name: op.name + " wrong token", method: "POST", target: p, path: p, auth: "Bearer nope", body: op.all, want: 403},
			apiCase{name: op.name + " admin off", method: "POST", target: p, path: p, auth: docBearer, body: op.all, want: 404, setup: off},
			apiCase{name: op.name + " not here", method: "POST", target: p, path: p, auth: docBearer, body: op.all, want: 404, setup: none},
			apiCase{name: op.name + " too large", method: "POST", target: p, path: p, auth: docBearer, body: `{"ids":["` + strings.Repeat("a", 1<<20) + `"]}`, want: 413},
			apiCase{name: op.name + " text", method: "POST", target: p, path: p, auth: docBearer, contentType: "text/plain", body: `a`, want: 415, req: reqInvalid},
			apiCase{name: op.name + " empty ids", method: "POST", target: p, path: p, auth: docBearer, body: `{"ids":[]}`, want: 422, req: reqInvalid},
			apiCase{name: op.name + " empty id", method: "POST", target: p, path: p, auth: docBearer, body: `{"ids":[""]}`, want: 422, req: reqInvalid},
			apiCase{name: op.name + " id not a string", method: "POST", target: p, path: p, auth: docBearer, body: `{"ids":[1]}`, want: 422, req: reqInvalid},
			apiCase{name: op.name + " unknown field", method: "POST", target: p, path: p, auth: docBearer, body: `{"every":true}`, want: 422, req: reqInvalid},
			apiCase{name: op.name + " all false", method: "POST", target: p, path: p, auth: docBearer, body: `{"all":false}`, want: 422, req: reqInvalid},
			apiCase{name: op.name + " all null", method: "POST", target: p, path: p, auth: docBearer, body: `{"all":null}`, want: 422, req: reqInvalid},
			apiCase{name: op.name + " all not a boolean", method: "POST", target: p, path: p, auth: docBearer, body: `{"all":"true"}`, want: 422, req: reqInvalid},
			apiCase{name: op.name + " ids and all", method: "POST", target: p, path: p, auth: docBearer, body: `{"ids":["a"],"all":true}`, want: 422, req: reqInvalid},
			apiCase{name: op.name + " broker down", method: "POST", target: p, path: p, auth: docBearer, body: op.all, want: 503, req: reqValid, setup: down},
		)
	}
	// A requeue loses nothing: no body, or {}, still selects every letter.
	// A purge deletes for good: it must say which letters.
	cases = append(cases,
		apiCase{name: "requeue all", method: "POST", target: requeue, path: requeue, auth: docBearer, want: 200, req: reqValid},
		apiCase{name: "requeue all by {}", method: "POST", target: requeue, path: requeue, auth: docBearer, body: `{}`, want: 200, req: reqValid},
		apiCase{name: "purge no body", method: "POST", target: purge, path: purge, auth: docBearer, want: 422, req: reqInvalid},
		apiCase{name: "purge {}", method: "POST", target: purge, path: purge, auth: docBearer, body: `{}`, want: 422, req: reqInvalid},
	)
	return cases
}

// deadLetterSchemaTests are the dead-letter schemas' Go types.
func deadLetterSchemaTests() []struct {
	schema    string
	fields    map[string]bool
	alwaysSet []string
} {
	return []struct {
		schema    string
		fields    map[string]bool
		alwaysSet []string
	}{
		{"DeadLetter", jsonFields(reflect.TypeFor[dlq.Letter]()), nil},
		{"SkippedLetter", jsonFields(reflect.TypeFor[dlq.Skipped]()), nil},
		{"RequeueResult", jsonFields(reflect.TypeFor[dlq.RequeueResult]()), nil},
		{"PurgeResult", jsonFields(reflect.TypeFor[dlq.PurgeResult]()), nil},
	}
}

// errAMQPCheck is how the API's RabbitMQ check fails (internal/app
// amqpCheck): it hides the dial error, which names the broker's address.
var errAMQPCheck = errors.New("RabbitMQ is unreachable")

// TestReadyzExampleIsTrue: the example of /readyz's 503 is the answer the
// API gives when RabbitMQ is down.
func TestReadyzExampleIsTrue(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	example := doc.Paths.Value("/readyz").Get.Responses.Status(503).Value.Content.Get("application/json").Example
	f := newDocFakes()
	f.checks[1].Run = func(context.Context) error { return errAMQPCheck }
	rec := serve(httpapi.New(t.Context(), f.deps()), http.MethodGet, "/readyz", "", nil)
	var got any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusServiceUnavailable || !reflect.DeepEqual(got, example) {
		t.Errorf("GET /readyz with RabbitMQ down: got %d %s, want 503 and the document's example %v", rec.Code, rec.Body, example)
	}
}

// TestOpenAPIDescribesCORSPreflight: a preflight is answered by the CORS
// middleware on any path, before routing, so the document describes it
// once (its introduction, and the responses CORSPreflight and
// CORSForbidden) rather than as an OPTIONS operation of every path. The
// answers to a preflight to each path must be as those responses say.
func TestOpenAPIDescribesCORSPreflight(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	if intro := doc.Info.Description; !strings.Contains(intro, "preflight") || !strings.Contains(intro, "CORS_ALLOWED_ORIGINS") {
		t.Errorf("info.description: does not tell of CORS preflights and CORS_ALLOWED_ORIGINS")
	}
	h := httpapi.New(t.Context(), newDocFakes().deps())
	for _, tt := range []struct {
		origin, response string
		status           int
	}{
		{docOrigin, "CORSPreflight", http.StatusNoContent},
		{"https://elsewhere.example.com", "CORSForbidden", http.StatusForbidden},
	} {
		ref := doc.Components.Responses[tt.response]
		if ref == nil {
			t.Errorf("components.responses.%s: none, want the answer to a preflight from %s", tt.response, tt.origin)
			continue
		}
		for _, path := range sortedKeys(doc.Paths.Map()) {
			item := doc.Paths.Value(path)
			var method string
			for m := range item.Operations() {
				method = m
			}
			req := httptest.NewRequest(http.MethodOptions, strings.ReplaceAll(path, "{tmdb_id}", "27205"), nil)
			req.Header.Set("Origin", tt.origin)
			req.Header.Set("Access-Control-Request-Method", method)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			where := fmt.Sprintf("preflight of %s %s from %s", method, path, tt.origin)
			if rec.Code != tt.status {
				t.Errorf("%s: got %d, want %d (%s)", where, rec.Code, tt.status, tt.response)
				continue
			}
			for name := range ref.Value.Headers {
				if rec.Header().Get(name) == "" {
					t.Errorf("%s: got no %s header, want one (%s lists it)", where, name, tt.response)
				}
			}
			if len(ref.Value.Content) == 0 {
				if rec.Body.Len() != 0 {
					t.Errorf("%s: got a body %q, want none (%s has no content)", where, rec.Body, tt.response)
				}
				continue
			}
			mt := ref.Value.Content.Get(rec.Header().Get("Content-Type"))
			if mt == nil {
				t.Errorf("%s: got Content-Type %q, which %s does not list", where, rec.Header().Get("Content-Type"), tt.response)
				continue
			}
			var body any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			if err := mt.Schema.Value.VisitJSON(body, append(schemaOptions, openapi3.EnableJSONSchema2020(), openapi3.VisitAsResponse())...); err != nil {
				t.Errorf("%s: the body does not match %s: %v", where, tt.response, err)
			}
			if want, _ := mt.Example.(map[string]any); want["type"] != body.(map[string]any)["type"] {
				t.Errorf("%s: got type %v, want %v as in the example of %s", where, body.(map[string]any)["type"], want["type"], tt.response)
			}
		}
	}
}
