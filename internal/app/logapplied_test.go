package app

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/movietrend/trend/internal/testenv"
)

// TestLogAppliedLogsEachIntervalWithViews: one line per interval in which
// views were applied, with their number; nothing for a quiet interval;
// nothing after the context ends.
func TestLogAppliedLogsEachIntervalWithViews(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out testenv.Buffer
		b := &base{log: slog.New(slog.NewTextHandler(&out, nil))}
		counts := []int64{120, 0, 7}
		var mu sync.Mutex
		take := func() int64 {
			mu.Lock()
			defer mu.Unlock()
			if len(counts) == 0 {
				return 0
			}
			n := counts[0]
			counts = counts[1:]
			return n
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { b.logApplied(ctx, take, 30*time.Second); close(done) }()
		time.Sleep(95 * time.Second) // three intervals
		synctest.Wait()
		cancel()
		<-done
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 2 || !strings.Contains(lines[0], `msg="views applied to the trend projection" views=120 seconds=30`) ||
			!strings.Contains(lines[1], "views=7 seconds=30") {
			t.Errorf("log: got\n%s\nwant two lines, 120 views then 7", out.String())
		}
	})
}
