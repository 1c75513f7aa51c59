package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/movietrend/trend/internal/httpapi"
)

func TestViewedAt(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name     string
		viewedAt string // JSON value, or "" to leave it out
		want     int
		wantAt   time.Time
	}{
		{"absent: the time of acceptance", "", 202, now},
		{"null", "null", 202, now},
		{"late view, an hour ago", `"2026-11-26T11:00:00Z"`, 202, now.Add(-time.Hour)},
		{"other zone, kept as UTC", `"2026-11-26T13:30:00+02:00"`, 202, now.Add(-30 * time.Minute)},
		{"clock skew allowed", `"2026-11-26T12:04:00Z"`, 202, now.Add(4 * time.Minute)},
		{"in the future", `"2026-11-26T12:06:00Z"`, 422, time.Time{}},
		{"older than the week window", `"2026-11-19T11:59:00Z"`, 422, time.Time{}},
		{"not a time", `"yesterday"`, 422, time.Time{}},
		{"a number", `1764158400`, 422, time.Time{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFakes()
			d := f.deps()
			d.Now = func() time.Time { return now }
			h := httpapi.New(t.Context(), d)
			body := `{"tmdb_id":27205`
			if c.viewedAt != "" {
				body += `,"viewed_at":` + c.viewedAt
			}
			rec := serve(h, http.MethodPost, "/api/movies/view", "application/json", []byte(body+"}"))
			if rec.Code != c.want {
				t.Fatalf("got %d %s, want %d", rec.Code, rec.Body, c.want)
			}
			if c.want != 202 {
				if f.cmd.views != nil {
					t.Errorf("a refused view reached the write side: %+v", f.cmd.views)
				}
				return
			}
			if len(f.cmd.views) != 1 || !f.cmd.views[0].ViewedAt.Equal(c.wantAt) || f.cmd.views[0].ViewedAt.Location() != time.UTC {
				t.Errorf("recorded %+v, want one view at %v UTC", f.cmd.views, c.wantAt)
			}
		})
	}
}
