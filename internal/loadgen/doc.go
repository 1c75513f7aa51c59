// Package loadgen is the load generator of `trend load`: a fixed number of
// keep-alive connections sending requests to the HTTP API for a duration
// or a count, either as fast as the answers come (closed loop) or at a
// fixed rate (open loop), with latencies in a histogram (p50, p90, p99,
// max) and errors counted by status.
//
// Scenarios: views (POST /api/movies/view over registered movies, and
// optionally the time until the projection counted every accepted view),
// reads (GET /api/movies?limit=50), freshness (how long a view takes from
// its 202 to GET /api/movies/{id}, at a fixed rate of views). Setup
// registers the movies a scenario needs through the API.
package loadgen
