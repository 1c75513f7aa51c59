package httpapi_test

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/movietrend/trend/internal/httpapi"
	"github.com/movietrend/trend/internal/intake"
)

// problemTitles is the one title of each problem type: RFC 9457 section
// 3.1.3 says a title does not change from occurrence to occurrence, so a
// client may show it for the type, whichever handler answered.
var problemTitles = map[string]string{
	"/problems/malformed-json":         "Malformed JSON",
	"/problems/unauthorized":           "Unauthorized",
	"/problems/forbidden":              "Forbidden",
	"/problems/not-found":              "Not Found",
	"/problems/method-not-allowed":     "Method Not Allowed",
	"/problems/already-registered":     "Movie already registered",
	"/problems/replay-running":         "A replay is running",
	"/problems/log-not-migrated":       "The event log needs its migrations",
	"/problems/body-too-large":         "Request Entity Too Large",
	"/problems/unsupported-media-type": "Unsupported Media Type",
	"/problems/validation":             "Invalid request",
	"/problems/too-many-requests":      "Too Many Requests",
	"/problems/unavailable":            "Service Unavailable",
	"/problems/internal":               "Internal Server Error",
}

// TestProblemTitles checks that every problem has its type's one title:
// the requests below reach each handler that writes a 404 or a 400 of its
// own, and every case of apiCases is checked too.
func TestProblemTitles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, method, target, body string
		setup                      func(*docFakes)
		unreadable                 bool // the body fails while it is read
		wantType                   string
	}{
		{name: "no such endpoint", method: "GET", target: "/api/nope", wantType: "/problems/not-found"},
		{name: "movie not registered", method: "GET", target: "/api/movies/1", wantType: "/problems/not-found"},
		{name: "explained movie not registered", method: "GET", target: "/api/movies/1/trend", wantType: "/problems/not-found"},
		{name: "view of a movie not registered", method: "POST", target: "/api/movies/view", body: `{"tmdb_id":1}`, wantType: "/problems/not-found",
			setup: func(f *docFakes) { f.cmd.viewErr = intake.ErrNotTracked }},
		{name: "refresh of a movie not registered", method: "POST", target: "/api/movies/1/refresh", wantType: "/problems/not-found",
			setup: func(f *docFakes) { f.cmd.refreshErr = intake.ErrNotTracked }},
		{name: "batch naming the movies not registered", method: "POST", target: "/api/views", body: `{"views":[{"tmdb_id":1}]}`, wantType: "/problems/not-found",
			setup: func(f *docFakes) { f.cmd.viewErr = &intake.NotTrackedError{IDs: []int64{1}} }},
		{name: "batch with a movie not registered", method: "POST", target: "/api/views", body: `{"views":[{"tmdb_id":1}]}`, wantType: "/problems/not-found",
			setup: func(f *docFakes) { f.cmd.viewErr = intake.ErrNotTracked }},
		{name: "trending in another role", method: "GET", target: "/api/trending", wantType: "/problems/not-found",
			setup: func(f *docFakes) { f.trends = nil }},
		{name: "pipeline in another role", method: "GET", target: "/api/pipeline", wantType: "/problems/not-found",
			setup: func(f *docFakes) { f.pipe = nil }},
		{name: "admin off", method: "GET", target: "/api/admin/replay", wantType: "/problems/not-found",
			setup: func(f *docFakes) { f.adminToken = "" }},
		{name: "JSON syntax error", method: "POST", target: "/api/movies/register", body: `{"tmdb_id":`, wantType: "/problems/malformed-json"},
		{name: "body not readable", method: "POST", target: "/api/movies/register", unreadable: true, wantType: "/problems/malformed-json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newDocFakes()
			if tt.setup != nil {
				tt.setup(&f)
			}
			req := httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body))
			if tt.unreadable {
				req = httptest.NewRequest(tt.method, tt.target, iotest.ErrReader(errors.New("connection reset by peer")))
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", docBearer)
			rec := httptest.NewRecorder()
			httpapi.New(t.Context(), f.deps()).ServeHTTP(rec, req)
			var p problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Type != tt.wantType {
				t.Fatalf("got %d %s, want a %s problem", rec.Code, rec.Body, tt.wantType)
			}
			if want := problemTitles[p.Type]; p.Title != want {
				t.Errorf("%s title: got %q, want %q", p.Type, p.Title, want)
			}
		})
	}
	t.Run("apiCases", func(t *testing.T) {
		t.Parallel()
		for _, tc := range apiCases() {
			if tc.timeout > 0 {
				continue // the stream
			}
			f := newDocFakes()
			if tc.setup != nil {
				tc.setup(&f)
			}
			rec, _ := tc.do(t, httpapi.New(t.Context(), f.deps()))
			if rec.Header().Get("Content-Type") != "application/problem+json" {
				continue
			}
			var p problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if want, ok := problemTitles[p.Type]; !ok || p.Title != want {
				t.Errorf("%s: got type %q titled %q, want a known type with its title %q", tc.name, p.Type, p.Title, want)
			}
		}
	})
	// The document's examples give the same titles.
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if typ, _ := v["type"].(string); strings.HasPrefix(typ, "/problems/") {
				if title, _ := v["title"].(string); title != problemTitles[typ] {
					t.Errorf("openapi.json: an example of %s is titled %q, want %q", typ, title, problemTitles[typ])
				}
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(doc)
	// The introduction lists every type a client can switch on.
	intro := doc.(map[string]any)["info"].(map[string]any)["description"].(string)
	for typ := range problemTitles {
		if !strings.Contains(intro, "`"+typ+"`") {
			t.Errorf("openapi.json info.description: does not list the problem type %s", typ)
		}
	}
}
