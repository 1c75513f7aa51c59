package loadgen

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeAPI is an in-memory stand-in for the trend API: registrations are
// listed after listDelay, views are counted after applyDelay (as the real
// pipeline applies them asynchronously), ids above maxKnown are "removed"
// (TMDB does not know them) and never listed.
type fakeAPI struct {
	*leanServer // counts the connections the load opened
	listDelay   time.Duration
	applyDelay  time.Duration
	maxKnown    int64
	doubleEvery int64 // count every n-th view twice (a bug the benchmark must catch)
	failEvery   int64 // answer every n-th view with 503
	// failCounted answers the first view of this movie with 503 after
	// recording it: an answer lost after the commit.
	failCounted int64

	mu        sync.Mutex
	movies    map[int64]*fakeMovie
	views     atomic.Int64
	listQuery atomic.Value // the last GET /api/movies query string
	listGzip  atomic.Value // the last GET /api/movies Accept-Encoding
	inFlight  atomic.Int64
	peak      atomic.Int64
}

type fakeMovie struct {
	listedAt time.Time
	accepted int64
	counted  int64
}

func newFakeAPI(t *testing.T, configure func(*fakeAPI)) *fakeAPI {
	f := &fakeAPI{movies: map[int64]*fakeMovie{}, maxKnown: 1 << 40}
	if configure != nil {
		configure(f)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/movies/register", f.register)
	mux.HandleFunc("POST /api/movies/view", f.view)
	mux.HandleFunc("POST /api/views", f.viewBatch)
	mux.HandleFunc("GET /api/movies", f.list)
	mux.HandleFunc("GET /api/movies/{id}", f.get)
	f.leanServer = newLeanServer(t, f.track(mux).ServeHTTP)
	return f
}

// track records the most requests in flight at once.
func (f *fakeAPI) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := f.inFlight.Add(1)
		defer f.inFlight.Add(-1)
		for p := f.peak.Load(); n > p && !f.peak.CompareAndSwap(p, n); p = f.peak.Load() {
		}
		next.ServeHTTP(w, r)
	})
}

func decodeID(r *http.Request) (int64, bool) {
	var body struct {
		TMDBID int64 `json:"tmdb_id"`
	}
	err := json.NewDecoder(r.Body).Decode(&body)
	return body.TMDBID, err == nil && body.TMDBID > 0
}

func (f *fakeAPI) register(w http.ResponseWriter, r *http.Request) {
	id, ok := decodeID(r)
	if !ok {
		w.WriteHeader(http.StatusUnprocessableEntity)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.movies[id] != nil {
		w.WriteHeader(http.StatusConflict)
		return
	}
	f.movies[id] = &fakeMovie{listedAt: time.Now().Add(f.listDelay)}
	w.WriteHeader(http.StatusAccepted)
}

func (f *fakeAPI) view(w http.ResponseWriter, r *http.Request) {
	id, ok := decodeID(r)
	if !ok {
		w.WriteHeader(http.StatusUnprocessableEntity)
		return
	}
	n := f.views.Add(1)
	if f.failEvery > 0 && n%f.failEvery == 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	f.mu.Lock()
	m := f.movies[id]
	lost := false
	if m != nil {
		m.accepted++
		lost = id == f.failCounted && m.accepted == 1
	}
	f.mu.Unlock()
	if m == nil {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	add := int64(1)
	if f.doubleEvery > 0 && n%f.doubleEvery == 0 {
		add = 2
	}
	time.AfterFunc(f.applyDelay, func() {
		f.mu.Lock()
		m.counted += add
		f.mu.Unlock()
	})
	if lost {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte(`{"view_id":"00000000-0000-0000-0000-000000000000"}`))
}

// visible is the movies the API would list, ordered by id.
func (f *fakeAPI) visible() []Movie {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Movie
	now := time.Now()
	for id, m := range f.movies {
		if id <= f.maxKnown && !now.Before(m.listedAt) {
			out = append(out, Movie{TMDBID: id, Status: "active", InternalViewsCount: m.counted})
		}
	}
	slices.SortFunc(out, func(a, b Movie) int { return int(a.TMDBID - b.TMDBID) })
	return out
}

func (f *fakeAPI) list(w http.ResponseWriter, r *http.Request) {
	f.listQuery.Store(r.URL.RawQuery)
	f.listGzip.Store(r.Header.Get("Accept-Encoding"))
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
	all := f.visible()
	page := all[min(offset, len(all)):min(offset+limit, len(all))]
	w.Header().Set("X-Total-Count", strconv.Itoa(len(all)))
	_ = json.NewEncoder(w).Encode(page)
}

func (f *fakeAPI) get(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	for _, m := range f.visible() {
		if m.TMDBID == id {
			_ = json.NewEncoder(w).Encode(m)
			return
		}
	}
	w.WriteHeader(http.StatusNotFound)
}

// counts returns, per movie, the views accepted and counted.
func (f *fakeAPI) counts(id int64) (accepted, counted int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m := f.movies[id]; m != nil {
		return m.accepted, m.counted
	}
	return 0, 0
}

func ids(from, n int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = from + int64(i)
	}
	return out
}

// viewBatch is POST /api/views: every view counted, all or nothing.
func (f *fakeAPI) viewBatch(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Views []struct {
			TMDBID int64 `json:"tmdb_id"`
		} `json:"views"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body.Views) == 0 || len(body.Views) > 1000 {
		w.WriteHeader(http.StatusUnprocessableEntity)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, v := range body.Views {
		if f.movies[v.TMDBID] == nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
	}
	for _, v := range body.Views {
		m := f.movies[v.TMDBID]
		m.accepted++
		time.AfterFunc(f.applyDelay, func() {
			f.mu.Lock()
			m.counted++
			f.mu.Unlock()
		})
	}
	w.WriteHeader(http.StatusAccepted)
}
