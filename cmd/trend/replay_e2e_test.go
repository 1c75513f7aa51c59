package main_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/movietrend/trend/internal/testenv"
)

func (s *system) admin(method, path, token, body string) response {
	s.t.Helper()
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		h.Set("Content-Type", "application/json")
	}
	return s.send(method, path, h, body)
}

func (s *system) db(t *testing.T) *pgx.Conn {
	c, err := pgx.Connect(t.Context(), s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func (s *system) replayCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(binary, append([]string{"replay"}, args...)...)
	cmd.Env = s.env("127.0.0.1:0")
	return cmd
}

type replayState struct {
	State string `json:"state"`
	Done  int64  `json:"position"`
	Total int64  `json:"head"`
}

func TestReplayThroughTheAdminAPIWhileViewsArrive(t *testing.T) {
	t.Parallel()
	s := startSystem(t, sysOptions{})
	if r := s.admin(http.MethodGet, "/api/admin/replay", "", ""); r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") == "" {
		t.Errorf("no token: got %d, want 401 with WWW-Authenticate", r.status)
	}
	if r := s.admin(http.MethodPost, "/api/admin/replay", "wrong", ""); r.status != http.StatusForbidden {
		t.Errorf("wrong token: got %d, want 403", r.status)
	}
	s.register(27205)
	s.register(680)
	s.waitActive(27205)
	stop := s.streamViews(4, 27205, 680)
	time.Sleep(500 * time.Millisecond)
	for round := range 3 {
		r := s.admin(http.MethodPost, "/api/admin/replay", adminToken, `{"projection":"trend"}`)
		if r.status != http.StatusAccepted {
			t.Fatalf("start replay %d: got %d %s", round, r.status, r.body)
		}
		if again := s.admin(http.MethodPost, "/api/admin/replay", adminToken, ""); again.status != http.StatusConflict && again.status != http.StatusAccepted {
			t.Errorf("second start while one runs: got %d, want 409 (or 202 if the first had just finished)", again.status)
		}
		var st replayState
		testenv.WaitFor(t, 60*time.Second, "the replay to finish", func() bool {
			r := s.admin(http.MethodGet, "/api/admin/replay", adminToken, "")
			_ = json.Unmarshal(r.body, &st)
			return st.State == "done" || st.State == "failed"
		})
		if st.State != "done" || st.Done == 0 {
			t.Fatalf("replay %d: got %+v, want done", round, st)
		}
	}
	sent := stop()
	a, _ := s.movie(27205)
	b, _ := s.movie(680)
	want := sent[0] + sent[1]
	testenv.WaitFor(t, 60*time.Second, fmt.Sprintf("all %d views counted", want), func() bool {
		a, _ = s.movie(27205)
		b, _ = s.movie(680)
		return a.InternalViewsCount+b.InternalViewsCount >= want
	})
	s.waitQuiet(27205, 680)
	a, _ = s.movie(27205)
	b, _ = s.movie(680)
	if got := a.InternalViewsCount + b.InternalViewsCount; got != want {
		t.Errorf("after 3 replays under load: got %d views counted, want exactly %d", got, want)
	}
	out, err := s.replayCmd("--check").CombinedOutput()
	if err != nil {
		t.Errorf("trend replay --check after the replays: %v\n%s", err, tail(string(out), 20))
	}
	// Drift is told apart from a check that could not run: exit status 3.
	if _, err := s.db(t).Exec(t.Context(), `UPDATE trend_movies SET internal_views_count = internal_views_count + 1 WHERE tmdb_id = 680`); err != nil {
		t.Fatal(err)
	}
	out, err = s.replayCmd("--check").CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 || !strings.Contains(string(out), "680") {
		t.Errorf("trend replay --check of a drifted projection: %v, want exit status 3 naming movie 680\n%s", err, tail(string(out), 20))
	}
}

func TestReplayKilledHalfwayLeavesLiveDataIntact(t *testing.T) {
	t.Parallel()
	s := startSystem(t, sysOptions{})
	s.register(550)
	s.waitActive(550)
	for range 5 {
		s.postJSON("/api/movies/view", `{"tmdb_id":550}`)
	}
	s.waitViews(550, 5)
	db := s.db(t)
	// A long log, written straight into it so the replay has work to do.
	_, err := db.Exec(t.Context(), `
		INSERT INTO events (event_id, type, version, tmdb_id, dedup_key, occurred_at, data)
		SELECT gen_random_uuid(), 'ViewRecorded', 1, 550, v, now(),
		       jsonb_build_object('view_id', v, 'tmdb_id', 550, 'viewed_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
		FROM (SELECT gen_random_uuid() AS v FROM generate_series(1, 300000)) g`)
	if err != nil {
		t.Fatal(err)
	}
	cmd := s.replayCmd()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 60*time.Second, "the replay to be half-way", func() bool {
		var done, total int64
		err := db.QueryRow(t.Context(), `SELECT done, total FROM projection_replays ORDER BY id DESC LIMIT 1`).Scan(&done, &total)
		return err == nil && done > 0 && done < total
	})
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	if m, _ := s.movie(550); m.InternalViewsCount != 5 {
		t.Errorf("after a killed replay: got %d views, want the live 5", m.InternalViewsCount)
	}
	// The killed replay's lock goes with its PostgreSQL session, which ends
	// once the server notices the closed connection: a moment after the kill.
	var out []byte
	testenv.WaitFor(t, 10*time.Second, "the killed replay's lock to be released", func() bool {
		out, err = s.replayCmd().CombinedOutput()
		return err == nil || !strings.Contains(string(out), "a replay is already running")
	})
	if err != nil {
		t.Fatalf("the next replay: %v\n%s", err, tail(string(out), 20))
	}
	if m, _ := s.movie(550); m.InternalViewsCount != 300005 {
		t.Errorf("after the next replay: got %d views, want 300,005 (the log)", m.InternalViewsCount)
	}
	var failed int
	if err := db.QueryRow(t.Context(), `SELECT count(*) FROM projection_replays WHERE state = 'failed' AND error = 'interrupted'`).Scan(&failed); err != nil || failed != 1 {
		t.Errorf("the killed replay: got %d marked interrupted (%v), want 1", failed, err)
	}
}

// `trend replay --check` changes nothing, migrations included: on a
// database that lacks one of this build's migrations it says so and exits
// 1, and the migration is still not applied.
func TestReplayCheckAppliesNoMigration(t *testing.T) {
	t.Parallel()
	dbURL := testenv.DatabaseURL(t)
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var last int64
	if err := conn.QueryRow(t.Context(), `DELETE FROM goose_db_version WHERE version_id = (SELECT max(version_id) FROM goose_db_version) RETURNING version_id`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "replay", "--check")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "AMQP_URL=amqp://guest:guest@127.0.0.1:1/", "LOG_LEVEL=info")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("trend replay --check without migration %d: %v, want exit status 1\n%s", last, err, tail(string(out), 10))
	}
	if !strings.Contains(string(out), "lacks migrations") {
		t.Errorf("trend replay --check without migration %d said:\n%s\nwant it to say that migrations are missing", last, tail(string(out), 10))
	}
	var applied bool
	if err := conn.QueryRow(t.Context(), `SELECT EXISTS (SELECT FROM goose_db_version WHERE version_id = $1)`, last).Scan(&applied); err != nil || applied {
		t.Errorf("migration %d applied by trend replay --check (%t, %v)", last, applied, err)
	}
}
