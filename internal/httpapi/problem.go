package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Problem is an RFC 9457 problem details object.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Field names the offending input, for validation problems.
	Field string `json:"field,omitempty"`
}

// Problem types: stable URIs (relative to the API) a client can switch on.
const (
	typeMalformed     = "/problems/malformed-json"
	typeValidation    = "/problems/validation"
	typeMediaType     = "/problems/unsupported-media-type"
	typeTooLarge      = "/problems/body-too-large"
	typeNotFound      = "/problems/not-found"
	typeConflict      = "/problems/already-registered"
	typeUnavailable   = "/problems/unavailable"
	typeMethod        = "/problems/method-not-allowed"
	typeInternalError = "/problems/internal"
)

func writeProblem(w http.ResponseWriter, p Problem) {
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	if p.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(2))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func validation(field, detail string) Problem {
	return Problem{Type: typeValidation, Title: "Invalid request", Status: http.StatusUnprocessableEntity, Field: field, Detail: detail}
}
