package testenv

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// StallingBroker is a Proxy in front of a RabbitMQ virtual host that
// passes every AMQP frame on, both ways, until the test stalls it: from
// then on the client's frames still reach the broker, but nothing comes
// back except heartbeats. It is what a client sees of a broker under a resource alarm (no
// confirm, no close-ok) without raising one, which is node-wide and would
// disturb every other test on the broker.
type StallingBroker struct {
	// URL is the broker's AMQP URL through the proxy.
	URL string

	mu      sync.Mutex
	conns   []*stallingConn
	atN     int    // StallAt's n
	atWhy   string // and its blocked reason
	stalled chan struct{}
	// deaf has a stall stop reading the clients too (StopReading).
	deaf bool
	done chan struct{} // closed when the test ends
}

// StopReading has b's stall stop reading what the clients send too, as
// RabbitMQ stops reading a connection it blocks: a client's write then
// blocks once the sockets' buffers are full. Set it before the stall.
func (b *StallingBroker) StopReading() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.deaf = true
}

type stallingConn struct {
	mu      sync.Mutex // a frame to the client is written whole
	client  net.Conn
	stalled bool
}

// NewStallingBroker returns a StallingBroker to the broker at amqpURL.
func NewStallingBroker(t testing.TB, amqpURL string) *StallingBroker {
	t.Helper()
	u, err := url.Parse(amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	b := &StallingBroker{stalled: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(func() { close(b.done) })
	u.Host = Proxy(t, u.Host, b.relay)
	b.URL = u.String()
	return b
}

// StallAt has b stall (as Stall(blockedReason) does) when a client sends
// its n-th basic.publish (counted per connection), before the frame goes
// on to the broker: the broker takes that message, and its confirm is held
// back. Set it before the client connects.
func (b *StallingBroker) StallAt(n int, blockedReason string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.atN, b.atWhy = n, blockedReason
}

// Stalled is closed once b stalled.
func (b *StallingBroker) Stalled() <-chan struct{} { return b.stalled }

// Stall stops passing the broker's frames on to every client connected
// through b. With a reason, each client first gets connection.blocked with
// it, as RabbitMQ sends when a resource alarm blocks a publisher.
func (b *StallingBroker) Stall(blockedReason string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stall(blockedReason)
}

func (b *StallingBroker) stall(blockedReason string) {
	select {
	case <-b.stalled:
	default:
		close(b.stalled)
	}
	for _, c := range b.conns {
		c.mu.Lock()
		if !c.stalled && blockedReason != "" {
			_, _ = c.client.Write(connectionBlocked(blockedReason))
		}
		c.stalled = true
		c.mu.Unlock()
	}
}

// Cut closes every client connection through b, as a broker that
// restarts does, and ends StallAt: the clients' next connections pass.
func (b *StallingBroker) Cut() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.atN = 0
	for _, c := range b.conns {
		c.client.Close()
	}
}

// connectionBlocked is the frame of the method connection.blocked
// (class 10, method 60) with reason.
func connectionBlocked(reason string) []byte {
	payload := binary.BigEndian.AppendUint16(nil, 10)
	payload = binary.BigEndian.AppendUint16(payload, 60)
	payload = append(payload, byte(len(reason)))
	payload = append(payload, reason...)
	f := []byte{1, 0, 0} // method frame on channel 0
	f = binary.BigEndian.AppendUint32(f, uint32(len(payload)))
	f = append(f, payload...)
	return append(f, 0xCE)
}

func (b *StallingBroker) relay(client, up net.Conn) {
	c := &stallingConn{client: client}
	b.mu.Lock()
	b.conns = append(b.conns, c)
	b.mu.Unlock()
	go func() { // broker to client, frame by frame, until the stall
		r := bufio.NewReader(up)
		for {
			f, err := readFrame(r)
			if err != nil {
				client.Close()
				return
			}
			c.mu.Lock()
			if !c.stalled || f[0] == 8 {
				// Heartbeats go on: RabbitMQ's do under an alarm.
				_, err = client.Write(f)
			}
			c.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	// Client to broker: everything, counting publishes. A client that goes
	// away closes its broker connection, so that the broker returns what it
	// held (a real one under an alarm would see it only once the alarm
	// cleared).
	defer up.Close()
	r := bufio.NewReader(client)
	header := make([]byte, 8) // "AMQP" 0 0 9 1
	if _, err := io.ReadFull(r, header); err != nil {
		return
	}
	if _, err := up.Write(header); err != nil {
		return
	}
	publishes := 0
	for {
		f, err := readFrame(r)
		if err != nil {
			return
		}
		// A method frame (type 1) of basic.publish (class 60, method 40).
		if f[0] == 1 && len(f) >= 11 && binary.BigEndian.Uint16(f[7:]) == 60 && binary.BigEndian.Uint16(f[9:]) == 40 {
			publishes++
			b.mu.Lock()
			if publishes == b.atN {
				b.stall(b.atWhy)
			}
			b.mu.Unlock()
		}
		if _, err := up.Write(f); err != nil {
			return
		}
		b.mu.Lock()
		deaf := b.deaf && c.isStalled()
		b.mu.Unlock()
		if deaf {
			<-b.done
			return
		}
	}
}

func (c *stallingConn) isStalled() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stalled
}

// readFrame reads one AMQP frame: type, channel, size, payload, frame end.
func readFrame(r *bufio.Reader) ([]byte, error) {
	head := make([]byte, 7)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, err
	}
	f := make([]byte, 7+int(binary.BigEndian.Uint32(head[3:]))+1)
	copy(f, head)
	_, err := io.ReadFull(r, f[7:])
	return f, err
}
