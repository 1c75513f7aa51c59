package app

import (
	"math"
	"runtime/debug"
	"testing"
)

// GOGC or GOMEMLIMIT set but empty is Go's default for the runtime, and
// "the default" for trend too: docker-compose.yml passes GOGC: ${GOGC:-},
// which is empty unless .env sets it, and must not turn off trend's
// settings. Set to a value, the runtime's reading of it stands.
func TestTuneGC(t *testing.T) {
	for _, tc := range []struct {
		gogc, gomemlimit string
		wantPercent      int
		wantLimit        int64
	}{
		{"", "", defaultGCPercent, defaultMemoryLimit},
		{"150", "", 100, defaultMemoryLimit},
		{"off", "1GiB", 100, math.MaxInt64},
		{"", "off", defaultGCPercent, math.MaxInt64},
	} {
		t.Run("GOGC="+tc.gogc+",GOMEMLIMIT="+tc.gomemlimit, func(t *testing.T) {
			t.Setenv("GOGC", tc.gogc)
			t.Setenv("GOMEMLIMIT", tc.gomemlimit)
			// Markers: TuneGC leaves them or sets its own.
			prevPercent := debug.SetGCPercent(100)
			prevLimit := debug.SetMemoryLimit(math.MaxInt64)
			TuneGC()
			if got := debug.SetGCPercent(prevPercent); got != tc.wantPercent {
				t.Errorf("got GC percent %d, want %d", got, tc.wantPercent)
			}
			if got := debug.SetMemoryLimit(prevLimit); got != tc.wantLimit {
				t.Errorf("got memory limit %d, want %d", got, tc.wantLimit)
			}
		})
	}
}
