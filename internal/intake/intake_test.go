package intake_test

import (
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/movietrend/trend/commands"
	"github.com/movietrend/trend/internal/intake"
	"github.com/movietrend/trend/internal/testenv"
)

func newIntake(t *testing.T, cfg intake.Config) (*intake.Intake, *pgxpool.Pool) {
	pool := testenv.Pool(t)
	in := intake.New(pool, slog.New(slog.DiscardHandler), cfg)
	t.Cleanup(in.Close)
	return in, pool
}

func TestRegisterMovieWritesTheRowAndTheCommandTogether(t *testing.T) {
	t.Parallel()
	in, pool := newIntake(t, intake.Config{})
	reg, err := in.RegisterMovie(t.Context(), 27205, "corr")
	if err != nil {
		t.Fatal(err)
	}
	if reg.Status != "pending" || reg.TMDBID != 27205 {
		t.Errorf("got %+v, want a pending registration of 27205", reg)
	}
	if _, err := in.RegisterMovie(t.Context(), 27205, ""); !errors.Is(err, intake.ErrAlreadyRegistered) {
		t.Errorf("second registration: got %v, want ErrAlreadyRegistered", err)
	}
	msgs := testenv.Outbox(t, pool)
	if len(msgs) != 1 || msgs[0].Topic != "commands.RegisterMovie" {
		t.Fatalf("outbox: got %+v, want one RegisterMovie command (none for the refused duplicate)", msgs)
	}
	var cmd commands.RegisterMovie
	if err := json.Unmarshal(msgs[0].Payload, &cmd); err != nil {
		t.Fatal(err)
	}
	if cmd.TMDBID != 27205 || cmd.CommandID.String() != msgs[0].UUID || cmd.CorrelationID != "corr" {
		t.Errorf("command: got %+v (message %s), want tmdb_id 27205, its id as the message UUID", cmd, msgs[0].UUID)
	}
}

func TestRefreshOfAnUntrackedMovieIsRefused(t *testing.T) {
	t.Parallel()
	in, pool := newIntake(t, intake.Config{})
	if err := in.RefreshMovie(t.Context(), 42, ""); !errors.Is(err, intake.ErrNotTracked) {
		t.Errorf("got %v, want ErrNotTracked", err)
	}
	if _, err := in.RegisterMovie(t.Context(), 42, ""); err != nil {
		t.Fatal(err)
	}
	if err := in.RefreshMovie(t.Context(), 42, ""); err != nil {
		t.Errorf("got %v, want nil", err)
	}
	if got := len(testenv.Outbox(t, pool)); got != 2 {
		t.Errorf("outbox: got %d messages, want 2", got)
	}
}

// TestConcurrentViewsShareCommits checks the group commit: every view
// is durable in the outbox exactly once, views of untracked movies are
// refused one by one, and concurrent views travel in fewer messages.
func TestConcurrentViewsShareCommits(t *testing.T) {
	t.Parallel()
	in, pool := newIntake(t, intake.Config{Committers: 2, MaxBatch: 50})
	if _, err := in.RegisterMovie(t.Context(), 1, ""); err != nil {
		t.Fatal(err)
	}
	const clients, each = 40, 25
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := map[uuid.UUID]bool{}
	refused := 0
	for c := range clients {
		wg.Go(func() {
			for i := range each {
				v := commands.View{ViewID: uuid.New(), TMDBID: 1, ViewedAt: time.Now()}
				if (c+i)%10 == 0 {
					v.TMDBID = 2 // not registered
				}
				err := in.RecordView(t.Context(), v)
				mu.Lock()
				switch {
				case err == nil && v.TMDBID == 1:
					accepted[v.ViewID] = true
				case errors.Is(err, intake.ErrNotTracked) && v.TMDBID == 2:
					refused++
				default:
					t.Errorf("view of movie %d: got %v", v.TMDBID, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	msgs := testenv.Outbox(t, pool)[1:] // after RegisterMovie
	seen := map[uuid.UUID]int{}
	for _, m := range msgs {
		if m.Topic != "commands.RecordViews" {
			t.Fatalf("unexpected message on %s", m.Topic)
		}
		var cmd commands.RecordViews
		if err := json.Unmarshal(m.Payload, &cmd); err != nil {
			t.Fatal(err)
		}
		if len(cmd.Views) > 50 {
			t.Errorf("a message carries %d views, more than MaxBatch 50", len(cmd.Views))
		}
		for _, v := range cmd.Views {
			seen[v.ViewID]++
		}
	}
	if len(seen) != len(accepted) || refused != clients*each/10 {
		t.Errorf("got %d views in the outbox for %d accepted and %d refused; want all %d accepted, %d refused",
			len(seen), len(accepted), refused, clients*each*9/10, clients*each/10)
	}
	for id, n := range seen {
		if n != 1 || !accepted[id] {
			t.Errorf("view %s: %d times in the outbox, accepted %v", id, n, accepted[id])
		}
	}
	if len(msgs) >= len(accepted) {
		t.Errorf("%d views took %d messages: the group commit grouped nothing", len(accepted), len(msgs))
	}
	t.Logf("%d views in %d messages", len(accepted), len(msgs))
}

func TestRecordViewsIsAllOrNothing(t *testing.T) {
	t.Parallel()
	in, pool := newIntake(t, intake.Config{})
	if _, err := in.RegisterMovie(t.Context(), 1, ""); err != nil {
		t.Fatal(err)
	}
	views := func(ids ...int64) []commands.View {
		var vs []commands.View
		for _, id := range ids {
			vs = append(vs, commands.View{ViewID: uuid.New(), TMDBID: id, ViewedAt: time.Now()})
		}
		return vs
	}
	err := in.RecordViews(t.Context(), views(1, 2, 1, 3, 2), "")
	var nt *intake.NotTrackedError
	if !errors.As(err, &nt) || len(nt.IDs) != 2 || nt.IDs[0] != 2 || nt.IDs[1] != 3 || !errors.Is(err, intake.ErrNotTracked) {
		t.Fatalf("batch with untracked movies: got %v, want a NotTrackedError naming 2 and 3", err)
	}
	if got := len(testenv.Outbox(t, pool)); got != 1 {
		t.Fatalf("outbox: got %d messages after a refused batch, want only the registration", got)
	}
	if err := in.RecordViews(t.Context(), views(1, 1, 1), "corr"); err != nil {
		t.Fatal(err)
	}
	msgs := testenv.Outbox(t, pool)
	var cmd commands.RecordViews
	if len(msgs) != 2 || json.Unmarshal(msgs[1].Payload, &cmd) != nil || len(cmd.Views) != 3 || cmd.CorrelationID != "corr" {
		t.Errorf("accepted batch: got %d messages, last %+v; want one RecordViews with the 3 views", len(msgs), cmd)
	}
}
