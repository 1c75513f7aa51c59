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

// Movies lists every movie the API lists (removed ones are not), a page
// of 1,000 at a time.
func (a *API) Movies(ctx context.Context) ([]Movie, error) {
	var all []Movie
	for offset := 0; ; offset += listPage {
		var page []Movie
		status, _, err := a.getJSON(ctx, fmt.Sprintf("/api/movies?limit=%d&offset=%d", listPage, offset), &page)
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("GET /api/movies: status %d", status)
		}
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(page) < listPage {
			return all, nil
		}
	}
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
