package tmdb

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"
)

// inceptionJSON is TMDB's answer for GET /3/movie/27205, with the values of
// the 2017 snapshot our catalog comes from.
const inceptionJSON = `{"adult":false,"backdrop_path":"/s3TBrRGB1iav7gFOCNx3H31MoES.jpg","belongs_to_collection":null,"budget":160000000,` +
	`"genres":[{"id":28,"name":"Action"},{"id":53,"name":"Thriller"},{"id":878,"name":"Science Fiction"},{"id":9648,"name":"Mystery"},{"id":12,"name":"Adventure"}],` +
	`"homepage":"http://inceptionmovie.warnerbros.com/","id":27205,"imdb_id":"tt1375666","original_language":"en","original_title":"Inception",` +
	`"overview":"Cobb, a skilled thief who commits corporate espionage by infiltrating the subconscious of his targets is offered a chance to regain his old life as payment for a task considered to be impossible: \"inception\", the implantation of another person's idea into a target's subconscious.",` +
	`"popularity":167.58371,"poster_path":"/9gk7adHYeDvHkCSEqAvQNLV5Uge.jpg","production_companies":[{"id":923,"logo_path":null,"name":"Legendary Pictures","origin_country":"US"}],` +
	`"release_date":"2010-07-14","revenue":825532764,"runtime":148,"spoken_languages":[{"english_name":"English","iso_639_1":"en","name":"English"}],` +
	`"status":"Released","tagline":"Your mind is the scene of the crime.","title":"Inception","video":false,"vote_average":8.1,"vote_count":13752}`

const (
	notFoundJSON     = `{"success":false,"status_code":34,"status_message":"The resource you requested could not be found."}`
	unauthorizedJSON = `{"success":false,"status_code":7,"status_message":"Invalid API key: You must be granted a valid key."}`
	serverErrorJSON  = `{"success":false,"status_code":11,"status_message":"Internal error: Something went wrong, contact TMDb."}`
	unavailableJSON  = `{"success":false,"status_code":9,"status_message":"Service offline: This service is temporarily offline, try again later."}`
	rateLimitJSON    = `{"success":false,"status_code":25,"status_message":"Your request count (#) is over the allowed limit of (40)."}`

	inceptionID = 27205
	testKey     = "k3y+s3cr3t/0123456789abcdef" // needs escaping, so both forms are checked
	testToken   = "eyJhbGciOiJIUzI1NiJ9.t0ken-s3cr3t"
)

func wantInception() Movie {
	poster := "/9gk7adHYeDvHkCSEqAvQNLV5Uge.jpg"
	return Movie{
		ID:          inceptionID,
		Title:       "Inception",
		VoteAverage: 8.1,
		VoteCount:   13752,
		Popularity:  167.58371,
		ReleaseDate: "2010-07-14",
		PosterPath:  &poster,
		Genres: []Genre{
			{28, "Action"}, {53, "Thriller"}, {878, "Science Fiction"}, {9648, "Mystery"}, {12, "Adventure"},
		},
	}
}

// reply is one scripted answer.
type reply struct {
	status     int
	retryAfter string
	body       string
	hang       bool // wait until the client gives up instead of answering
	// contentType, if set, replaces TMDB's application/json;charset=utf-8.
	contentType string
}

var (
	okInception  = reply{status: http.StatusOK, body: inceptionJSON}
	notFound     = reply{status: http.StatusNotFound, body: notFoundJSON}
	unauthorized = reply{status: http.StatusUnauthorized, body: unauthorizedJSON}
	internal     = reply{status: http.StatusInternalServerError, body: serverErrorJSON}
	unavailable  = reply{status: http.StatusServiceUnavailable, body: unavailableJSON}
)

type seenRequest struct {
	url    url.URL
	header http.Header
	at     time.Time
}

// scripted answers the n-th request with script[n], repeating the last
// reply once the script runs out, and records what it saw.
type scripted struct {
	script    []reply
	onRequest func(n int) // optional, called with the 1-based request number

	mu   sync.Mutex
	seen []seenRequest
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.seen = append(s.seen, seenRequest{url: *r.URL, header: r.Header.Clone(), at: time.Now()})
	n := len(s.seen)
	rep := s.script[min(n, len(s.script))-1]
	s.mu.Unlock()
	if s.onRequest != nil {
		s.onRequest(n)
	}
	if rep.hang {
		<-r.Context().Done()
		return
	}
	if rep.retryAfter != "" {
		w.Header().Set("Retry-After", rep.retryAfter)
	}
	w.Header().Set("Content-Type", cmp.Or(rep.contentType, "application/json;charset=utf-8"))
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)
}

func (s *scripted) requests() []seenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seenRequest(nil), s.seen...)
}

// serve starts an httptest.Server answering with script.
func serve(t *testing.T, script ...reply) (*scripted, *httptest.Server) {
	t.Helper()
	s := &scripted{script: script}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

// fastConfig returns a config with backoffs small enough for tests.
func fastConfig(baseURL string) Config {
	return Config{
		BaseURL:     baseURL,
		APIKey:      testKey,
		Timeout:     5 * time.Second,
		RateLimit:   1000,
		MaxAttempts: 4,
		MinBackoff:  time.Millisecond,
		MaxBackoff:  5 * time.Millisecond,
		// Not a movie the tests ask for: with mustNew's client, a 404 needs
		// no confirmation (TestANotFoundIsConfirmedByTheControlMovie tests it).
		ControlID: 550,
	}
}

// mustNew returns a client that believes TMDB's 404s, as one that found a
// movie a moment ago does.
func mustNew(t *testing.T, cfg Config) *Client {
	t.Helper()
	c := mustNewUnconfirmed(t, cfg)
	c.confirmed.Store(time.Now().UnixNano())
	return c
}

// mustNewUnconfirmed returns a client that has found no movie yet.
func mustNewUnconfirmed(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func TestMovieStatusHandling(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		script        []reply
		wantErr       error // sentinel the error must match, if any
		wantStatus    int   // HTTPStatus of the *APIError in the chain, 0 for none
		wantCode      int
		wantRequests  int
		wantRetryable bool
		wantOK        bool
	}{
		{name: "200", script: []reply{okInception}, wantRequests: 1, wantOK: true},
		{name: "404 is not found and not retried", script: []reply{notFound, okInception},
			wantErr: ErrNotFound, wantStatus: 404, wantCode: 34, wantRequests: 1},
		{name: "401 is unauthorized and not retried", script: []reply{unauthorized, okInception},
			wantErr: ErrUnauthorized, wantStatus: 401, wantCode: 7, wantRequests: 1},
		{name: "a 404 without TMDB's body is retried, not a removal",
			script:     []reply{{status: 404, body: "<html><body>404 page not found</body></html>"}},
			wantStatus: 404, wantRequests: 4, wantRetryable: true},
		{name: "TMDB's invalid id is not found", script: []reply{{status: 404, body: `{"success":false,"status_code":6,"status_message":"Invalid id: The pre-requisite id is invalid or not found."}`}},
			wantErr: ErrNotFound, wantStatus: 404, wantCode: 6, wantRequests: 1},
		{name: "other 4xx is not retried",
			script:     []reply{{status: 400, body: `{"success":false,"status_code":22,"status_message":"Invalid page."}`}, okInception},
			wantStatus: 400, wantCode: 22, wantRequests: 1},
		{name: "500 then 200", script: []reply{internal, okInception}, wantRequests: 2, wantOK: true},
		{name: "503 twice then 200", script: []reply{unavailable, unavailable, okInception}, wantRequests: 3, wantOK: true},
		{name: "429 without Retry-After then 200",
			script: []reply{{status: 429, body: rateLimitJSON}, okInception}, wantRequests: 2, wantOK: true},
		{name: "always 503 stops after MaxAttempts", script: []reply{unavailable},
			wantStatus: 503, wantCode: 9, wantRequests: 4, wantRetryable: true},
		{name: "502 html page from a proxy", script: []reply{{status: 502, body: "<html><body>Bad Gateway</body></html>"}},
			wantStatus: 502, wantRequests: 4, wantRetryable: true},
		{name: "malformed 200 body is not retried", script: []reply{{status: 200, body: `{"id":27205,"title":`}, okInception},
			wantRequests: 1},
		{name: "200 for another movie is not retried", script: []reply{{status: 200, body: `{"id":155,"title":"The Dark Knight"}`}, okInception},
			wantRequests: 1},
		// A proxy's or a captive portal's page: not TMDB's answer, so asked
		// again, not a bad movie for the dead letters.
		{name: "a 200 that is not JSON is retried", script: []reply{{status: 200, contentType: "text/html; charset=utf-8", body: "<html><body>Sign in to the network</body></html>"}},
			wantRequests: 4, wantRetryable: true},
		{name: "a 200 that is not JSON, then TMDB's", script: []reply{{status: 200, contentType: "text/html", body: "<html></html>"}, okInception},
			wantRequests: 2, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, srv := serve(t, tt.script...)
			c := mustNew(t, fastConfig(srv.URL+"/3"))

			got, err := c.Movie(t.Context(), inceptionID)

			if n := len(s.requests()); n != tt.wantRequests {
				t.Errorf("requests: got %d, want %d", n, tt.wantRequests)
			}
			if tt.wantOK {
				if err != nil {
					t.Fatalf("Movie: got error %v, want none", err)
				}
				if want := wantInception(); !reflect.DeepEqual(got, want) {
					t.Errorf("Movie:\ngot  %+v\nwant %+v", got, want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Movie: got %+v, want an error", got)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("errors.Is(%v, %v): got false, want true", err, tt.wantErr)
			}
			ae, isAPI := errors.AsType[*APIError](err)
			switch {
			case tt.wantStatus == 0 && isAPI:
				t.Errorf("error %v: got *APIError %d, want none", err, ae.HTTPStatus)
			case tt.wantStatus != 0 && !isAPI:
				t.Errorf("error %v: got no *APIError, want status %d", err, tt.wantStatus)
			case isAPI && (ae.HTTPStatus != tt.wantStatus || ae.Code != tt.wantCode):
				t.Errorf("APIError: got status %d code %d, want status %d code %d", ae.HTTPStatus, ae.Code, tt.wantStatus, tt.wantCode)
			}
			if r := Retryable(err); r != tt.wantRetryable {
				t.Errorf("Retryable(%v): got %v, want %v", err, r, tt.wantRetryable)
			}
		})
	}
}

// TestARedirectToAnotherHostIsNotFollowed: the request's query carries
// the API key, and a redirect's target may keep it: another host never
// gets the request. A redirect on TMDB's own host is followed.
func TestARedirectToAnotherHostIsNotFollowed(t *testing.T) {
	t.Parallel()
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		_, _ = io.WriteString(w, inceptionJSON)
	}))
	t.Cleanup(other.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/3/moved/") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, inceptionJSON)
			return
		}
		target := other.URL
		if strings.HasPrefix(r.URL.Path, "/same/") {
			target = ""
		}
		http.Redirect(w, r, target+"/3/moved/"+path.Base(r.URL.Path)+"?"+r.URL.RawQuery, http.StatusFound)
	}))
	t.Cleanup(srv.Close)

	// The worker passes a client of its own (its transport counts the
	// requests), with no redirect policy: the rule must hold for it too.
	callers := &http.Client{Transport: http.DefaultTransport}
	for name, hc := range map[string]*http.Client{"the client's own": nil, "the caller's": callers} {
		cfg := fastConfig(srv.URL + "/3")
		cfg.MaxAttempts = 1
		cfg.HTTPClient = hc
		if _, err := mustNew(t, cfg).Movie(t.Context(), inceptionID); err == nil {
			t.Errorf("%s HTTP client, a redirect to another host: got the movie, want an error", name)
		}
		if n := elsewhere.Load(); n != 0 {
			t.Errorf("%s HTTP client: the other host got %d requests, want none (the query holds the API key)", name, n)
		}
		cfg.BaseURL = srv.URL + "/same/3"
		if _, err := mustNew(t, cfg).Movie(t.Context(), inceptionID); err != nil {
			t.Errorf("%s HTTP client, a redirect on TMDB's own host: %v, want it followed", name, err)
		}
	}
	if callers.CheckRedirect != nil {
		t.Error("New changed the caller's http.Client")
	}
}

// A 404 is believed once TMDB has the control movie: a TMDB_BASE_URL with
// a wrong path gets TMDB's own 404 for every movie, and must remove none.
func TestANotFoundIsConfirmedByTheControlMovie(t *testing.T) {
	t.Parallel()
	const unknown = 999999999
	fightClub := reply{status: http.StatusOK, body: `{"id":550,"title":"Fight Club","vote_average":8.4,"vote_count":30000,"popularity":60.1,"release_date":"1999-10-15","poster_path":"/a.jpg","genres":[{"id":18,"name":"Drama"}]}`}
	for _, c := range []struct {
		name         string
		script       []reply
		wantNotFound bool
		wantRequests int
	}{
		{"the control movie is there", []reply{notFound, fightClub, notFound}, true, 2},
		{"the control movie is not found either", []reply{notFound}, false, 2},
		// The 404s last: they answer the second movie asked for below.
		{"the control movie cannot be asked for", []reply{notFound, internal, internal, internal, internal, notFound}, false, 5},
		{"the control movie's answer cannot be used", []reply{notFound, {status: 400, body: `{"success":false,"status_code":22,"status_message":"Invalid page."}`}, notFound}, false, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s, srv := serve(t, c.script...)
			client := mustNewUnconfirmed(t, fastConfig(srv.URL+"/3"))
			_, err := client.Movie(t.Context(), unknown)
			if got := errors.Is(err, ErrNotFound); got != c.wantNotFound {
				t.Errorf("errors.Is(%v, ErrNotFound) = %v, want %v", err, got, c.wantNotFound)
			}
			if !c.wantNotFound && !Retryable(err) {
				t.Errorf("an unconfirmed 404: %v is not retryable", err)
			}
			if n := len(s.requests()); n != c.wantRequests {
				t.Errorf("requests: got %d, want %d", n, c.wantRequests)
			}
			if !c.wantNotFound {
				// The control's failure holds for notFoundTrusted: a wrong
				// base path costs one control request, not one a 404.
				if _, err := client.Movie(t.Context(), unknown); errors.Is(err, ErrNotFound) || !Retryable(err) {
					t.Errorf("a second 404: got %v, want a retryable error, not ErrNotFound", err)
				}
				if n := len(s.requests()); n != c.wantRequests+1 {
					t.Errorf("requests after a second 404: got %d, want %d (no second control)", n, c.wantRequests+1)
				}
			}
			if c.wantNotFound {
				// The control's answer vouches for the 404s that follow.
				if _, err := client.Movie(t.Context(), unknown); !errors.Is(err, ErrNotFound) {
					t.Errorf("a second 404: got %v, want ErrNotFound", err)
				}
				if n := len(s.requests()); n != c.wantRequests+1 {
					t.Errorf("requests after a second 404: got %d, want %d (no second control)", n, c.wantRequests+1)
				}
			}
		})
	}
}

func TestMovieNotFoundMessage(t *testing.T) {
	t.Parallel()
	_, srv := serve(t, notFound)
	c := mustNew(t, fastConfig(srv.URL))
	_, err := c.Movie(t.Context(), inceptionID)
	const want = "tmdb: movie 27205: http 404, tmdb status_code 34: The resource you requested could not be found."
	if err == nil || err.Error() != want {
		t.Errorf("error: got %v, want %q", err, want)
	}
}

func TestMovieRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		base       string // appended to the server URL
		key, token string
		wantPath   string
		wantKey    string // api_key query parameter, "" for absent
		wantAuth   string // Authorization header, "" for absent
	}{
		{name: "key as query parameter", base: "/3", key: testKey, wantPath: "/3/movie/27205", wantKey: testKey},
		{name: "trailing slash tolerated", base: "/3/", key: testKey, wantPath: "/3/movie/27205", wantKey: testKey},
		{name: "token as bearer header", base: "/3", token: testToken, wantPath: "/3/movie/27205", wantAuth: "Bearer " + testToken},
		{name: "token wins over key", base: "/3", key: testKey, token: testToken, wantPath: "/3/movie/27205", wantAuth: "Bearer " + testToken},
		{name: "no credentials", base: "", wantPath: "/movie/27205"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, srv := serve(t, okInception)
			cfg := fastConfig(srv.URL + tt.base)
			cfg.APIKey, cfg.ReadToken = tt.key, tt.token
			c := mustNew(t, cfg)

			if _, err := c.Movie(t.Context(), inceptionID); err != nil {
				t.Fatalf("Movie: %v", err)
			}
			reqs := s.requests()
			if len(reqs) != 1 {
				t.Fatalf("requests: got %d, want 1", len(reqs))
			}
			r := reqs[0]
			if r.url.Path != tt.wantPath {
				t.Errorf("path: got %q, want %q", r.url.Path, tt.wantPath)
			}
			q := r.url.Query()
			if got := q.Get("api_key"); got != tt.wantKey || q.Has("api_key") != (tt.wantKey != "") {
				t.Errorf("api_key: got %q (present %v), want %q", got, q.Has("api_key"), tt.wantKey)
			}
			if got := r.header.Get("Authorization"); got != tt.wantAuth {
				t.Errorf("Authorization: got %q, want %q", got, tt.wantAuth)
			}
			if got := r.header.Get("Accept"); got != "application/json" {
				t.Errorf("Accept: got %q, want %q", got, "application/json")
			}
			if got := r.header.Get("User-Agent"); got != userAgent {
				t.Errorf("User-Agent: got %q, want %q", got, userAgent)
			}
		})
	}
}

// handlerTransport serves requests with a handler in the calling goroutine,
// without a network, so synctest's fake clock can run the retry waits.
type handlerTransport struct{ h http.Handler }

func (tr handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	tr.h.ServeHTTP(rec, r)
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	return rec.Result(), nil
}

func TestMovieRetryAfterValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		retryAfter func(now time.Time) string
		maxBackoff time.Duration
		wantWait   time.Duration
	}{
		// The backoff alone would wait 5ms at most: an exact 1s shows
		// Retry-After won.
		{name: "seconds over the backoff", retryAfter: func(time.Time) string { return "1" },
			maxBackoff: 5 * time.Millisecond, wantWait: time.Second},
		{name: "seconds above MaxBackoff", retryAfter: func(time.Time) string { return "45" },
			maxBackoff: time.Second, wantWait: 45 * time.Second},
		{name: "seconds up to a larger MaxBackoff", retryAfter: func(time.Time) string { return "100" },
			maxBackoff: 2 * time.Minute, wantWait: 100 * time.Second},
		{name: "HTTP date", retryAfter: func(now time.Time) string { return now.Add(30 * time.Second).UTC().Format(http.TimeFormat) },
			maxBackoff: time.Second, wantWait: 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				s := &scripted{script: []reply{
					{status: 429, retryAfter: tt.retryAfter(time.Now()), body: rateLimitJSON},
					okInception,
				}}
				cfg := fastConfig("https://api.themoviedb.org/3")
				cfg.MaxBackoff = tt.maxBackoff
				cfg.HTTPClient = &http.Client{Transport: handlerTransport{s}}
				c := mustNew(t, cfg)

				if _, err := c.Movie(t.Context(), inceptionID); err != nil {
					t.Fatalf("Movie: %v", err)
				}
				reqs := s.requests()
				if len(reqs) != 2 {
					t.Fatalf("requests: got %d, want 2", len(reqs))
				}
				if gap := reqs[1].at.Sub(reqs[0].at); gap != tt.wantWait {
					t.Errorf("wait: got %s, want %s", gap, tt.wantWait)
				}
			})
		})
	}
}

// TestRetryAfterHoldsBackEveryCall: TMDB's Retry-After holds back every
// request of the client, from any call, until it ends. A call does not
// wait out a pause longer than a worker should stall (60 s, or MaxBackoff
// if larger): it fails at once, retryably, and the caller asks again
// later (the enrichment, through the refresher).
// A Retry-After of a day (a proxy's, a far date) holds the client back
// for pauseCeiling, not the day.
func TestALongRetryAfterHoldsBackForTheCeilingOnly(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := &scripted{script: []reply{{status: 503, retryAfter: "86400", body: `{"success":false,"status_code":9,"status_message":"Service offline."}`}, okInception}}
		cfg := fastConfig("https://api.themoviedb.org/3")
		cfg.HTTPClient = &http.Client{Transport: handlerTransport{s}}
		c := mustNew(t, cfg)
		if _, err := c.Movie(t.Context(), inceptionID); !Retryable(err) {
			t.Fatalf("a 503 asking for a day: got %v, want a retryable error", err)
		}
		time.Sleep(pauseCeiling)
		if _, err := c.Movie(t.Context(), inceptionID); err != nil {
			t.Fatalf("a call %s later: %v, want the movie", pauseCeiling, err)
		}
		if n := len(s.requests()); n != 2 {
			t.Errorf("%d requests, want 2", n)
		}
	})
}

func TestRetryAfterHoldsBackEveryCall(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := &scripted{script: []reply{{status: 429, retryAfter: "600", body: rateLimitJSON}, okInception}}
		cfg := fastConfig("https://api.themoviedb.org/3")
		cfg.MaxBackoff = 2 * time.Minute
		cfg.HTTPClient = &http.Client{Transport: handlerTransport{s}}
		c := mustNew(t, cfg)

		start := time.Now()
		_, err := c.Movie(t.Context(), inceptionID)
		var ae *APIError
		if !Retryable(err) || !errors.As(err, &ae) || ae.HTTPStatus != 429 || errors.Is(err, ErrPaused) {
			t.Fatalf("a 429 asking for 10 minutes: got %v, want a retryable error holding the 429, not ErrPaused (the pause is warned of once, by the call that was asked for it)", err)
		}
		if took := time.Since(start); took != 0 {
			t.Errorf("the call took %s, want to give up at once", took)
		}

		// Another call during the pause sends nothing.
		time.Sleep(5 * time.Minute)
		_, err = c.Movie(t.Context(), inceptionID)
		if !Retryable(err) || !errors.Is(err, ErrPaused) || !strings.Contains(err.Error(), "Retry-After") {
			t.Errorf("a call 5 minutes into the pause: got %v, want a retryable ErrPaused naming Retry-After", err)
		}
		if n := len(s.requests()); n != 1 {
			t.Fatalf("%d requests during the pause, want 1 (the one answered 429)", n)
		}

		// With 30 s of it left, a call waits them out, then asks.
		time.Sleep(4*time.Minute + 30*time.Second)
		start = time.Now()
		if _, err := c.Movie(t.Context(), inceptionID); err != nil {
			t.Fatalf("a call near the end of the pause: %v", err)
		}
		if took := time.Since(start); took != 30*time.Second {
			t.Errorf("the call took %s, want 30s: the rest of the pause", took)
		}
		if reqs := s.requests(); len(reqs) != 2 || reqs[1].at.Sub(reqs[0].at) != 10*time.Minute {
			t.Errorf("requests: got %d, want 2, 10 minutes apart", len(reqs))
		}
	})
}

func TestMovieBackoffGrowsAndStaysBounded(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := &scripted{script: []reply{unavailable}}
		cfg := fastConfig("https://api.themoviedb.org/3")
		cfg.MinBackoff, cfg.MaxBackoff, cfg.MaxAttempts = time.Second, 3*time.Second, 5
		cfg.HTTPClient = &http.Client{Transport: handlerTransport{s}}
		c := mustNew(t, cfg)

		if _, err := c.Movie(t.Context(), inceptionID); err == nil {
			t.Fatal("Movie: got no error, want one")
		}
		reqs := s.requests()
		if len(reqs) != 5 {
			t.Fatalf("requests: got %d, want 5", len(reqs))
		}
		// Jitter is ±50% around 1s, 2s, 3s (capped), 3s.
		bounds := [][2]time.Duration{{500 * time.Millisecond, 1500 * time.Millisecond}, {time.Second, 3 * time.Second}, {1500 * time.Millisecond, 3 * time.Second}, {1500 * time.Millisecond, 3 * time.Second}}
		for i, b := range bounds {
			if gap := reqs[i+1].at.Sub(reqs[i].at); gap < b[0] || gap > b[1] {
				t.Errorf("wait before attempt %d: got %s, want within [%s, %s]", i+2, gap, b[0], b[1])
			}
		}
	})
}

func TestMovieRateLimit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := &scripted{script: []reply{okInception}}
		cfg := fastConfig("https://api.themoviedb.org/3")
		cfg.RateLimit = 2
		cfg.HTTPClient = &http.Client{Transport: handlerTransport{s}}
		c := mustNew(t, cfg)

		start := time.Now()
		for range 5 {
			if _, err := c.Movie(t.Context(), inceptionID); err != nil {
				t.Fatalf("Movie: %v", err)
			}
		}
		// The first request goes at once, the next four every half second.
		if got, want := time.Since(start), 2*time.Second; got != want {
			t.Errorf("5 requests at 2/s: got %s, want %s", got, want)
		}

		// A wait that would outlast the deadline fails at once.
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		_, err := c.Movie(ctx, inceptionID)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Movie with a short deadline: got %v, want context.DeadlineExceeded", err)
		}
		if n := len(s.requests()); n != 5 {
			t.Errorf("requests: got %d, want 5", n)
		}
	})
}

func TestMovieStopsWhenContextDone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// setup returns the script, the context and a hook for each request.
		setup    func(t *testing.T) ([]reply, context.Context, func(n int))
		wantErr  error
		wantCode int // HTTPStatus of the last answer, which the error must still carry
		// wantAt is when, on the fake clock, Movie must return: when the
		// context is done, long before the 20s backoff would end.
		wantAt time.Duration
	}{
		{
			name: "cancelled during a request",
			setup: func(t *testing.T) ([]reply, context.Context, func(int)) {
				ctx, cancel := context.WithCancel(t.Context())
				return []reply{unavailable}, ctx, func(int) { cancel() }
			},
			wantErr: context.Canceled,
		},
		{
			name: "cancelled during the backoff",
			setup: func(t *testing.T) ([]reply, context.Context, func(int)) {
				ctx, cancel := context.WithCancel(t.Context())
				t.Cleanup(cancel)
				return []reply{unavailable}, ctx, func(int) { time.AfterFunc(50*time.Millisecond, cancel) }
			},
			wantErr:  context.Canceled,
			wantCode: 503,
			wantAt:   50 * time.Millisecond,
		},
		{
			name: "Retry-After beyond the deadline",
			setup: func(t *testing.T) ([]reply, context.Context, func(int)) {
				ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
				t.Cleanup(cancel)
				return []reply{{status: 429, retryAfter: "30", body: rateLimitJSON}}, ctx, nil
			},
			wantCode: 429,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// On synctest's fake clock: the contexts, the cancel timer and
			// the client's backoff all live in the bubble, so when Movie
			// returns is exact, not a guess about the machine's speed.
			synctest.Test(t, func(t *testing.T) {
				script, ctx, hook := tt.setup(t)
				s := &scripted{script: script, onRequest: hook}
				cfg := fastConfig("https://api.themoviedb.org/3")
				cfg.MinBackoff, cfg.MaxBackoff = 20*time.Second, 20*time.Second
				cfg.HTTPClient = &http.Client{Transport: handlerTransport{s}}
				c := mustNew(t, cfg)

				start := time.Now()
				_, err := c.Movie(ctx, inceptionID)
				if at := time.Since(start); at != tt.wantAt {
					t.Errorf("Movie returned %s after the start, want %s", at, tt.wantAt)
				}
				if err == nil {
					t.Fatal("Movie: got no error, want one")
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Errorf("errors.Is(%v, %v): got false, want true", err, tt.wantErr)
				}
				if tt.wantCode != 0 {
					if ae, ok := errors.AsType[*APIError](err); !ok || ae.HTTPStatus != tt.wantCode {
						t.Errorf("error %v: got no *APIError with status %d, want one", err, tt.wantCode)
					}
				}
				if n := len(s.requests()); n != 1 {
					t.Errorf("requests: got %d, want 1", n)
				}
			})
		})
	}
}

// TestAnAPIErrorsMessageIsScrubbedThenCut: TMDB's message is kept to 200
// bytes; a key across the cut is not left in part, and a character across
// it is not left in half.
func TestAnAPIErrorsMessageIsScrubbedThenCut(t *testing.T) {
	t.Parallel()
	for _, msg := range []string{
		strings.Repeat("a", maxMessageLen-8) + testKey,
		"x" + strings.Repeat("é", maxMessageLen),
	} {
		body, _ := json.Marshal(map[string]any{"success": false, "status_code": 22, "status_message": msg})
		_, srv := serve(t, reply{status: http.StatusBadRequest, body: string(body)})
		_, err := mustNew(t, fastConfig(srv.URL+"/3")).Movie(t.Context(), inceptionID)
		ae, ok := errors.AsType[*APIError](err)
		if !ok {
			t.Fatalf("got %v, want an *APIError", err)
		}
		if strings.Contains(ae.Message, testKey[:8]) || !utf8.ValidString(ae.Message) || len(ae.Message) > maxMessageLen+3 {
			t.Errorf("message %q (%d bytes): want it without any of the key, valid UTF-8, at most %d bytes and ...", ae.Message, len(ae.Message), maxMessageLen)
		}
	}
}

func TestMovieNeverRevealsCredentials(t *testing.T) {
	t.Parallel()

	// closedURL points at a port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + ln.Addr().String() + "/3"
	ln.Close()

	// The premise: net/http's own error quotes the URL, key included.
	_, rawErr := http.Get(closedURL + "/movie/1?api_key=" + url.QueryEscape(testKey))
	if rawErr == nil || !strings.Contains(rawErr.Error(), url.QueryEscape(testKey)) {
		t.Fatalf("premise: got net/http error %v, want it to contain the key", rawErr)
	}

	tests := []struct {
		name          string
		baseURL       func(t *testing.T) string
		token         string
		wantRetryable bool
		wantTransport bool // a *transportError (no usable answer)
		wantTimeout   bool
	}{
		{name: "connection refused", baseURL: func(*testing.T) string { return closedURL },
			wantRetryable: true, wantTransport: true},
		{name: "timeout", baseURL: func(t *testing.T) string {
			_, srv := serve(t, reply{hang: true})
			return srv.URL + "/3"
		}, wantRetryable: true, wantTransport: true, wantTimeout: true},
		{name: "server echoes the key", baseURL: func(t *testing.T) string {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = io.WriteString(w, `{"status_code":7,"status_message":"Invalid API key `+r.URL.Query().Get("api_key")+` or token `+r.Header.Get("Authorization")+`"}`)
			}))
			t.Cleanup(srv.Close)
			return srv.URL + "/3"
		}},
		{name: "server echoes the token", token: testToken, baseURL: func(t *testing.T) string {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = io.WriteString(w, `{"status_code":9,"status_message":"busy, `+r.Header.Get("Authorization")+`"}`)
			}))
			t.Cleanup(srv.Close)
			return srv.URL + "/3"
		}, wantRetryable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			cfg := fastConfig(tt.baseURL(t))
			cfg.ReadToken = tt.token
			cfg.Timeout = 100 * time.Millisecond
			cfg.MaxAttempts = 2
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			c := mustNew(t, cfg)

			_, err := c.Movie(t.Context(), inceptionID)
			if err == nil {
				t.Fatal("Movie: got no error, want one")
			}
			for _, secret := range []string{testKey, url.QueryEscape(testKey), testToken} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q: contains a credential", err)
				}
				if strings.Contains(logs.String(), secret) {
					t.Errorf("logs %q: contain a credential", logs.String())
				}
			}
			if !strings.Contains(err.Error(), "movie 27205") {
				t.Errorf("error %q: want it to name movie 27205", err)
			}
			// Retryable failures went through both attempts.
			if gaveUp := strings.Contains(err.Error(), "giving up after 2 attempts"); gaveUp != tt.wantRetryable {
				t.Errorf("error %q: got gave-up-after-2 %v, want %v", err, gaveUp, tt.wantRetryable)
			}
			// A retried failure is logged (a refused key is the caller's to
			// log, and is not).
			if tt.wantRetryable && logs.Len() == 0 {
				t.Error("logs: got none, want the retry warning")
			}
			if got := Retryable(err); got != tt.wantRetryable {
				t.Errorf("Retryable(%v): got %v, want %v", err, got, tt.wantRetryable)
			}
			te, ok := errors.AsType[*transportError](err)
			if ok != tt.wantTransport {
				t.Errorf("error %v (%T): got *transportError %v, want %v", err, err, ok, tt.wantTransport)
			} else if ok && te.Timeout() != tt.wantTimeout {
				t.Errorf("Timeout(): got %v, want %v", te.Timeout(), tt.wantTimeout)
			}
			if _, ok := errors.AsType[*url.Error](err); ok {
				t.Errorf("error %v: wraps a *url.Error, whose text holds the key", err)
			}
		})
	}
}

func TestMovieInvalidID(t *testing.T) {
	t.Parallel()
	s, srv := serve(t, okInception)
	c := mustNew(t, fastConfig(srv.URL))
	for _, id := range []int64{0, -27205} {
		if _, err := c.Movie(t.Context(), id); err == nil {
			t.Errorf("Movie(%d): got no error, want one", id)
		}
	}
	if n := len(s.requests()); n != 0 {
		t.Errorf("requests: got %d, want 0", n)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{name: "minimal", cfg: Config{BaseURL: "https://api.themoviedb.org/3"}},
		{name: "trailing slash", cfg: Config{BaseURL: "https://api.themoviedb.org/3/"}},
		{name: "plain http", cfg: Config{BaseURL: "http://localhost:8089"}},
		{name: "empty base url", cfg: Config{}, wantErr: true},
		{name: "no scheme", cfg: Config{BaseURL: "api.themoviedb.org/3"}, wantErr: true},
		{name: "relative", cfg: Config{BaseURL: "/3"}, wantErr: true},
		{name: "ftp", cfg: Config{BaseURL: "ftp://api.themoviedb.org/3"}, wantErr: true},
		{name: "query in base url", cfg: Config{BaseURL: "https://api.themoviedb.org/3?api_key=" + testKey}, wantErr: true},
		{name: "negative timeout", cfg: Config{BaseURL: "https://x/3", Timeout: -time.Second}, wantErr: true},
		{name: "negative rate", cfg: Config{BaseURL: "https://x/3", RateLimit: -1}, wantErr: true},
		{name: "negative attempts", cfg: Config{BaseURL: "https://x/3", MaxAttempts: -1}, wantErr: true},
		{name: "min above max backoff", cfg: Config{BaseURL: "https://x/3", MinBackoff: time.Minute, MaxBackoff: time.Second}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := New(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("New: got error %v, want error %v", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), testKey) {
				t.Errorf("New error %q: contains the key", err)
			}
			if err == nil && c == nil {
				t.Error("New: got nil client and nil error")
			}
		})
	}
}

func TestNewAppliesDefaults(t *testing.T) {
	t.Parallel()
	c := mustNew(t, Config{BaseURL: "https://api.themoviedb.org/3"})
	got := []any{c.timeout, c.maxAttempts, c.minBackoff, c.maxBackoff, float64(c.limiter.Limit()), c.http != nil, c.logger != nil}
	want := []any{10 * time.Second, 5, 500 * time.Millisecond, 30 * time.Second, 40.0, true, true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults: got %v, want %v", got, want)
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"1", time.Second},
		{" 120 ", 2 * time.Minute},
		{"-5", 0},
		{"soon", 0},
		{"99999999999999999", 24 * time.Hour},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q): got %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestRetryable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"404", &APIError{HTTPStatus: 404, Code: 34}, false},
		{"404 not from TMDB", &APIError{HTTPStatus: 404}, true},
		{"401", &APIError{HTTPStatus: 401, Code: 7}, false},
		{"422", &APIError{HTTPStatus: 422}, false},
		{"408", &APIError{HTTPStatus: 408}, true},
		{"429", &APIError{HTTPStatus: 429, Code: 25}, true},
		{"500", &APIError{HTTPStatus: 500}, true},
		{"wrapped 503", errors.Join(errors.New("context"), &APIError{HTTPStatus: 503}), true},
		{"bare sentinel", ErrNotFound, false},
		{"decode", &decodeError{path: "/movie/1", err: errors.New("unexpected EOF")}, false},
		{"transport", &transportError{path: "/movie/1", err: errors.New("connection reset")}, true},
		{"deadline", context.DeadlineExceeded, true},
		{"net error", &net.OpError{Op: "dial", Err: errors.New("refused")}, true},
		{"anything else", errors.New("boom"), false},
	}
	for _, tt := range tests {
		if got := Retryable(tt.err); got != tt.want {
			t.Errorf("Retryable(%s): got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestAPIErrorIs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status, code int
		notFound     bool
		unauthorized bool
	}{
		{404, 34, true, false},
		{404, 0, false, false}, // not TMDB's answer: a proxy, a wrong TMDB_BASE_URL
		{401, 7, false, true},
		{500, 0, false, false},
	}
	for _, tt := range tests {
		err := error(&APIError{HTTPStatus: tt.status, Code: tt.code})
		if got := errors.Is(err, ErrNotFound); got != tt.notFound {
			t.Errorf("status %d: errors.Is ErrNotFound: got %v, want %v", tt.status, got, tt.notFound)
		}
		if got := errors.Is(err, ErrUnauthorized); got != tt.unauthorized {
			t.Errorf("status %d: errors.Is ErrUnauthorized: got %v, want %v", tt.status, got, tt.unauthorized)
		}
	}
}

// The control movie's own 404 cannot confirm itself: with no other movie
// found lately, a wrong base path answers it too, and the control movie
// (and its views) must not be removed for it. Once TMDB has answered
// another movie, its 404 is believed.
func TestTheControlMoviesOwnNotFoundNeedsAnotherMovieFound(t *testing.T) {
	t.Parallel()
	inception := reply{status: http.StatusOK, body: `{"id":27205,"title":"Inception","vote_average":8.4,"vote_count":30000,"popularity":60.1,"release_date":"2010-07-15","poster_path":"/a.jpg","genres":[{"id":18,"name":"Drama"}]}`}
	s, srv := serve(t, notFound, inception, notFound)
	client := mustNewUnconfirmed(t, fastConfig(srv.URL+"/3"))
	_, err := client.Movie(t.Context(), 550)
	if errors.Is(err, ErrNotFound) || !Retryable(err) {
		t.Fatalf("the control movie's 404, nothing found yet: got %v (not found %v, retryable %v); want a retryable error, not ErrNotFound", err, errors.Is(err, ErrNotFound), Retryable(err))
	}
	if _, err := client.Movie(t.Context(), inceptionID); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Movie(t.Context(), 550); !errors.Is(err, ErrNotFound) {
		t.Errorf("the control movie's 404 after another movie was found: got %v, want ErrNotFound", err)
	}
	if n := len(s.requests()); n != 3 {
		t.Errorf("requests: got %d, want 3", n)
	}
}

// TMDB failing request after request opens the circuit: calls then fail at
// once, without a request, until one request is let through after the
// cooldown; a failure opens the circuit again, an answer closes it.
func TestTheCircuitOpensAfterFailuresInARowAndClosesOnAnAnswer(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		down := reply{status: http.StatusServiceUnavailable, body: unavailableJSON}
		// Requests 1 to 6 fail (two calls), the 7th is the first trial
		// after the cooldown and fails too, the 8th answers.
		s := &scripted{script: []reply{down, down, down, down, down, down, down, okInception}}
		var changes []bool
		cfg := fastConfig("https://api.themoviedb.org/3")
		cfg.HTTPClient = &http.Client{Transport: handlerTransport{s}}
		cfg.MaxAttempts = 4
		cfg.MinBackoff, cfg.MaxBackoff = time.Second, time.Second
		cfg.BreakerThreshold = 6
		cfg.BreakerCooldown = 30 * time.Second
		cfg.OnCircuitChange = func(open bool) { changes = append(changes, open) }
		c := mustNew(t, cfg)
		call := func(id int64, wantRequests int, wantOpen bool) {
			t.Helper()
			before := len(s.requests())
			_, err := c.Movie(t.Context(), id)
			if got := errors.Is(err, ErrCircuitOpen); got != wantOpen {
				t.Errorf("error %v: circuit open %t, want %t", err, got, wantOpen)
			}
			if !Retryable(err) {
				t.Errorf("error %v: not retryable", err)
			}
			reqs := s.requests()
			if len(reqs) != wantRequests {
				t.Errorf("requests so far: %d, want %d", len(reqs), wantRequests)
			}
			// (synctest's clock moves only while every goroutine waits.)
			if wantOpen && len(reqs) > before {
				if wait := time.Since(reqs[len(reqs)-1].at); wait != 0 {
					t.Errorf("the call ended %s after the failure that opened the circuit, want at once", wait)
				}
			}
		}

		call(inceptionID, 4, false) // four failures: still closed
		call(155, 6, true)          // another movie's second failure, the sixth, opens it, and the call ends there
		call(inceptionID, 6, true)  // refused without a request
		if want := []bool{true}; !reflect.DeepEqual(changes, want) {
			t.Errorf("circuit changes: %v, want %v", changes, want)
		}
		time.Sleep(cfg.BreakerCooldown - time.Second)
		call(inceptionID, 6, true) // still within the cooldown
		time.Sleep(2 * time.Second)
		call(inceptionID, 7, true) // one request let through; it fails, and the circuit opens again
		time.Sleep(cfg.BreakerCooldown + time.Second)
		if _, err := c.Movie(t.Context(), inceptionID); err != nil {
			t.Fatalf("TMDB back: %v", err)
		}
		if n := len(s.requests()); n != 8 {
			t.Errorf("requests: %d, want 8", n)
		}
		if want := []bool{true, false}; !reflect.DeepEqual(changes, want) {
			t.Errorf("circuit changes: %v, want %v", changes, want)
		}
	})
}

// One movie TMDB fails on alone (a 500 for that id), asked for again and
// again (the refresher, a user's refreshes), never opens the circuit for
// the others: each movie counts for at most a call's attempts.
func TestOneMovieFailingAloneNeverOpensTheCircuit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		down := reply{status: http.StatusInternalServerError, body: unavailableJSON}
		s := &scripted{script: slices.Repeat([]reply{down}, 20)}
		cfg := fastConfig("https://api.themoviedb.org/3")
		cfg.HTTPClient = &http.Client{Transport: handlerTransport{s}}
		cfg.MaxAttempts = 2
		cfg.MinBackoff, cfg.MaxBackoff = time.Second, time.Second
		cfg.BreakerThreshold = 4
		opened := false
		cfg.OnCircuitChange = func(open bool) { opened = opened || open }
		c := mustNew(t, cfg)
		for range 5 { // ten failed requests of the same movie
			if _, err := c.Movie(t.Context(), inceptionID); err == nil || errors.Is(err, ErrCircuitOpen) {
				t.Fatalf("the failing movie asked again: got %v, want TMDB's failure, not an open circuit", err)
			}
		}
		if opened {
			t.Error("one movie failing alone opened the circuit")
		}
		// A second movie's call failing in full opens it: TMDB is down.
		if _, err := c.Movie(t.Context(), 155); err == nil {
			t.Fatal("a second movie: answered, want TMDB's failure")
		}
		if !opened {
			t.Error("a second movie's call failing too did not open the circuit")
		}
		if _, err := c.Movie(t.Context(), 155); !errors.Is(err, ErrCircuitOpen) {
			t.Errorf("asked again: got %v, want the circuit open", err)
		}
		if n := len(s.requests()); n != 12 {
			t.Errorf("requests: %d, want 12", n)
		}
	})
}

// TMDB's own answers, whatever they say, show that it is up: they never
// open the circuit.
func TestTMDBsOwnAnswersDoNotOpenTheCircuit(t *testing.T) {
	t.Parallel()
	answers := map[string]reply{
		"429":           {status: http.StatusTooManyRequests, body: rateLimitJSON},
		"401":           unauthorized,
		"404":           notFound,
		"not the movie": {status: http.StatusOK, body: `{"id":1}`},
	}
	for name, answer := range answers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				s := &scripted{script: []reply{answer}}
				cfg := fastConfig("https://api.themoviedb.org/3")
				cfg.HTTPClient = &http.Client{Transport: handlerTransport{s}}
				cfg.BreakerThreshold = 2
				c := mustNew(t, cfg)
				for i := range 5 {
					before := len(s.requests())
					if _, err := c.Movie(t.Context(), inceptionID); errors.Is(err, ErrCircuitOpen) {
						t.Fatalf("call %d: %v, want TMDB asked", i+1, err)
					}
					if len(s.requests()) == before {
						t.Fatalf("call %d sent no request", i+1)
					}
				}
			})
		})
	}
}

// A caller giving up says nothing about TMDB: calls cut short by their
// own deadlines do not open the circuit.
func TestCallersGivingUpDoNotOpenTheCircuit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := &scripted{script: []reply{{hang: true}, {hang: true}, {hang: true}, okInception}}
		cfg := fastConfig("https://api.themoviedb.org/3")
		cfg.HTTPClient = &http.Client{Transport: handlerTransport{s}}
		cfg.BreakerThreshold = 2
		c := mustNew(t, cfg)
		for range 3 {
			ctx, cancel := context.WithTimeout(t.Context(), time.Second) // under the 5 s attempt timeout
			_, err := c.Movie(ctx, inceptionID)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("a call past its deadline: %v, want DeadlineExceeded", err)
			}
		}
		if _, err := c.Movie(t.Context(), inceptionID); err != nil {
			t.Fatalf("after three callers gave up: %v, want TMDB asked", err)
		}
	})
}

// A redirect is followed only on TMDB's own host and scheme: from https to
// http on the same host, Go would send the read token in the clear.
func TestRedirectsStayOnTMDBsHostAndScheme(t *testing.T) {
	t.Parallel()
	from := httptest.NewRequest(http.MethodGet, "https://api.themoviedb.org/3/movie/550", nil)
	for target, follow := range map[string]bool{
		"https://api.themoviedb.org/3/movie/550?x=1": true,
		"http://api.themoviedb.org/3/movie/550":      false,
		"https://elsewhere.example/3/movie/550":      false,
	} {
		err := sameHostRedirects(httptest.NewRequest(http.MethodGet, target, nil), []*http.Request{from})
		if (err == nil) != follow {
			t.Errorf("redirect to %s: got %v, want followed: %v", target, err, follow)
		}
	}
	// An upgrade is followed: the first request went in the clear anyway.
	plain := httptest.NewRequest(http.MethodGet, "http://api.themoviedb.org/3/movie/550", nil)
	if err := sameHostRedirects(httptest.NewRequest(http.MethodGet, "https://api.themoviedb.org/3/movie/550", nil), []*http.Request{plain}); err != nil {
		t.Errorf("redirect from http to https: %v, want it followed", err)
	}
}
