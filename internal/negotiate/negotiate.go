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
			q := qValue(params)
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

// qValue is the q parameter among a coding's parameters (1 without one).
// One that is not a number from 0 to 1 counts as 0: the client said
// something about the coding, and not that it takes it.
func qValue(params string) float64 {
	for p := range strings.SplitSeq(params, ";") {
		k, val, ok := strings.Cut(p, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || q < 0 || q > 1 {
			return 0
		}
		return q
	}
	return 1
}
