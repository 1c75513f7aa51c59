package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/movietrend/trend/internal/dlq"
	"github.com/movietrend/trend/internal/httpapi"
	"github.com/movietrend/trend/internal/messaging"
	"github.com/movietrend/trend/internal/testenv"
)

const testAdminToken = "test-admin-token"

// deadLetterAPI is the API with the real dead-letter client on amqpURL.
func deadLetterAPI(t *testing.T, amqpURL string) http.Handler {
	t.Helper()
	d := newFakes().deps()
	d.AdminToken = testAdminToken
	d.DeadLetters = dlq.New(amqpURL)
	return httpapi.New(t.Context(), d)
}

// admin sends a request with the admin token; a non-empty body is JSON.
func admin(h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// unreachable is a broker address nothing listens on.
const unreachable = "amqp://guest:guest@127.0.0.1:1/"

// brokerWithDeadLetters declares the dead letters and a command queue on a
// fresh virtual host and dead-letters one message per id, as the worker's
// PoisonQueue middleware does.
func brokerWithDeadLetters(t *testing.T, ids ...string) string {
	t.Helper()
	url := testenv.BrokerURL(t)
	if err := (messaging.Topology{Commands: []string{"RecordViews"}}).Declare(t.Context(), url); err != nil {
		t.Fatal(err)
	}
	var letters []amqp.Publishing
	for _, id := range ids {
		letters = append(letters, amqp.Publishing{
			Headers: amqp.Table{"_watermill_message_uuid": id, "name": "RecordViews", "reason_poisoned": "decode: unexpected end of JSON input",
				"topic_poisoned": "commands.RecordViews", "handler_poisoned": "RecordViews", "subscriber_poisoned": "*amqp.Subscriber"},
			DeliveryMode: amqp.Persistent,
			Body:         []byte(`{"views": "not a list"`),
		})
	}
	testenv.Publish(t, url, messaging.DeadLetterTopic, letters...)
	return url
}

// settled waits until dead-letters holds want messages: the letters an
// operation leaves are back once the broker processed its nack or closed
// connection, which may be a moment after the answer.
func settled(t *testing.T, url string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := testenv.QueueDepth(url, messaging.DeadLetterTopic)
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("dead-letters: got %d messages (error %v), want %d", got, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func listIDs(t *testing.T, h http.Handler, query string) ([]string, *httptest.ResponseRecorder) {
	t.Helper()
	rec := admin(h, http.MethodGet, "/api/admin/dead-letters"+query, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET dead-letters%s: got %d %s, want 200", query, rec.Code, rec.Body)
	}
	var letters []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &letters); err != nil {
		t.Fatalf("GET dead-letters%s: got %s, want a JSON array (%v)", query, rec.Body, err)
	}
	ids := []string{}
	for _, l := range letters {
		ids = append(ids, l.ID)
	}
	return ids, rec
}

func TestDeadLettersList(t *testing.T) {
	t.Parallel()
	url := brokerWithDeadLetters(t, "c1", "c2", "c3")
	h := deadLetterAPI(t, url)

	rec := admin(h, http.MethodGet, "/api/admin/dead-letters", "")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("X-Total-Count") != "3" {
		t.Fatalf("GET: got %d, Content-Type %q, X-Total-Count %q; want 200, application/json, 3",
			rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("X-Total-Count"))
	}
	var letters []map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &letters); err != nil || len(letters) != 3 {
		t.Fatalf("GET: got %s, want an array of 3 dead letters", rec.Body)
	}
	want := map[string]any{"id": "c1", "reason": "decode: unexpected end of JSON input", "topic": "commands.RecordViews",
		"handler": "RecordViews", "payload_preview": `{"views": "not a list"`, "payload_bytes": float64(22)}
	for k, v := range want {
		if letters[0][k] != v {
			t.Errorf("first letter %s: got %v, want %v", k, letters[0][k], v)
		}
	}
	if _, ok := letters[0]["dead_lettered_at"]; ok {
		t.Errorf("first letter: got dead_lettered_at %v, want it left out (unknown)", letters[0]["dead_lettered_at"])
	}

	settled(t, url, 3)
	if ids, rec := listIDs(t, h, "?limit=2"); !slices.Equal(ids, []string{"c1", "c2"}) || rec.Header().Get("X-Total-Count") != "3" {
		t.Errorf("limit 2: got %v, X-Total-Count %q; want [c1 c2], 3", ids, rec.Header().Get("X-Total-Count"))
	}
	settled(t, url, 3)
	if ids, _ := listIDs(t, h, "?id=c3&id=c1"); !slices.Equal(ids, []string{"c1", "c3"}) {
		t.Errorf("id c3, c1: got %v, want [c1 c3] (queue order)", ids)
	}
	settled(t, url, 3)
	if ids, _ := listIDs(t, h, ""); !slices.Equal(ids, []string{"c1", "c2", "c3"}) {
		t.Errorf("after listing: got %v, want [c1 c2 c3]: listing takes nothing away", ids)
	}
}

func TestDeadLettersRequeueAndPurge(t *testing.T) {
	t.Parallel()
	url := brokerWithDeadLetters(t, "c1", "c2", "c3", "c4")
	h := deadLetterAPI(t, url)

	rec := admin(h, http.MethodPost, "/api/admin/dead-letters/requeue", `{"ids": ["c2"]}`)
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"requeued":1}` {
		t.Fatalf("requeue c2: got %d %s, want 200 {\"requeued\":1}", rec.Code, rec.Body)
	}
	if n, err := testenv.QueueDepth(url, messaging.CommandTopic("RecordViews")); err != nil || n != 1 {
		t.Errorf("commands.RecordViews: got %d messages (%v), want the requeued one", n, err)
	}
	settled(t, url, 3)
	rec = admin(h, http.MethodPost, "/api/admin/dead-letters/requeue", `{"ids": ["nope"]}`)
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"requeued":0,"not_found":["nope"]}` {
		t.Errorf("requeue nope: got %d %s, want 200 with requeued 0, not_found [nope]", rec.Code, rec.Body)
	}
	settled(t, url, 3)
	rec = admin(h, http.MethodPost, "/api/admin/dead-letters/purge", `{"ids": ["c3"]}`)
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"purged":1}` {
		t.Fatalf("purge c3: got %d %s, want 200 {\"purged\":1}", rec.Code, rec.Body)
	}
	settled(t, url, 2)
	if ids, _ := listIDs(t, h, ""); !slices.Equal(ids, []string{"c1", "c4"}) {
		t.Errorf("after requeueing c2 and purging c3: got %v, want [c1 c4]", ids)
	}
	settled(t, url, 2)
	rec = admin(h, http.MethodPost, "/api/admin/dead-letters/requeue", "")
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"requeued":2}` {
		t.Fatalf("requeue all: got %d %s, want 200 {\"requeued\":2}", rec.Code, rec.Body)
	}
	if n, err := testenv.QueueDepth(url, messaging.CommandTopic("RecordViews")); err != nil || n != 3 {
		t.Errorf("commands.RecordViews: got %d messages (%v), want 3 requeued", n, err)
	}
	if ids, rec := listIDs(t, h, ""); len(ids) != 0 || rec.Body.String() != "[]\n" {
		t.Errorf("after requeueing all: got %s, want []", rec.Body)
	}
	rec = admin(h, http.MethodPost, "/api/admin/dead-letters/requeue", `{"all": true}`)
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"requeued":0}` {
		t.Errorf("requeue all of none: got %d %s, want 200 {\"requeued\":0}", rec.Code, rec.Body)
	}
	rec = admin(h, http.MethodPost, "/api/admin/dead-letters/purge", `{"all": true}`)
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"purged":0}` {
		t.Errorf("purge all of none: got %d %s, want 200 {\"purged\":0}", rec.Code, rec.Body)
	}
}

// TestDeadLettersPurgeAll: a purge deletes for good, so it must say which
// letters: no body, an empty one (sent chunked too), {}, {"all": false},
// null ids and both fields at once are refused with a problem saying what
// to send, and delete nothing. {"all": true} purges every letter.
func TestDeadLettersPurgeAll(t *testing.T) {
	t.Parallel()
	url := brokerWithDeadLetters(t, "c1", "c2")
	h := deadLetterAPI(t, url)
	// chunked sends an empty body without a length, as a body sent in
	// chunks arrives.
	chunked := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/api/admin/dead-letters/purge", strings.NewReader(""))
		req.ContentLength = -1
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	whatToSend := []string{`{"ids": [...]}`, `{"all": true}`}
	for _, tc := range []struct {
		name, body string
		chunked    bool
		field      string
		say        []string // what the detail must name
	}{
		{name: "no body", say: whatToSend},
		{name: "an empty chunked body", chunked: true, say: whatToSend},
		{name: "{}", body: `{}`, say: whatToSend},
		{name: "all false", body: `{"all": false}`, field: "all", say: []string{"all must be true", `{"ids": [...]}`}},
		// null is refused, not read as every letter: a Go client's nil
		// slice encodes as null.
		{name: "null ids", body: `{"ids": null}`, field: "ids", say: []string{`{"all": true}`}},
		{name: "ids and all", body: `{"ids": ["c1"], "all": true}`, say: []string{`"ids" or "all"`}},
	} {
		var rec *httptest.ResponseRecorder
		if tc.chunked {
			rec = chunked()
		} else {
			rec = admin(h, http.MethodPost, "/api/admin/dead-letters/purge", tc.body)
		}
		p := checkProblem(t, rec, http.StatusUnprocessableEntity)
		if p.Field != tc.field {
			t.Errorf("purge with %s: got field %q, want %q", tc.name, p.Field, tc.field)
		}
		for _, want := range tc.say {
			if !strings.Contains(p.Detail, want) {
				t.Errorf("purge with %s: got detail %q, want it to say %s", tc.name, p.Detail, want)
			}
		}
		settled(t, url, 2)
		if ids, _ := listIDs(t, h, ""); len(ids) != 2 {
			t.Fatalf("after a purge with %s: got %v, want both letters", tc.name, ids)
		}
	}
	settled(t, url, 2)
	rec := admin(h, http.MethodPost, "/api/admin/dead-letters/purge", `{"all": true}`)
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"purged":2}` {
		t.Fatalf("purge all: got %d %s, want 200 {\"purged\":2}", rec.Code, rec.Body)
	}
	if ids, _ := listIDs(t, h, ""); len(ids) != 0 {
		t.Errorf("after purging all: got %v, want none", ids)
	}
}

// A requeue loses nothing, so it still takes no body, or {}, to mean every
// dead letter; {"all": true} means the same.
func TestDeadLettersRequeueAllByDefault(t *testing.T) {
	t.Parallel()
	for _, body := range []string{"", `{}`, `{"all": true}`} {
		url := brokerWithDeadLetters(t, "c1", "c2")
		rec := admin(deadLetterAPI(t, url), http.MethodPost, "/api/admin/dead-letters/requeue", body)
		if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"requeued":2}` {
			t.Errorf("requeue with body %q: got %d %s, want 200 {\"requeued\":2}", body, rec.Code, rec.Body)
		}
		settled(t, url, 0)
	}
}

// Bad input is refused before RabbitMQ is asked (it is unreachable here).
func TestDeadLettersBadInput(t *testing.T) {
	t.Parallel()
	h := deadLetterAPI(t, unreachable)
	for _, tc := range []struct {
		method, path, contentType, body string
		status                          int
		field                           string
	}{
		{http.MethodGet, "/api/admin/dead-letters?limit=0", "", "", 422, "limit"},
		{http.MethodGet, "/api/admin/dead-letters?limit=10001", "", "", 422, "limit"},
		{http.MethodGet, "/api/admin/dead-letters?limit=ten", "", "", 422, "limit"},
		{http.MethodGet, "/api/admin/dead-letters?id=", "", "", 422, "id"},
		{http.MethodPost, "/api/admin/dead-letters/requeue", "application/json", `{"ids": []}`, 422, "ids"},
		{http.MethodPost, "/api/admin/dead-letters/purge", "application/json", `{"ids": []}`, 422, "ids"},
		{http.MethodPost, "/api/admin/dead-letters/purge", "application/json", `{"ids": "c1"}`, 422, "ids"},
		{http.MethodPost, "/api/admin/dead-letters/purge", "application/json", `{"ids": [1]}`, 422, "ids"},
		{http.MethodPost, "/api/admin/dead-letters/requeue", "application/json", `{"ids": ["c1", ""]}`, 422, "ids"},
		{http.MethodPost, "/api/admin/dead-letters/requeue", "application/json", `{"id": ["c1"]}`, 422, "id"},
		{http.MethodPost, "/api/admin/dead-letters/purge", "", "", 422, ""},
		{http.MethodPost, "/api/admin/dead-letters/purge", "application/json", `{}`, 422, ""},
		{http.MethodPost, "/api/admin/dead-letters/purge", "application/json", `{"all": false}`, 422, "all"},
		{http.MethodPost, "/api/admin/dead-letters/purge", "application/json", `{"all": null}`, 422, "all"},
		{http.MethodPost, "/api/admin/dead-letters/purge", "application/json", `{"all": "true"}`, 422, "all"},
		{http.MethodPost, "/api/admin/dead-letters/purge", "application/json", `{"ids": ["c1"], "all": true}`, 422, ""},
		{http.MethodPost, "/api/admin/dead-letters/requeue", "application/json", `{"all": false}`, 422, "all"},
		{http.MethodPost, "/api/admin/dead-letters/requeue", "application/json", `{"ids": ["c1"], "all": true}`, 422, ""},
		{http.MethodPost, "/api/admin/dead-letters/requeue", "application/json", `[]`, 422, ""},
		{http.MethodPost, "/api/admin/dead-letters/requeue", "application/json", `{"ids": [`, 400, ""},
		{http.MethodPost, "/api/admin/dead-letters/purge", "text/plain", `{"ids": ["c1"]}`, 415, ""},
		{http.MethodDelete, "/api/admin/dead-letters", "", "", 405, ""},
		{http.MethodGet, "/api/admin/dead-letters/requeue", "", "", 405, ""},
	} {
		t.Run(tc.method+" "+tc.path+" "+tc.body, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			req.Header.Set("Authorization", "Bearer "+testAdminToken)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if p := checkProblem(t, rec, tc.status); p.Field != tc.field {
				t.Errorf("field: got %q, want %q", p.Field, tc.field)
			}
		})
	}
}

func TestDeadLettersBrokerUnreachable(t *testing.T) {
	t.Parallel()
	h := deadLetterAPI(t, unreachable)
	for _, tc := range []struct{ method, path, body string }{
		{http.MethodGet, "/api/admin/dead-letters", ""},
		{http.MethodPost, "/api/admin/dead-letters/requeue", ""},
		{http.MethodPost, "/api/admin/dead-letters/purge", `{"ids": ["c1"]}`},
	} {
		p := checkProblem(t, admin(h, tc.method, tc.path, tc.body), http.StatusServiceUnavailable)
		if !strings.Contains(p.Detail, "RabbitMQ") {
			t.Errorf("%s %s detail: got %q, want it to name RabbitMQ", tc.method, tc.path, p.Detail)
		}
	}
}

func TestDeadLettersNeedTheAdminToken(t *testing.T) {
	t.Parallel()
	h := deadLetterAPI(t, unreachable)
	for _, tc := range []struct {
		name, auth string
		status     int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"wrong token", "Bearer wrong", http.StatusForbidden},
	} {
		for _, path := range []string{"/api/admin/dead-letters", "/api/admin/dead-letters/requeue", "/api/admin/dead-letters/purge"} {
			method := http.MethodPost
			if path == "/api/admin/dead-letters" {
				method = http.MethodGet
			}
			req := httptest.NewRequest(method, path, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Errorf("%s %s with %s: got %d, want %d", method, path, tc.name, rec.Code, tc.status)
			}
		}
	}

	d := newFakes().deps()
	d.DeadLetters = dlq.New(unreachable)
	checkProblem(t, admin(httpapi.New(t.Context(), d), http.MethodGet, "/api/admin/dead-letters", ""), http.StatusNotFound)
}

func TestDeadLettersNotInThisRole(t *testing.T) {
	t.Parallel()
	d := newFakes().deps()
	d.AdminToken = testAdminToken
	h := httpapi.New(t.Context(), d)
	checkProblem(t, admin(h, http.MethodGet, "/api/admin/dead-letters", ""), http.StatusNotFound)
	checkProblem(t, admin(h, http.MethodPost, "/api/admin/dead-letters/requeue", ""), http.StatusNotFound)
	checkProblem(t, admin(h, http.MethodPost, "/api/admin/dead-letters/purge", `{"all": true}`), http.StatusNotFound)
}

// TestDeadLettersRequeueWhenRabbitMQStopsConfirming: a requeue whose
// confirm RabbitMQ holds back (a resource alarm: no confirm, or a
// connection.blocked first) answers 503 with Retry-After, saying so and
// that the letter stays but may be delivered twice, instead of holding the
// request, and the dead letters' session with it, until the alarm clears.
// The dead letters are free at once for the next operation.
func TestDeadLettersRequeueWhenRabbitMQStopsConfirming(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, blocked string
		want          []string
	}{
		{"no confirm", "", []string{"did not confirm a requeued letter in time", "resource alarm"}},
		{"connection blocked", "low on disk", []string{"RabbitMQ is blocking publishers: resource alarm"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url := brokerWithDeadLetters(t, "c1", "c2")
			sb := testenv.NewStallingBroker(t, url)
			sb.StallAt(2, tc.blocked) // c2's copy
			c := dlq.New(sb.URL)
			c.ConfirmTimeout = 2 * time.Second // c1's whole publish and confirm fit in it too
			if tc.blocked != "" {
				c.ConfirmTimeout = time.Minute // the block alone ends the wait
			}
			d := newFakes().deps()
			d.AdminToken = testAdminToken
			d.DeadLetters = c
			h := httpapi.New(t.Context(), d)

			var rec *httptest.ResponseRecorder
			_ = testenv.EndsWithin(t, 10*time.Second, "the requeue request, its confirm held back,", func() error {
				rec = admin(h, http.MethodPost, "/api/admin/dead-letters/requeue", "")
				return nil
			})
			p := checkProblem(t, rec, http.StatusServiceUnavailable)
			for _, want := range append(tc.want, "stays in the dead letters", "delivered twice", "1 were requeued before the failure") {
				if !strings.Contains(p.Detail, want) {
					t.Errorf("detail %q: want it to say %q", p.Detail, want)
				}
			}
			if rec.Header().Get("Retry-After") == "" {
				t.Error("Retry-After: got none, want one")
			}
			// c2 stays (its copy is out too: the broker read it); the next
			// operation does not wait for the dead letters.
			settled(t, url, 1)
			start := time.Now()
			ids, _ := listIDs(t, deadLetterAPI(t, url), "")
			if !slices.Equal(ids, []string{"c2"}) {
				t.Errorf("dead letters after the stopped requeue: got %v, want [c2]", ids)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("the next listing took %s: the stopped requeue held the dead letters", took)
			}
		})
	}
}
