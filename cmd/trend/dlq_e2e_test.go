package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/movietrend/trend/internal/messaging"
	"github.com/movietrend/trend/internal/testenv"
)

// runTrend runs a one-shot subcommand of the binary (status, dlq) against
// the system's database and broker and returns its standard output.
func (s *system) runTrend(args ...string) (string, error) {
	s.t.Helper()
	cmd := exec.CommandContext(s.t.Context(), binary, args...)
	cmd.Env = s.env("127.0.0.1:0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("trend %s: %w; stderr:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

func (s *system) mustRunTrend(args ...string) string {
	s.t.Helper()
	out, err := s.runTrend(args...)
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

// waitDeadLetters waits until the dead-letters queue holds exactly n.
func (s *system) waitDeadLetters(n int) {
	s.t.Helper()
	testenv.WaitFor(s.t, 60*time.Second, fmt.Sprintf("%d dead letters", n), func() bool {
		got, err := testenv.QueueDepth(s.amqpURL, messaging.DeadLetterTopic)
		return err == nil && got == n
	})
}

// waitTopology waits until the relay or the worker declared the exchanges
// and queues (dead-letters is declared last): publishRaw to an exchange
// that does not exist yet is refused.
func (s *system) waitTopology() {
	s.t.Helper()
	testenv.WaitFor(s.t, 30*time.Second, "the topology to be declared", func() bool {
		_, err := testenv.QueueDepth(s.amqpURL, messaging.DeadLetterTopic)
		return err == nil
	})
}

type deadLetter struct {
	ID             string  `json:"id"`
	Reason         string  `json:"reason"`
	Topic          string  `json:"topic"`
	Handler        string  `json:"handler"`
	PayloadPreview string  `json:"payload_preview"`
	PayloadBytes   int     `json:"payload_bytes"`
	DeadLetteredAt *string `json:"dead_lettered_at"`
}

func (s *system) dlqList() []deadLetter {
	s.t.Helper()
	out := s.mustRunTrend("dlq", "list", "--json")
	var letters []deadLetter
	if err := json.Unmarshal([]byte(out), &letters); err != nil {
		s.t.Fatalf("trend dlq list --json: got %q, want a JSON array (%v)", out, err)
	}
	return letters
}

func letterIDs(ls []deadLetter) []string {
	var ids []string
	for _, l := range ls {
		ids = append(ids, l.ID)
	}
	slices.Sort(ids)
	return ids
}

type statusJSON struct {
	OutboxBacklog int `json:"outbox_backlog"`
	DeadLetters   int `json:"dead_letters"`
	Queues        []struct {
		Name      string `json:"name"`
		Messages  int    `json:"messages"`
		Consumers int    `json:"consumers"`
	} `json:"queues"`
	ProjectionLagEvents *int64 `json:"projection_lag_events"`
	Replays             []struct {
		Projection string `json:"projection"`
		State      string `json:"state"`
	} `json:"replays"`
}

// TestDLQListRequeueAndPurgeFromTheCommandLine dead-letters two messages:
// a malformed command (publishRaw), which fails whatever happens, and the
// registration of a movie TMDB answers with a 400 (an error no retry can
// fix, so dead-lettered at once) until the test fixes it, which succeeds
// once requeued.
func TestDLQListRequeueAndPurgeFromTheCommandLine(t *testing.T) {
	t.Parallel()
	s := startSystem(t, sysOptions{})
	const movieID = 550
	s.tmdb.fail(movieID, slices.Repeat([]int{http.StatusBadRequest}, 50)...)
	s.register(movieID)
	s.waitTopology()
	poison := uuid.NewString()
	payload := `{"views": "not a list"`
	publishRaw(t, s.amqpURL, messaging.CommandTopic("RecordViews"), "RecordViews", poison, []byte(payload))
	s.waitDeadLetters(2)

	// status, as JSON and as a table. The worker's subscriptions (34 of
	// them) attach one after another as it starts: wait until each queue
	// but the dead letters has its consumer.
	var st statusJSON
	testenv.WaitFor(t, 30*time.Second, "a consumer on every queue", func() bool {
		st = statusJSON{}
		if out := s.mustRunTrend("status", "--json"); json.Unmarshal([]byte(out), &st) != nil {
			t.Fatalf("trend status --json: got %q, want a JSON object", out)
		}
		for _, q := range st.Queues {
			if q.Name != messaging.DeadLetterTopic && q.Consumers == 0 {
				return false
			}
		}
		return len(st.Queues) > 0
	})
	if st.DeadLetters != 2 || len(st.Queues) != 6 || st.ProjectionLagEvents == nil ||
		len(st.Replays) != 1 || st.Replays[0].Projection != "trend" || st.Replays[0].State != "idle" {
		t.Errorf("trend status --json: got %+v, want 2 dead letters, 6 queues, the projection lag, the trend replay idle", st)
	}
	for _, q := range st.Queues {
		if q.Name != messaging.DeadLetterTopic && q.Consumers == 0 {
			t.Errorf("trend status --json: queue %s has no consumer, want the worker on it", q.Name)
		}
	}
	table := s.mustRunTrend("status")
	for _, want := range []string{`QUEUE\s+MESSAGES\s+CONSUMERS`, `\ndead-letters\s+2\s+0\n`, `\noutbox backlog\s+\d+ messages`,
		`\ndead letters\s+2 \(see`, `\nprojection lag\s+`, `\nlast replay \(trend\)\s+never\n`} {
		if !regexp.MustCompile(want).MatchString(table) {
			t.Errorf("trend status: got\n%s\nwant it to match %s", table, want)
		}
	}

	// list: both letters, with what the poison middleware recorded, and
	// still in the queue afterwards.
	letters := s.dlqList()
	if len(letters) != 2 {
		t.Fatalf("trend dlq list: got %d letters, want 2: %+v", len(letters), letters)
	}
	var cmd, batch deadLetter
	for _, l := range letters {
		if l.ID == poison {
			cmd = l
		} else {
			batch = l
		}
	}
	if cmd.Topic != "commands.RecordViews" || cmd.Handler == "" || cmd.Reason == "" || cmd.PayloadPreview != payload || cmd.PayloadBytes != len(payload) {
		t.Errorf("the poisoned command: got %+v, want topic commands.RecordViews, a handler, a reason, the payload", cmd)
	}
	if batch.Topic != messaging.EventsTopic || batch.Handler != "tmdb-enrichment" || !strings.Contains(batch.Reason, "400") {
		t.Errorf("the registration batch: got %+v, want topic events, handler tmdb-enrichment, the TMDB 400 as the reason", batch)
	}
	human := s.mustRunTrend("dlq", "list")
	for _, want := range []string{"2 dead letters in dead-letters", poison, "reason:", "payload:       " + payload} {
		if !strings.Contains(human, want) {
			t.Errorf("trend dlq list: got\n%s\nwant it to contain %q", human, want)
		}
	}
	s.waitDeadLetters(2)
	if m, _ := s.movie(movieID); m.Status != "pending" {
		t.Fatalf("movie %d before the requeue: got status %q, want pending", movieID, m.Status)
	}

	// requeue the registration by id once TMDB answers again: the movie is
	// enriched, the poisoned command stays.
	s.tmdb.fail(movieID)
	if out := s.mustRunTrend("dlq", "requeue", "--id", batch.ID); out != "requeued 1 dead letter\n" {
		t.Errorf("trend dlq requeue --id: got %q, want %q", out, "requeued 1 dead letter\n")
	}
	s.waitActive(movieID)
	s.waitDeadLetters(1)
	if got := letterIDs(s.dlqList()); !slices.Equal(got, []string{poison}) {
		t.Errorf("after requeueing the batch: got %v, want only the poisoned command %s", got, poison)
	}

	// An unknown id changes nothing and fails the command.
	out, err := s.runTrend("dlq", "requeue", "--id", "no-such-id")
	if err == nil || !strings.Contains(out, "no dead letter with id no-such-id") {
		t.Errorf("trend dlq requeue --id no-such-id: got %q, %v; want an error naming the id", out, err)
	}

	// requeue all: the command is handled again, fails again (at once: a
	// payload that is not JSON is not retried) and comes back, with fresh
	// poison headers.
	deadLettered := `^trend_messages_total\{handler="[^"]*RecordViews[^"]*",outcome="dead_lettered"\}$`
	before := s.scrape(t, deadLettered)
	if out := s.mustRunTrend("dlq", "requeue"); out != "requeued 1 dead letter\n" {
		t.Errorf("trend dlq requeue: got %q, want %q", out, "requeued 1 dead letter\n")
	}
	testenv.WaitFor(t, 60*time.Second, "the requeued command to be dead-lettered again", func() bool {
		return s.scrape(t, deadLettered) > before
	})
	s.waitDeadLetters(1)
	if again := s.dlqList(); len(again) != 1 || again[0].ID != poison || again[0].Reason == "" || again[0].Topic != "commands.RecordViews" {
		t.Errorf("after requeueing the poisoned command: got %+v, want it dead-lettered again with a reason", again)
	}

	// purge needs --id or --all: alone it is refused (exit status 2) and
	// deletes nothing; with --all the queue is empty.
	if _, err := s.runTrend("dlq", "purge"); err == nil || !strings.Contains(err.Error(), "exit status 2") {
		t.Errorf("trend dlq purge: got %v, want exit status 2 (usage)", err)
	}
	if n, err := testenv.QueueDepth(s.amqpURL, messaging.DeadLetterTopic); err != nil || n != 1 {
		t.Errorf("dead letters after a bare purge: got %d (%v), want the 1 still there", n, err)
	}
	if out := s.mustRunTrend("dlq", "purge", "--all"); out != "purged 1 dead letter\n" {
		t.Errorf("trend dlq purge --all: got %q, want %q", out, "purged 1 dead letter\n")
	}
	s.waitDeadLetters(0)
	if got := s.dlqList(); len(got) != 0 {
		t.Errorf("after the purge: got %+v, want no dead letters", got)
	}
	if !s.proc.running() {
		t.Fatalf("trend all exited: %v", s.proc.err)
	}
}

func TestDeadLetterAdminEndpoints(t *testing.T) {
	t.Parallel()
	s := startSystem(t, sysOptions{})
	s.waitTopology()
	// Two queues, so that the worker retries both at once.
	p1, p2 := uuid.NewString(), uuid.NewString()
	publishRaw(t, s.amqpURL, messaging.CommandTopic("RecordViews"), "RecordViews", p1, []byte(`{"views": "not a list"`))
	publishRaw(t, s.amqpURL, messaging.CommandTopic("RegisterMovie"), "RegisterMovie", p2, []byte(`{"tmdb_id": "not a number"`))
	s.waitDeadLetters(2)

	if r := s.admin(http.MethodGet, "/api/admin/dead-letters", "", ""); r.status != http.StatusUnauthorized {
		t.Errorf("GET without a token: got %d, want 401", r.status)
	}
	if r := s.admin(http.MethodPost, "/api/admin/dead-letters/purge", "wrong", ""); r.status != http.StatusForbidden {
		t.Errorf("POST purge with a wrong token: got %d, want 403", r.status)
	}
	list := func() []deadLetter {
		t.Helper()
		r := s.admin(http.MethodGet, "/api/admin/dead-letters", adminToken, "")
		var ls []deadLetter
		if r.status != http.StatusOK || json.Unmarshal(r.body, &ls) != nil {
			t.Fatalf("GET dead-letters: got %d %s, want 200 and a JSON array", r.status, r.body)
		}
		return ls
	}
	ls := list()
	if got, want := letterIDs(ls), letterIDs([]deadLetter{{ID: p1}, {ID: p2}}); !slices.Equal(got, want) {
		t.Fatalf("GET dead-letters: got %v, want %v", got, want)
	}
	for _, l := range ls {
		if !strings.HasPrefix(l.Topic, "commands.") || l.Reason == "" || l.Handler == "" {
			t.Errorf("GET dead-letters: got %+v, want the topic, reason and handler", l)
		}
	}
	if r := s.admin(http.MethodPost, "/api/admin/dead-letters/requeue", adminToken, `{"ids": []}`); r.status != http.StatusUnprocessableEntity {
		t.Errorf("POST requeue with an empty id list: got %d %s, want 422", r.status, r.body)
	}

	deadLettered := `^trend_messages_total\{handler="[^"]*RecordViews[^"]*",outcome="dead_lettered"\}$`
	before := s.scrape(t, deadLettered)
	r := s.admin(http.MethodPost, "/api/admin/dead-letters/requeue", adminToken, fmt.Sprintf(`{"ids": [%q]}`, p1))
	if r.status != http.StatusOK || strings.TrimSpace(string(r.body)) != `{"requeued":1}` {
		t.Fatalf("POST requeue p1: got %d %s, want 200 {\"requeued\":1}", r.status, r.body)
	}
	// p1 is handled again, fails again and is dead-lettered again: never lost.
	testenv.WaitFor(t, 60*time.Second, "p1 to be dead-lettered again", func() bool { return s.scrape(t, deadLettered) > before })
	s.waitDeadLetters(2)

	// A purge must say which letters: with no body, or {}, it is refused
	// and deletes nothing.
	for _, body := range []string{"", `{}`} {
		r = s.admin(http.MethodPost, "/api/admin/dead-letters/purge", adminToken, body)
		var p struct {
			Detail string `json:"detail"`
		}
		if r.status != http.StatusUnprocessableEntity || json.Unmarshal(r.body, &p) != nil || !strings.Contains(p.Detail, `{"all": true}`) {
			t.Errorf("POST purge with body %q: got %d %s, want 422 saying to send {\"all\": true}", body, r.status, r.body)
		}
	}
	s.waitDeadLetters(2)
	r = s.admin(http.MethodPost, "/api/admin/dead-letters/purge", adminToken, `{"all": true}`)
	if r.status != http.StatusOK || strings.TrimSpace(string(r.body)) != `{"purged":2}` {
		t.Fatalf("POST purge all: got %d %s, want 200 {\"purged\":2}", r.status, r.body)
	}
	if ls := list(); len(ls) != 0 {
		t.Errorf("GET dead-letters after the purge: got %+v, want []", ls)
	}
}
