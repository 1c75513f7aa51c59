package metrics

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Any token is a method to net/http, and clients choose it: methods of
// their own must not each make a series.
func TestHTTPMethodsOfClientsOwnShareOneSeries(t *testing.T) {
	m := New()
	h := m.HTTP(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusMethodNotAllowed) }))
	for _, method := range []string{"FOO1", "FOO2", "BREW", "get", http.MethodGet, http.MethodPost, http.MethodPost} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, "/x", nil))
	}
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{} // requests counted by method label
	for _, mf := range mfs {
		if mf.GetName() != "trend_http_request_duration_seconds" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetName() == "method" {
					got[l.GetValue()] += mt.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	if want := map[string]uint64{"other": 4, http.MethodGet: 1, http.MethodPost: 2}; !maps.Equal(got, want) {
		t.Errorf("requests by method label: %v, want %v", got, want)
	}
}
