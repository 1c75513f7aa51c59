package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/movietrend/trend/internal/httpapi"
	"github.com/movietrend/trend/internal/loadgen"
)

func TestBatchOfViewsIsAllOrNothing(t *testing.T) {
	t.Parallel()
	f := newFakes()
	h := newHandler(t, t.Context(), f)
	rec := serve(h, http.MethodPost, "/api/views", "application/json",
		[]byte(`{"views":[{"tmdb_id":1},{"tmdb_id":2,"view_id":"zz"},{"tmdb_id":3}]}`))
	var p struct{ Field string }
	_ = json.Unmarshal(rec.Body.Bytes(), &p)
	if rec.Code != 422 || p.Field != "views[1].view_id" {
		t.Errorf("one bad view: got %d field %q, want 422 naming views[1].view_id", rec.Code, p.Field)
	}
	if len(f.cmd.views) != 0 {
		t.Errorf("a refused batch recorded %d views, want none", len(f.cmd.views))
	}
	items := make([]string, 1000)
	for i := range items {
		items[i] = fmt.Sprintf(`{"tmdb_id":%d}`, i%7+1)
	}
	rec = serve(h, http.MethodPost, "/api/views", "application/json", []byte(`{"views":[`+strings.Join(items, ",")+`]}`))
	var ok struct {
		Accepted int      `json:"accepted"`
		ViewIDs  []string `json:"view_ids"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &ok)
	if rec.Code != 202 || ok.Accepted != 1000 || len(ok.ViewIDs) != 1000 || len(f.cmd.views) != 1000 {
		t.Errorf("1000 views: got %d, accepted %d, %d ids, %d recorded; want 202 and 1000 of each", rec.Code, ok.Accepted, len(ok.ViewIDs), len(f.cmd.views))
	}
	if rec := serve(h, http.MethodPost, "/api/views", "application/json", []byte(`{"views":[`+strings.Join(append(items, `{"tmdb_id":1}`), ",")+`]}`)); rec.Code != 413 {
		t.Errorf("1001 views: got %d, want 413", rec.Code)
	}
}

// TestABatchNamesItsFirstBadView: a view that is not an object, or that
// repeats an earlier view's view_id, is a 422 naming it, and nothing is
// recorded; a view that is not an object among more than the limit is
// still a 413.
func TestABatchNamesItsFirstBadView(t *testing.T) {
	t.Parallel()
	f := newFakes()
	h := newHandler(t, t.Context(), f)
	const id = "0b5c9f7e-3f2a-4c1d-9e8b-2a6f1c0d4e5f"
	for _, c := range []struct{ body, field string }{
		{`{"views":[{"tmdb_id":1},5]}`, "views[1]"},
		{`{"views":[{"tmdb_id":1},"x",null]}`, "views[1]"},
		{`{"views":[{"tmdb_id":1},null]}`, "views[1]"},
		{`{"views":[{"tmdb_id":1,"view_id":"` + id + `"},{"tmdb_id":2},{"tmdb_id":1,"view_id":"` + id + `"}]}`, "views[2].view_id"},
		{`{"views":[{"tmdb_id":1,"view_id":"` + id + `"},{"tmdb_id":2,"view_id":"` + strings.ToUpper(id) + `"}]}`, "views[1].view_id"},
	} {
		rec := serve(h, http.MethodPost, "/api/views", "application/json", []byte(c.body))
		var p struct{ Field string }
		_ = json.Unmarshal(rec.Body.Bytes(), &p)
		if rec.Code != 422 || p.Field != c.field {
			t.Errorf("%s: got %d field %q, want 422 naming %s", c.body, rec.Code, p.Field, c.field)
		}
	}
	if len(f.cmd.views) != 0 {
		t.Errorf("refused batches recorded %d views, want none", len(f.cmd.views))
	}
	items := make([]string, 1001)
	for i := range items {
		items[i] = `{"tmdb_id":1}`
	}
	items[3] = `5`
	if rec := serve(h, http.MethodPost, "/api/views", "application/json", []byte(`{"views":[`+strings.Join(items, ",")+`]}`)); rec.Code != 413 {
		t.Errorf("1001 views, one not an object: got %d, want 413", rec.Code)
	}
}

// The load generator's ingest scenario refuses what the API would.
func TestLoadGeneratorKnowsTheBatchLimit(t *testing.T) {
	if loadgen.MaxIngestBatch != httpapi.MaxBatchViews {
		t.Errorf("loadgen.MaxIngestBatch %d, httpapi.MaxBatchViews %d", loadgen.MaxIngestBatch, httpapi.MaxBatchViews)
	}
}
