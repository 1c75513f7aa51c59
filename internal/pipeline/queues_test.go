package pipeline

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/movietrend/trend/internal/messaging"
	"github.com/movietrend/trend/internal/testenv"
)

// stallingBroker forwards TCP to the broker at upstream until the client
// opens its first channel, and then nothing more, either way, closing
// nothing: a broker that answered the handshake and then stalled
// (overloaded, or the network gone mid-call).
func stallingBroker(t *testing.T, upstream string) string {
	t.Helper()
	return testenv.Proxy(t, upstream, func(c, up net.Conn) {
		var stalled atomic.Bool
		go func() { // broker to client, until the stall
			buf := make([]byte, 32<<10)
			for {
				n, err := up.Read(buf)
				if err != nil || stalled.Load() {
					return
				}
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
			}
		}()
		// Client to broker, frame by frame.
		r := bufio.NewReader(c)
		header := make([]byte, 8) // "AMQP" 0 0 9 1
		if _, err := io.ReadFull(r, header); err != nil {
			return
		}
		if _, err := up.Write(header); err != nil {
			return
		}
		for {
			// type, channel, size, payload, frame end (0xCE)
			head := make([]byte, 7)
			if _, err := io.ReadFull(r, head); err != nil {
				return
			}
			frame := make([]byte, 7+int(binary.BigEndian.Uint32(head[3:]))+1)
			copy(frame, head)
			if _, err := io.ReadFull(r, frame[7:]); err != nil {
				return
			}
			if binary.BigEndian.Uint16(head[1:3]) != 0 {
				stalled.Store(true) // a channel's first frame: stall
				return
			}
			if _, err := up.Write(frame); err != nil {
				return
			}
		}
	})
}

// TestAStalledBrokerDoesNotHoldTheSnapshot: a broker that answers the
// handshake and then nothing ends the queues' part of a snapshot after
// queuesTimeout, with the broker's error said, instead of holding it (and
// every poll behind it) until the connection's heartbeat gives up.
func TestAStalledBrokerDoesNotHoldTheSnapshot(t *testing.T) {
	u, err := url.Parse(testenv.BrokerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.Host = stallingBroker(t, u.Host)
	defer func(d time.Duration) { queuesTimeout = d }(queuesTimeout)
	queuesTimeout = 500 * time.Millisecond
	c := NewCollector(testenv.Pool(t), u.String(), messaging.Topology{Commands: []string{"RegisterMovie", "RecordViews"}})
	var s Stats
	if err := testenv.EndsWithin(t, 5*time.Second, "a snapshot against a stalled broker", func() error {
		var err error
		s, err = c.snapshot(t.Context())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if s.BrokerError == "" {
		t.Errorf("a snapshot against a stalled broker says nothing of it: %+v", s)
	}
}

// TestNoDeadLetterQueueIsNoDeadLetters: before anything was ever
// dead-lettered there is no dead-letters queue; the broker answered, so
// the count is 0, not unknown (which `trend status` shows as "RabbitMQ
// did not answer").
func TestNoDeadLetterQueueIsNoDeadLetters(t *testing.T) {
	c := NewCollector(testenv.Pool(t), testenv.BrokerURL(t), messaging.Topology{Commands: []string{"RegisterMovie"}})
	s, err := c.snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if s.BrokerError != "" || s.DeadLetters != 0 {
		t.Errorf("no queue declared: broker error %q, dead letters %d; want none and 0", s.BrokerError, s.DeadLetters)
	}
}
