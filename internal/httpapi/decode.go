package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
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

// readObject reads a JSON object body with only the allowed fields.
func readObject(w http.ResponseWriter, r *http.Request, allowed ...string) (map[string]json.RawMessage, *Problem) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
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
	if !json.Valid(body) {
		return nil, &Problem{Type: typeMalformed, Title: "Malformed JSON", Status: http.StatusBadRequest,
			Detail: "the body is not valid JSON"}
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		p := validation("", "the body must be a JSON object")
		return nil, &p
	}
	for k := range obj {
		if !slices.Contains(allowed, k) {
			p := validation(k, fmt.Sprintf("unknown field %q (allowed: %s)", k, strings.Join(allowed, ", ")))
			return nil, &p
		}
	}
	return obj, nil
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
		p := validation(field, fmt.Sprintf("%s must be from 1 to %d, not %s", field, MaxTMDBID, s))
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
	id, err := uuid.Parse(s)
	if err != nil || id == uuid.Nil {
		p := validation("view_id", "view_id must be a UUID, like 0b5c9f7e-3f2a-4c1d-9e8b-2a6f1c0d4e5f")
		return uuid.Nil, &p
	}
	return id, nil
}

// intQuery reads an optional integer query parameter in minValue..maxValue.
func intQuery(r *http.Request, name string, def, minValue, maxValue int) (int, *Problem) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < minValue || v > maxValue {
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
