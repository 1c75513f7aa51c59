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
//
// The load's requests go through a lean HTTP/1.1 client (conn.go): each
// worker owns one keep-alive connection and writes requests rendered once
// as bytes, at a fraction of net/http's CPU cost a request, which matters
// when the load generator shares the machine with the server. net/http
// sends the few bookkeeping requests, and the load to an https target.
package loadgen
