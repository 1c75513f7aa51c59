package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/movietrend/trend/internal/config"
	"github.com/movietrend/trend/internal/postgres"
	"github.com/movietrend/trend/internal/replay"
	"github.com/movietrend/trend/projections/trend"
)

// ProjectionNames are the names `trend replay --projection` accepts.
func ProjectionNames() []string { return []string{trend.Rebuildable{}.Name()} }

// projections lists every projection a replay can rebuild, by name.
func (b *base) projections() map[string]replay.Projection {
	t := trend.Rebuildable{Params: b.trendParams()}
	return map[string]replay.Projection{t.Name(): t}
}

// projectionForReplay returns projection name, prepared for a replay that
// starts now.
func (b *base) projectionForReplay(ctx context.Context, name string) (replay.Projection, error) {
	p, ok := b.projections()[name]
	if !ok {
		return nil, fmt.Errorf("unknown projection %q (known: %v)", name, replays{b: b}.Projections())
	}
	if t, ok := p.(trend.Rebuildable); ok {
		return t.ForReplay(ctx, b.pool)
	}
	return p, nil
}

// replays adapts the Replayer to the admin API.
type replays struct {
	b *base
	r *replay.Replayer
}

func (x replays) Projections() []string {
	var names []string
	for n := range x.b.projections() {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (x replays) Start(ctx context.Context, name string, check, keep bool) (int64, error) {
	p, err := x.b.projectionForReplay(ctx, name)
	if err != nil {
		return 0, err
	}
	return x.r.Start(ctx, p, replay.Options{Check: check, Keep: keep}, func(res replay.Result, err error) {
		if err != nil {
			x.b.log.Error("replay failed", "projection", name, "error", err)
			return
		}
		x.b.log.Info("replay finished", "projection", name, "events", res.Events, "took", res.Took.String(), "differences", len(res.Differences))
	})
}

func (x replays) Latest(ctx context.Context, name string) (replay.Status, error) {
	return x.r.Latest(ctx, name)
}

// ReplayOptions are the flags of `trend replay`.
type ReplayOptions struct {
	Projection string
	Keep       bool
	Check      bool
}

// ErrDiffers is a check's finding that the live projection differs from a
// rebuild: trend exits with its own status (3) for it, so that a script
// tells drift from a check that could not run (1).
var ErrDiffers = errors.New("differences found")

// RunReplay is the replay role: rebuild (or check) one projection, with a
// progress bar on a terminal and progress lines otherwise. Its options are
// checked by CheckFlags first.
func RunReplay(ctx context.Context, cfg config.Config, opts Options, ro ReplayOptions, log *slog.Logger) error {
	if ro.Check {
		// A check changes nothing, migrations included: one can rewrite
		// the live rows it is to compare (00007, 00012), under workers of
		// the older build that may still run on them.
		opts.NoMigrate = true
	}
	b, err := newBase(ctx, cfg, opts, log)
	if stoppedBy(ctx, err) {
		// Stopped while waiting for PostgreSQL, or while migrating (each
		// migration commits on its own).
		return fmt.Errorf("replay of %s stopped before its rebuild began: %w", ro.Projection, err)
	}
	if err != nil {
		return err
	}
	defer b.close()
	if ro.Check {
		switch pending, err := postgres.MigrationsPending(ctx, b.pool); {
		case err != nil:
			return err
		case pending:
			return errors.New(lacksMigrations + " (--check changes nothing)")
		}
	}
	p, err := b.projectionForReplay(ctx, ro.Projection)
	if err != nil {
		return err
	}
	var bar *progressbar.ProgressBar
	lastLine := time.Now()
	onProgress := func(pr replay.Progress) {
		if bar == nil && isTerminal(os.Stderr) {
			bar = progressbar.NewOptions64(pr.Total, progressbar.OptionSetWriter(os.Stderr),
				progressbar.OptionSetDescription("replaying "+ro.Projection), progressbar.OptionShowCount(),
				progressbar.OptionShowIts(), progressbar.OptionSetItsString("events"), progressbar.OptionSetPredictTime(true),
				progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionFullWidth())
		}
		if bar != nil {
			bar.ChangeMax64(pr.Total)
			_ = bar.Set64(pr.Done)
			return
		}
		if time.Since(lastLine) >= 2*time.Second || pr.Done == pr.Total {
			lastLine = time.Now()
			log.Info("replay progress", "done", pr.Done, "total", pr.Total, "events_per_second", int(pr.Rate), "left", pr.Left.Round(time.Second))
		}
	}
	res, err := replay.New(b.pool, log).Run(ctx, p, replay.Options{Check: ro.Check, Keep: ro.Keep, OnProgress: onProgress})
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(os.Stderr)
	}
	if err != nil && ctx.Err() != nil {
		// Stopped by a signal: nothing was switched. Still an error (exit
		// status 1): the rebuild a script asked for did not happen.
		return fmt.Errorf("replay of %s interrupted before it finished: the live projection is as it was (the next replay drops what this one left)", ro.Projection)
	}
	if err != nil {
		return fmt.Errorf("replay of %s: %w", ro.Projection, err)
	}
	rate := float64(res.Events) / max(res.Took.Seconds(), 1e-9)
	if ro.Check {
		for _, d := range res.Differences {
			fmt.Println(d)
		}
		places := fmt.Sprint(len(res.Differences))
		if res.Truncated {
			places = fmt.Sprintf("more than %d", len(res.Differences))
			fmt.Printf("(more differences, not listed: a check lists the first %d)\n", len(res.Differences))
		}
		log.Info("replay check finished: nothing was changed", "projection", ro.Projection, "events", res.Events,
			"differences", places, "took", res.Took.Round(time.Millisecond).String(), "events_per_second", int(rate))
		if len(res.Differences) > 0 {
			return fmt.Errorf("the live %s projection differs from a rebuild in %s places: %w", ro.Projection, places, ErrDiffers)
		}
		return nil
	}
	log.Info("replay finished: the rebuilt projection is live", "projection", ro.Projection, "events", res.Events,
		"took", res.Took.Round(time.Millisecond).String(), "events_per_second", int(rate), "kept_old_copy", ro.Keep)
	return nil
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
