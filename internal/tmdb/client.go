// Package tmdb is a small client for The Movie Database (TMDB) v3 API. It
// fetches movie details, rate-limits itself below TMDB's limit, retries
// transient failures with backoff, and keeps the API key and read token out of
// every error and log line.
package tmdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"
)

const (
	defaultTimeout     = 10 * time.Second
	defaultRateLimit   = 40 // TMDB allows about 50 requests a second; keep headroom.
	defaultMaxAttempts = 5
	defaultMinBackoff  = 500 * time.Millisecond
	defaultMaxBackoff  = 30 * time.Second

	// defaultBreakerThreshold is twice the default attempts of a call, and
	// a movie counts for at most a call's attempts (see report), so that
	// one movie TMDB fails on (a 500 for that id alone) never opens the
	// circuit for the others: it takes two movies' calls failing in a row.
	defaultBreakerThreshold = 2 * defaultMaxAttempts
	defaultBreakerCooldown  = 30 * time.Second

	// retryAfterCeiling is how long a call waits out a server-requested
	// pause (Retry-After) even when it exceeds MaxBackoff: TMDB knows its
	// own load better than our backoff does, but a worker must not stall
	// for minutes. A longer pause fails the call at once (a retryable
	// error: the caller asks again later), and the client sends nothing
	// before it ends.
	retryAfterCeiling = 60 * time.Second

	// pauseCeiling bounds how long one answer's Retry-After holds back
	// every call of the client: a proxy's 503 asking for a day, a far
	// HTTP date or a skewed clock would otherwise stop the worker's TMDB
	// calls (and keep every pending movie pending) for hours. TMDB's own
	// are seconds.
	pauseCeiling = 15 * time.Minute

	// DefaultControlID is Fight Club, in TMDB since its first days (and in
	// the stand-in's catalog). notFoundTrusted is how long a movie TMDB
	// answered (the control or any other) vouches for the 404s that follow.
	DefaultControlID = 550
	notFoundTrusted  = 10 * time.Minute

	// maxBodyBytes bounds what we read from one response; movie details are a
	// few kilobytes, so anything near this is not a movie.
	maxBodyBytes = 1 << 20

	// maxMessageLen bounds the server text copied into an APIError, so an
	// HTML error page from a proxy does not end up in logs whole.
	maxMessageLen = 200

	userAgent = "movietrend-trend (+https://github.com/movietrend/trend)"
	redacted  = "[REDACTED]"
)

// Config configures a Client. Zero values select the defaults noted on each
// field.
type Config struct {
	// BaseURL is TMDB's API root, e.g. "https://api.themoviedb.org/3"; a
	// trailing slash is tolerated. Required.
	BaseURL string
	// APIKey is a v3 API key, sent as the api_key query parameter.
	APIKey string
	// ReadToken is a v4 read access token, sent as "Authorization: Bearer";
	// when set it is used instead of APIKey.
	ReadToken string
	// Timeout bounds one attempt, including reading the body. Default 10s.
	Timeout time.Duration
	// RateLimit is the most requests per second this client sends, retries
	// included. Default 40.
	RateLimit float64
	// MaxAttempts is how many times one call may ask TMDB. Default 5.
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the exponential backoff between
	// attempts. Defaults 500ms and 30s. A Retry-After header holds back
	// every request of the client until it ends; a call waits for it even
	// above MaxBackoff, up to 60s (or MaxBackoff, if larger), and fails
	// at once, retryably, when it is longer.
	MinBackoff, MaxBackoff time.Duration
	// HTTPClient sends the requests. Optional; its own Timeout, if any,
	// applies on top of Timeout. Without a CheckRedirect of its own, the
	// client follows redirects on TMDB's host only.
	HTTPClient *http.Client
	// Logger receives retry and credential warnings. Optional.
	Logger *slog.Logger
	// ControlID is a movie TMDB is known to have, asked for before a 404
	// is believed (see confirmNotFound). Default 550 (Fight Club).
	ControlID int64
	// BreakerThreshold is how many requests in a row may fail (no answer,
	// a timeout, a 5xx, a page that is not TMDB's; each movie counting for
	// at most MaxAttempts of them) before the client stops asking: the circuit opens, and every call fails at once with
	// ErrCircuitOpen (retryable) for BreakerCooldown. Then one request is
	// let through: any answer of TMDB's closes the circuit, a failure
	// opens it again. Defaults 10 and 30s. Without it, a TMDB that accepts
	// connections and never answers held each call for about a minute.
	BreakerThreshold int
	BreakerCooldown  time.Duration
	// OnCircuitChange, if set, is called with true when the circuit opens
	// and with false when it closes again (a metric's gauge). It must not
	// call the client.
	OnCircuitChange func(open bool)
}

// Client fetches movies from TMDB. It is safe for concurrent use; the rate
// limit is shared by all callers of one Client.
type Client struct {
	base        *url.URL
	apiKey      string
	readToken   string
	timeout     time.Duration
	maxAttempts int
	minBackoff  time.Duration
	maxBackoff  time.Duration
	http        *http.Client
	limiter     *rate.Limiter
	logger      *slog.Logger
	// notBefore is when TMDB's latest Retry-After ends, in Unix
	// nanoseconds (0: none): no request goes out before it, from any call.
	notBefore atomic.Int64
	controlID int64
	// confirmed is when TMDB last answered a movie with its facts (Unix
	// ns): proof that the base path serves movies, so that a 404 means
	// what it says.
	confirmed atomic.Int64
	// controlFailure is the last time the control movie could not vouch for
	// a 404, and why (see confirmNotFound): it is not asked again for
	// notFoundTrusted, so a wrong base path costs one control request per
	// period, not one per 404.
	controlMu       sync.Mutex
	controlFailedAt time.Time
	controlFailure  error
	// breaker sees every request's outcome (see breakerOutcome).
	breaker          *gobreaker.TwoStepCircuitBreaker[struct{}]
	breakerThreshold int
	breakerCooldown  time.Duration
	// failing counts each movie's failed requests since TMDB last answered
	// or the circuit last opened: the breaker counts at most a call's
	// attempts of one movie (see report).
	failingMu sync.Mutex
	failing   map[int64]int
}

// Movie is the part of TMDB's movie details that the service uses.
type Movie struct {
	ID          int64   `json:"id"`
	Title       string  `json:"title"`
	VoteAverage float64 `json:"vote_average"`
	VoteCount   int64   `json:"vote_count"`
	Popularity  float64 `json:"popularity"`
	ReleaseDate string  `json:"release_date"` // "YYYY-MM-DD", or "" when unknown
	PosterPath  *string `json:"poster_path"`  // nil when TMDB has no poster
	Genres      []Genre `json:"genres"`
}

// Genre is a TMDB genre, e.g. {28, "Action"}.
type Genre struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// New validates cfg, applies defaults and returns a Client.
func New(cfg Config) (*Client, error) {
	var errs []error
	// Config errors never echo BaseURL: someone may have put a key in it.
	base, err := url.Parse(cfg.BaseURL)
	switch {
	case cfg.BaseURL == "":
		errs = append(errs, errors.New("base url is required"))
	case err != nil, base.Scheme != "http" && base.Scheme != "https", base.Host == "":
		errs = append(errs, errors.New("base url must be an absolute http or https url"))
	case base.RawQuery != "" || base.Fragment != "":
		errs = append(errs, errors.New("base url must not have a query or fragment"))
	}
	if cfg.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout %s is negative", cfg.Timeout))
	}
	if cfg.RateLimit < 0 || math.IsNaN(cfg.RateLimit) {
		errs = append(errs, fmt.Errorf("rate limit %v must be positive", cfg.RateLimit))
	}
	if cfg.MaxAttempts < 0 {
		errs = append(errs, fmt.Errorf("max attempts %d is negative", cfg.MaxAttempts))
	}
	if cfg.MinBackoff < 0 || cfg.MaxBackoff < 0 {
		errs = append(errs, errors.New("backoff durations must not be negative"))
	}
	if cfg.BreakerThreshold < 0 || cfg.BreakerCooldown < 0 {
		errs = append(errs, errors.New("breaker threshold and cooldown must not be negative"))
	}

	c := &Client{
		base:        base,
		apiKey:      cfg.APIKey,
		readToken:   cfg.ReadToken,
		timeout:     orDefault(cfg.Timeout, defaultTimeout),
		maxAttempts: orDefault(cfg.MaxAttempts, defaultMaxAttempts),
		minBackoff:  orDefault(cfg.MinBackoff, defaultMinBackoff),
		maxBackoff:  orDefault(cfg.MaxBackoff, defaultMaxBackoff),
		http:        cfg.HTTPClient,
		logger:      cfg.Logger,
		controlID:   orDefault(cfg.ControlID, DefaultControlID),

		breakerThreshold: orDefault(cfg.BreakerThreshold, defaultBreakerThreshold),
		breakerCooldown:  orDefault(cfg.BreakerCooldown, defaultBreakerCooldown),
	}
	if c.minBackoff > c.maxBackoff {
		errs = append(errs, fmt.Errorf("min backoff %s exceeds max backoff %s", c.minBackoff, c.maxBackoff))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("tmdb: invalid config: %w", errors.Join(errs...))
	}
	// A burst of one spreads requests evenly, so we never exceed the rate
	// even momentarily.
	c.limiter = rate.NewLimiter(rate.Limit(orDefault(cfg.RateLimit, defaultRateLimit)), 1)
	if c.http == nil {
		c.http = &http.Client{}
	}
	if c.http.CheckRedirect == nil {
		// A copy: the caller's client is not ours to change. Without it, a
		// caller's client (the worker's, which counts requests) followed
		// redirects to any host, api_key and all.
		hc := *c.http
		hc.CheckRedirect = sameHostRedirects
		c.http = &hc
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	c.failing = map[int64]int{}
	c.breaker = c.newBreaker(cfg.OnCircuitChange)
	return c, nil
}

// newBreaker builds the circuit breaker, which logs its changes and tells
// onChange about them.
func (c *Client) newBreaker(onChange func(open bool)) *gobreaker.TwoStepCircuitBreaker[struct{}] {
	threshold := uint32(min(c.breakerThreshold, math.MaxUint32))
	return gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        "tmdb",
		MaxRequests: 1,
		Timeout:     c.breakerCooldown,
		ReadyToTrip: func(n gobreaker.Counts) bool { return n.ConsecutiveFailures >= threshold },
		IsExcluded:  func(err error) bool { return err == errCallerGone || err == errSameMovie },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			switch to {
			case gobreaker.StateOpen:
				c.failingMu.Lock()
				clear(c.failing) // a trial after the cooldown counts, whichever movie it asks for
				c.failingMu.Unlock()
				if from != gobreaker.StateClosed {
					return // a failed trial: open since the first opening
				}
				c.logger.Warn("TMDB failed too many requests in a row: not asked again for a while (circuit open); the movies asked for meanwhile are asked for again later",
					"failed_in_a_row", c.breakerThreshold, "retry_in", c.breakerCooldown)
				if onChange != nil {
					onChange(true)
				}
			case gobreaker.StateHalfOpen:
				c.logger.Info("trying TMDB again with one request (circuit half-open)")
			case gobreaker.StateClosed:
				c.logger.Info("TMDB answers again (circuit closed)")
				if onChange != nil {
					onChange(false)
				}
			}
		},
	})
}

// errCallerGone reports to the breaker an attempt cut short by its
// caller: it says nothing about TMDB, so it is not counted.
var errCallerGone = errors.New("tmdb: the caller gave up")

// errSameMovie reports to the breaker a failure of a movie that failed a
// call's attempts already since TMDB last answered: not counted.
var errSameMovie = errors.New("tmdb: the same movie failing again")

// report tells the breaker an attempt's outcome for movie id. A movie
// counts for at most a call's attempts in a run of failures: one movie
// TMDB fails on alone (a 500 for that id), asked for again (the refresher
// after 30 s, a user's refreshes), would otherwise open the circuit for
// every other movie. It takes failures of two movies' calls.
func (c *Client) report(done func(error), id int64, outcome error) {
	switch {
	case outcome == nil:
		c.failingMu.Lock()
		clear(c.failing)
		c.failingMu.Unlock()
	case outcome != errCallerGone:
		c.failingMu.Lock()
		c.failing[id]++
		if c.failing[id] > c.maxAttempts {
			outcome = errSameMovie
		}
		c.failingMu.Unlock()
	}
	done(outcome)
}

// breakerOutcome is what an attempt tells the breaker: nil when TMDB
// answered as TMDB (a movie, a 404, a 401, a 429 asking us to slow down,
// a body we cannot use: TMDB is up), errCallerGone when the caller gave
// up, and err itself when TMDB is unavailable (no answer, a timeout, a
// 5xx, a page that is not TMDB's).
func breakerOutcome(ctx context.Context, err error) error {
	if ae, ok := errors.AsType[*APIError](err); ok && ae.HTTPStatus == http.StatusTooManyRequests {
		return nil
	}
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return errCallerGone
	case Retryable(err):
		return err
	}
	return nil
}

// circuitOpen is the error of a call the open circuit refused.
func (c *Client) circuitOpen(id int64, last error) error {
	err := fmt.Errorf("tmdb: movie %d: %w (%d requests in a row failed; one is let through %s after the circuit opened)",
		id, ErrCircuitOpen, c.breakerThreshold, c.breakerCooldown)
	if last != nil {
		err = fmt.Errorf("%w (last attempt: %w)", err, last)
	}
	return err
}

// orDefault returns v, or def when v is the zero value.
func orDefault[T int | int64 | float64 | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// Movie fetches the details of the movie with the given TMDB id. Transient
// failures (see Retryable) are retried up to MaxAttempts times; 404 and 401
// answers return at once, matching ErrNotFound and ErrUnauthorized. It returns
// as soon as ctx is done.
func (c *Client) Movie(ctx context.Context, id int64) (Movie, error) {
	if id <= 0 {
		return Movie{}, fmt.Errorf("tmdb: invalid movie id %d", id)
	}
	// path stands for the request in errors and logs: the full URL may carry
	// the api_key.
	path := "/movie/" + strconv.FormatInt(id, 10)
	bo := &backoff.ExponentialBackOff{
		InitialInterval:     c.minBackoff,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         c.maxBackoff,
	}
	bo.Reset()

	for attempt := 1; ; attempt++ {
		if err := c.holdOff(ctx); err != nil {
			return Movie{}, fmt.Errorf("tmdb: movie %d: %w", id, err)
		}
		done, err := c.breaker.Allow()
		if err != nil {
			// Open, or half-open with its one request already out.
			return Movie{}, c.circuitOpen(id, nil)
		}
		if err := c.limiter.Wait(ctx); err != nil {
			done(errCallerGone)
			if ctx.Err() == nil {
				// The limiter refuses early when its wait would outlast the
				// deadline; say so in a way errors.Is understands.
				err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
			}
			return Movie{}, fmt.Errorf("tmdb: movie %d: wait for rate limiter: %w", id, err)
		}

		m, retryAfter, err := c.attempt(ctx, id, path)
		c.report(done, id, breakerOutcome(ctx, err))
		if retryAfter > 0 {
			c.pause(retryAfter)
		}
		switch {
		case err == nil:
			c.confirmed.Store(time.Now().UnixNano())
			return m, nil
		case ctx.Err() != nil:
			// Wrap both: the caller's reason is what errors.Is should find,
			// the attempt's error is what a human wants to read.
			return Movie{}, fmt.Errorf("tmdb: movie %d: %w (last attempt: %w)", id, context.Cause(ctx), err)
		case errors.Is(err, ErrUnauthorized):
			// Not logged here: the caller says what to do about it (the
			// enrichment names TMDB_API_KEY), and a second line said less.
			return Movie{}, fmt.Errorf("tmdb: movie %d: %w", id, err)
		case errors.Is(err, ErrNotFound):
			if cerr := c.confirmNotFound(ctx, id); cerr != nil {
				return Movie{}, fmt.Errorf("tmdb: movie %d: %w (its 404: %v)", id, cerr, err)
			}
			return Movie{}, fmt.Errorf("tmdb: movie %d: %w", id, err)
		case !Retryable(err):
			return Movie{}, fmt.Errorf("tmdb: movie %d: %w", id, err)
		case attempt >= c.maxAttempts:
			return Movie{}, fmt.Errorf("tmdb: movie %d: giving up after %d attempts: %w", id, attempt, err)
		case c.breaker.State() == gobreaker.StateOpen:
			// This failure opened it: no use waiting out a backoff first.
			return Movie{}, c.circuitOpen(id, err)
		}

		// Jitter can push the randomized interval past MaxInterval.
		delay := min(bo.NextBackOff(), c.maxBackoff)
		if left := c.pauseLeft(); left > delay {
			if left > c.longestPause() {
				if retryAfter > 0 {
					// This answer asked for the pause: not ErrPaused, which
					// the calls during it get (and the enrichment logs at
					// debug), so that the pause itself is warned of.
					return Movie{}, fmt.Errorf("tmdb: movie %d: TMDB asked not to be called for another %s (Retry-After): %w", id, left.Round(time.Second), err)
				}
				return Movie{}, fmt.Errorf("tmdb: movie %d: %w (last attempt: %w)", id, &pausedError{left: left}, err)
			}
			delay = left
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < delay {
			return Movie{}, fmt.Errorf("tmdb: movie %d: next attempt would start after the deadline: %w", id, err)
		}
		c.logger.LogAttrs(ctx, slog.LevelWarn, "tmdb request failed, retrying",
			slog.String("path", path),
			slog.Int("attempt", attempt),
			slog.Int("max_attempts", c.maxAttempts),
			slog.Duration("delay", delay),
			slog.String("error", err.Error()))
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return Movie{}, fmt.Errorf("tmdb: movie %d: %w (last attempt: %w)", id, context.Cause(ctx), err)
		case <-timer.C:
		}
	}
}

// confirmNotFound tells whether a 404 for movie id may be believed: when
// TMDB answered some movie in the last notFoundTrusted, or else answers
// for a movie it is known to have (ControlID). TMDB answers a path it does
// not serve with the same 404 and status_code 34, so a TMDB_BASE_URL with
// a wrong path (".../3/movie", ".../4") would otherwise remove every movie
// asked for, and its views with it. If the control movie is not found
// either, the 404 settles nothing: a retryable error, logged loudly. The
// control's own 404 cannot vouch for itself.
func (c *Client) confirmNotFound(ctx context.Context, id int64) error {
	if c.recentlyConfirmed() {
		return nil
	}
	if id == c.controlID {
		return &unconfirmedError{reason: "the control movie itself, with no other movie found lately", err: errControlNotFound}
	}
	c.controlMu.Lock()
	at, failure := c.controlFailedAt, c.controlFailure
	c.controlMu.Unlock()
	if failure != nil && time.Since(at) < notFoundTrusted {
		return failure
	}
	_, err := c.Movie(ctx, c.controlID)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errControlNotFound), errors.Is(err, ErrNotFound):
		if c.logger != nil {
			c.logger.LogAttrs(ctx, slog.LevelError, "TMDB answers 404 for the control movie too: TMDB_BASE_URL is probably wrong, and no movie is removed until it answers",
				slog.Int64("control_id", c.controlID), slog.String("base_path", c.base.Path))
		}
		failure = &unconfirmedError{reason: fmt.Sprintf("TMDB does not know control movie %d either (check TMDB_BASE_URL)", c.controlID)}
	default:
		// Wrapped: a 401 on the control is the credentials' problem.
		failure = &unconfirmedError{reason: fmt.Sprintf("asking for control movie %d", c.controlID), err: err}
		if ctx.Err() != nil {
			return failure // the caller's end: no verdict on the control
		}
	}
	c.controlMu.Lock()
	c.controlFailedAt, c.controlFailure = time.Now(), failure
	c.controlMu.Unlock()
	return failure
}

// recentlyConfirmed tells whether TMDB answered a movie with its facts
// within notFoundTrusted: its 404s are then believed.
func (c *Client) recentlyConfirmed() bool {
	last := c.confirmed.Load()
	return last != 0 && time.Since(time.Unix(0, last)) < notFoundTrusted
}

// errControlNotFound is the control movie's own 404, not believed.
var errControlNotFound = errors.New("TMDB answered 404 for the control movie")

// pause holds back every request of the client for d (a Retry-After),
// unless an earlier answer asked for a longer pause.
func (c *Client) pause(d time.Duration) {
	until := time.Now().Add(min(d, pauseCeiling)).UnixNano()
	for {
		cur := c.notBefore.Load()
		if cur >= until || c.notBefore.CompareAndSwap(cur, until) {
			return
		}
	}
}

// pauseLeft is how long TMDB's latest Retry-After still runs.
func (c *Client) pauseLeft() time.Duration {
	if nb := c.notBefore.Load(); nb != 0 {
		return time.Until(time.Unix(0, nb))
	}
	return 0
}

// longestPause is the longest a call waits out a Retry-After.
func (c *Client) longestPause() time.Duration { return max(c.maxBackoff, retryAfterCeiling) }

// holdOff waits out what is left of a Retry-After, or fails at once when
// that is longer than a call waits or than ctx allows.
func (c *Client) holdOff(ctx context.Context) error {
	left := c.pauseLeft()
	if left <= 0 {
		return nil
	}
	if deadline, ok := ctx.Deadline(); left > c.longestPause() || ok && time.Until(deadline) < left {
		return &pausedError{left: left}
	}
	timer := time.NewTimer(left)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-timer.C:
		return nil
	}
}

// attempt sends one request. It also returns the Retry-After duration of a
// failed answer, zero if there was none.
func (c *Client) attempt(ctx context.Context, id int64, path string) (Movie, time.Duration, error) {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	u := c.base.JoinPath("movie", strconv.FormatInt(id, 10))
	if c.readToken == "" && c.apiKey != "" {
		u.RawQuery = url.Values{"api_key": {c.apiKey}}.Encode()
	}
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u.String(), nil)
	if err != nil {
		// %s on purpose: the cause is a *url.Error holding the full URL.
		return Movie{}, 0, fmt.Errorf("build request for %s: %s", path, c.scrub(err.Error()))
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if c.readToken != "" {
		req.Header.Set("Authorization", "Bearer "+c.readToken)
	}

	resp, err := c.http.Do(req)
	if err != nil {
		return Movie{}, 0, c.transportError(ctx, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes+1))
	if err != nil {
		return Movie{}, 0, c.transportError(ctx, path, fmt.Errorf("read body: %w", err))
	}

	if resp.StatusCode != http.StatusOK {
		return Movie{}, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), c.apiError(resp.StatusCode, body)
	}
	if len(body) > maxBodyBytes {
		return Movie{}, 0, &decodeError{path: path, err: fmt.Errorf("body exceeds %d bytes", maxBodyBytes)}
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		// A 200 that is not JSON is not TMDB's answer (a proxy's or a
		// captive portal's page): worth asking again, not a bad movie.
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return Movie{}, 0, &transportError{path: path, msg: fmt.Sprintf("answered 200 with Content-Type %q, not TMDB's JSON", ct)}
		}
	}
	var m Movie
	if err := json.Unmarshal(body, &m); err != nil {
		return Movie{}, 0, &decodeError{path: path, err: err}
	}
	if m.ID != id {
		return Movie{}, 0, &decodeError{path: path, err: fmt.Errorf("got movie id %d, want %d", m.ID, id)}
	}
	return m, 0, nil
}

// sameHostRedirects follows a redirect only on TMDB's own host and
// scheme: the query of a redirect's target may carry the api_key to
// another host, and Go sends Authorization (the read token) on to the
// same host over plain http too.
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if req.URL.Host != via[0].URL.Host {
		return fmt.Errorf("redirected to another host (%s): not followed, the request carries the API key", req.URL.Host)
	}
	if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
		return fmt.Errorf("redirected from https to %s: not followed, the request carries the API key", req.URL.Scheme)
	}
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	return nil
}

// transportError turns a failed round trip into an error that names only
// the path. ctx is the caller's context, to tell its cancellation apart from
// the per-attempt timeout.
func (c *Client) transportError(ctx context.Context, path string, err error) error {
	// *url.Error prints the whole URL, api_key included: keep only its cause.
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	te := &transportError{path: path, err: err}
	var ne net.Error
	switch {
	case ctx.Err() != nil:
		// The caller gave up; not our timeout.
	case errors.Is(err, context.DeadlineExceeded):
		te.timeout = true
		te.err = fmt.Errorf("no answer within %s: %w", c.timeout, err)
	case errors.As(err, &ne) && ne.Timeout():
		te.timeout = true
	}
	te.msg = c.scrub(te.err.Error())
	return te
}

// apiError builds the error for a non-200 answer from TMDB's error body,
// {"success":false,"status_code":34,"status_message":"..."}, falling back to
// the HTTP status text when the body is something else.
func (c *Client) apiError(status int, body []byte) *APIError {
	var b struct {
		Code    int    `json:"status_code"`
		Message string `json:"status_message"`
	}
	_ = json.Unmarshal(body, &b) // not TMDB's shape: use what we have
	msg := strings.TrimSpace(b.Message)
	if msg == "" {
		msg = http.StatusText(status)
	}
	// Scrubbed before it is cut: a cut through a key would leave part of it.
	msg = c.scrub(msg)
	if len(msg) > maxMessageLen {
		msg = strings.ToValidUTF8(msg[:maxMessageLen], "") + "..." // not half a character
	}
	return &APIError{HTTPStatus: status, Code: b.Code, Message: msg}
}

// scrub removes the credentials from s. Errors are built to not contain
// them in the first place; this is the second line of defence against an
// echoing server or a library error that quotes the URL.
func (c *Client) scrub(s string) string {
	for _, secret := range []string{c.apiKey, c.readToken} {
		if secret == "" {
			continue
		}
		s = strings.ReplaceAll(s, secret, redacted)
		if esc := url.QueryEscape(secret); esc != secret {
			s = strings.ReplaceAll(s, esc, redacted)
		}
	}
	return s
}

// parseRetryAfter reads a Retry-After header, given either as seconds or as
// an HTTP date. It returns zero when the header is absent, invalid or past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		// Clamp before multiplying so a silly value cannot overflow.
		return time.Duration(min(max(secs, 0), int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
