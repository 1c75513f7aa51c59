package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/movietrend/trend/commands"
	"github.com/movietrend/trend/internal/intake"
	"github.com/movietrend/trend/internal/negotiate"
	"github.com/movietrend/trend/internal/registry"
	"github.com/movietrend/trend/projections/trend"
)

func notTracked(id int64) Problem {
	return Problem{Type: typeNotFound, Status: http.StatusNotFound,
		Detail: "movie " + strconv.FormatInt(id, 10) + " is not registered, or was removed because TMDB does not know it"}
}

// pending returns the registration of a movie the projection does not
// have yet (registered a moment ago): the read side is eventually
// consistent, the write side is not. intake.ErrNotTracked if the movie is
// not registered, or was removed.
func (s *server) pending(ctx context.Context, id int64) (registry.Registration, error) {
	reg, err := s.Registrations.Get(ctx, id)
	if errors.Is(err, registry.ErrNotFound) || err == nil && reg.Status == registry.StatusRemoved {
		return registry.Registration{}, intake.ErrNotTracked
	}
	return reg, err
}

// pendingMovie is how a registered movie looks before the projection has
// it: the read side is eventually consistent, the write side is not. Its
// change is 0, older than any row the projection will have for it.
func pendingMovie(reg registry.Registration) trend.Movie {
	at := reg.RegisteredAt.UTC()
	return trend.Movie{TMDBID: reg.TMDBID, Status: registry.StatusPending, Genres: []string{}, RegisteredAt: &at, LastUpdatedAt: reg.UpdatedAt.UTC()}
}

func (s *server) registerMovie(w http.ResponseWriter, r *http.Request) {
	obj, p := s.readObject(w, r, "tmdb_id")
	if p != nil {
		writeProblem(w, *p)
		return
	}
	id, p := tmdbIDField(obj)
	if p != nil {
		writeProblem(w, *p)
		return
	}
	reg, err := s.Commands.RegisterMovie(r.Context(), id, correlationID(r))
	if errors.Is(err, intake.ErrAlreadyRegistered) {
		writeProblem(w, Problem{Type: typeConflict, Status: http.StatusConflict,
			Detail: "movie " + strconv.FormatInt(id, 10) + " is already registered"})
		return
	}
	if err != nil {
		s.unavailable(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/movies/"+strconv.FormatInt(id, 10))
	writeJSON(w, http.StatusAccepted, pendingMovie(reg))
}

func (s *server) recordView(w http.ResponseWriter, r *http.Request) {
	obj, p := s.readObject(w, r, "tmdb_id", "view_id", "viewed_at")
	if p != nil {
		writeProblem(w, *p)
		return
	}
	v, p := viewFields(obj, s.Now().UTC())
	if p != nil {
		writeProblem(w, *p)
		return
	}
	err := s.Commands.RecordView(r.Context(), v)
	if errors.Is(err, intake.ErrNotTracked) {
		writeProblem(w, notTracked(v.TMDBID))
		return
	}
	if err != nil {
		s.unavailable(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, viewAccepted{ViewID: v.ViewID})
}

// viewAccepted is the answer to a view: a struct encodes in a fraction of
// a map's time, to the same bytes.
type viewAccepted struct {
	ViewID uuid.UUID `json:"view_id"`
}

// viewFields reads one view: tmdb_id, and the optional view_id and
// viewed_at (both default: a new id, now).
func viewFields(obj map[string]json.RawMessage, now time.Time) (commands.View, *Problem) {
	id, p := tmdbIDField(obj)
	if p != nil {
		return commands.View{}, p
	}
	viewID, p := viewIDField(obj)
	if p != nil {
		return commands.View{}, p
	}
	viewedAt, p := viewedAtField(obj, now)
	if p != nil {
		return commands.View{}, p
	}
	return commands.View{ViewID: viewID, TMDBID: id, ViewedAt: viewedAt}, nil
}

func pathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, p := parseTMDBID("tmdb_id", chi.URLParam(r, "tmdb_id"))
	if p != nil {
		writeProblem(w, *p)
		return 0, false
	}
	return id, true
}

func (s *server) refreshMovie(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	err := s.Commands.RefreshMovie(r.Context(), id, correlationID(r))
	if errors.Is(err, intake.ErrNotTracked) {
		writeProblem(w, notTracked(id))
		return
	}
	if err != nil {
		s.unavailable(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"tmdb_id": id, "status": "refresh requested"})
}

func (s *server) listMovies(w http.ResponseWriter, r *http.Request) {
	limit, p := intQuery(r, "limit", 100, 1, 1000)
	if p != nil {
		writeProblem(w, *p)
		return
	}
	offset, p := intQuery(r, "offset", 0, 0, 1<<31-1)
	if p != nil {
		writeProblem(w, *p)
		return
	}
	head, err := s.pages.head(r.Context())
	if err != nil {
		s.unavailable(w, r, err)
		return
	}
	pg, err := s.pages.get(r.Context(), pageKey{limit, offset}, head, func(ctx context.Context) (any, int64, error) {
		return s.Queries.List(ctx, limit, offset)
	})
	if err != nil {
		s.unavailable(w, r, err)
		return
	}
	h := w.Header()
	h.Set("X-Total-Count", strconv.FormatInt(pg.total, 10))
	h.Set("Content-Type", "application/json")
	h.Add("Vary", "Accept-Encoding") // after the CORS middleware's Origin
	body := pg.body
	if negotiate.AcceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body = pg.gz
	}
	// A known length spares the chunked framing and its extra writes.
	h.Set("Content-Length", strconv.Itoa(len(body)))
	answerDeadline(w)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func (s *server) getMovie(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	m, err := s.Queries.Get(r.Context(), id)
	if errors.Is(err, trend.ErrNotFound) {
		var reg registry.Registration
		if reg, err = s.pending(r.Context(), id); err == nil {
			writeJSON(w, http.StatusOK, pendingMovie(reg))
			return
		}
	}
	if errors.Is(err, intake.ErrNotTracked) {
		writeProblem(w, notTracked(id))
		return
	}
	if err != nil {
		s.unavailable(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}
