package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/movietrend/trend/internal/replay"
)

// Replays starts and reports projection rebuilds.
type Replays interface {
	Start(ctx context.Context, projection string, check, keep bool) (int64, error)
	Latest(ctx context.Context, projection string) (replay.Status, error)
	Projections() []string
}

// requireAdmin guards the admin endpoints: off (404) without ADMIN_TOKEN,
// 401 without a bearer token, 403 for a wrong one (compared in constant
// time).
func (s *server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.AdminToken == "" {
			writeProblem(w, Problem{Type: typeNotFound, Status: http.StatusNotFound,
				Detail: "admin endpoints are disabled: set ADMIN_TOKEN to enable them"})
			return
		}
		// The scheme is case-insensitive (RFC 9110, section 11.1).
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="trend admin"`)
			writeProblem(w, Problem{Type: typeUnauthorized, Status: http.StatusUnauthorized,
				Detail: "send the admin token as Authorization: Bearer <ADMIN_TOKEN>"})
			return
		}
		// Digests compared, not the tokens: ConstantTimeCompare answers at
		// once for tokens of different lengths, which told the length.
		got, want := sha256.Sum256([]byte(token)), sha256.Sum256([]byte(s.AdminToken))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			writeProblem(w, Problem{Type: typeForbidden, Status: http.StatusForbidden, Detail: "the admin token is wrong"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

type replayRequest struct {
	Projection string `json:"projection"`
	Check      bool   `json:"check"`
	Keep       bool   `json:"keep"`
}

// queryProjection returns the projection the query names, unchecked ("":
// none), or the answer of a role that has no replayer.
func (s *server) queryProjection(r *http.Request) (string, *Problem) {
	if s.Replays == nil {
		return "", &Problem{Type: typeNotFound, Status: http.StatusNotFound, Detail: "replays are not available in this role"}
	}
	return queryValue(r, "projection")
}

// knownProjection checks a projection's name; "" names the trend
// projection.
func (s *server) knownProjection(name string) (string, *Problem) {
	if name == "" {
		name = "trend"
	}
	for _, p := range s.Replays.Projections() {
		if p == name {
			return name, nil
		}
	}
	bad := validation("projection", "unknown projection "+echo(name)+" (known: "+strings.Join(s.Replays.Projections(), ", ")+")")
	return "", &bad
}

func (s *server) startReplay(w http.ResponseWriter, r *http.Request) {
	// The query may name the projection (as GET's does); the body's wins,
	// so the name is checked once, after both are read.
	name, p := s.queryProjection(r)
	if p != nil {
		writeProblem(w, *p)
		return
	}
	req := replayRequest{Projection: name}
	if !s.noBody(w, r) {
		obj, p := s.readObject(w, r, "projection", "check", "keep")
		if p != nil {
			writeProblem(w, *p)
			return
		}
		for field, raw := range obj {
			var err error
			switch field {
			case "projection":
				err = json.Unmarshal(raw, &req.Projection)
			case "check":
				err = json.Unmarshal(raw, &req.Check)
			case "keep":
				err = json.Unmarshal(raw, &req.Keep)
			}
			if err != nil {
				writeProblem(w, validation(field, field+" has the wrong type"))
				return
			}
		}
	}
	name, p = s.knownProjection(req.Projection)
	if p != nil {
		writeProblem(w, *p)
		return
	}
	if req.Check && req.Keep {
		writeProblem(w, validation("keep", replay.ErrKeepWithCheck.Error()))
		return
	}
	if _, err := s.Replays.Start(s.ctx, name, req.Check, req.Keep); err != nil {
		if errors.Is(err, replay.ErrRunning) {
			writeProblem(w, Problem{Type: typeReplayRunning, Status: http.StatusConflict,
				Detail: "a replay of " + name + " is already running; see GET /api/admin/replay"})
			return
		}
		if errors.Is(err, replay.ErrRestoredLog) {
			// Not a moment's failure: a retry fails alike until
			// migrations renumber the log (postgres.Migrate).
			writeProblem(w, Problem{Type: typeLogRestored, Status: http.StatusConflict, Detail: err.Error()})
			return
		}
		s.unavailable(w, r, err)
		return
	}
	st, err := s.Replays.Latest(r.Context(), name)
	if err != nil {
		s.unavailable(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/admin/replay?projection="+name)
	writeJSON(w, http.StatusAccepted, st)
}

func (s *server) replayStatus(w http.ResponseWriter, r *http.Request) {
	name, p := s.queryProjection(r)
	if p == nil {
		name, p = s.knownProjection(name)
	}
	if p != nil {
		writeProblem(w, *p)
		return
	}
	st, err := s.Replays.Latest(r.Context(), name)
	if err != nil {
		s.unavailable(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, st)
}
