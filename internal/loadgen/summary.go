package loadgen

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
)

// Latency summarises a histogram, in milliseconds.
type Latency struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

func (l Latency) String() string {
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  max %s  (mean %s, %d samples)",
		fmtMS(l.P50), fmtMS(l.P90), fmtMS(l.P99), fmtMS(l.Max), fmtMS(l.Mean), l.Count)
}

func fmtMS(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0fms", v)
	}
	return fmt.Sprintf("%.2fms", v)
}

// Summary is the outcome of one scenario, as `trend load` prints it (and,
// with --json, as scripts read it).
type Summary struct {
	Scenario    string `json:"scenario"`
	Target      string `json:"target"`
	Connections int    `json:"connections"`
	// Movies is how many movies the scenario spread its requests over.
	Movies int `json:"movies,omitempty"`
	// TargetRate is the fixed request rate asked for (0: as fast as the
	// connections go).
	TargetRate float64 `json:"target_rate,omitempty"`
	Seconds    float64 `json:"seconds"`
	Requests   int64   `json:"requests"`
	// Succeeded counts answers with the scenario's expected status (202
	// for views, 200 for reads).
	Succeeded int64 `json:"succeeded"`
	// ViewsPerRequest is how many views one request carries (views: 1;
	// ingest: its batch).
	ViewsPerRequest    int     `json:"views_per_request,omitempty"`
	RequestsPerSecond  float64 `json:"requests_per_second"`
	SucceededPerSecond float64 `json:"succeeded_per_second"`
	// Latency is measured from when a request was due: in fixed-rate mode
	// a request that waits for a free connection counts its wait, so a
	// stalled server cannot hide its stall (no coordinated omission).
	Latency Latency `json:"latency"`
	// Errors counts every other outcome: an HTTP status ("503"), or
	// "transport: <kind>" when no answer came.
	Errors map[string]int64 `json:"errors"`
	// LoadCPUSeconds is the CPU time (user and system) the load generator
	// itself used: it shares the machine with the system under test.
	LoadCPUSeconds float64 `json:"load_cpu_seconds"`
	// ProcessCPUSeconds is all the CPU the load generator's process used
	// until the summary was made: setup and the wait for the projection
	// included (what a CPU table needs once the process is gone).
	ProcessCPUSeconds float64 `json:"process_cpu_seconds"`

	Setup     *SetupResult `json:"setup,omitempty"`
	Applied   *Applied     `json:"applied,omitempty"`
	Freshness *Freshness   `json:"freshness,omitempty"`
}

// ErrorCount is the number of requests that did not succeed.
func (s Summary) ErrorCount() int64 { return s.Requests - s.Succeeded }

// WriteText prints the summary for people.
func (s Summary) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, a...)...) }
	if s.Setup != nil {
		line("setup", "%d movies registered, %d already there, ready after %.1fs", s.Setup.Registered, s.Setup.Already, s.Setup.Seconds)
	}
	if s.Requests == 0 && s.Scenario == "setup" {
		return tw.Flush()
	}
	line("scenario", "%s against %s, %d connections", s.Scenario, s.Target, s.Connections)
	if s.TargetRate > 0 {
		line("target rate", "%.0f req/s", s.TargetRate)
	}
	line("requests", "%d in %.2fs: %.0f req/s", s.Requests, s.Seconds, s.RequestsPerSecond)
	line("succeeded", "%d: %.0f req/s", s.Succeeded, s.SucceededPerSecond)
	if s.ViewsPerRequest > 1 {
		line("views", "%d a request: %.0f views/s accepted", s.ViewsPerRequest, s.SucceededPerSecond*float64(s.ViewsPerRequest))
	}
	line("latency", "%s", s.Latency)
	line("errors", "%s", formatErrors(s.Errors))
	line("load generator CPU", "%.1fs", s.LoadCPUSeconds)
	if a := s.Applied; a != nil {
		line("applied", "%s", a)
	}
	if f := s.Freshness; f != nil {
		line("freshness", "%s", f.Latency)
		line("", "per view (each sample weighted by its probe's time on it): %s", f.PerView)
		line("", "%d probe movies polled every %.0fms; %d views never seen, %d counted more than once", f.Probes, f.PollIntervalMS, f.Missing, f.Overcounted)
	}
	return tw.Flush()
}

func formatErrors(errs map[string]int64) string {
	if len(errs) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(errs)) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, errs[k]))
	}
	return strings.Join(parts, ", ")
}

// StampProcessCPU sets ProcessCPUSeconds to the CPU this process has used
// so far.
func (s *Summary) StampProcessCPU() { s.ProcessCPUSeconds = processCPU().Seconds() }
