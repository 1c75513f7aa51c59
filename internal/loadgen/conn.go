package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The lean client sends the load's requests. net/http's Transport costs
// tens of µs of CPU a request (two goroutines a connection, channel
// handoffs, header maps; see BenchmarkNetHTTPClient), and on a machine
// shared with the system under test every µs is taken from the server.
// Here each worker owns one connection, writes a request rendered once as
// bytes and reads only the answer's status and framing headers: no
// goroutine, channel or allocation a request, one write and one read
// system call (plus the poller's) for a small answer.

// errMalformed is an answer that is not the HTTP/1.1 this client reads.
var errMalformed = errors.New("malformed HTTP response")

const (
	// requestTimeout bounds a request without an earlier ctx deadline,
	// as the net/http client's Timeout does.
	requestTimeout = 30 * time.Second
	// readBufferSize holds a page of 50 movies (about 20 KB) at once.
	readBufferSize = 32 << 10
	// idleCheckAfter: a connection idle this long is checked before use
	// for a close by the server (its idle timeout), which would fail the
	// request. net/http notices such closes with a goroutine reading each
	// connection; busy connections here skip the check's system call.
	idleCheckAfter = time.Second
)

// dialer is the net/http client's and the lean client's: TCP_NODELAY is
// Go's default, keep-alive probes find dead peers.
var dialer = &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}

// endpoint is an http:// target of the lean client.
type endpoint struct {
	addr   string // host:port to dial
	host   string // the Host header
	prefix string // the target's path, before each request's
}

// newEndpoint returns the endpoint of target, or nil when the lean client
// cannot serve it (https, credentials, a query) and net/http must.
func newEndpoint(target string) *endpoint {
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "http" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	return &endpoint{addr: net.JoinHostPort(u.Hostname(), port), host: u.Host,
		prefix: strings.TrimRight(u.EscapedPath(), "/")}
}

// request renders a whole request, with the headers in hdr; a body is
// sent as JSON.
func (e *endpoint) request(method, path string, body []byte, hdr ...header) []byte {
	b := make([]byte, 0, 160+len(e.prefix)+len(path)+len(body))
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, e.prefix...)
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, e.host...)
	b = append(b, "\r\nUser-Agent: trend-load\r\n"...)
	for _, h := range hdr {
		b = append(b, h.name...)
		b = append(b, ": "...)
		b = append(b, h.value...)
		b = append(b, "\r\n"...)
	}
	if body != nil {
		b = append(b, "Content-Type: application/json\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, body...)
}

// Separators for bytes.Cut.
var colon, semicolon, comma = []byte(":"), []byte(";"), []byte(",")

// header is one request header a load sends.
type header struct{ name, value string }

// acceptGzip asks for gzipped answers, as browsers do. The load generator
// discards bodies without decompressing them.
var acceptGzip = header{"Accept-Encoding", "gzip"}

// conn is one keep-alive connection of the lean client, used by one
// goroutine at a time. It is dialed on first use, and again after an
// error or an answer that closes it.
type conn struct {
	ep   *endpoint
	nc   net.Conn // nil when not connected; set by the owner under mu
	mu   sync.Mutex
	br   *bufio.Reader // kept across redials
	used time.Time     // when the last request started
	// watched is the Done channel of the context whose cancellation
	// interrupts the request in flight; unwatch stops that.
	watched <-chan struct{}
	unwatch func() bool
}

func (e *endpoint) newConn() *conn { return &conn{ep: e} }

// do sends req and reads the answer to its end, and returns its status.
// On an error the connection is closed; the next request redials.
func (c *conn) do(ctx context.Context, req []byte) (int, error) {
	status, keep, err := c.roundTrip(ctx, req)
	if err != nil {
		c.close()
		if cerr := ctx.Err(); cerr != nil {
			err = cerr // the interrupt's deadline error is the cancellation
		} else if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
			err = context.DeadlineExceeded // ctx's timer is just behind the connection's
		}
		return status, err
	}
	if !keep {
		c.close()
	}
	return status, nil
}

func (c *conn) roundTrip(ctx context.Context, req []byte) (status int, keep bool, err error) {
	if err := ctx.Err(); err != nil {
		return 0, false, err
	}
	c.watch(ctx)
	now := time.Now()
	if c.nc != nil && now.Sub(c.used) >= idleCheckAfter && closedByPeer(c.nc) {
		c.close()
	}
	c.used = now
	if c.nc == nil {
		if err := c.dial(ctx); err != nil {
			return 0, false, err
		}
	}
	deadline := now.Add(requestTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.nc.SetDeadline(deadline); err != nil {
		return 0, false, err
	}
	// A cancellation's interrupt may have come just before, and been
	// overwritten by, the deadline.
	if err := ctx.Err(); err != nil {
		return 0, false, err
	}
	if _, err := c.nc.Write(req); err != nil {
		return 0, false, err
	}
	return c.readResponse()
}

func (c *conn) dial(ctx context.Context) error {
	nc, err := dialer.DialContext(ctx, "tcp", c.ep.addr)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.nc = nc
	c.mu.Unlock()
	if c.br == nil {
		c.br = bufio.NewReaderSize(nc, readBufferSize)
	} else {
		c.br.Reset(nc)
	}
	return nil
}

// watch makes a cancellation of ctx interrupt the request in flight, as
// net/http does. It registers once per context, not per request: a run
// sends all its requests with one.
func (c *conn) watch(ctx context.Context) {
	done := ctx.Done()
	if done == c.watched {
		return
	}
	if c.unwatch != nil {
		c.unwatch()
	}
	c.watched, c.unwatch = done, nil
	if done != nil {
		c.unwatch = context.AfterFunc(ctx, c.interrupt)
	}
}

// interrupt fails the read or write in flight (from another goroutine).
func (c *conn) interrupt() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nc != nil {
		_ = c.nc.SetDeadline(time.Unix(1, 0))
	}
}

func (c *conn) close() {
	if c.nc == nil {
		return
	}
	c.mu.Lock()
	_ = c.nc.Close()
	c.nc = nil
	c.mu.Unlock()
}

// Close closes the connection for good.
func (c *conn) Close() {
	c.close()
	if c.unwatch != nil {
		c.unwatch()
	}
	c.watched, c.unwatch = nil, nil
}

// readResponse reads an answer to its end and says whether the
// connection may carry another request.
func (c *conn) readResponse() (status int, keep bool, err error) {
	line, err := c.line()
	if err != nil {
		return 0, false, err // io.EOF: the server closed before answering
	}
	status, http11, ok := parseStatusLine(line)
	if !ok {
		return 0, false, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	if status < 200 {
		return status, false, fmt.Errorf("%w: unexpected status %d", errMalformed, status)
	}
	keep = http11
	length, chunked, te := int64(-1), false, false
	for {
		if line, err = c.line(); err != nil {
			return status, false, noEOF(err)
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, colon)
		if !ok {
			return status, false, fmt.Errorf("%w: header line %q", errMalformed, line)
		}
		switch {
		case equalFold(name, "content-length"):
			n, ok := parseDecimal(value)
			if !ok || length >= 0 && n != length {
				return status, false, fmt.Errorf("%w: Content-Length %q", errMalformed, value)
			}
			length = n
		case equalFold(name, "transfer-encoding"):
			te, chunked = true, hasToken(value, "chunked")
		case equalFold(name, "connection"):
			if hasToken(value, "close") {
				keep = false
			} else if hasToken(value, "keep-alive") {
				keep = true // an HTTP/1.0 server's opt-in
			}
		}
	}
	switch {
	case status == 204 || status == 304:
		// No body, whatever the headers say.
	case chunked:
		err = c.discardChunked()
	case length >= 0 && !te: // Transfer-Encoding overrides Content-Length
		err = c.discard(length)
	default: // the body ends when the server closes
		_, err = io.Copy(io.Discard, c.br)
		keep = false
	}
	return status, keep, noEOF(err)
}

// line reads one line without its CR LF.
func (c *conn) line() ([]byte, error) {
	b, err := c.br.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull:
		return nil, fmt.Errorf("%w: a line longer than %d bytes", errMalformed, len(b))
	case err == io.EOF && len(b) > 0:
		return nil, io.ErrUnexpectedEOF
	case err != nil:
		return nil, err
	}
	b = b[:len(b)-1]
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b, nil
}

func (c *conn) discard(n int64) error {
	for n > 0 {
		k, err := c.br.Discard(int(min(n, 1<<30)))
		n -= int64(k)
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *conn) discardChunked() error {
	for {
		line, err := c.line()
		if err != nil {
			return err
		}
		size, _, _ := bytes.Cut(line, semicolon) // chunk extensions are ignored
		n, ok := parseHex(bytes.TrimSpace(size))
		if !ok {
			return fmt.Errorf("%w: chunk size %q", errMalformed, line)
		}
		if n == 0 {
			break
		}
		if err := c.discard(n); err != nil {
			return err
		}
		if line, err = c.line(); err != nil {
			return err
		}
		if len(line) != 0 {
			return fmt.Errorf("%w: chunk longer than its size", errMalformed)
		}
	}
	for { // trailers, up to an empty line
		line, err := c.line()
		if err != nil || len(line) == 0 {
			return err
		}
	}
}

// noEOF is io.EOF inside an answer: the answer was cut short.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseStatusLine reads "HTTP/1.x ddd reason".
func parseStatusLine(line []byte) (status int, http11, ok bool) {
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[8] != ' ' || len(line) > 12 && line[12] != ' ' {
		return 0, false, false
	}
	if minor := line[7]; minor != '0' && minor != '1' {
		return 0, false, false
	}
	for _, d := range line[9:12] {
		if d < '0' || d > '9' {
			return 0, false, false
		}
		status = status*10 + int(d-'0')
	}
	return status, line[7] == '1', status >= 100
}

// The helpers below work on the bytes of the read buffer, where strconv
// and strings would need a string of them (an allocation a header) and
// bytes.EqualFold folds Unicode.

// equalFold reports whether b is lower, ignoring ASCII case.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// hasToken reports whether the comma-separated list v holds token.
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		var t []byte
		t, v, _ = bytes.Cut(v, comma)
		if equalFold(bytes.TrimSpace(t), token) {
			return true
		}
	}
	return false
}

func parseDecimal(b []byte) (int64, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || len(b) > 18 { // 18 digits cannot overflow
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func parseHex(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 15 { // 15 hex digits cannot overflow
		return 0, false
	}
	var n int64
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		n = n<<4 | int64(c)
	}
	return n, true
}
