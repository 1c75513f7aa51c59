package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Problem is an RFC 9457 problem details object.
type Problem struct {
	Type string `json:"type"`
	// Title is the type's (problemTitles), set by writeProblem.
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
	typeUnauthorized  = "/problems/unauthorized"
	typeForbidden     = "/problems/forbidden"
	typeTooMany       = "/problems/too-many-requests"
	typeReplayRunning = "/problems/replay-running"
	typeLogRestored   = "/problems/log-not-migrated"
)

// problemTitles are the titles of the problem types. A title is the
// type's, not the occurrence's (RFC 9457 section 3.1.3): writeProblem sets
// it from the type, so that no handler can give a type another title.
var problemTitles = map[string]string{
	typeMalformed:     "Malformed JSON",
	typeValidation:    "Invalid request",
	typeMediaType:     "Unsupported Media Type",
	typeTooLarge:      "Request Entity Too Large",
	typeNotFound:      "Not Found",
	typeConflict:      "Movie already registered",
	typeUnavailable:   "Service Unavailable",
	typeMethod:        "Method Not Allowed",
	typeInternalError: "Internal Server Error",
	typeUnauthorized:  "Unauthorized",
	typeForbidden:     "Forbidden",
	typeTooMany:       "Too Many Requests",
	typeReplayRunning: "A replay is running",
	typeLogRestored:   "The event log needs its migrations",
}

func writeProblem(w http.ResponseWriter, p Problem) {
	p.Title = problemTitles[p.Type]
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	if p.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(2))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	answerDeadline(w)
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// echoMax bounds what a problem repeats of the client's input: a field
// name or number of a megabyte came back whole, twice, to the client and
// into its logs.
const echoMax = 64

// echo is s, cut to echoMax bytes (on a character boundary) with "…".
func echo(s string) string {
	if len(s) <= echoMax {
		return s
	}
	cut := echoMax
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// unknownField is the problem of a field name not among allowed; field
// says where it is (the name, or views[i].name). Both cut (echo).
func unknownField(field, name string, allowed ...string) Problem {
	return validation(echo(field), fmt.Sprintf("unknown field %q (allowed: %s)", echo(name), strings.Join(allowed, ", ")))
}

func validation(field, detail string) Problem {
	return Problem{Type: typeValidation, Status: http.StatusUnprocessableEntity, Field: field, Detail: detail}
}
