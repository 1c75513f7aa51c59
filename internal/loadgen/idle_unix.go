//go:build unix

package loadgen

import (
	"net"
	"syscall"
	"time"
)

// closedByPeer reports, without blocking, whether the server closed or
// reset the idle connection nc (or sent bytes no request asked for).
func closedByPeer(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	// The last request's deadline may have passed, which would fail the
	// read below whatever the connection's state.
	if err := nc.SetReadDeadline(time.Time{}); err != nil {
		return true
	}
	var b [1]byte
	closed := false
	err = rc.Read(func(fd uintptr) bool {
		// Sockets are non-blocking in Go: EAGAIN is an idle, open
		// connection; 0 bytes is the server's FIN.
		_, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
		closed = rerr != syscall.EAGAIN
		return true // one try, never wait for readability
	})
	return closed || err != nil
}
