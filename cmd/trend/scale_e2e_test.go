package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/movietrend/trend/internal/config"
	"github.com/movietrend/trend/internal/testenv"
)

// TestTwoWorkersShareTheQueues runs a second `trend worker` beside `trend
// all`: both consume the same queues (competing consumers), both handle
// messages, and every view is counted exactly once.
func TestTwoWorkersShareTheQueues(t *testing.T) {
	t.Parallel()
	s := startSystem(t, sysOptions{})
	var logs bytes.Buffer
	s.startWorker(&logs)
	cfg, err := config.FromEnv(s.env("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 30*time.Second, "two consumers on every command queue", func() bool {
		r := s.do(http.MethodGet, "/api/pipeline", "", "")
		var p struct {
			Queues []struct {
				Name      string
				Consumers int
			}
		}
		if json.Unmarshal(r.body, &p) != nil {
			return false
		}
		// One consumer per process, and WORKER_CONSUMERS per process on
		// the hot queue.
		want := map[string]int{"commands.RegisterMovie": 2, "commands.RefreshMovie": 2, "commands.RecordViews": 2 * cfg.WorkerConsumers}
		n := 0
		for _, q := range p.Queues {
			if c, ok := want[q.Name]; ok && q.Consumers == c {
				n++
			}
		}
		return n == len(want)
	})
	s.register(27205)
	s.register(157336)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range 60 {
				id := []int{27205, 157336}[(w+i)%2]
				r, err := s.tryPostJSON("/api/movies/view", fmt.Sprintf(`{"tmdb_id":%d}`, id))
				if err != nil {
					t.Errorf("view: %v", err)
					return
				}
				if r.status != http.StatusAccepted {
					t.Errorf("view: got %d", r.status)
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow() // views were not accepted: the 480 below would never be counted
	}
	s.waitViews(27205, 480)
	s.waitViews(157336, 480)
	logMu.Lock()
	second := strings.Count(logs.String(), `"message handled"`)
	logMu.Unlock()
	first := strings.Count(s.logsText(), `"message handled"`)
	t.Logf("messages handled: trend all %d, second worker %d", first, second)
	if first == 0 || second == 0 {
		t.Errorf("messages handled: trend all %d, second worker %d; want both to share the load", first, second)
	}
}

// startWorker starts a `trend worker` beside the system's `trend all`,
// logging to logs; the test's cleanup stops it with SIGTERM if it still
// runs.
func (s *system) startWorker(logs *bytes.Buffer) *process {
	s.t.Helper()
	cmd := exec.Command(binary, "worker", "--no-migrate")
	cmd.Env = s.env("127.0.0.1:0")
	cmd.Stdout, cmd.Stderr = syncWriter(logs), syncWriter(logs)
	worker := startProcess(s.t, cmd)
	s.t.Cleanup(func() {
		if worker.running() {
			_, _ = worker.terminate()
		}
	})
	return worker
}
