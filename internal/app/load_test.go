package app

import (
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/movietrend/trend/internal/testenv"
)

// The setup scenario takes a positive --movies: a negative one sliced the
// catalog with it, and panicked.
func TestTheSetupScenarioNeedsPositiveMovies(t *testing.T) {
	for movies, ok := range map[int]bool{-1: false, 0: false, 5: true} {
		err := (&LoadOptions{Target: "http://localhost:8000", Scenario: "setup", Movies: movies}).validate()
		if (err == nil) != ok {
			t.Errorf("--scenario setup --movies %d: got %v, want accepted %v", movies, err, ok)
		}
	}
}

// Options that cannot run as asked are refused up front (exit status 2),
// before anything is sent: a rate that is not a number had run
// unthrottled and past --duration (NaN) or for ever (Inf), and scenarios
// without the movies they need failed only once running.
func TestLoadOptionsThatCannotRunAreRefused(t *testing.T) {
	ok := LoadOptions{Target: "http://localhost:8000", Connections: 1, Duration: time.Second, Limit: 50, Batch: 100, Probes: 16, Movies: 100}
	for name, change := range map[string]func(o *LoadOptions){
		"--rate NaN":                     func(o *LoadOptions) { o.Scenario, o.Rate = "reads", math.NaN() },
		"--rate +Inf":                    func(o *LoadOptions) { o.Scenario, o.Rate = "views", math.Inf(1) },
		"views --movies 0":               func(o *LoadOptions) { o.Scenario, o.Movies = "views", 0 },
		"ingest --movies 0":              func(o *LoadOptions) { o.Scenario, o.Movies = "ingest", 0 },
		"freshness --movies 0":           func(o *LoadOptions) { o.Scenario, o.Movies = "freshness", 0 },
		"freshness --probes as --movies": func(o *LoadOptions) { o.Scenario, o.Probes, o.Movies = "freshness", 16, 16 },
		"freshness --probes 0":           func(o *LoadOptions) { o.Scenario, o.Probes = "freshness", 0 },
		"--target foo":                   func(o *LoadOptions) { o.Scenario, o.Target = "views", "foo" },
		"--target without a host":        func(o *LoadOptions) { o.Scenario, o.Target = "views", "http://" },
		"--target ftp":                   func(o *LoadOptions) { o.Scenario, o.Target = "views", "ftp://localhost" },
		"reads --limit 1001":             func(o *LoadOptions) { o.Scenario, o.Limit = "reads", 1001 },
	} {
		o := ok
		change(&o)
		if err := o.validate(); err == nil {
			t.Errorf("%s: accepted, want refused", name)
		}
	}
	for _, scenario := range []string{"views", "ingest", "reads", "freshness"} {
		o := ok
		o.Scenario = scenario
		if err := o.validate(); err != nil {
			t.Errorf("--scenario %s with sound options: %v", scenario, err)
		}
	}
	reads := ok
	reads.Scenario, reads.Movies = "reads", 0
	if err := reads.validate(); err != nil {
		t.Errorf("reads --movies 0 (nothing to list first): %v", err)
	}
}

// A profile file that cannot be written fails the run before its setup
// registers anything (the target here is down: the setup would fail on
// it, with another error, had it run first).
func TestAnUnwritableProfileFailsBeforeTheSetup(t *testing.T) {
	o := &LoadOptions{Target: "http://" + testenv.UnusedAddr(t), Scenario: "views", Setup: true, Connections: 1,
		Duration: time.Second, Limit: 50, Movies: 5, CPUProfile: filepath.Join(t.TempDir(), "no-such-dir", "cpu.out"), Out: io.Discard}
	err := RunLoad(t.Context(), o, slog.New(slog.DiscardHandler))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("got %v, want the profile's file error", err)
	}
}
