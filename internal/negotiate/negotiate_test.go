package negotiate

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestAcceptsGzip(t *testing.T) {
	for _, tt := range []struct {
		headers []string
		want    bool
	}{
		{nil, false},
		{[]string{""}, false},
		{[]string{"gzip"}, true},
		{[]string{"deflate, gzip;q=1.0"}, true},
		{[]string{"GZIP ; q=0.5"}, true},
		{[]string{"gzip;q=0"}, false},
		{[]string{"gzip;q=0.000, br"}, false},
		{[]string{"br"}, false},
		{[]string{"br, gzip;q=0"}, false},
		{[]string{"identity"}, false},
		{[]string{"identity, x-gzip;q=1"}, true},
		{[]string{"*"}, true},
		{[]string{"*;q=0"}, false},
		{[]string{"*;q=0, gzip"}, true},
		{[]string{"gzip;q=0, *"}, false},
		{[]string{"br", "gzip"}, true}, // the header sent twice
		// q among other parameters, in any place.
		{[]string{"gzip;q=0;x=1"}, false},
		{[]string{"gzip; x=1; q=0"}, false},
		{[]string{"gzip; x=1; q=0.5"}, true},
		{[]string{"gzip; x=1"}, true},
		// A q that is not one (not a number, or outside 0 to 1) refuses.
		{[]string{"gzip;q=bogus"}, false},
		{[]string{"gzip;q=-1, *"}, false},
		{[]string{"gzip;q=2"}, false},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		for _, h := range tt.headers {
			r.Header.Add("Accept-Encoding", h)
		}
		if got := AcceptsGzip(r); got != tt.want {
			t.Errorf("Accept-Encoding %q: got %v, want %v", tt.headers, got, tt.want)
		}
	}
}
