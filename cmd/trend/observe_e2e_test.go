package main_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/movietrend/trend/internal/testenv"
)

// scrape returns the samples of /metrics whose name and labels match
// pattern, summed.
func (s *system) scrape(t *testing.T, pattern string) float64 {
	t.Helper()
	r := s.do(http.MethodGet, "/metrics", "", "")
	if r.status != http.StatusOK {
		t.Fatalf("GET /metrics: got %d", r.status)
	}
	re := regexp.MustCompile(pattern)
	sum := 0.0
	sc := bufio.NewScanner(strings.NewReader(string(r.body)))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 || !re.MatchString(line[:i]) {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

func TestMetricsMoveWithThePipeline(t *testing.T) {
	t.Parallel()
	s := startSystem(t, sysOptions{})
	views := `^trend_http_request_duration_seconds_count\{method="POST",route="/api/movies/view",status="202"\}$`
	handled := `^trend_messages_total\{handler="[^"]*RecordViews[^"]*",outcome="handled"\}$`
	tmdbOK := `^trend_tmdb_requests_total\{code="200"\}$`
	relayed := `^trend_relay_messages_total$`
	before := []float64{s.scrape(t, views), s.scrape(t, handled), s.scrape(t, tmdbOK), s.scrape(t, relayed)}
	s.register(27205)
	s.waitActive(27205)
	for range 7 {
		s.postJSON("/api/movies/view", `{"tmdb_id":27205}`)
	}
	s.waitViews(27205, 7)
	after := []float64{s.scrape(t, views), s.scrape(t, handled), s.scrape(t, tmdbOK)}
	if after[0]-before[0] != 7 {
		t.Errorf("view requests measured: got %v more, want 7", after[0]-before[0])
	}
	if after[1] <= before[1] {
		t.Errorf("RecordViews messages handled: got %v then %v, want more", before[1], after[1])
	}
	if after[2]-before[2] != 1 {
		t.Errorf("TMDB requests answered 200: got %v more, want 1", after[2]-before[2])
	}
	// At least the registration, its event batch, the details' batch, one
	// RecordViews command and its batch went through the outbox. The relay
	// counts a batch after its transaction commits, which may be just after
	// a handler saw its messages.
	testenv.WaitFor(t, 10*time.Second, "the relay to count at least 5 messages", func() bool {
		return s.scrape(t, relayed)-before[3] >= 5
	})
	for _, name := range []string{"trend_outbox_backlog", "trend_relay_lag_seconds", "trend_projection_lag_seconds", "trend_event_log_head", "trend_dead_letters", "trend_replay_running", "trend_message_handle_duration_seconds_count", "trend_tmdb_circuit_open"} {
		if !regexp.MustCompile(`(?m)^` + name + `[{ ]`).Match(s.do(http.MethodGet, "/metrics", "", "").body) {
			t.Errorf("/metrics has no %s", name)
		}
	}
	if head := s.scrape(t, `^trend_event_log_head$`); head < 9 {
		t.Errorf("trend_event_log_head: got %v, want at least 9 (registration, details, 7 views)", head)
	}
}

// TestCorrelationIDFollowsARequest sends a registration with its own
// request id and finds it in the API's log line for the request and in the
// worker's log lines for every message it caused: the command, and the
// event batches it led to.
func TestCorrelationIDFollowsARequest(t *testing.T) {
	t.Parallel()
	s := startSystem(t, sysOptions{})
	req, _ := http.NewRequest(http.MethodPost, s.base+"/api/movies/register", strings.NewReader(`{"tmdb_id":550}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", "e2e-correlation-42")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s.waitActive(550)
	want := map[string]bool{"request": false, "RegisterMovie": false, "tmdb-enrichment": false, "trend-projection": false}
	testenv.WaitFor(t, 10*time.Second, "the correlation id in the logs of every step", func() bool {
		for _, line := range strings.Split(s.logsText(), "\n") {
			var l struct {
				Msg, Handler  string
				CorrelationID string `json:"correlation_id"`
			}
			if json.Unmarshal([]byte(line), &l) != nil || l.CorrelationID != "e2e-correlation-42" {
				continue
			}
			if l.Msg == "request" {
				want["request"] = true
			}
			for step := range want {
				if strings.Contains(l.Handler, step) {
					want[step] = true
				}
			}
		}
		for _, seen := range want {
			if !seen {
				return false
			}
		}
		return true
	})
}
