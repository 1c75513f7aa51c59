package app

import (
	"os"
	"runtime/debug"
)

// defaultGCPercent is the garbage collector's target when GOGC is not
// set: the heap may grow to four times the live data between collections
// instead of two. Under the benchmark's load (docs/benchmarks.md) the
// collector took about 8% of `trend all`'s CPU at Go's default of 100;
// at 300 the API accepted 19% more views and served 36% more reads, for a
// peak RSS of 79 MB instead of 51 MB (the budget is 200 MB).
const defaultGCPercent = 300

// defaultMemoryLimit is the soft limit of the memory Go manages when
// GOMEMLIMIT is not set. Below it the target above rules; near it the
// collector runs as often as it must to stay under it. Without it, four
// times a live heap that grew for a moment was the target: 20 s of ingest
// batches in `make bench` took `trend all` to 190 MB of RSS in one run and
// 216 MB in another (live heap about 30 MB) on a slow host; with the limit
// the same runs peaked at 148 to 152 MB. The binary, stacks and what the
// runtime has not yet returned add to the memory Go manages.
const defaultMemoryLimit = 150 << 20

// TuneGC sets the collector's target and soft memory limit unless GOGC
// and GOMEMLIMIT say otherwise. An empty variable counts as unset, as the
// runtime reads it (docker-compose.yml passes GOGC: ${GOGC:-}, empty
// unless .env sets it); GOMEMLIMIT=off lifts the limit.
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}
