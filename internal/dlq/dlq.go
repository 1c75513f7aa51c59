// Package dlq lists, requeues and purges the dead letters: the messages the
// worker's PoisonQueue middleware published to the dead-letters queue after
// their retries failed, with the reason in their headers.
//
// # Why this is safe
//
// RabbitMQ has no way to read a classic queue without taking its messages
// (the management API's "get messages" does the same basic.get and requeue
// as this package, and a stream queue would change the topology). So every
// operation takes dead letters with basic.get and manual acknowledgement on
// a channel of its own, and a dead letter leaves the queue only by an
// explicit basic.ack of that letter (never queue.purge, which would also
// take letters nobody has seen):
//
//   - Nothing is lost. A letter taken and not acknowledged stays the
//     broker's: whatever happens to this process (a crash, a cancelled
//     context, a dropped connection), the broker puts it back when the
//     channel closes. List and the letters an operation leaves alone are
//     returned on purpose with one basic.nack(multiple, requeue=true).
//   - Nothing is reordered. dead-letters is a classic queue, which puts
//     requeued messages back at their original position, and nobody else
//     consumes it (the poison middleware only publishes to it). basic.nack,
//     not basic.reject: were the queue made a quorum queue, RabbitMQ 4.3 and
//     later count a reject, not a nack, as a failed delivery towards its
//     delivery limit, past which the broker drops the message.
//   - Requeue acknowledges a letter only after the broker confirmed its copy
//     on the original exchange, published mandatory so that a copy no queue
//     would receive comes back instead of being confirmed and dropped. A
//     crash between the confirm and the acknowledgement leaves a duplicate,
//     never a loss; the handlers are idempotent.
//   - An operation takes at most the letters present when it began, so a
//     message that is requeued, fails again and comes back is not taken a
//     second time (no endless loop), and later arrivals are left alone:
//     purging "all" deletes the letters there were when it began, not one
//     that arrived meanwhile (a RecordViews command holds views the API
//     already accepted; deleting one nobody has seen would lose them).
//
// While an operation runs, the letters it holds are invisible to the others:
// a concurrent listing sees fewer, a concurrent requeue leaves them where
// they are. Neither loses one.
package dlq

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/movietrend/trend/internal/messaging"
)

// Limits of a listing.
const (
	DefaultLimit = 1000
	MaxLimit     = 10000
)

// previewBytes is how much of a payload a listing shows.
const previewBytes = 200

// ErrUnavailable means RabbitMQ could not be reached.
var ErrUnavailable = errors.New("RabbitMQ is unreachable")

// ErrNotConfirmed stops a requeue whose letter's copy RabbitMQ did not
// confirm within the Client's ConfirmTimeout: a broker under a resource
// alarm stops reading a publishing connection, and the confirm never
// comes. The letter stays in dead-letters, but its copy may have been
// published all the same.
var ErrNotConfirmed = errors.New("RabbitMQ did not confirm the copy in time")

// ErrBlocked stops a requeue when RabbitMQ blocks its connection (a
// resource alarm, memory or disk): without it, the requeue waited for a
// confirm that comes only once the alarm clears.
var ErrBlocked = messaging.ErrBlocked

// Letter is one dead letter.
type Letter struct {
	// ID is the Watermill message UUID, or the AMQP message id. The same
	// event batch dead-lettered by two handler groups has the same ID
	// twice; selecting it selects both.
	ID string `json:"id"`
	// Reason, Topic and Handler are what the PoisonQueue middleware
	// recorded: the error, the topic (our exchange) the message came from
	// and the handler that failed.
	Reason  string `json:"reason"`
	Topic   string `json:"topic"`
	Handler string `json:"handler"`
	// PayloadPreview is the payload's first 200 bytes, as JSON when it
	// was sent compressed (cut at a character boundary); PayloadBytes its
	// full size on the wire.
	PayloadPreview string `json:"payload_preview"`
	PayloadBytes   int    `json:"payload_bytes"`
	// DeadLetteredAt is when the letter was published to dead-letters, if
	// the publisher or the broker stamped it (Watermill does not).
	DeadLetteredAt *time.Time `json:"dead_lettered_at,omitempty"`
}

// Listing is what List saw.
type Listing struct {
	Letters []Letter
	// Total is the number of dead letters ready when the listing began;
	// more than len(Letters) when the limit or a selection cut the list.
	Total int
	// NotFound lists selected ids no dead letter had (ByID only).
	NotFound []string
}

// Skipped is a selected dead letter an operation left in the queue.
type Skipped struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// RequeueResult is what Requeue did.
type RequeueResult struct {
	Requeued int       `json:"requeued"`
	Skipped  []Skipped `json:"skipped,omitempty"`
	// NotFound lists selected ids no dead letter had.
	NotFound []string `json:"not_found,omitempty"`
}

// PurgeResult is what Purge did.
type PurgeResult struct {
	Purged   int      `json:"purged"`
	NotFound []string `json:"not_found,omitempty"`
}

// Selection says which dead letters an operation touches.
type Selection struct {
	ids map[string]bool // nil: every dead letter
}

// All selects every dead letter present when the operation begins; one
// that arrives while it runs is left alone.
func All() Selection { return Selection{} }

// ByID selects the dead letters with these ids. ByID() selects none: an
// empty list built by mistake must not mean "all".
func ByID(ids ...string) Selection {
	s := Selection{ids: make(map[string]bool, len(ids))}
	for _, id := range ids {
		s.ids[id] = true
	}
	return s
}

// IsAll reports whether s selects every dead letter.
func (s Selection) IsAll() bool { return s.ids == nil }

func (s Selection) matches(id string) bool { return s.ids == nil || s.ids[id] }

// missing lists the selected ids not in found, in a stable order.
func (s Selection) missing(found map[string]bool) []string {
	var out []string
	for id := range s.ids {
		if !found[id] {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// Client works on the dead-letters queue of one broker.
type Client struct {
	url         string
	queue       string
	dialTimeout time.Duration
	// ConfirmTimeout bounds the requeue of each letter: the check of its
	// exchange, its copy's publish and the wait for RabbitMQ's confirm.
	// Past it the requeue stops with ErrNotConfirmed. New sets
	// DefaultConfirmTimeout; 0 or less is that too.
	ConfirmTimeout time.Duration
}

// DefaultConfirmTimeout is a Client's ConfirmTimeout: a healthy broker
// confirms within milliseconds, and a requeue that waits longer holds the
// dead letters (one session at a time) from every other operation.
const DefaultConfirmTimeout = 30 * time.Second

// New returns a Client for the broker at amqpURL.
func New(amqpURL string) *Client {
	return &Client{url: amqpURL, queue: messaging.DeadLetterTopic, dialTimeout: 5 * time.Second,
		ConfirmTimeout: DefaultConfirmTimeout}
}

// List returns the selected dead letters, at most limit (1..MaxLimit;
// DefaultLimit if 0), oldest first, and leaves every one in the queue.
func (c *Client) List(ctx context.Context, sel Selection, limit int) (Listing, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	s, err := c.begin(ctx)
	if err != nil {
		return Listing{}, err
	}
	defer s.end()
	out := Listing{Letters: []Letter{}, Total: s.depth}
	notFound, err := s.each(sel, func(d amqp.Delivery, l Letter) error {
		s.hold(d) // a listing changes nothing
		out.Letters = append(out.Letters, l)
		if len(out.Letters) == limit {
			return errEnough
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return Listing{}, err
	}
	out.NotFound = notFound // none once the limit stopped it: not every letter was seen
	return out, nil
}

// errEnough ends a listing at its limit.
var errEnough = errors.New("the listing's limit")

// Requeue republishes the selected dead letters to the exchange they came
// from (the topic_poisoned header), without the poison headers, and removes
// each from dead-letters once the broker confirmed its copy. A letter whose
// exchange is unknown, missing or has no queue stays and is reported in
// Skipped. On an error the result says what was done before it.
//
// A letter whose copy RabbitMQ does not confirm within ConfirmTimeout, or
// whose wait RabbitMQ ends by blocking the connection (a resource alarm),
// stops the requeue with ErrNotConfirmed or ErrBlocked: that letter stays
// in dead-letters, as do the ones after it.
func (c *Client) Requeue(ctx context.Context, sel Selection) (RequeueResult, error) {
	var res RequeueResult
	s, err := c.begin(ctx)
	if err != nil {
		return res, err
	}
	defer s.end()
	wait := c.ConfirmTimeout
	if wait <= 0 {
		wait = DefaultConfirmTimeout
	}
	pub, err := newRepublisher(s.conn, s.blocks, wait, s.drop)
	if err != nil {
		return res, err
	}
	res.NotFound, err = s.each(sel, func(d amqp.Delivery, l Letter) error {
		err := pub.republish(ctx, l.Topic, d)
		var skip skipError
		switch {
		case errors.As(err, &skip):
			s.hold(d)
			res.Skipped = append(res.Skipped, Skipped{ID: l.ID, Reason: skip.reason})
			return nil
		case err != nil:
			s.hold(d)
			if errors.Is(err, ErrNotConfirmed) || errors.Is(err, ErrBlocked) {
				s.stalled = true
				return fmt.Errorf("dead letter %s: %w", l.ID, err)
			}
			return err
		}
		res.Requeued++
		if err := d.Ack(false); err != nil {
			// The copy was confirmed; the original goes back to the queue
			// when the channel closes: a duplicate, not a loss.
			return fmt.Errorf("dead letter %s was requeued but is still in %s: %w", l.ID, c.queue, err)
		}
		return nil
	})
	return res, err
}

// Purge deletes the selected dead letters and reports how many. All()
// selects the letters present when the purge began, as it does for
// Requeue: a letter that arrives while the purge runs stays, since nobody
// has seen it.
func (c *Client) Purge(ctx context.Context, sel Selection) (PurgeResult, error) {
	s, err := c.begin(ctx)
	if err != nil {
		return PurgeResult{}, err
	}
	defer s.end()
	return s.purge(sel)
}

// purge deletes the selected letters among those present when s began, one
// basic.ack each.
func (s *session) purge(sel Selection) (PurgeResult, error) {
	var res PurgeResult
	var err error
	res.NotFound, err = s.each(sel, func(d amqp.Delivery, l Letter) error {
		if err := d.Ack(false); err != nil {
			return fmt.Errorf("delete dead letter %s: %w", l.ID, err)
		}
		res.Purged++
		return nil
	})
	return res, err
}

// session is one connection with the channel dead letters are taken on.
// Every letter taken and not acknowledged returns to the queue when the
// session ends, or when the connection closes for any reason.
type session struct {
	conn  *amqp.Connection
	ch    *amqp.Channel
	queue string
	// depth is the number of ready letters when the session began: the most
	// it takes.
	depth int
	taken int
	// held is the highest delivery tag taken and not acknowledged, nHeld
	// how many such letters there are.
	held  uint64
	nHeld int
	// blocks follows RabbitMQ's blocking of the connection (a resource
	// alarm); stalled says that RabbitMQ stopped answering a requeue.
	// Either way the broker does not read the connection, and end drops it
	// instead of closing it.
	blocks  *messaging.BlockWatch
	stalled bool
	ctx     context.Context
	stop    func() bool
	ended   bool
}

func (c *Client) begin(ctx context.Context) (*session, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	// Channel calls do not take a context: closing the connection is what
	// interrupts them, and it returns every letter taken to the queue.
	// Dropped, not closed: a Ctrl-C must end the command at once, and a
	// broker under a resource alarm would not answer a close (see end).
	s := &session{conn: conn, queue: c.queue, ctx: ctx, blocks: messaging.WatchBlocked(conn),
		stop: messaging.DropWhenDone(ctx, conn)}
	if err := c.lock(ctx, conn); err != nil {
		s.end()
		return nil, err
	}
	if s.ch, err = conn.Channel(); err != nil {
		s.end()
		return nil, fmt.Errorf("open channel: %w", err)
	}
	q, err := messaging.InspectQueue(s.ch, c.queue)
	switch {
	case err == nil:
		s.depth = q.Messages
	case messaging.IsNotFound(err):
		// Nothing was ever dead-lettered here. The failed declare closed
		// the channel; an empty session (depth 0) takes nothing on it.
	default:
		s.end()
		return nil, fmt.Errorf("inspect %s: %w", c.queue, err)
	}
	return s, nil
}

// LockQueue is the queue whose exclusive declaration makes one dead-letter
// session at a time, in any process: a session holds the letters it took
// (a listing, up to 1,000, for the dashboard every 10 s), and another one
// meanwhile could not see them: a requeue of every letter said it was done
// with letters left. An exclusive queue belongs to its connection, so a
// session that dies releases it.
const LockQueue = "dead-letters.session"

// lockWait bounds the wait for another session to end.
var lockWait = 30 * time.Second

// ErrBusy is returned when another session held the dead letters for
// longer than the wait.
var ErrBusy = errors.New("another dead-letter operation is running; try again")

// lock declares LockQueue exclusively on conn, waiting while another
// connection holds it.
func (c *Client) lock(ctx context.Context, conn *amqp.Connection) error {
	deadline := time.Now().Add(lockWait)
	for {
		// A refused declaration closes its channel: one channel a try.
		ch, err := conn.Channel()
		if err != nil {
			return fmt.Errorf("open channel: %w", err)
		}
		_, err = ch.QueueDeclare(LockQueue, false, true, true, false, nil)
		if err == nil {
			return nil // held until the connection closes
		}
		var ae *amqp.Error
		if !errors.As(err, &ae) || ae.Code != amqp.ResourceLocked {
			return fmt.Errorf("declare %s: %w", LockQueue, err)
		}
		if time.Now().After(deadline) {
			return ErrBusy
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for another dead-letter operation: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *Client) dial(ctx context.Context) (*amqp.Connection, error) {
	conn, err := messaging.Dial(ctx, c.url, "trend dlq", c.dialTimeout)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("connect to RabbitMQ: %w", ctx.Err())
		}
		if messaging.LoginRefused(err) {
			// Not "unreachable", which sends an operator to the network.
			return nil, fmt.Errorf("%s: %w", messaging.DialFailure(err), err)
		}
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return conn, nil
}

// next takes the next letter, unacknowledged, or reports that the letters
// present when the session began were all taken.
func (s *session) next() (amqp.Delivery, bool, error) {
	if s.taken >= s.depth {
		return amqp.Delivery{}, false, nil
	}
	d, ok, err := s.ch.Get(s.queue, false)
	if err != nil {
		return amqp.Delivery{}, false, fmt.Errorf("get a dead letter: %w", err)
	}
	if ok {
		s.taken++
	}
	return d, ok, nil
}

// each takes the letters present when the session began, in queue order,
// holds those sel does not select and calls fn with the others; fn
// acknowledges or holds each. It returns the selected ids it did not see.
func (s *session) each(sel Selection, fn func(d amqp.Delivery, l Letter) error) ([]string, error) {
	found := map[string]bool{}
	for {
		d, ok, err := s.next()
		if err != nil || !ok {
			return sel.missing(found), err
		}
		l := letterOf(d)
		if !sel.matches(l.ID) {
			s.hold(d)
			continue
		}
		found[l.ID] = true
		if err := fn(d, l); err != nil {
			return nil, err
		}
	}
}

// hold keeps d in the queue: end returns it.
func (s *session) hold(d amqp.Delivery) {
	s.held = d.DeliveryTag
	s.nHeld++
}

// end returns the held letters to the queue (in one basic.nack, so they
// keep their order) and closes the connection. Its errors are of no
// consequence: a nack that fails means the connection is gone, and the
// broker returns every unacknowledged letter then. It may be called again.
//
// It returns within closeWait. A session RabbitMQ stopped reading (it
// blocked the connection, or a requeue's confirm did not come) or whose
// context ended is dropped at once instead: the broker returns the letters
// when it notices the connection gone.
func (s *session) end() {
	if s.ended {
		return
	}
	s.ended = true
	s.stop()
	if s.stalled || s.ctx.Err() != nil || isClosed(s.blocks.Blocked()) {
		s.drop()
		return
	}
	if s.nHeld > 0 {
		_ = s.ch.Nack(s.held, true, true)
	}
	messaging.CloseWithin(s.conn, closeWait)
}

// closeWait bounds the close of a session's connection: a plain Close
// waited for RabbitMQ's close-ok for ever, which a broker under a resource
// alarm does not send (it stops reading a connection that publishes); a
// second Ctrl-C was the only way out.
const closeWait = time.Second

// drop closes the connection at once (messaging.Drop).
func (s *session) drop() { messaging.Drop(s.conn) }

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// letterOf reads what the PoisonQueue middleware recorded.
func letterOf(d amqp.Delivery) Letter {
	id := header(d, wamqp.DefaultMessageUUIDHeaderKey)
	if id == "" {
		id = d.MessageId
	}
	return Letter{
		ID:             id,
		Reason:         header(d, middleware.ReasonForPoisonedKey),
		Topic:          header(d, middleware.PoisonedTopicKey),
		Handler:        handlerName(header(d, middleware.PoisonedHandlerKey)),
		PayloadPreview: preview(decoded(d)),
		PayloadBytes:   len(d.Body),
		DeadLetteredAt: deadLetteredAt(d),
	}
}

// handlerName is the handler without the subscription suffix the worker
// gives the router's copies of a handler that consumes its queue through
// several subscriptions ("RecordViews#17" is RecordViews): users know the
// handler, and the metrics count it so.
func handlerName(name string) string {
	name, _, _ = strings.Cut(name, "#")
	return name
}

// decoded is the payload as JSON, decompressed when it was sent
// compressed (PayloadBytes stays the size on the wire); a payload that
// does not decompress is shown as it is.
func decoded(d amqp.Delivery) []byte {
	if b, err := messaging.DecodePayload(header(d, messaging.EncodingKey), d.Body); err == nil {
		return b
	}
	return d.Body
}

func header(d amqp.Delivery, key string) string {
	s, _ := d.Headers[key].(string)
	return s
}

// deadLetteredAt reads the AMQP timestamp, or the timestamp_in_ms header
// RabbitMQ adds when its incoming-message interceptor is configured.
func deadLetteredAt(d amqp.Delivery) *time.Time {
	var t time.Time
	if ms, ok := d.Headers["timestamp_in_ms"].(int64); ok {
		t = time.UnixMilli(ms)
	}
	if !d.Timestamp.IsZero() {
		t = d.Timestamp
	}
	// A time JSON cannot hold (a publisher that put milliseconds in the
	// seconds field, say) is left out: encoded, it failed the whole list.
	if t.IsZero() || t.Year() < 1 || t.Year() > 9999 {
		return nil
	}
	t = t.UTC()
	return &t
}

// preview is the first previewBytes of b as text, without a character cut
// in half at the end; invalid bytes are shown as U+FFFD.
func preview(b []byte) string {
	n := 0
	for n < len(b) {
		_, size := utf8.DecodeRune(b[n:]) // 1 for an invalid byte
		if n+size > previewBytes {
			break
		}
		n += size
	}
	return strings.ToValidUTF8(string(b[:n]), "\uFFFD")
}
