// Package negotiate reads what a request accepts, for the handlers that
// answer with compressed bodies (the API's list pages and docs, the
// dashboard's files).
package negotiate

import (
	"net/http"
	"strconv"
	"strings"
)

// AcceptsGzip tells whether the request's Accept-Encoding allows gzip
// (RFC 9110 section 12.5.3): "gzip" (or its alias "x-gzip") with a
// q-value above 0, or else "*" with one.
func AcceptsGzip(r *http.Request) bool {
	gzipQ, anyQ := -1.0, -1.0
	for _, v := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			q := 1.0
			if k, val, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
					q = f
				}
			}
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "gzip", "x-gzip":
				gzipQ = q
			case "*":
				anyQ = q
			}
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return anyQ > 0
}
