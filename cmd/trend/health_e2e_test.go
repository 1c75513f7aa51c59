package main_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/movietrend/trend/internal/testenv"
)

// TestRelayAndWorkerServeLiveness: with HEALTH_ADDR, `trend relay` and
// `trend worker` answer GET /healthz with 200 {"status":"ok"} (what the
// compose health checks probe).
func TestRelayAndWorkerServeLiveness(t *testing.T) {
	t.Parallel()
	dbURL, amqpURL := testenv.DatabaseURL(t), testenv.BrokerURL(t)
	// The relay first: it applies the migrations the worker then skips.
	for _, args := range [][]string{{"relay"}, {"worker", "--no-migrate"}} {
		var logs bytes.Buffer
		addr := freeAddr(t)
		cmd := exec.Command(binary, args...)
		cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "AMQP_URL="+amqpURL, "HEALTH_ADDR="+addr,
			"HTTP_ADDR=127.0.0.1:0", "LOG_LEVEL=debug")
		cmd.Stdout, cmd.Stderr = syncWriter(&logs), syncWriter(&logs)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		t.Cleanup(func() { _ = cmd.Process.Kill() }) // if a wait below fails the test
		var body string
		testenv.WaitFor(t, 30*time.Second, args[0]+" to answer /healthz on HEALTH_ADDR with 200", func() bool {
			resp, err := http.Get("http://" + addr + "/healthz")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			body = string(b)
			return resp.StatusCode == http.StatusOK
		})
		if body != "{\"status\":\"ok\"}\n" {
			t.Errorf("%s /healthz: got body %q, want {\"status\":\"ok\"}", args[0], body)
		}
		// Its metrics too: the process has no other HTTP address.
		if resp, err := http.Get("http://" + addr + "/metrics"); err != nil {
			t.Errorf("%s /metrics on HEALTH_ADDR: %v", args[0], err)
		} else {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "\ntrend_relay_messages_total ") || !strings.Contains(string(b), "\ntrend_tmdb_circuit_open ") {
				t.Errorf("%s /metrics on HEALTH_ADDR: got %d, want 200 with the process's instruments:\n%.300s", args[0], resp.StatusCode, b)
			}
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s after SIGTERM: %v", args[0], err)
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("%s did not stop within 30s of SIGTERM", args[0])
		}
		if t.Failed() {
			logMu.Lock()
			t.Logf("%s logs:\n%s", args[0], tail(logs.String(), 40))
			logMu.Unlock()
		}
	}
}
