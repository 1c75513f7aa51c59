package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/movietrend/trend/internal/idgen"
)

// maxBody bounds a request body.
const maxBody = 1 << 20

// MaxTMDBID is the largest id TMDB can have (a 32-bit signed integer).
const MaxTMDBID = 2147483647

// deadlines bounds what a request may hold its connection for past its
// header, where the server has neither ReadTimeout nor WriteTimeout (they
// would cut the live stream, which bounds each of its writes itself):
//   - a body must come within BodyReadTimeout, whichever handler reads it,
//     or none (net/http discards an unread body after the handler, with no
//     deadline of its own: GET /healthz with a Content-Length and no body
//     held its connection and goroutine for ever);
//   - each answer is written within answerWriteTimeout of when its writing
//     starts (answerDeadline), so a client that never reads cannot pin
//     the answer's goroutine and buffer.
func (s *server) deadlines(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 {
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.BodyReadTimeout))
		}
		next.ServeHTTP(w, r)
	})
}

// answerWriteTimeout bounds the writing of one answer (answerDeadline).
const answerWriteTimeout = 30 * time.Second

// answerDeadline starts the bound of an answer's writing: from when it
// starts, not from the request's start, as a dead-letter requeue may
// take minutes before it answers.
func answerDeadline(w http.ResponseWriter) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(answerWriteTimeout))
}

// readObject reads a JSON object body with only the allowed fields.
func (s *server) readObject(w http.ResponseWriter, r *http.Request, allowed ...string) (map[string]json.RawMessage, *Problem) {
	if !isJSON(r.Header.Get("Content-Type")) {
		return nil, &Problem{Type: typeMediaType, Status: http.StatusUnsupportedMediaType,
			Detail: "the body must be JSON, sent with Content-Type: application/json"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &Problem{Type: typeTooLarge, Status: http.StatusRequestEntityTooLarge,
				Detail: fmt.Sprintf("the body must not exceed %d bytes", maxBody)}
		}
		return nil, &Problem{Type: typeMalformed, Status: http.StatusBadRequest, Detail: "the body could not be read"}
	}
	// Unmarshal checks the whole body is JSON before it decodes any of it
	// (a syntax error), so no separate json.Valid pass is needed to tell
	// malformed JSON (400) from JSON that is not an object (422).
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		if _, syntax := errors.AsType[*json.SyntaxError](err); syntax {
			return nil, &Problem{Type: typeMalformed, Status: http.StatusBadRequest,
				Detail: "the body is not valid JSON"}
		}
		p := validation("", "the body must be a JSON object")
		return nil, &p
	}
	for k := range obj {
		if !slices.Contains(allowed, k) {
			p := unknownField(k, k, allowed...)
			return nil, &p
		}
	}
	return obj, nil
}

// noBody tells whether a request came without a body, for the commands
// whose body is optional. A body sent in chunks has no length until it is
// read (ContentLength -1) and may be empty: its first byte is read to
// tell, and put back.
func (s *server) noBody(w http.ResponseWriter, r *http.Request) bool {
	switch {
	case r.ContentLength > 0:
		return false
	case r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody:
		return true
	}
	var first [1]byte
	n, err := io.ReadFull(r.Body, first[:])
	if n == 0 && errors.Is(err, io.EOF) {
		return true
	}
	r.Body = peekedBody{io.MultiReader(bytes.NewReader(first[:n]), r.Body), r.Body}
	return false
}

// peekedBody is a body whose first bytes were read, then put back.
type peekedBody struct {
	io.Reader
	io.Closer
}

// isJSON tells whether a Content-Type names JSON: application/json or a
// +json type, with any parameters. The usual value is checked without
// parsing it.
func isJSON(contentType string) bool {
	if contentType == "application/json" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// tmdbIDField reads a required tmdb_id: a JSON integer in 1..2147483647
// (not a string, not a fraction, not an exponent).
func tmdbIDField(obj map[string]json.RawMessage) (int64, *Problem) {
	raw, ok := obj["tmdb_id"]
	if !ok {
		p := validation("tmdb_id", "tmdb_id is required")
		return 0, &p
	}
	return parseTMDBID("tmdb_id", strings.TrimSpace(string(raw)))
}

// parseTMDBID checks an id given as text (a JSON value or a path segment):
// only an optional minus sign and digits are an integer.
func parseTMDBID(field, s string) (int64, *Problem) {
	digits := strings.TrimPrefix(s, "-")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		p := validation(field, fmt.Sprintf("%s must be an integer from 1 to %d", field, MaxTMDBID))
		return 0, &p
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 || id > MaxTMDBID {
		p := validation(field, fmt.Sprintf("%s must be from 1 to %d, not %s", field, MaxTMDBID, echo(s)))
		return 0, &p
	}
	return id, nil
}

// viewIDField reads an optional view_id (a UUID); a new one when absent.
func viewIDField(obj map[string]json.RawMessage) (uuid.UUID, *Problem) {
	raw, ok := obj["view_id"]
	if !ok || string(raw) == "null" {
		return idgen.New(), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		p := validation("view_id", "view_id must be a UUID string")
		return uuid.Nil, &p
	}
	// The 36-character form only: uuid.Parse also takes braces, a urn:
	// prefix, bare hex, and any two characters around the 36.
	id, err := uuid.Parse(s)
	if err != nil || len(s) != 36 || id == uuid.Nil {
		p := validation("view_id", "view_id must be a UUID, like 0b5c9f7e-3f2a-4c1d-9e8b-2a6f1c0d4e5f")
		return uuid.Nil, &p
	}
	return id, nil
}

// queryValues returns the values of the query parameter name. A value
// that is not valid percent-encoding (limit=%zz) is a 422 naming the
// parameter, as any other bad value is: url.ParseQuery (r.URL.Query())
// drops such a pair, which would serve the default in its place.
func queryValues(r *http.Request, name string) ([]string, *Problem) {
	var out []string
	for pair := range strings.SplitSeq(r.URL.RawQuery, "&") {
		k, v, _ := strings.Cut(pair, "=")
		if key, err := url.QueryUnescape(k); err != nil || key != name {
			continue // another parameter, ignored as unknown ones are
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			p := validation(name, name+" is not valid percent-encoding in the query")
			return nil, &p
		}
		out = append(out, value)
	}
	return out, nil
}

// queryValue returns the first value of the query parameter name, or "".
func queryValue(r *http.Request, name string) (string, *Problem) {
	vs, p := queryValues(r, name)
	if p != nil || len(vs) == 0 {
		return "", p
	}
	return vs[0], nil
}

// intQuery reads an optional integer query parameter in minValue..maxValue.
func intQuery(r *http.Request, name string, def, minValue, maxValue int) (int, *Problem) {
	s, p := queryValue(r, name)
	if p != nil {
		return 0, p
	}
	if s == "" {
		return def, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || s[0] == '+' || v < minValue || v > maxValue { // Atoi takes "+5"
		p := validation(name, fmt.Sprintf("%s must be an integer from %d to %d", name, minValue, maxValue))
		return 0, &p
	}
	return v, nil
}

// viewedAtField reads an optional viewed_at (RFC 3339); the default is now.
// A view from the future (beyond clock skew) or older than the longest
// window is refused.
func viewedAtField(obj map[string]json.RawMessage, now time.Time) (time.Time, *Problem) {
	raw, ok := obj["viewed_at"]
	if !ok || string(raw) == "null" {
		return now, nil
	}
	var s string
	var at time.Time
	err := json.Unmarshal(raw, &s)
	if err == nil {
		at, err = time.Parse(time.RFC3339Nano, s)
	}
	if err != nil {
		p := validation("viewed_at", "viewed_at must be an RFC 3339 time, like 2026-11-26T10:00:00Z")
		return time.Time{}, &p
	}
	at = at.UTC()
	switch {
	case at.After(now.Add(MaxViewSkew)):
		p := validation("viewed_at", fmt.Sprintf("viewed_at is more than %s in the future", MaxViewSkew))
		return time.Time{}, &p
	case at.Before(now.Add(-MaxViewAge)):
		p := validation("viewed_at", "viewed_at is older than 7 days, the longest window")
		return time.Time{}, &p
	}
	return at, nil
}
