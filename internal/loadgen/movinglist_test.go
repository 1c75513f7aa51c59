package loadgen

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// movingAPI lists its movies by a ranking that moves, as the real one's
// (by final_trend_score) does while views are applied: when armed, the
// next read of the page at offset 1,000 is served after the movie at rank
// 1,200 moved up to rank 10. The movie at rank 1,000 then slides to rank
// 1,001: read on both pages, while the one that moved is on neither.
type movingAPI struct {
	mu     sync.Mutex
	ranked []Movie // by rank
	armed  bool
	// armOnListed arms the move at each GET /api/movies?limit=1 (Listed):
	// once in every poll of waitListed.
	armOnListed bool
	// armEveryPass arms the move at each read of the first page.
	armEveryPass bool
	moves        int
}

func (f *movingAPI) arm() {
	f.mu.Lock()
	f.armed = true
	f.mu.Unlock()
}

func (f *movingAPI) moved() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.moves
}

func newMovingAPI(t *testing.T, n int, configure func(*movingAPI)) (*movingAPI, *httptest.Server) {
	f := &movingAPI{}
	if configure != nil {
		configure(f)
	}
	for id := int64(1); id <= int64(n); id++ {
		// Distinct counts, so that a movie missed or read twice shows
		// in the sum.
		f.ranked = append(f.ranked, Movie{TMDBID: id, Status: "active", InternalViewsCount: 1000 + id})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/movies", f.list)
	mux.HandleFunc("POST /api/movies/register", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusConflict) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *movingAPI) list(w http.ResponseWriter, r *http.Request) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
	f.mu.Lock()
	if limit == 1 && f.armOnListed || offset == 0 && limit > 1 && f.armEveryPass {
		f.armed = true
	}
	if offset == 1000 && f.armed {
		m := f.ranked[1199]
		f.ranked = slices.Insert(slices.Delete(f.ranked, 1199, 1200), 9, m)
		f.armed = false
		f.moves++
	}
	page := slices.Clone(f.ranked[min(offset, len(f.ranked)):min(offset+limit, len(f.ranked))])
	total := len(f.ranked)
	f.mu.Unlock()
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	_ = json.NewEncoder(w).Encode(page)
}

func (f *movingAPI) sum() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var n int64
	for _, m := range f.ranked {
		n += m.InternalViewsCount
	}
	return n
}

func TestTotalViewsWhileTheRankingMoves(t *testing.T) {
	f, srv := newMovingAPI(t, 1500, nil)
	a := NewAPI(srv.URL, 4)
	f.arm()
	got, err := a.TotalViews(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := f.moved(); n != 1 {
		t.Fatalf("the ranking moved %d times, want once: the test does not test the move", n)
	}
	if want := f.sum(); got != want {
		t.Errorf("TotalViews = %d, want %d (%+d)", got, want, got-want)
	}

	f.arm()
	movies, err := a.Movies(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]int{}
	for _, m := range movies {
		seen[m.TMDBID]++
	}
	for id := int64(1); id <= 1500; id++ {
		if seen[id] != 1 {
			t.Errorf("movie %d listed %d times, want once", id, seen[id])
		}
	}
	if len(movies) != 1500 {
		t.Errorf("Movies: %d movies, want 1500", len(movies))
	}
}

// Every poll of waitListed sees the ranking move once: each must still
// find every movie.
func TestSetupWhileTheRankingMoves(t *testing.T) {
	f, srv := newMovingAPI(t, 1500, func(f *movingAPI) { f.armOnListed = true })
	a := NewAPI(srv.URL, 4)
	if _, err := a.Setup(context.Background(), ids(1, 1500), SetupOptions{Connections: 16, Timeout: 3 * time.Second, PollInterval: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if f.moved() == 0 {
		t.Fatal("the ranking never moved: the test does not test the move")
	}
}

// A ranking that moves under every pass gives an error, not a wrong list.
func TestMoviesGivesUpOnARankingThatNeverHoldsStill(t *testing.T) {
	_, srv := newMovingAPI(t, 1500, func(f *movingAPI) { f.armEveryPass = true })
	a := NewAPI(srv.URL, 4)
	if _, err := a.Movies(context.Background()); err == nil {
		t.Error("Movies: no error, want one saying the listing kept moving")
	}
}
