package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestHTTPProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.WriteHeader(http.StatusOK)
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"2xx", []string{srv.URL + "/healthz"}, 0},
		{"503", []string{srv.URL + "/readyz"}, 1},
		{"timeout", []string{"-timeout", "200ms", srv.URL + "/slow"}, 1},
		{"refused", []string{closedURL + "/healthz"}, 1},
		{"bad url", []string{"://nope"}, 1},
		{"no url", nil, 2},
		{"two urls", []string{srv.URL, srv.URL}, 2},
		{"url and process", []string{"-process", "trend", srv.URL}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr strings.Builder
			if got := run(tc.args, io.Discard, &stderr, "/proc"); got != tc.want {
				t.Errorf("exit code: got %d, want %d (stderr %q)", got, tc.want, stderr.String())
			}
		})
	}
}

// fakeProc lays out a /proc with the given processes: pid -> {cmdline, stat}.
func fakeProc(t *testing.T, procs map[string][2]string) string {
	t.Helper()
	dir := t.TempDir()
	for pid, p := range procs {
		if err := os.MkdirAll(filepath.Join(dir, pid), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, pid, "cmdline"), []byte(p[0]), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, pid, "stat"), []byte(p[1]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "uptime"), []byte("1 1"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestProcessCheck(t *testing.T) {
	running := fakeProc(t, map[string][2]string{
		"1":  {"/usr/local/bin/trend\x00worker\x00--no-migrate\x00", "1 (trend) S 0 1 1 0 -1"},
		"42": {"/usr/local/bin/healthcheck\x00-process\x00trend\x00", "42 (healthcheck) R 0 42 42 0 -1"},
	})
	zombie := fakeProc(t, map[string][2]string{
		"1": {"/usr/local/bin/trend\x00relay\x00", "1 (trend) Z 0 1 1 0 -1"},
	})
	oddName := fakeProc(t, map[string][2]string{
		"7": {"trend\x00", "7 (tr) end) R 0 1 1 0 -1"},
	})
	for _, tc := range []struct {
		name, proc, process string
		want                int
	}{
		{"alive", running, "trend", 0},
		{"absent", running, "postgres", 1},
		{"zombie", zombie, "trend", 1},
		{"parenthesis in name", oddName, "trend", 0},
		{"no proc", filepath.Join(running, "missing"), "trend", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr strings.Builder
			if got := run([]string{"-process", tc.process}, io.Discard, &stderr, tc.proc); got != tc.want {
				t.Errorf("exit code: got %d, want %d (stderr %q)", got, tc.want, stderr.String())
			}
		})
	}
}

// TestProcessCheckRealProc finds this very test binary in the real /proc.
func TestProcessCheckRealProc(t *testing.T) {
	if _, err := os.Stat("/proc/self/cmdline"); err != nil {
		t.Skip("no /proc on this system")
	}
	self := filepath.Base(os.Args[0])
	if got := run([]string{"-process", self}, io.Discard, io.Discard, "/proc"); got != 0 {
		t.Errorf("exit code for %q: got %d, want 0", self, got)
	}
}
