package tmdb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// ErrNotFound reports that TMDB does not know the requested movie: HTTP 404
// with TMDB's own body, status_code 34 (or 6, "invalid id"). It is final:
// asking again will not change the answer.
var ErrNotFound = errors.New("tmdb: resource not found")

// ErrUnauthorized reports that TMDB refused the credentials (HTTP 401, TMDB
// status_code 7). The client does not retry it because the same key fails the
// same way; callers should alert an operator and retry much later.
var ErrUnauthorized = errors.New("tmdb: invalid api key or token")

// ErrCircuitOpen reports a call refused without asking TMDB: its last
// requests failed (Config.BreakerThreshold in a row), and the client waits
// before asking again. It is retryable.
var ErrCircuitOpen = errors.New("tmdb: TMDB unavailable, not asked (circuit open)")

// ErrPaused reports a call given up without asking TMDB: TMDB's latest
// Retry-After runs longer than a call waits. It is retryable.
var ErrPaused = errors.New("tmdb: TMDB asked for a pause (Retry-After), not asked")

// APIError is a non-200 answer from TMDB. errors.Is(err, ErrNotFound) and
// errors.Is(err, ErrUnauthorized) match the 404 and 401 cases.
type APIError struct {
	HTTPStatus int    // HTTP status code of the response
	Code       int    // TMDB status_code from the body, 0 if the body had none
	Message    string // TMDB status_message, or the HTTP status text
}

// Error implements error.
func (e *APIError) Error() string {
	return fmt.Sprintf("http %d, tmdb status_code %d: %s", e.HTTPStatus, e.Code, e.Message)
}

// Unwrap exposes the sentinel matching the HTTP status, if any.
func (e *APIError) Unwrap() error {
	switch e.HTTPStatus {
	case http.StatusNotFound:
		if e.tmdbNotFound() {
			return ErrNotFound
		}
		return nil
	case http.StatusUnauthorized:
		return ErrUnauthorized
	default:
		return nil
	}
}

// transportError is a request that got no usable response (connection
// failure, timeout, body cut short). It replaces *url.Error on purpose: that
// type prints the full request URL, api_key included.
type transportError struct {
	path    string // request path without the query, safe to print
	msg     string // err's text with credentials scrubbed
	timeout bool
	err     error
}

func (e *transportError) Error() string {
	return fmt.Sprintf("GET %s: %s", e.path, e.msg)
}

func (e *transportError) Unwrap() error { return e.err }

// Timeout reports whether the attempt ran out of time, matching net.Error.
func (e *transportError) Timeout() bool { return e.timeout }

// pausedError is a call given up without asking TMDB: its latest
// Retry-After runs longer than a call waits (or than the caller's
// deadline allows). Asking again once it has passed may succeed.
type pausedError struct{ left time.Duration }

func (e *pausedError) Is(target error) bool { return target == ErrPaused }

func (e *pausedError) Error() string {
	return fmt.Sprintf("TMDB asked not to be called for another %s (Retry-After)", e.left.Round(time.Second))
}

// decodeError is a 200 answer whose body is not the movie we asked for.
// Repeating the request would most likely return the same body.
type decodeError struct {
	path string
	err  error
}

func (e *decodeError) Error() string {
	return fmt.Sprintf("GET %s: decode response: %v", e.path, e.err)
}

func (e *decodeError) Unwrap() error { return e.err }

// Retryable reports whether err is transient, so that asking TMDB again later
// may succeed: 408, 429 and 5xx answers, a 404 without TMDB's not-found
// body, timeouts, network errors, cancellations, a call given up for a
// long Retry-After and one the open circuit refused. It is false for TMDB's 404, 401 and other 4xx
// answers, for a 200 body that cannot be decoded,
// and for nil.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	// An unconfirmed 404 settles nothing, whatever kept the control
	// movie from answering: the movie is asked for again later.
	if _, ok := errors.AsType[*unconfirmedError](err); ok {
		return true
	}
	// Checked first: a decode error may wrap a network-looking cause.
	if _, ok := errors.AsType[*decodeError](err); ok {
		return false
	}
	if ae, ok := errors.AsType[*APIError](err); ok {
		return retryableStatus(ae.HTTPStatus) || ae.HTTPStatus == http.StatusNotFound && !ae.tmdbNotFound()
	}
	if _, ok := errors.AsType[*transportError](err); ok {
		return true
	}
	if errors.Is(err, ErrPaused) || errors.Is(err, ErrCircuitOpen) {
		return true
	}
	// A cancelled or timed-out call settled nothing about the movie.
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	_, ok := errors.AsType[net.Error](err)
	return ok
}

// tmdbNotFound tells a 404 of TMDB's own, which settles that the movie
// does not exist, from one of something else on the way: a wrong
// TMDB_BASE_URL, a proxy's page. That other 404 must not remove movies:
// it is retried, and the movie stays as it is.
func (e *APIError) tmdbNotFound() bool {
	return e.HTTPStatus == http.StatusNotFound && (e.Code == 34 || e.Code == 6)
}

func retryableStatus(status int) bool {
	return status == http.StatusRequestTimeout ||
		status == http.StatusTooManyRequests ||
		status >= 500
}

// unconfirmedError is a 404 that could not be trusted: the control movie
// was not found, or could not be asked for (confirmNotFound). Retryable,
// so that the movie is asked for again, and nothing is removed.
type unconfirmedError struct {
	reason string
	err    error // why the control could not be asked for, if it could not
}

func (e *unconfirmedError) Error() string {
	if e.err != nil {
		return "a 404 not confirmed: " + e.reason + ": " + e.err.Error()
	}
	return "a 404 not confirmed: " + e.reason
}

func (e *unconfirmedError) Unwrap() error { return e.err }
