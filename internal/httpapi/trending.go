package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/movietrend/trend/internal/intake"
	"github.com/movietrend/trend/projections/trend"
)

// MaxViewAge is how old a view's viewed_at may be: the longest window.
const MaxViewAge = 7 * 24 * time.Hour

// MaxViewSkew is how far in the future a viewed_at may be (clock skew).
const MaxViewSkew = 5 * time.Minute

func (s *server) trendsAvailable(w http.ResponseWriter) bool {
	if s.Trends == nil {
		writeProblem(w, Problem{Type: typeNotFound, Status: http.StatusNotFound, Detail: "trending is not available in this role"})
		return false
	}
	return true
}

func (s *server) trending(w http.ResponseWriter, r *http.Request) {
	if !s.trendsAvailable(w) {
		return
	}
	name, p := queryValue(r, "window")
	if p != nil {
		writeProblem(w, *p)
		return
	}
	window := trend.Window(name)
	if window == "" {
		window = trend.Day
	}
	if window != trend.Day && window != trend.Week {
		writeProblem(w, validation("window", "window must be day or week"))
		return
	}
	limit, p := intQuery(r, "limit", 20, 1, 1000)
	if p != nil {
		writeProblem(w, *p)
		return
	}
	offset, p := intQuery(r, "offset", 0, 0, 10000)
	if p != nil {
		writeProblem(w, *p)
		return
	}
	movies, total, err := s.Trends.Trending(r.Context(), window, limit, offset, s.Now().UTC())
	if err != nil {
		s.unavailable(w, r, err)
		return
	}
	w.Header().Set("X-Total-Count", strconv.FormatInt(total, 10))
	writeJSON(w, http.StatusOK, movies)
}

func (s *server) explainMovie(w http.ResponseWriter, r *http.Request) {
	if !s.trendsAvailable(w) {
		return
	}
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	res, p := queryValue(r, "resolution")
	if p != nil {
		writeProblem(w, *p)
		return
	}
	if res != "" && res != "hour" && res != "minute" {
		writeProblem(w, validation("resolution", "resolution must be hour or minute"))
		return
	}
	now := s.Now().UTC()
	b, err := s.Trends.Explain(r.Context(), id, res, now)
	if errors.Is(err, trend.ErrNotFound) {
		// Registered a moment ago, the movie is pending (as GET
		// /api/movies/{id} shows it): explained with no views and no facts.
		if _, err = s.pending(r.Context(), id); err == nil {
			b, err = s.Trends.Pending(r.Context(), id, res, now)
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
	writeJSON(w, http.StatusOK, b)
}
