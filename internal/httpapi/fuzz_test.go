package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"

	"github.com/google/uuid"

	"github.com/movietrend/trend/internal/httpapi"
	"github.com/movietrend/trend/internal/intake"
)

// documented are the statuses DESIGN.md allows for a JSON body sent to the
// command endpoints while the store works.
var documented = map[int]bool{202: true, 400: true, 404: true, 409: true, 413: true, 415: true, 422: true}

// fuzzHandler serves with fakes that answer by id: ids ending in 1 give
// onOne (the command's own refusal), the rest succeed.
func fuzzHandler(f *testing.F, onOne error) http.Handler {
	fk := newFakes()
	fk.cmd.record = false
	fk.cmd.errFor = func(_ string, id int64) error {
		if id%10 == 1 {
			return onOne
		}
		return nil
	}
	return httpapi.New(f.Context(), fk.deps())
}

var fuzzSeeds = []string{
	`{"tmdb_id":27205}`,
	`{"tmdb_id":27201}`,
	`{"tmdb_id":27205,"view_id":"0b5c9f7e-3f2a-4c1d-9e8b-2a6f1c0d4e5f"}`,
	`{"tmdb_id":27205,"view_id":"00000000-0000-0000-0000-000000000000"}`,
	`{"tmdb_id":27205,"view_id":5}`,
	`{"tmdb_id":"27205"}`,
	`{"tmdb_id":27205.5}`,
	`{"tmdb_id":1e3}`,
	`{"tmdb_id":2147483648}`,
	`{"tmdb_id":null}`,
	`{"tmdb_id":`,
	`{"x":1}`,
	`[1]`,
	`null`,
	``,
}

// checkFuzzAnswer asserts what holds for any body: a documented status,
// a problem for every error, and a 202 only for a valid tmdb_id.
func checkFuzzAnswer(t *testing.T, body []byte, rec *httptest.ResponseRecorder) (tmdbID json.Number, accepted bool) {
	t.Helper()
	code, resp := rec.Code, rec.Body.Bytes()
	if !documented[code] {
		t.Fatalf("body %q: got status %d, want one of 202, 400, 404, 409, 413, 415, 422", body, code)
	}
	if code != 202 {
		if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("body %q: got %d with Content-Type %q, want application/problem+json", body, code, ct)
		}
		var p problem
		if err := json.Unmarshal(resp, &p); err != nil || p.Status != code || p.Type == "" || p.Title == "" {
			t.Fatalf("body %q: got problem %s, want type, title and status %d", body, resp, code)
		}
		return "", false
	}
	// An independent reading of the body: accepted means a JSON object
	// whose tmdb_id is an integer in 1..2147483647.
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var obj map[string]any
	if err := d.Decode(&obj); err != nil || obj == nil {
		t.Fatalf("body %q: got 202, want an error for a body that is not a JSON object", body)
	}
	switch v := obj["tmdb_id"].(type) {
	case json.Number:
		id, err := strconv.ParseInt(v.String(), 10, 64)
		if err != nil || id < 1 || id > httpapi.MaxTMDBID {
			t.Fatalf("body %q: got 202, want 422 for tmdb_id %s", body, v)
		}
		return v, true
	case string:
		knownBug(t, bugStringID, "body %q: got 202, want 422", body)
	}
	t.Fatalf("body %q: got 202, want 422 for tmdb_id %v", body, obj["tmdb_id"])
	return "", false
}

// validBody is an independent reading of what the command endpoints must
// accept: at most 1 MiB of JSON holding one object with only the allowed
// fields, whose tmdb_id is an integer in 1..2147483647 and whose view_id,
// if allowed and there, is null or a non-nil UUID string. A body with a
// viewed_at other than null is not judged (its validity depends on the
// clock): ok is false for it, as for every body this reading refuses.
func validBody(body []byte, allowed ...string) (tmdbID int64, ok bool) {
	if len(body) > 1<<20 || !json.Valid(body) {
		return 0, false
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var obj map[string]any
	if err := d.Decode(&obj); err != nil || obj == nil {
		return 0, false
	}
	for k := range obj {
		if !slices.Contains(allowed, k) {
			return 0, false
		}
	}
	n, isNumber := obj["tmdb_id"].(json.Number)
	if !isNumber {
		return 0, false
	}
	id, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil || id < 1 || id > httpapi.MaxTMDBID {
		return 0, false
	}
	if v, there := obj["view_id"]; there && v != nil {
		s, isString := v.(string)
		if !isString {
			return 0, false
		}
		if u, err := uuid.Parse(s); err != nil || u == uuid.Nil {
			return 0, false
		}
	}
	if v, there := obj["viewed_at"]; there && v != nil {
		return 0, false
	}
	return id, true
}

// checkValidAccepted asserts the other direction of checkFuzzAnswer: a
// valid body gets 202, or refused, the status the fake scripts for ids
// ending in 1.
func checkValidAccepted(t *testing.T, body []byte, rec *httptest.ResponseRecorder, onOne int, allowed ...string) {
	t.Helper()
	id, ok := validBody(body, allowed...)
	if !ok {
		return
	}
	want := http.StatusAccepted
	if id%10 == 1 {
		want = onOne
	}
	if rec.Code != want {
		t.Fatalf("body %q (valid, tmdb_id %d): got %d %s, want %d", body, id, rec.Code, rec.Body, want)
	}
}

func FuzzRegisterBody(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	h := fuzzHandler(f, intake.ErrAlreadyRegistered)
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := serve(h, http.MethodPost, "/api/movies/register", "application/json", body)
		checkValidAccepted(t, body, rec, http.StatusConflict, "tmdb_id")
		id, ok := checkFuzzAnswer(t, body, rec)
		if !ok {
			return
		}
		if got, want := rec.Header().Get("Location"), "/api/movies/"+id.String(); got != want {
			t.Fatalf("body %q: got Location %q, want %q", body, got, want)
		}
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil || m["status"] != "pending" {
			t.Fatalf("body %q: got 202 %s, want the pending movie", body, rec.Body)
		}
	})
}

func FuzzViewBody(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	h := fuzzHandler(f, intake.ErrNotTracked)
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := serve(h, http.MethodPost, "/api/movies/view", "application/json", body)
		if rec.Code == http.StatusConflict {
			t.Fatalf("body %q: got 409, want no conflict from /view", body)
		}
		checkValidAccepted(t, body, rec, http.StatusNotFound, "tmdb_id", "view_id", "viewed_at")
		if _, ok := checkFuzzAnswer(t, body, rec); !ok {
			return
		}
		var answer struct {
			ViewID string `json:"view_id"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
			t.Fatalf("body %q: got 202 %s, want {\"view_id\": ...}", body, rec.Body)
		}
		got, err := uuid.Parse(answer.ViewID)
		if err != nil || got == uuid.Nil {
			t.Fatalf("body %q: got view_id %q, want a non-nil UUID", body, answer.ViewID)
		}
		var sent struct {
			ViewID *string `json:"view_id"`
		}
		if json.Unmarshal(body, &sent) == nil && sent.ViewID != nil {
			if want, err := uuid.Parse(*sent.ViewID); err == nil && got != want {
				t.Fatalf("body %q: got view_id %s, want the client's %s", body, got, want)
			}
		}
	})
}
