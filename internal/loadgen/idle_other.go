//go:build !unix

package loadgen

import "net"

// closedByPeer is not checked on this platform: a request on a connection
// the server closed while idle fails, and the next one redials.
func closedByPeer(net.Conn) bool { return false }
