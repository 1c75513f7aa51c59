package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// API is a client of the Movie Trend Analyzer's HTTP API.
type API struct {
	base string
	// client sends the few bookkeeping requests (setup, counts, probes);
	// lean, the load's own, unless it is nil (an https target).
	client *http.Client
	lean   *endpoint
	// connections is what the client may open: the load's connections
	// plus headroom for probes and bookkeeping requests.
	connections int
}

// headroom is the connections kept beyond a scenario's own, so freshness
// probes and the projection's bookkeeping reads never queue behind the
// load.
const headroom = 32

// NewAPI returns a client of the API at target (http://host:port) able to
// hold connections concurrent requests of a scenario.
func NewAPI(target string, connections int) *API {
	base := strings.TrimRight(target, "/")
	return &API{
		base:        base,
		client:      NewHTTPClient(connections+headroom, requestTimeout),
		lean:        newEndpoint(base),
		connections: connections,
	}
}

// Target is the API's base URL.
func (a *API) Target() string { return a.base }

// Movie is the part of the API's movie the load generator reads.
type Movie struct {
	TMDBID             int64  `json:"tmdb_id"`
	Status             string `json:"status"`
	InternalViewsCount int64  `json:"internal_views_count"`
}

func (a *API) newRequest(ctx context.Context, method, path string, body []byte) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// post sends a JSON body and returns the status.
func (a *API) post(ctx context.Context, path string, body []byte) (int, error) {
	req, err := a.newRequest(ctx, http.MethodPost, path, body)
	if err != nil {
		return 0, err
	}
	return send(a.client, req)
}

// loadOp is a scenario's load: request seq is method path with body
// bodies[seq%len(bodies)] (or none), sent by each worker on a lean
// connection of its own, or through the net/http client when the lean one
// cannot reach the target (https).
func (a *API) loadOp(method, path string, bodies [][]byte, hdr ...header) NewOp {
	if len(bodies) == 0 {
		bodies = [][]byte{nil}
	}
	n := int64(len(bodies))
	if a.lean == nil {
		op := func(ctx context.Context, seq int64) (int, error) {
			req, err := a.newRequest(ctx, method, path, bodies[seq%n])
			if err != nil {
				return 0, err
			}
			for _, h := range hdr {
				req.Header.Set(h.name, h.value)
			}
			return send(a.client, req)
		}
		return func() (Op, func()) { return op, func() {} }
	}
	// Whole requests rendered once, so a request costs a write and a read.
	reqs := make([][]byte, n)
	for i, b := range bodies {
		reqs[i] = a.lean.request(method, path, b, hdr...)
	}
	return func() (Op, func()) {
		c := a.lean.newConn()
		return func(ctx context.Context, seq int64) (int, error) { return c.do(ctx, reqs[seq%n]) }, c.Close
	}
}

// getJSON decodes a 200 answer into v; other statuses are returned with
// no error, for the caller to judge.
func (a *API) getJSON(ctx context.Context, path string, v any) (int, http.Header, error) {
	req, err := a.newRequest(ctx, http.MethodGet, path, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return resp.StatusCode, resp.Header, fmt.Errorf("decode %s: %w", path, err)
	}
	return resp.StatusCode, resp.Header, nil
}

// Register asks to register a movie and returns the status (202, or 409
// when it already is).
func (a *API) Register(ctx context.Context, id int64) (int, error) {
	return a.post(ctx, "/api/movies/register", idBody(id))
}

// View records one view of a movie and returns the status (202).
func (a *API) View(ctx context.Context, id int64) (int, error) {
	return a.post(ctx, "/api/movies/view", idBody(id))
}

func idBody(id int64) []byte {
	return []byte(`{"tmdb_id":` + strconv.FormatInt(id, 10) + `}`)
}

// Movie reads one movie.
func (a *API) Movie(ctx context.Context, id int64) (Movie, error) {
	var m Movie
	status, _, err := a.getJSON(ctx, "/api/movies/"+strconv.FormatInt(id, 10), &m)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("GET /api/movies/%d: status %d", id, status)
	}
	return m, err
}

// listPage is the most movies GET /api/movies answers at once.
const listPage = 1000

// maxListPasses bounds the passes Movies makes over a listing that moves
// under each of them; a pass over 1,500 movies takes a few milliseconds.
const maxListPasses = 50

// Movies lists every movie the API lists (removed ones are not), each
// once, a page of 1,000 at a time.
//
// The listing is ranked by final_trend_score, which moves while views are
// applied: between the reads of two pages a movie can cross the page
// boundary, and be read on neither page (its views missed) while another
// is read on both (its views counted twice). So each pass over the pages
// is checked, and made again when it does not hold (up to maxListPasses):
// it holds when every page said the same X-Total-Count N and the N
// movies read are N distinct ones. While the set of listed movies stays
// the same the pages cover the offsets 0 to N-1, N movies in all, so a
// movie missed means another read twice: no duplicate means every movie
// was read exactly once. A movie listed or gone mid-pass changes
// X-Total-Count between pages, which is caught too.
//
// One pass that holds is enough; two passes agreeing on the sum are not
// asked for: while views are applied the sum grows between any two
// passes, so they would agree only once the drain ended, and the drain's
// measure would wait for that. Each movie's count is read once, at some
// moment of the pass; counts only grow, so the sum lies between the
// totals at the pass's start and at its end, as a single read's would.
// Nor are the load's own movies read one by one (GET /api/movies/{id}):
// that is a request per movie per poll, thousands a second of the API's
// time while it drains the load being measured.
func (a *API) Movies(ctx context.Context) ([]Movie, error) {
	for range maxListPasses {
		if all, whole, err := a.moviesPass(ctx); err != nil || whole {
			return all, err
		}
	}
	return nil, fmt.Errorf("GET /api/movies: in each of %d passes over its pages a movie crossed a page boundary (the ranking moved between two page reads), so none listed every movie exactly once", maxListPasses)
}

// moviesPass reads every page once, and tells whether it read every
// listed movie exactly once.
func (a *API) moviesPass(ctx context.Context) ([]Movie, bool, error) {
	var all []Movie
	total := ""
	whole := true
	for offset := 0; ; offset += listPage {
		var page []Movie
		status, h, err := a.getJSON(ctx, fmt.Sprintf("/api/movies?limit=%d&offset=%d", listPage, offset), &page)
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("GET /api/movies: status %d", status)
		}
		if err != nil {
			return nil, false, err
		}
		if t := h.Get("X-Total-Count"); offset == 0 {
			total = t
		} else if t != total {
			whole = false
		}
		all = append(all, page...)
		if len(page) < listPage {
			break
		}
	}
	// (An API that does not say its total is judged by duplicates alone.)
	if !whole || total != "" && strconv.Itoa(len(all)) != total {
		return all, false, nil
	}
	if len(all) > listPage {
		seen := make(map[int64]struct{}, len(all))
		for _, m := range all {
			if _, dup := seen[m.TMDBID]; dup {
				return all, false, nil
			}
			seen[m.TMDBID] = struct{}{}
		}
	}
	return all, true, nil
}

// Listed is the number of movies the API lists (its X-Total-Count).
func (a *API) Listed(ctx context.Context) (int64, error) {
	var page []Movie
	status, h, err := a.getJSON(ctx, "/api/movies?limit=1", &page)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("GET /api/movies: status %d", status)
	}
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(h.Get("X-Total-Count"), 10, 64)
}

// TotalViews is the sum of internal_views_count over every listed movie:
// what the projection has counted.
func (a *API) TotalViews(ctx context.Context) (int64, error) {
	movies, err := a.Movies(ctx)
	var n int64
	for _, m := range movies {
		n += m.InternalViewsCount
	}
	return n, err
}
