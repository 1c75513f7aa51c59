package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/movietrend/trend/commands"
	"github.com/movietrend/trend/internal/intake"
)

// MaxBatchViews bounds POST /api/views.
const MaxBatchViews = 1000

// BatchCommands accepts batches of views (ingest clients, edge collectors).
type BatchCommands interface {
	RecordViews(ctx context.Context, views []commands.View, correlationID string) error
}

// recordViews accepts up to MaxBatchViews views, all or nothing: each is
// validated like POST /api/movies/view, and if one is invalid or its movie
// is not tracked, none is recorded.
func (s *server) recordViews(w http.ResponseWriter, r *http.Request) {
	batcher, ok := s.Commands.(BatchCommands)
	if !ok {
		writeProblem(w, Problem{Type: typeNotFound, Status: http.StatusNotFound, Detail: "batches are not available in this role"})
		return
	}
	obj, p := s.readObject(w, r, "views")
	if p != nil {
		writeProblem(w, *p)
		return
	}
	var items []json.RawMessage
	if raw, ok := obj["views"]; !ok || json.Unmarshal(raw, &items) != nil {
		writeProblem(w, validation("views", "views must be an array of views, like [{\"tmdb_id\": 27205}]"))
		return
	}
	if len(items) == 0 {
		writeProblem(w, validation("views", "views must not be empty"))
		return
	}
	if len(items) > MaxBatchViews {
		writeProblem(w, Problem{Type: typeTooLarge, Status: http.StatusRequestEntityTooLarge,
			Detail: fmt.Sprintf("a batch holds at most %d views, not %d", MaxBatchViews, len(items))})
		return
	}
	now := s.Now().UTC()
	views := make([]commands.View, len(items))
	given := make(map[uuid.UUID]int) // the view_ids sent, by the index of their view
	for i, raw := range items {
		field := func(name string) string { return fmt.Sprintf("views[%d].%s", i, name) }
		var item map[string]json.RawMessage
		if json.Unmarshal(raw, &item) != nil || item == nil {
			writeProblem(w, validation(fmt.Sprintf("views[%d]", i), "each view must be an object"))
			return
		}
		for k := range item {
			if k != "tmdb_id" && k != "view_id" && k != "viewed_at" {
				writeProblem(w, unknownField(field(k), k, "tmdb_id", "view_id", "viewed_at"))
				return
			}
		}
		var p *Problem
		if views[i], p = viewFields(item, now); p != nil {
			p.Field = field(p.Field)
			writeProblem(w, *p)
			return
		}
		if _, sent := item["view_id"]; sent {
			// One id, one view: the second would be dropped as a repeat,
			// and the answer would count it.
			if j, seen := given[views[i].ViewID]; seen {
				writeProblem(w, validation(field("view_id"), fmt.Sprintf("view_id repeats views[%d].view_id: each view needs its own", j)))
				return
			}
			given[views[i].ViewID] = i
		}
	}
	err := batcher.RecordViews(r.Context(), views, correlationID(r))
	var nt *intake.NotTrackedError
	if errors.As(err, &nt) {
		ids := make([]string, len(nt.IDs))
		for i, id := range nt.IDs {
			ids[i] = strconv.FormatInt(id, 10)
		}
		writeProblem(w, Problem{Type: typeNotFound, Status: http.StatusNotFound,
			Detail: "no view was recorded: not registered, or removed: " + strings.Join(ids, ", ")})
		return
	}
	if errors.Is(err, intake.ErrNotTracked) {
		writeProblem(w, Problem{Type: typeNotFound, Status: http.StatusNotFound,
			Detail: "no view was recorded: a movie of the batch is not registered, or was removed"})
		return
	}
	if err != nil {
		s.unavailable(w, r, err)
		return
	}
	ids := make([]uuid.UUID, len(views))
	for i, v := range views {
		ids[i] = v.ViewID
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"accepted": len(views), "view_ids": ids})
}
