// Package fastlane serves a few hot HTTP/1.1 endpoints with less
// machinery than net/http, and hands a connection with any other request
// to an http.Server.
//
// Why: one view per request is the API's hottest path, and on our 2-core
// machine net/http's own work per request (a goroutine that watches for
// the client going away, read deadlines set and reset, a response object
// and its buffers) cost about 26 µs of CPU against about 17 µs for a
// plain read-handle-write loop over the same sockets, at the same
// concurrency and latency (docs/benchmarks.md). At 15,000 views a second
// that difference is an eighth of a core.
//
// The lane reads a request itself only when it is simple: exactly
// "<method> <path> HTTP/1.1" of a configured route (with a query of plain
// characters, if the route allows one), a header block and body that fit
// its buffer, one Host, one Content-Length (or none, for a GET: no body),
// no Transfer-Encoding, Expect or Upgrade. It then runs the server's own
// handler (the same router, middleware and code as net/http would) with a
// buffered response, and writes the response in one write. Anything else
// (another route, an unusual query, a chunked body, a bad request) hands
// the connection, with every byte read so far, to the http.Server, which
// serves it from then on as if it had accepted it. Nothing is answered
// differently, only cheaper.
//
// What a lane request does not get: its context is not cancelled when the
// client disconnects mid-request (a view waits a few milliseconds for a
// group commit, a list read for a head lookup; both are idempotent), and
// the response cannot be streamed (http.Flusher is not implemented):
// routes that stream must not be configured. And its body must arrive within
// ReadHeaderTimeout of the request's first byte, with its header: without
// a ReadTimeout, net/http would wait for a body with no deadline.
package fastlane

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// bufferSize bounds a request the lane reads itself: header block and
// body. A view request is about 150 bytes; larger ones go to net/http.
const bufferSize = 4096

// Route is a method and exact path the lane serves.
type Route struct {
	Method string
	Path   string
	// Query lets the path carry a query of plain characters (letters,
	// digits and -._~=&%+,); any other query goes to net/http. Without
	// it, a request with a query does.
	Query bool
}

// Server is an http.Server with a fast lane in front of it.
type Server struct {
	srv    *http.Server
	routes []laneRoute

	mu    sync.Mutex
	conns map[*conn]struct{}
	// waiting, if set, is called on a connection's goroutine as it begins
	// to wait for its next request (for tests).
	waiting   func(*conn)
	listeners []net.Listener
	handoff   *handoffListener
	// closing is set under mu (so that track and stop agree on it) and
	// read without it by each request's loop.
	closing atomic.Bool
	wg      sync.WaitGroup
	ctx     context.Context
	cancel  context.CancelFunc

	served, handedOff atomic.Uint64
}

// Stats tells how many requests the lane answered itself, and how many
// connections it handed to net/http.
func (s *Server) Stats() (served, handedOff uint64) {
	return s.served.Load(), s.handedOff.Load()
}

// laneRoute is a Route as the lane matches and serves it, made once.
type laneRoute struct {
	start        []byte // "POST /api/movies/view"
	method, path string
	query        bool
}

// New puts a lane for routes in front of srv. srv.Handler serves both
// paths; srv.ReadHeaderTimeout also bounds the lane's reads.
func New(srv *http.Server, routes ...Route) *Server {
	s := &Server{srv: srv, conns: map[*conn]struct{}{}}
	for _, r := range routes {
		s.routes = append(s.routes, laneRoute{start: []byte(r.Method + " " + r.Path), method: r.Method, path: r.Path, query: r.Query})
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Serve accepts connections on ln until Shutdown or Close, as
// http.Server.Serve does, and returns http.ErrServerClosed then.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		return http.ErrServerClosed
	}
	s.listeners = append(s.listeners, ln)
	if s.handoff == nil {
		s.handoff = newHandoffListener(ln.Addr())
		h := s.handoff
		go func() { _ = s.srv.Serve(h) }()
	}
	s.mu.Unlock()

	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return http.ErrServerClosed
			}
			// As net/http does for temporary failures (out of file
			// descriptors): wait a little and go on.
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ECONNABORTED) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		lc := &conn{s: s, c: c, br: bufio.NewReaderSize(c, bufferSize), opened: time.Now()}
		if !s.track(lc) {
			_ = c.Close()
			return http.ErrServerClosed
		}
		go lc.serve()
	}
}

func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// Shutdown stops accepting, lets requests in progress finish (on both
// paths), closes idle connections and returns when all are done or ctx
// ends, as http.Server.Shutdown does.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stop()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	// The lane's connections are done (or out of time): none hands over
	// any more, and the http.Server can finish its own.
	s.closeHandoff()
	if serr := s.srv.Shutdown(ctx); err == nil {
		err = serr
	}
	return err
}

// Close closes every connection at once, as http.Server.Close does.
func (s *Server) Close() error {
	s.stop()
	s.cancel()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.c.Close()
	}
	s.mu.Unlock()
	s.closeHandoff()
	return s.srv.Close()
}

// stop closes the listeners and the lane's idle connections; a busy one
// closes after its response.
func (s *Server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return
	}
	s.closing.Store(true)
	for _, ln := range s.listeners {
		_ = ln.Close()
	}
	for c := range s.conns {
		c.closeIfIdle(newConnGrace)
	}
	// The connections handed to net/http, too: idle ones closed, answers
	// with Connection: close (its own Shutdown comes only once the lane's
	// connections are done).
	s.srv.SetKeepAlivesEnabled(false)
}

// newConnGrace is how long a connection that has sent no request yet is
// left open by a shutdown, as net/http leaves one (it treats a new
// connection older than 5 s as idle): a client that connected just before
// is served, with Connection: close, instead of reset.
var newConnGrace = 5 * time.Second

// closeHandoff ends the http.Server's accepting, if Serve ever started it.
func (s *Server) closeHandoff() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.handoff != nil {
		_ = s.handoff.Close()
	}
}

// conn is one connection while the lane serves it.
type conn struct {
	s  *Server
	c  net.Conn
	br *bufio.Reader

	mu     sync.Mutex
	busy   bool // reading or serving a request
	closed bool
	used   bool      // a request has begun on it
	opened time.Time // when it was accepted

	remote string
	// by is the read deadline set (zero: none). A request that arrived
	// whole with its first bytes (nearly all do) is read without one:
	// setting and clearing it cost about a microsecond a request.
	by   time.Time
	tp   *textproto.Reader
	head bytes.Reader
	// out and body are the buffers of the response in hand (the bytes
	// written, the handler's body), from buffers: a list page is 2 to
	// 18 KB, and allocating them afresh was over half of what list reads
	// allocated (so of the collections their load caused). They go back
	// before the connection waits for its next request, so that an idle
	// one holds none: kept on it, they were up to 128 KB a connection
	// for its whole idle timeout (net/http's idle connection holds about
	// 8 KB), which many quiet clients could turn into a lot of memory.
	out, body *[]byte
	// written is the write deadline set on c (see boundWrite): kept
	// across answers, so that answers in a row do not each pay for one.
	written time.Time
}

// writeSlack is how much earlier than asked an answer's write deadline
// may be (see conn.boundWrite).
const writeSlack = 5 * time.Second

// boundWrite sets the write deadline an answer's handler asked for
// (by, through http.ResponseController), if it did; an answer that asked
// for none gets none, as on net/http. The one set stays while it is no
// later than asked, no more than writeSlack earlier, and still ahead.
func (c *conn) boundWrite(by time.Time) {
	switch {
	case by.IsZero():
		c.unboundWrite()
	case c.written.IsZero() || c.written.After(by) || c.written.Before(by.Add(-writeSlack)) ||
		!c.written.After(time.Now()):
		c.written = by
		_ = c.c.SetWriteDeadline(by)
	}
}

// unboundWrite clears the write deadline before net/http takes the
// connection: it sets none of its own without a WriteTimeout, and a live
// stream on it would fail at the lane's.
func (c *conn) unboundWrite() {
	if !c.written.IsZero() {
		c.written = time.Time{}
		_ = c.c.SetWriteDeadline(time.Time{})
	}
}

// buffers pools the response buffers of connections busy with a request.
var buffers = sync.Pool{New: func() any { return new([]byte) }}

// maxKeptBuffer bounds the buffers pooled: an unusually large answer (a
// page of 1,000 movies) is not kept for the next.
const maxKeptBuffer = 64 << 10

// buffer is *b, taken from the pool first if b holds none.
func buffer(b **[]byte) []byte {
	if *b == nil {
		*b = buffers.Get().(*[]byte)
	}
	return (**b)[:0]
}

// releaseBuffers returns the connection's response buffers to the pool.
func (c *conn) releaseBuffers() {
	for _, b := range []**[]byte{&c.out, &c.body} {
		if *b == nil {
			continue
		}
		if cap(**b) > maxKeptBuffer {
			**b = nil
		}
		buffers.Put(*b)
		*b = nil
	}
}

// closeIfIdle closes the connection unless a request is in progress, or
// none has begun yet and it was opened less than grace ago: that one is
// looked at again once grace has passed.
func (c *conn) closeIfIdle(grace time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.busy || c.closed {
		return
	}
	if wait := grace - time.Since(c.opened); !c.used && wait > 0 {
		time.AfterFunc(wait, func() { c.closeIfIdle(0) })
		return
	}
	c.closed = true
	_ = c.c.Close()
}

// setBusy marks the connection busy; false means it was closed while idle.
func (c *conn) setBusy(busy bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.busy = busy
	c.used = c.used || busy
	return !c.closed
}

func (c *conn) serve() {
	handedOff := false
	defer func() {
		if !handedOff {
			c.mu.Lock()
			if !c.closed {
				c.closed = true
				_ = c.c.Close()
			}
			c.mu.Unlock()
		}
		c.s.untrack(c)
	}()
	defer func() {
		// A panic the handler's own middleware did not turn into a
		// response closes the connection, as net/http does, instead of
		// the process; it is logged unless it is http.ErrAbortHandler.
		if v := recover(); v != nil && v != http.ErrAbortHandler {
			c.s.logf("fastlane: panic serving %s: %v\n%s", c.remote, v, debug.Stack())
		}
	}()
	c.remote = c.c.RemoteAddr().String()
	// As net/http does, a connection's first request is timed from the
	// accept: one that never sends a byte is closed after
	// ReadHeaderTimeout. Later requests are timed from their first byte
	// (fill), and waited for under the idle timeout.
	if d := c.s.headerTimeout(); d > 0 {
		c.readBy(time.Now().Add(d))
	}
	lastMethod := ""
	for first := true; ; first = false {
		if !first {
			if idle := c.s.idleTimeout(); idle > 0 {
				c.readBy(time.Now().Add(idle))
			}
		}
		if _, err := c.br.Peek(1); err != nil {
			return
		}
		if lastMethod == http.MethodPost {
			// As net/http does, for old clients that end a POST's body
			// with a CRLF it did not count (RFC 9112, section 2.2): up
			// to four CR or LF bytes before the next request are skipped.
			// Every request is longer than four bytes.
			peek, _ := c.br.Peek(4)
			_, _ = c.br.Discard(leadingCRorLF(peek))
		}
		if !first {
			c.readBy(time.Time{}) // the idle wait's, if any
		}
		if !c.setBusy(true) {
			return
		}
		req, n, next := c.read()
		by := c.by // the request's, which net/http would restart
		c.readBy(time.Time{})
		switch next {
		case handOver:
			c.unboundWrite()
			c.s.handedOff.Add(1)
			c.s.handoff.give(&handedConn{Conn: c.c, r: c.br, by: by})
			handedOff = true
			return
		case hangUp:
			return
		}
		_, _ = c.br.Discard(n)
		lastMethod = req.Method
		c.s.served.Add(1)
		out, keepAlive, writeBy := c.respond(req)
		if d := c.s.srv.WriteTimeout; d > 0 {
			_ = c.c.SetWriteDeadline(time.Now().Add(d))
		} else {
			c.boundWrite(writeBy)
		}
		_, err := c.c.Write(out)
		// Back to the pool, whatever comes next: a wait for the next
		// request (however much of it came already) holds none.
		c.releaseBuffers()
		if err != nil || !keepAlive || !c.setBusy(false) || c.s.closing.Load() {
			return
		}
		if c.s.waiting != nil {
			c.s.waiting(c)
		}
	}
}

// logf logs where the http.Server logs its own errors.
func (s *Server) logf(format string, args ...any) {
	if s.srv.ErrorLog != nil {
		s.srv.ErrorLog.Printf(format, args...)
		return
	}
	log.Printf(format, args...)
}

func (s *Server) idleTimeout() time.Duration {
	if s.srv.IdleTimeout != 0 {
		return s.srv.IdleTimeout
	}
	return s.srv.ReadTimeout
}

// headerTimeout is how long a request's header may take, as net/http
// reckons it.
func (s *Server) headerTimeout() time.Duration {
	if s.srv.ReadHeaderTimeout != 0 {
		return s.srv.ReadHeaderTimeout
	}
	return s.srv.ReadTimeout
}

// readBy sets the connection's read deadline (none for a zero t),
// skipping the call when there is none to clear.
func (c *conn) readBy(t time.Time) {
	if t.IsZero() && c.by.IsZero() {
		return
	}
	_ = c.c.SetReadDeadline(t)
	c.by = t
}

// verdict is what becomes of a request the lane has begun to read.
type verdict int

const (
	serveIt  verdict = iota // the lane serves it
	handOver                // net/http serves it, and the connection from then on
	hangUp                  // the client took too long: close, as net/http would
)

// verdictOn is the verdict on a read that failed: a timeout closes the
// connection (net/http's deadline would have passed too, and it closes
// without an answer); anything else goes to net/http with the bytes read
// so far, to be answered as net/http answers them.
func verdictOn(err error) verdict {
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return hangUp
	}
	return handOver
}

// read parses the request at the head of the buffer without consuming
// it. Unless its verdict is serveIt, it returns no request; else the
// request (Close set if the client asked to close) and the bytes it
// spans.
func (c *conn) read() (*http.Request, int, verdict) {
	head, m, v := c.headBlock()
	if v != serveIt {
		return nil, 0, v
	}
	rt := m.route
	// The header lines, as net/http itself reads them.
	c.head.Reset(head[m.lineLen:])
	if c.tp == nil {
		c.tp = textproto.NewReader(bufio.NewReaderSize(&c.head, 512))
	} else {
		c.tp.R.Reset(&c.head)
	}
	mh, err := c.tp.ReadMIMEHeader()
	if err != nil || c.head.Len() != 0 || c.tp.R.Buffered() != 0 {
		// (The header must end where the lane found its end; see
		// headBlock.)
		return nil, 0, handOver
	}
	h := http.Header(mh)
	if !validFields(h) {
		return nil, 0, handOver
	}
	host, ok := single(h, "Host")
	if !ok || !validHost(host) {
		return nil, 0, handOver
	}
	// What net/http does to a request's header before its handler sees
	// it: the Host is the request's, not a header; Pragma: no-cache
	// implies Cache-Control: no-cache (RFC 9111, section 5.4).
	delete(h, "Host")
	if p := h["Pragma"]; len(p) > 0 && p[0] == "no-cache" {
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}
	// A GET may come without a length, and so without a body, as
	// net/http reads it; other requests must say their length.
	var length uint64
	if cl, ok := single(h, "Content-Length"); ok {
		length, err = strconv.ParseUint(cl, 10, 32)
		// Compared as uint64: int(length) wraps negative on a 32-bit build.
		if err != nil || cl[0] == '+' || uint64(len(head))+length > bufferSize {
			return nil, 0, handOver
		}
	} else if _, any := h["Content-Length"]; any || rt.method != http.MethodGet {
		return nil, 0, handOver
	}
	for _, k := range []string{"Transfer-Encoding", "Expect", "Upgrade", "Trailer"} {
		if _, ok := h[k]; ok {
			return nil, 0, handOver
		}
	}
	keepAlive := true
	for _, v := range h["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			switch strings.ToLower(strings.TrimSpace(tok)) {
			case "close":
				keepAlive = false
			case "keep-alive", "":
			default:
				return nil, 0, handOver
			}
		}
	}
	n := len(head) + int(length)
	if err := c.fill(n); err != nil {
		return nil, 0, verdictOn(err)
	}
	all, _ := c.br.Peek(n)
	var body io.ReadCloser = http.NoBody // as net/http gives a request of length 0
	if length > 0 {
		body = io.NopCloser(bytes.NewReader(slices.Clone(all[len(head):])))
	}
	uri := rt.path
	if m.query != "" {
		uri += "?" + m.query
	}
	req := &http.Request{
		Method:        rt.method,
		URL:           &url.URL{Path: rt.path, RawQuery: m.query},
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          body,
		ContentLength: int64(length),
		Host:          host,
		RemoteAddr:    c.remote,
		RequestURI:    uri,
		Close:         !keepAlive,
	}
	return req.WithContext(c.s.ctx), n, serveIt
}

// headBlock returns the request line and header lines up to and with the
// blank line, and the route that line matched, reading more if they are
// not all buffered yet. A request that is not of a lane route goes to
// net/http as soon as its first bytes tell so, and so does a header that
// does not fit the buffer. So does one with a line ended by a bare LF:
// net/http ends lines (and the header) there too, where the lane looks
// for CRLF only, and the two must agree on where the header ends and the
// body begins.
func (c *conn) headBlock() ([]byte, match, verdict) {
	for {
		buf, _ := c.br.Peek(c.br.Buffered())
		m, maybe := c.s.route(buf)
		if !maybe {
			return nil, match{}, handOver
		}
		end := bytes.Index(buf, []byte("\r\n\r\n"))
		if end >= 0 {
			buf = buf[:end+4]
		}
		if bareLF(buf) {
			return nil, match{}, handOver
		}
		if end >= 0 && m.route != nil {
			return buf, m, serveIt
		}
		if end >= 0 || len(buf) == bufferSize {
			return nil, match{}, handOver
		}
		if err := c.fill(len(buf) + 1); err != nil {
			return nil, match{}, verdictOn(err)
		}
	}
}

// match is a request line that matched a lane route.
type match struct {
	route   *laneRoute
	query   string // without its "?"; "" for none
	lineLen int    // with its CRLF
}

// httpVersion ends every request line the lane serves.
var httpVersion = []byte(" HTTP/1.1\r\n")

// route matches the request line buf begins with against the lane's
// routes. Until the line is whole it tells only whether it may still be
// one of them (maybe); a whole line either matches or goes to net/http.
func (s *Server) route(buf []byte) (m match, maybe bool) {
	eol := bytes.Index(buf, []byte("\r\n"))
	for i := range s.routes {
		rt := &s.routes[i]
		if eol < 0 {
			if bytes.HasPrefix(rt.start, buf) || bytes.HasPrefix(buf, rt.start) && mayFollow(rt, buf[len(rt.start):]) {
				maybe = true
			}
			continue
		}
		line := buf[:eol+2]
		rest, ok := bytes.CutPrefix(line, rt.start)
		if !ok || !bytes.HasSuffix(rest, httpVersion) {
			continue
		}
		target := rest[:len(rest)-len(httpVersion)]
		if len(target) == 0 {
			return match{route: rt, lineLen: len(line)}, true
		}
		if rt.query && len(target) > 1 && target[0] == '?' && plainQuery(target[1:]) {
			return match{route: rt, query: string(target[1:]), lineLen: len(line)}, true
		}
	}
	return match{}, maybe
}

// mayFollow tells whether after, the bytes that follow a route's method
// and path so far, may still become the rest of its request line.
func mayFollow(rt *laneRoute, after []byte) bool {
	if len(after) == 0 || bytes.HasPrefix(httpVersion, after) {
		return true
	}
	return rt.query && after[0] == '?'
}

// plainQuery tells whether q holds only characters that every parser
// reads alike: no spaces, no controls, no fragment, nothing to escape.
func plainQuery(q []byte) bool {
	for _, b := range q {
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte("-._~=&%+,", b) >= 0) {
			return false
		}
	}
	return true
}

// leadingCRorLF counts the CR and LF bytes b begins with.
func leadingCRorLF(b []byte) int {
	n := 0
	for n < len(b) && (b[n] == '\r' || b[n] == '\n') {
		n++
	}
	return n
}

// bareLF tells whether b has an LF that does not follow a CR.
func bareLF(b []byte) bool {
	for i := 0; ; i++ {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return false
		}
		i += j
		if i == 0 || b[i-1] != '\r' {
			return true
		}
	}
}

// fill waits until n bytes are buffered. The first wait of a request
// sets its deadline, ReadHeaderTimeout from then, for all of it: header
// and body (net/http sets none for the body without a ReadTimeout; a
// view's body comes with its header). A request that arrived whole with
// its first bytes, nearly all, is read without one.
func (c *conn) fill(n int) error {
	if c.br.Buffered() >= n {
		return nil
	}
	if c.by.IsZero() {
		if d := c.s.headerTimeout(); d > 0 {
			c.readBy(time.Now().Add(d))
		}
	}
	_, err := c.br.Peek(n)
	return err
}

// validFields applies net/http's checks on top of textproto's: names are
// tokens, values hold no control bytes but tabs.
func validFields(h http.Header) bool {
	for k, vv := range h {
		for i := 0; i < len(k); i++ {
			if !isTokenByte(k[i]) {
				return false
			}
		}
		for _, v := range vv {
			for i := 0; i < len(v); i++ {
				if b := v[i]; b < ' ' && b != '\t' || b == 0x7f {
					return false
				}
			}
		}
	}
	return true
}

// isTokenByte reports whether b may appear in an RFC 9110 token.
func isTokenByte(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
}

func single(h http.Header, key string) (string, bool) {
	v := h[key]
	if len(v) != 1 || v[0] == "" {
		return "", false
	}
	return v[0], true
}

// validHost is deliberately narrower than RFC 3986: a host name or
// address, with a port. Anything else goes to net/http, which knows the
// rest of the rules.
func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		b := h[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte(".-:[]_", b) >= 0) {
			return false
		}
	}
	return true
}

// response is a buffered http.ResponseWriter.
type response struct {
	header  http.Header
	status  int
	body    []byte
	writeBy time.Time
}

// SetWriteDeadline asks for the answer to be written by t (through
// http.ResponseController), as net/http's writer takes it: the connection
// applies it when it writes the answer (conn.boundWrite).
func (r *response) SetWriteDeadline(t time.Time) error {
	r.writeBy = t
	return nil
}

// SetReadDeadline does nothing: the lane reads a request's body with its
// header, before the handler runs.
func (r *response) SetReadDeadline(time.Time) error { return nil }

func (r *response) Header() http.Header { return r.header }

func (r *response) WriteHeader(status int) {
	if r.status == 0 && status >= 200 {
		r.status = status
	}
}

func (r *response) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body = append(r.body, p...)
	return len(p), nil
}

// respond runs the handler on req and formats its response as net/http
// would: the handler's headers, Date, Content-Type sniffed if unset, and
// Content-Length. It returns the bytes to write, whether the connection
// stays open, and the write deadline the handler asked for (or zero).
func (c *conn) respond(req *http.Request) ([]byte, bool, time.Time) {
	r := &response{header: http.Header{}, body: buffer(&c.body)}
	keepAlive := !req.Close
	handler := c.s.srv.Handler
	if handler == nil {
		handler = http.DefaultServeMux
	}
	handler.ServeHTTP(r, req)
	// An answer made while the server shuts down says the connection
	// closes, as net/http's does: the client must not send another
	// request on it.
	if c.s.closing.Load() {
		keepAlive = false
	}
	if r.status == 0 {
		r.status = http.StatusOK
	}
	h := r.header
	if v := h.Get("Connection"); strings.EqualFold(v, "close") {
		keepAlive = false
	}
	bodyAllowed := r.status != http.StatusNoContent && r.status != http.StatusNotModified
	if !bodyAllowed {
		r.body = r.body[:0]
	}
	if _, ok := h["Date"]; !ok {
		h["Date"] = []string{time.Now().UTC().Format(http.TimeFormat)}
	}
	if _, ok := h["Content-Type"]; !ok && len(r.body) > 0 {
		h["Content-Type"] = []string{http.DetectContentType(r.body)}
	}
	if bodyAllowed {
		h["Content-Length"] = []string{strconv.Itoa(len(r.body))}
	}
	delete(h, "Transfer-Encoding")
	if !keepAlive {
		h["Connection"] = []string{"close"}
	}
	// One buffer a connection, reused from response to response.
	out := bytes.NewBuffer(buffer(&c.out))
	out.WriteString("HTTP/1.1 ")
	out.WriteString(strconv.Itoa(r.status))
	out.WriteByte(' ')
	out.WriteString(http.StatusText(r.status))
	out.WriteString("\r\n")
	_ = h.Write(out) // sorted, sanitized, as net/http writes them
	out.WriteString("\r\n")
	out.Write(r.body)
	*c.out = out.Bytes()
	*c.body = r.body
	return *c.out, keepAlive, r.writeBy
}

// handedConn reads first what the lane had buffered.
type handedConn struct {
	net.Conn
	r *bufio.Reader
	// by is the deadline the lane had set for the request it hands over
	// (zero if none): net/http's first one, for the same request's header,
	// counts from the handover, so a client that made its request line
	// look like a lane route for ReadHeaderTimeout would get as long
	// again.
	by time.Time
}

func (c *handedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// SetReadDeadline keeps the lane's deadline for the request in hand as a
// bound of the first deadline net/http sets: its header's.
func (c *handedConn) SetReadDeadline(t time.Time) error {
	if by := c.by; !by.IsZero() {
		c.by = time.Time{}
		if t.IsZero() || t.After(by) {
			t = by
		}
	}
	return c.Conn.SetReadDeadline(t)
}

// CloseWrite lets net/http half-close a connection before closing it, as
// it does on a *net.TCPConn, so that a client still sending gets the
// answer before the connection is reset.
func (c *handedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// handoffListener is what the http.Server accepts from: the connections
// the lane hands over.
type handoffListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

// give hands c to the http.Server, or closes it if that stopped.
func (l *handoffListener) give(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		_ = c.Close()
	}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }
