package main_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/movietrend/trend/internal/messaging"
	"github.com/movietrend/trend/internal/testenv"
)

func TestRegisterEnrichAndList(t *testing.T) {
	t.Parallel()
	s := startSystem(t, sysOptions{})
	r := s.postJSON("/api/movies/register", `{"tmdb_id":27205}`)
	if r.status != http.StatusAccepted || r.header.Get("Location") != "/api/movies/27205" {
		t.Fatalf("register: got %d, Location %q; want 202, /api/movies/27205", r.status, r.header.Get("Location"))
	}
	var pending movie
	if err := json.Unmarshal(r.body, &pending); err != nil || pending.Status != "pending" || pending.Title != nil || !strings.HasSuffix(pending.RegisteredAt, "Z") {
		t.Errorf("register body: got %s, want a pending movie with a UTC registered_at", r.body)
	}
	m := s.waitActive(27205)
	if m.Title == nil || *m.Title != "Inception" || m.ExternalScore == nil || *m.ExternalScore != 8.1 || m.FinalTrendScore != 5.7 {
		t.Errorf("got %+v, want Inception, vote 8.1, score 5.7", m)
	}
	if r := s.postJSON("/api/movies/register", `{"tmdb_id":27205}`); r.status != http.StatusConflict {
		t.Errorf("second registration: got %d, want 409", r.status)
	}
	for range 3 {
		if r := s.postJSON("/api/movies/view", `{"tmdb_id":27205}`); r.status != http.StatusAccepted {
			t.Fatalf("view: got %d %s, want 202", r.status, r.body)
		}
	}
	s.waitViews(27205, 3)
	if m, _ := s.movie(27205); m.FinalTrendScore != 5.8 { // 5.67 + 0.09
		t.Errorf("score after 3 views: got %v, want 5.8", m.FinalTrendScore)
	}
	s.register(157336) // Interstellar, 8.1 as well: ranks after Inception's views
	s.waitActive(157336)
	r = s.do(http.MethodGet, "/api/movies?limit=10", "", "")
	var list []movie
	if err := json.Unmarshal(r.body, &list); err != nil {
		t.Fatal(err)
	}
	if r.status != http.StatusOK || r.header.Get("X-Total-Count") != "2" || len(list) != 2 || list[0].TMDBID != 27205 || list[1].TMDBID != 157336 {
		t.Errorf("list: got %d, total %q, %+v; want 27205 then 157336", r.status, r.header.Get("X-Total-Count"), list)
	}
	for _, path := range []string{"/api/movies/27205/refresh", "/api/movies/trigger_external_update/27205"} {
		before := s.tmdb.requestsFor(27205)
		if r := s.postJSON(path, ""); r.status != http.StatusAccepted {
			t.Errorf("%s: got %d, want 202", path, r.status)
		}
		testenv.WaitFor(t, 20*time.Second, "a TMDB request for the refresh", func() bool { return s.tmdb.requestsFor(27205) > before })
	}
	if r := s.postJSON("/api/movies/424242/refresh", ""); r.status != http.StatusNotFound {
		t.Errorf("refresh of an unknown movie: got %d, want 404", r.status)
	}
	if strings.Contains(s.logsText(), testKey) {
		t.Error("the TMDB key appears in the logs")
	}
	r = s.do(http.MethodGet, "/api/pipeline", "", "")
	var pl struct {
		LogHead     int64 `json:"log_head"`
		DeadLetters int   `json:"dead_letters"`
		Queues      []struct {
			Name      string `json:"name"`
			Consumers int    `json:"consumers"`
		} `json:"queues"`
		ManagementURL string `json:"rabbitmq_management_url"`
	}
	if err := json.Unmarshal(r.body, &pl); err != nil || r.status != http.StatusOK {
		t.Fatalf("pipeline: got %d %s", r.status, r.body)
	}
	consumers := map[string]int{}
	for _, q := range pl.Queues {
		consumers[q.Name] = q.Consumers
	}
	if pl.LogHead < 5 || pl.DeadLetters != 0 || consumers["commands.RecordViews"] < 1 || consumers["events.trend-projection"] < 1 || !strings.HasSuffix(pl.ManagementURL, ":15672") {
		t.Errorf("pipeline: got %s, want a log head of at least 5 events, no dead letters, consumers on every queue", r.body)
	}
	if r := s.do(http.MethodGet, "/", "", ""); r.status != http.StatusOK || !strings.Contains(string(r.body), "<html") {
		t.Errorf("GET /: got %d %.80s, want the dashboard page", r.status, r.body)
	}
	if r := s.do(http.MethodGet, "/api/nope", "", ""); r.status != http.StatusNotFound || r.header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("GET /api/nope: got %d %s, want a 404 problem", r.status, r.header.Get("Content-Type"))
	}
}

func TestConcurrentViewsAreCountedExactly(t *testing.T) {
	t.Parallel()
	s := startSystem(t, sysOptions{})
	s.register(550)
	s.register(680)
	const workers, each = 32, 40
	var wg sync.WaitGroup
	var failed atomic.Int64
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				id := []int64{550, 680}[(w+i)%2]
				r, err := s.tryPostJSON("/api/movies/view", fmt.Sprintf(`{"tmdb_id":%d}`, id))
				if err != nil {
					t.Errorf("view: %v", err)
					return
				}
				if r.status != http.StatusAccepted {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d views were not accepted", n)
	}
	if t.Failed() {
		t.FailNow() // a client gave up: the counts below would wait for its views in vain
	}
	s.waitViews(550, workers*each/2)
	s.waitViews(680, workers*each/2)
}

func TestRepeatedViewIDIsCountedOnce(t *testing.T) {
	t.Parallel()
	s := startSystem(t, sysOptions{})
	s.register(603)
	id := uuid.NewString()
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			r, err := s.tryPostJSON("/api/movies/view", `{"tmdb_id":603,"view_id":"`+id+`"}`)
			if err != nil {
				t.Errorf("view: %v", err)
				return
			}
			var body map[string]string
			_ = json.Unmarshal(r.body, &body)
			if r.status != http.StatusAccepted || body["view_id"] != id {
				t.Errorf("view: got %d %s, want 202 with view_id %s", r.status, r.body, id)
			}
		})
	}
	wg.Wait()
	if r := s.postJSON("/api/movies/view", `{"tmdb_id":603}`); r.status != http.StatusAccepted {
		t.Fatalf("view: got %d", r.status)
	}
	s.waitViews(603, 2)
}

func TestMovieTMDBDoesNotKnowIsRemoved(t *testing.T) {
	t.Parallel()
	s := startSystem(t, sysOptions{})
	s.register(999999999)
	testenv.WaitFor(t, 30*time.Second, "the unknown movie to be removed", func() bool {
		_, status := s.movie(999999999)
		return status == http.StatusNotFound
	})
	if r := s.postJSON("/api/movies/view", `{"tmdb_id":999999999}`); r.status != http.StatusNotFound {
		t.Errorf("view of a removed movie: got %d, want 404", r.status)
	}
	// The 404s come from the registrations (the write model), maybe before
	// the projection has applied the registration and the removal: an empty
	// list then would show nothing. Once the projection has applied every
	// event of the log, both included, the list is the projection's.
	s.waitQuiet()
	if r := s.do(http.MethodGet, "/api/movies", "", ""); r.header.Get("X-Total-Count") != "0" || strings.TrimSpace(string(r.body)) != "[]" {
		t.Errorf("the list after the removal was applied: X-Total-Count %q, %s; want the removed movie left out", r.header.Get("X-Total-Count"), r.body)
	}
	// TMDB may know it later: registering again is allowed.
	if r := s.postJSON("/api/movies/register", `{"tmdb_id":999999999}`); r.status != http.StatusAccepted {
		t.Errorf("registering a removed movie again: got %d, want 202", r.status)
	}
}

// A movie TMDB removed and then registered again counts the views sent
// right after the new registration. They travel on another queue than
// the registration and can reach the log first; this run does not force
// that order (TestProjectionFollowsAMovie does, on the projection).
func TestMovieRegisteredAgainCountsItsNewViews(t *testing.T) {
	t.Parallel()
	s := startSystem(t, sysOptions{})
	s.tmdb.fail(603, http.StatusNotFound) // the first time only
	s.register(603)
	testenv.WaitFor(t, 30*time.Second, "the movie TMDB did not know to be removed", func() bool {
		r := s.do(http.MethodGet, "/api/movies", "", "")
		_, status := s.movie(603)
		return status == http.StatusNotFound && r.header.Get("X-Total-Count") == "0"
	})
	s.register(603)
	const views = 40
	for range views {
		if r := s.postJSON("/api/movies/view", `{"tmdb_id":603}`); r.status != http.StatusAccepted {
			t.Fatalf("view right after registering again: got %d %s, want 202", r.status, r.body)
		}
	}
	s.waitViews(603, views)
	if m := s.waitActive(603); m.InternalViewsCount != views {
		t.Errorf("registered again, then active: %d views, want %d", m.InternalViewsCount, views)
	}
}

func TestTMDBFailuresAreRetried(t *testing.T) {
	t.Parallel()
	s := startSystem(t, sysOptions{})
	s.tmdb.fail(13, http.StatusTooManyRequests, http.StatusTooManyRequests)
	s.tmdb.fail(278, http.StatusServiceUnavailable, http.StatusInternalServerError, http.StatusBadGateway)
	s.register(13)
	s.register(278)
	if m := s.waitActive(13); m.Title == nil || *m.Title != "Forrest Gump" {
		t.Errorf("got %+v, want Forrest Gump", m)
	}
	if m := s.waitActive(278); m.Title == nil || *m.Title != "The Shawshank Redemption" {
		t.Errorf("got %+v, want The Shawshank Redemption", m)
	}
	if n := s.tmdb.requestsFor(13); n != 3 {
		t.Errorf("movie 13: got %d TMDB requests, want 3 (two 429s, then success)", n)
	}
	if n := s.tmdb.requestsFor(278); n != 4 {
		t.Errorf("movie 278: got %d TMDB requests, want 4", n)
	}
}

// publishRaw publishes a message straight to RabbitMQ, as the relay would,
// with extra headers if given.
func publishRaw(t *testing.T, amqpURL, exchange, name, messageID string, payload []byte, extra ...amqp.Table) {
	t.Helper()
	headers := amqp.Table{"name": name, "_watermill_message_uuid": messageID}
	for _, e := range extra {
		for k, v := range e {
			headers[k] = v
		}
	}
	testenv.Publish(t, amqpURL, exchange, amqp.Publishing{Headers: headers, DeliveryMode: amqp.Persistent, Body: payload})
}

func TestRedeliveredCommandIsCountedOnce(t *testing.T) {
	t.Parallel()
	s := startSystem(t, sysOptions{})
	s.register(155)
	s.waitActive(155)
	cmdID := uuid.NewString()
	payload := fmt.Sprintf(`{"command_id":%q,"views":[{"view_id":%q,"tmdb_id":155,"viewed_at":"2026-11-26T10:00:00Z"},{"view_id":%q,"tmdb_id":155,"viewed_at":"2026-11-26T10:00:01Z"}]}`,
		cmdID, uuid.NewString(), uuid.NewString())
	for range 3 {
		publishRaw(t, s.amqpURL, messaging.CommandTopic("RecordViews"), "RecordViews", cmdID, []byte(payload))
	}
	s.waitViews(155, 2)
}

// A command whose headers hold a number (sent from RabbitMQ's management
// UI, or by a quorum queue: x-delivery-count) is handled like any other.
// watermill-amqp's own marshaler refused it before any handler, and the
// message went back to its queue for ever.
func TestACommandWithANumberInItsHeadersIsHandled(t *testing.T) {
	t.Parallel()
	s := startSystem(t, sysOptions{})
	s.register(155)
	s.waitActive(155)
	cmdID := uuid.NewString()
	payload := fmt.Sprintf(`{"command_id":%q,"views":[{"view_id":%q,"tmdb_id":155,"viewed_at":"2026-11-26T10:00:00Z"}]}`, cmdID, uuid.NewString())
	publishRaw(t, s.amqpURL, messaging.CommandTopic("RecordViews"), "RecordViews", cmdID, []byte(payload), amqp.Table{"x-delivery-count": int64(1)})
	s.waitViews(155, 1)
}

// The relay bundles RecordViews commands, and after a crash it may bundle
// them otherwise: each command is still counted once. A bundle holding a
// command no retry can fix goes to the dead letters, and its good
// commands are counted.
func TestCommandsRegroupedInBundlesAreCountedOnce(t *testing.T) {
	t.Parallel()
	s := startSystem(t, sysOptions{})
	s.register(155)
	s.waitActive(155)
	command := func(payload string) *message.Message {
		m := message.NewMessage(uuid.NewString(), []byte(payload))
		m.Metadata.Set("name", "RecordViews")
		return m
	}
	cmds := make([]*message.Message, 5)
	for i := range cmds {
		cmds[i] = command(fmt.Sprintf(`{"command_id":%q,"views":[{"view_id":%q,"tmdb_id":155,"viewed_at":"2026-11-26T10:00:00Z"},{"view_id":%q,"tmdb_id":155,"viewed_at":"2026-11-26T10:00:01Z"}]}`,
			uuid.NewString(), uuid.NewString(), uuid.NewString()))
	}
	publishBundle := func(msgs ...*message.Message) {
		t.Helper()
		b, err := messaging.Bundle(msgs)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := wamqp.DefaultMarshaler{}.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		testenv.Publish(t, s.amqpURL, messaging.CommandTopic("RecordViews"), pub)
	}
	publishBundle(cmds[0], cmds[1], cmds[2])
	publishBundle(cmds[2], cmds[1], cmds[3])
	publishRaw(t, s.amqpURL, messaging.CommandTopic("RecordViews"), "RecordViews", cmds[0].UUID, cmds[0].Payload)
	s.waitViews(155, 8)

	publishBundle(cmds[4], command(`{"views": "not a list"`))
	testenv.WaitFor(t, 60*time.Second, "the bundle in the dead letters", func() bool {
		n, err := testenv.QueueDepth(s.amqpURL, messaging.DeadLetterTopic)
		return err == nil && n == 1
	})
	s.waitViews(155, 10)
}

func TestPoisonMessageGoesToDeadLetters(t *testing.T) {
	t.Parallel()
	s := startSystem(t, sysOptions{})
	s.register(120)
	s.waitActive(120)
	publishRaw(t, s.amqpURL, messaging.CommandTopic("RecordViews"), "RecordViews", uuid.NewString(), []byte(`{"views": "not a list"`))
	publishRaw(t, s.amqpURL, messaging.EventsTopic, "Batch", uuid.NewString(), []byte(`{"batch_id":"`+uuid.NewString()+`","events":[{"type":"NoSuchEvent","version":1,"data":{}}]}`))
	for range 5 {
		if r := s.postJSON("/api/movies/view", `{"tmdb_id":120}`); r.status != http.StatusAccepted {
			t.Fatalf("view: got %d", r.status)
		}
	}
	s.waitViews(120, 5)
	testenv.WaitFor(t, 60*time.Second, "both poisoned messages in the dead letters", func() bool {
		n, err := testenv.QueueDepth(s.amqpURL, messaging.DeadLetterTopic)
		return err == nil && n == 2
	})
	if !s.proc.running() {
		t.Fatalf("trend all exited after the poisoned messages: %v", s.proc.err)
	}
	if r := s.postJSON("/api/movies/view", `{"tmdb_id":120}`); r.status != http.StatusAccepted {
		t.Fatalf("view after the poison: got %d", r.status)
	}
	s.waitViews(120, 6)
}

func TestBadInputNeverGivesA500(t *testing.T) {
	t.Parallel()
	s := startSystem(t, sysOptions{})
	bodies := []string{"", "{", "[]", "null", `{"tmdb_id":"x"}`, `{"tmdb_id":1e309}`, `{"tmdb_id":99999999999999999999999}`,
		`{"tmdb_id":-5}`, `{"tmdb_id":{}}`, `{"tmdb_id":1,"view_id":"zz"}`, `{"tmdb_id":1,"extra":1}`, strings.Repeat("[", 100000), "\x00\xff"}
	for _, path := range []string{"/api/movies/register", "/api/movies/view", "/api/movies/x/refresh", "/api/movies/-1/refresh"} {
		for _, b := range bodies {
			for _, ct := range []string{"application/json", "text/plain", ""} {
				if r := s.do(http.MethodPost, path, ct, b); r.status >= 500 {
					t.Errorf("POST %s (%s) %.40q: got %d", path, ct, b, r.status)
				} else if r.status >= 400 && r.header.Get("Content-Type") != "application/problem+json" {
					t.Errorf("POST %s %.40q: got %d with Content-Type %q, want problem+json", path, b, r.status, r.header.Get("Content-Type"))
				}
			}
		}
	}
	for _, path := range []string{"/api/movies/abc", "/api/movies/0", "/api/movies/99999999999", "/api/movies?limit=-1", "/api/movies?offset=x", "/api/nothing"} {
		if r := s.do(http.MethodGet, path, "", ""); r.status >= 500 || r.status < 400 {
			t.Errorf("GET %s: got %d, want a 4xx problem", path, r.status)
		}
	}
}

func TestViewsAcceptedWhileBrokerIsDownAreCountedOnceItIsBack(t *testing.T) {
	t.Parallel()
	vhostURL := testenv.BrokerURL(t)
	u, err := url.Parse(vhostURL)
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, u.Host)
	u.Host = p.addr
	s := startSystem(t, sysOptions{amqpURL: u.String()})
	s.register(11)
	s.waitActive(11)
	for range 10 {
		if r := s.postJSON("/api/movies/view", `{"tmdb_id":11}`); r.status != http.StatusAccepted {
			t.Fatalf("view: got %d", r.status)
		}
	}
	s.waitViews(11, 10)

	p.stop() // the broker is gone for the service
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 25 {
				r, err := s.tryPostJSON("/api/movies/view", `{"tmdb_id":11}`)
				if err != nil {
					t.Errorf("view while RabbitMQ is down: %v", err)
					return
				}
				if r.status != http.StatusAccepted {
					t.Errorf("view while RabbitMQ is down: got %d %s, want 202", r.status, r.body)
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow() // views were not accepted: the 210 below would never be counted
	}
	time.Sleep(2 * time.Second)
	if m, _ := s.movie(11); m.InternalViewsCount != 10 {
		t.Errorf("while RabbitMQ is down: got %d views counted, want still 10", m.InternalViewsCount)
	}
	p.start() // back, on the same address, without restarting trend
	s.waitViews(11, 210)
}

func TestTrendingAndBreakdown(t *testing.T) {
	t.Parallel()
	s := startSystem(t, sysOptions{})
	s.register(27205) // Inception 8.1
	s.register(19995) // Avatar 7.2
	s.waitActive(27205)
	s.waitActive(19995)
	late := time.Now().UTC().Add(-3 * time.Hour).Format(time.RFC3339)
	for i := range 6 {
		body := `{"tmdb_id":19995}`
		if i%2 == 0 {
			body = `{"tmdb_id":19995,"viewed_at":"` + late + `"}`
		}
		if r := s.postJSON("/api/movies/view", body); r.status != http.StatusAccepted {
			t.Fatalf("view: got %d %s", r.status, r.body)
		}
	}
	if r := s.postJSON("/api/movies/view", `{"tmdb_id":19995,"viewed_at":"2020-01-01T00:00:00Z"}`); r.status != http.StatusUnprocessableEntity {
		t.Errorf("a view older than a week: got %d, want 422", r.status)
	}
	s.waitViews(19995, 6)
	r := s.do(http.MethodGet, "/api/trending?window=day&limit=10", "", "")
	var list []struct {
		TMDBID     int64   `json:"tmdb_id"`
		TrendScore float64 `json:"trend_score"`
		Attention  float64 `json:"attention"`
		Views      struct {
			LastHour int64 `json:"last_hour"`
			Last24h  int64 `json:"last_24_hours"`
		} `json:"views"`
	}
	if err := json.Unmarshal(r.body, &list); err != nil || r.status != http.StatusOK {
		t.Fatalf("trending: got %d %s", r.status, r.body)
	}
	// 3 views now and 3 three hours ago: attention 3 + 3·2^(-3/24) ≈ 5.75.
	if len(list) != 2 || list[0].TMDBID != 19995 || list[0].Attention < 5.7 || list[0].Attention > 5.76 ||
		list[0].Views.LastHour != 3 || list[0].Views.Last24h != 6 || list[1].TrendScore != 0 {
		t.Errorf("trending: got %s, want Avatar first with attention about 5.75, 3 views in the last hour and 6 in the day", r.body)
	}
	r = s.do(http.MethodGet, "/api/movies/19995/trend", "", "")
	var b struct {
		Classic struct {
			VoteTerm        float64 `json:"vote_term"`
			ViewsTerm       float64 `json:"views_term"`
			FinalTrendScore float64 `json:"final_trend_score"`
		} `json:"classic"`
		History []struct{ Views int64 } `json:"history"`
	}
	if err := json.Unmarshal(r.body, &b); err != nil || r.status != http.StatusOK {
		t.Fatalf("breakdown: got %d %s", r.status, r.body)
	}
	var hist int64
	for _, p := range b.History {
		hist += p.Views
	}
	if math.Abs(b.Classic.VoteTerm-7.2*0.7) > 1e-9 || math.Abs(b.Classic.ViewsTerm-0.18) > 1e-9 || b.Classic.FinalTrendScore != 5.2 || hist != 6 {
		t.Errorf("breakdown: got %s, want vote term 5.04, views term 0.18, score 5.2, 6 views in the history", r.body)
	}
	if r := s.do(http.MethodGet, "/api/trending?window=month", "", ""); r.status != http.StatusUnprocessableEntity {
		t.Errorf("window=month: got %d, want 422", r.status)
	}
}

func TestBatchesOfViewsAreCountedExactly(t *testing.T) {
	t.Parallel()
	s := startSystem(t, sysOptions{})
	s.register(13)
	s.register(278)
	items := make([]string, 1000)
	for i := range items {
		items[i] = fmt.Sprintf(`{"tmdb_id":%d,"view_id":%q}`, []int{13, 278}[i%2], uuid.NewString())
	}
	body := `{"views":[` + strings.Join(items, ",") + `]}`
	for range 3 { // the same batch three times: its view ids make it count once
		if r := s.postJSON("/api/views", body); r.status != http.StatusAccepted {
			t.Fatalf("batch: got %d %s", r.status, r.body)
		}
	}
	if r := s.postJSON("/api/views", `{"views":[{"tmdb_id":13},{"tmdb_id":424242}]}`); r.status != http.StatusNotFound {
		t.Errorf("a batch with an unknown movie: got %d, want 404", r.status)
	}
	s.waitViews(13, 500)
	s.waitViews(278, 500)
}
