package tmdbfake

import (
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/movietrend/trend/internal/tmdb"
)

// Options configures the handler returned by NewHandler.
type Options struct {
	// APIKey is a v3 API key, accepted as the api_key query parameter.
	// ReadToken is a v4 read access token, accepted as "Authorization:
	// Bearer ReadToken". As at TMDB, neither is accepted in the other's
	// place: a v3 key sent as a Bearer token is refused. When either is
	// set, every movie request must carry one of them; otherwise the
	// answer is TMDB's 401 (status_code 7). Neither set: any request (with
	// any credentials or none) is served.
	APIKey    string
	ReadToken string
	// Logger receives request logs. Optional. The key is never logged.
	Logger *slog.Logger
}

// statusBody is TMDB's error body.
type statusBody struct {
	Success       bool   `json:"success"`
	StatusCode    int    `json:"status_code"`
	StatusMessage string `json:"status_message"`
}

// movieBody is TMDB's movie details answer: the fields the client reads,
// plus a few that TMDB always sends, so the shape looks real to other
// consumers too.
type movieBody struct {
	Adult bool `json:"adult"`
	tmdb.Movie
	OriginalTitle string `json:"original_title"`
	Overview      string `json:"overview"`
	Video         bool   `json:"video"`
}

const contentType = "application/json;charset=utf-8"

type handler struct {
	catalog   *Catalog
	apiKey    string
	readToken string
	logger    *slog.Logger
}

// NewHandler returns an http.Handler that answers like TMDB v3 from c:
//
//	GET /3/movie/{id}  movie details, or TMDB's 404 (status_code 34)
//	GET /healthz       200 "ok"
//
// Any other path gets TMDB's own 404 (status_code 34), as TMDB answers
// one: a TMDB_BASE_URL without "/3" then fails here as it would against
// TMDB (the client's control movie keeps it from removing anything),
// instead of working offline only. Other methods on these paths get 405.
// It panics if c is nil, like http.Handle does for a nil handler.
func NewHandler(c *Catalog, opts Options) http.Handler {
	if c == nil {
		panic("tmdbfake: NewHandler with a nil catalog")
	}
	h := &handler{catalog: c, apiKey: opts.APIKey, readToken: opts.ReadToken, logger: opts.Logger}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /3/movie/{id}", h.movie)
	mux.HandleFunc("GET /healthz", h.healthz)
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		h.logger.LogAttrs(r.Context(), slog.LevelWarn, "tmdbfake: no such path (does TMDB_BASE_URL end in /3?)", slog.String("path", r.URL.Path))
		writeNotFound(w)
	})
	return mux
}

// writeNotFound is TMDB's 404.
func writeNotFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, statusBody{
		StatusCode:    34,
		StatusMessage: "The resource you requested could not be found.",
	})
}

func (h *handler) movie(w http.ResponseWriter, r *http.Request) {
	// TMDB checks the key before looking anything up, so a bad key gets 401
	// even for a movie that does not exist.
	if !h.authorized(r) {
		// r.URL.Path, not r.URL: the query holds whatever key was sent.
		h.logger.LogAttrs(r.Context(), slog.LevelWarn, "tmdbfake: rejected request with a missing or invalid api key or read token",
			slog.String("path", r.URL.Path))
		writeJSON(w, http.StatusUnauthorized, statusBody{
			StatusCode:    7,
			StatusMessage: "Invalid API key: You must be granted a valid key.",
		})
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	m, ok := tmdb.Movie{}, false
	if err == nil {
		m, ok = h.catalog.Movie(id)
	}
	if !ok {
		h.logger.LogAttrs(r.Context(), slog.LevelDebug, "tmdbfake: movie not found", slog.String("path", r.URL.Path))
		writeNotFound(w)
		return
	}
	h.logger.LogAttrs(r.Context(), slog.LevelDebug, "tmdbfake: served movie", slog.Int64("tmdb_id", id))
	writeJSON(w, http.StatusOK, movieBody{Movie: m, OriginalTitle: m.Title})
}

func (h *handler) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok"))
}

// authorized reports whether r carries the configured key (as api_key) or
// read token (as a Bearer token), comparing in constant time so the fake
// does not teach timing attacks by example.
func (h *handler) authorized(r *http.Request) bool {
	if h.apiKey == "" && h.readToken == "" {
		return true
	}
	if h.apiKey != "" && subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("api_key")), []byte(h.apiKey)) == 1 {
		return true
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && h.readToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(h.readToken)) == 1
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only our own fixed types get here; a failure is a bug.
		http.Error(w, "tmdbfake: encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
