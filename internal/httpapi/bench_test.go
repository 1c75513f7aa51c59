package httpapi_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/movietrend/trend/internal/httpapi"
	"github.com/movietrend/trend/internal/metrics"
)

// BenchmarkRecordView is the API's own work for one POST /api/movies/view
// (middleware, decoding, the answer), with the intake faked: what each
// accepted view costs before PostgreSQL and the network.
func BenchmarkRecordView(b *testing.B) {
	f := newFakes()
	f.cmd.record = false // keeping every view would add the fake's own allocations to allocs/op
	d := f.deps()
	d.Metrics = metrics.New()
	h := httpapi.New(b.Context(), d)
	body := []byte(`{"tmdb_id":27205}`)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/api/movies/view", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusAccepted {
			b.Fatalf("got %d %s", rec.Code, rec.Body)
		}
	}
}
