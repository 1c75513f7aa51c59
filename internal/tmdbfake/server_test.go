package tmdbfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/movietrend/trend/internal/testenv"
	"github.com/movietrend/trend/internal/tmdb"
)

const (
	notFoundJSON     = `{"success":false,"status_code":34,"status_message":"The resource you requested could not be found."}`
	unauthorizedJSON = `{"success":false,"status_code":7,"status_message":"Invalid API key: You must be granted a valid key."}`
	testKey          = "fake-k3y-0123456789"
	testToken        = "fake-v4-read-t0ken-abcdef"
)

func newServer(t *testing.T, opts Options) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(NewHandler(mustDefaultCatalog(t), opts))
	t.Cleanup(srv.Close)
	return srv
}

type answer struct {
	status      int
	contentType string
	body        []byte
}

func do(t *testing.T, method, url string, header http.Header) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header.Get("Content-Type"), body}
}

func TestHandlerMovie(t *testing.T) {
	t.Parallel()
	srv := newServer(t, Options{})

	// TMDB's shape, field by field, as a client that does not use our
	// structs would see it.
	wantInception := map[string]any{
		"adult": false, "id": 27205.0, "title": "Inception", "original_title": "Inception", "overview": "",
		"video": false, "vote_average": 8.1, "vote_count": 13752.0, "popularity": 167.58371,
		"release_date": "2010-07-14", "poster_path": nil,
		"genres": []any{
			map[string]any{"id": 28.0, "name": "Action"}, map[string]any{"id": 53.0, "name": "Thriller"},
			map[string]any{"id": 878.0, "name": "Science Fiction"}, map[string]any{"id": 9648.0, "name": "Mystery"},
			map[string]any{"id": 12.0, "name": "Adventure"},
		},
	}
	for _, path := range []string{"/3/movie/27205", "/3/movie/27205?language=en-US"} {
		a := do(t, http.MethodGet, srv.URL+path, nil)
		if a.status != http.StatusOK {
			t.Fatalf("GET %s: got status %d, want 200", path, a.status)
		}
		if a.contentType != contentType {
			t.Errorf("GET %s: got Content-Type %q, want %q", path, a.contentType, contentType)
		}
		var got map[string]any
		if err := json.Unmarshal(a.body, &got); err != nil {
			t.Fatalf("GET %s: decode %s: %v", path, a.body, err)
		}
		if !reflect.DeepEqual(got, wantInception) {
			t.Errorf("GET %s:\ngot  %v\nwant %v", path, got, wantInception)
		}
	}
}

func TestHandlerErrorsAndHealth(t *testing.T) {
	t.Parallel()
	srv := newServer(t, Options{})
	tests := []struct {
		method, path    string
		wantStatus      int
		wantContentType string
		wantBody        string // exact, "" to skip
	}{
		{http.MethodGet, "/3/movie/1", 404, contentType, notFoundJSON},
		// As TMDB: a path without /3, or any other, is its own 404.
		{http.MethodGet, "/movie/27205", 404, contentType, notFoundJSON},
		{http.MethodGet, "/3/tv/1399", 404, contentType, notFoundJSON},
		{http.MethodGet, "/", 404, contentType, notFoundJSON},
		{http.MethodGet, "/3/movie/inception", 404, contentType, notFoundJSON},
		{http.MethodGet, "/3/movie/-27205", 404, contentType, notFoundJSON},
		{http.MethodGet, "/3/movie/99999999999999999999", 404, contentType, notFoundJSON},
		{http.MethodPost, "/3/movie/27205", 405, "", ""},
		{http.MethodDelete, "/3/movie/27205", 405, "", ""},
		{http.MethodGet, "/healthz", 200, "text/plain; charset=utf-8", "ok"},
		{http.MethodPost, "/healthz", 405, "", ""},
	}
	for _, tt := range tests {
		a := do(t, tt.method, srv.URL+tt.path, nil)
		if a.status != tt.wantStatus {
			t.Errorf("%s %s: got status %d, want %d", tt.method, tt.path, a.status, tt.wantStatus)
		}
		if tt.wantContentType != "" && a.contentType != tt.wantContentType {
			t.Errorf("%s %s: got Content-Type %q, want %q", tt.method, tt.path, a.contentType, tt.wantContentType)
		}
		if tt.wantBody != "" && string(a.body) != tt.wantBody {
			t.Errorf("%s %s: got body %s, want %s", tt.method, tt.path, a.body, tt.wantBody)
		}
	}
}

func TestHandlerEnforcesKey(t *testing.T) {
	t.Parallel()
	var logs testenv.Buffer
	srv := newServer(t, Options{
		APIKey: testKey,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	const wrongKey = "wrong-k3y-9876543210"
	tests := []struct {
		name       string
		path       string
		auth       string
		wantStatus int
		wantBody   string
	}{
		{"no key", "/3/movie/27205", "", 401, unauthorizedJSON},
		{"wrong api_key", "/3/movie/27205?api_key=" + wrongKey, "", 401, unauthorizedJSON},
		{"right api_key", "/3/movie/27205?api_key=" + testKey, "", 200, ""},
		// TMDB takes a v4 read token as Bearer, never a v3 key, and here
		// no read token is set.
		{"api key as bearer", "/3/movie/27205", "Bearer " + testKey, 401, unauthorizedJSON},
		{"wrong bearer", "/3/movie/27205", "Bearer " + wrongKey, 401, unauthorizedJSON},
		{"key without Bearer", "/3/movie/27205", testKey, 401, unauthorizedJSON},
		{"key checked before lookup", "/3/movie/1", "", 401, unauthorizedJSON},
		{"right key, unknown movie", "/movie/1?api_key=" + testKey, "", 404, notFoundJSON},
		{"health needs no key", "/healthz", "", 200, "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h http.Header
			if tt.auth != "" {
				h = http.Header{"Authorization": {tt.auth}}
			}
			a := do(t, http.MethodGet, srv.URL+tt.path, h)
			if a.status != tt.wantStatus {
				t.Errorf("got status %d, want %d", a.status, tt.wantStatus)
			}
			if tt.wantBody != "" && string(a.body) != tt.wantBody {
				t.Errorf("got body %s, want %s", a.body, tt.wantBody)
			}
		})
	}
	if !strings.Contains(logs.String(), "invalid api key") {
		t.Errorf("logs %q: want a warning about the rejected key", logs.String())
	}
	for _, secret := range []string{testKey, wrongKey} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("logs %q: contain a key", logs.String())
		}
	}
}

func TestHandlerEnforcesReadToken(t *testing.T) {
	t.Parallel()
	both := newServer(t, Options{APIKey: testKey, ReadToken: testToken})
	tokenOnly := newServer(t, Options{ReadToken: testToken})
	tests := []struct {
		name       string
		url        string
		auth       string
		wantStatus int
	}{
		{"right token as bearer", both.URL + "/3/movie/27205", "Bearer " + testToken, 200},
		{"right api_key", both.URL + "/3/movie/27205?api_key=" + testKey, "", 200},
		{"api key as bearer", both.URL + "/3/movie/27205", "Bearer " + testKey, 401},
		{"token as api_key", both.URL + "/3/movie/27205?api_key=" + testToken, "", 401},
		{"token without Bearer", both.URL + "/3/movie/27205", testToken, 401},
		{"no credentials", both.URL + "/3/movie/27205", "", 401},
		{"token only: right token", tokenOnly.URL + "/3/movie/27205", "Bearer " + testToken, 200},
		{"token only: any api_key", tokenOnly.URL + "/3/movie/27205?api_key=" + testKey, "", 401},
		{"token only: empty api_key", tokenOnly.URL + "/3/movie/27205?api_key=", "", 401},
		{"token only: empty bearer", tokenOnly.URL + "/3/movie/27205", "Bearer ", 401},
		{"token only: nothing", tokenOnly.URL + "/3/movie/27205", "", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h http.Header
			if tt.auth != "" {
				h = http.Header{"Authorization": {tt.auth}}
			}
			a := do(t, http.MethodGet, tt.url, h)
			if a.status != tt.wantStatus {
				t.Errorf("got status %d, want %d", a.status, tt.wantStatus)
			}
			if tt.wantStatus == 401 && string(a.body) != unauthorizedJSON {
				t.Errorf("got body %s, want %s", a.body, unauthorizedJSON)
			}
		})
	}
}

func TestRoundTripWithClient(t *testing.T) {
	t.Parallel()
	srv := newServer(t, Options{APIKey: testKey, ReadToken: testToken})
	catalog := mustDefaultCatalog(t)

	newClient := func(t *testing.T, cfg tmdb.Config) *tmdb.Client {
		t.Helper()
		cfg.RateLimit = 10_000
		cfg.MinBackoff, cfg.MaxBackoff, cfg.Timeout = time.Millisecond, time.Millisecond, 5*time.Second
		c, err := tmdb.New(cfg)
		if err != nil {
			t.Fatalf("tmdb.New: %v", err)
		}
		return c
	}

	t.Run("every catalog movie, key in query", func(t *testing.T) {
		t.Parallel()
		c := newClient(t, tmdb.Config{BaseURL: srv.URL + "/3/", APIKey: testKey})
		for _, id := range catalog.IDs() {
			got, err := c.Movie(t.Context(), id)
			if err != nil {
				t.Fatalf("Movie(%d): %v", id, err)
			}
			want, _ := catalog.Movie(id)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Movie(%d):\ngot  %+v\nwant %+v", id, got, want)
			}
		}
	})
	t.Run("token", func(t *testing.T) {
		t.Parallel()
		c := newClient(t, tmdb.Config{BaseURL: srv.URL + "/3", ReadToken: testToken})
		got, err := c.Movie(t.Context(), 27205)
		if err != nil {
			t.Fatalf("Movie(27205): %v", err)
		}
		if want := wantInception(); !reflect.DeepEqual(got, want) {
			t.Errorf("Movie(27205):\ngot  %+v\nwant %+v", got, want)
		}
	})
	// As against TMDB: every path is its 404, the control movie's too, so
	// the client believes none (no movie would be removed) and says to
	// check TMDB_BASE_URL.
	t.Run("base url without /3", func(t *testing.T) {
		t.Parallel()
		c := newClient(t, tmdb.Config{BaseURL: srv.URL, APIKey: testKey})
		_, err := c.Movie(t.Context(), 27205)
		if errors.Is(err, tmdb.ErrNotFound) || !tmdb.Retryable(err) || !strings.Contains(fmt.Sprint(err), "TMDB_BASE_URL") {
			t.Errorf("Movie(27205): got %v, want a retryable error that is not ErrNotFound and names TMDB_BASE_URL", err)
		}
	})
	t.Run("unknown movie", func(t *testing.T) {
		t.Parallel()
		c := newClient(t, tmdb.Config{BaseURL: srv.URL + "/3", APIKey: testKey})
		_, err := c.Movie(t.Context(), 1)
		if !errors.Is(err, tmdb.ErrNotFound) {
			t.Errorf("Movie(1): got %v, want tmdb.ErrNotFound", err)
		}
		if tmdb.Retryable(err) {
			t.Errorf("Retryable(%v): got true, want false", err)
		}
	})
	t.Run("v3 key sent as the read token", func(t *testing.T) {
		t.Parallel()
		c := newClient(t, tmdb.Config{BaseURL: srv.URL + "/3", ReadToken: testKey})
		if _, err := c.Movie(t.Context(), 27205); !errors.Is(err, tmdb.ErrUnauthorized) {
			t.Fatalf("Movie(27205): got %v, want tmdb.ErrUnauthorized", err)
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		t.Parallel()
		const wrongKey = "wrong-k3y/with+escapes"
		c := newClient(t, tmdb.Config{BaseURL: srv.URL + "/3", APIKey: wrongKey})
		_, err := c.Movie(t.Context(), 27205)
		if !errors.Is(err, tmdb.ErrUnauthorized) {
			t.Fatalf("Movie(27205): got %v, want tmdb.ErrUnauthorized", err)
		}
		for _, secret := range []string{wrongKey, url.QueryEscape(wrongKey)} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q: contains the key", err)
			}
		}
	})
}
