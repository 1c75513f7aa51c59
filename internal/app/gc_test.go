package app

import (
	"runtime/debug"
	"testing"
)

// GOGC set but empty is Go's default for the runtime (100), and "the
// default" for trend too: docker-compose.yml passes GOGC: ${GOGC:-}, which
// is empty unless .env sets it, and must not turn off trend's target.
func TestTuneGC(t *testing.T) {
	for _, tc := range []struct {
		gogc string
		want int
	}{{"", defaultGCPercent}, {"150", 100}, {"off", 100}} {
		t.Run("GOGC="+tc.gogc, func(t *testing.T) {
			t.Setenv("GOGC", tc.gogc)
			prev := debug.SetGCPercent(100) // a marker: TuneGC leaves it or sets its own
			TuneGC()
			if got := debug.SetGCPercent(prev); got != tc.want {
				t.Errorf("GOGC=%q: got GC percent %d, want %d", tc.gogc, got, tc.want)
			}
		})
	}
}
