package dlq_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/movietrend/trend/internal/dlq"
	"github.com/movietrend/trend/internal/messaging"
	"github.com/movietrend/trend/internal/testenv"
)

// topology is a small copy of the product's: one command, two event groups
// and the dead letters.
var topology = messaging.Topology{Commands: []string{"RecordViews"}, EventGroups: []string{"projection", "enrichment"}}

// broker returns a fresh virtual host with the topology declared.
func broker(t *testing.T) string {
	t.Helper()
	url := testenv.BrokerURL(t)
	if err := topology.Declare(t.Context(), url); err != nil {
		t.Fatal(err)
	}
	return url
}

// letter is a dead letter as the worker's PoisonQueue middleware publishes
// it through watermill-amqp: string headers, the UUID in its own header.
type letter struct {
	id, topic, handler, reason string
	body                       string
	timestamp                  time.Time
	// encoding, if set, is the body's messaging.EncodingKey.
	encoding string
}

func (l letter) publishing() amqp.Publishing {
	h := amqp.Table{"_watermill_message_uuid": l.id, "name": "RecordViews", "subscriber_poisoned": "*amqp.Subscriber"}
	if l.topic != "" {
		h["topic_poisoned"] = l.topic
	}
	if l.handler != "" {
		h["handler_poisoned"] = l.handler
	}
	if l.encoding != "" {
		h[messaging.EncodingKey] = l.encoding
	}
	if l.reason != "" {
		h["reason_poisoned"] = l.reason
	}
	return amqp.Publishing{Headers: h, DeliveryMode: amqp.Persistent, Timestamp: l.timestamp, Body: []byte(l.body)}
}

func command(id string) letter {
	return letter{id: id, topic: "commands.RecordViews", handler: "RecordViews", reason: "decode RecordViews: unexpected end of JSON input", body: `{"views": "not a list"`}
}

// publish publishes to exchange with publisher confirms.
func publish(t *testing.T, url, exchange string, msgs ...amqp.Publishing) {
	t.Helper()
	testenv.Publish(t, url, exchange, msgs...)
}

func deadLetter(t *testing.T, url string, ls ...letter) {
	t.Helper()
	var msgs []amqp.Publishing
	for _, l := range ls {
		msgs = append(msgs, l.publishing())
	}
	publish(t, url, messaging.DeadLetterTopic, msgs...)
}

// waitDepth waits until queue holds exactly want ready messages. Letters a
// session returns are back once the broker processed its nack or the
// closed connection, which may be a moment after the call returned.
func waitDepth(t *testing.T, url, queue string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := testenv.QueueDepth(url, queue)
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: got %d messages (error %v), want %d", queue, got, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ids(ls []dlq.Letter) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.ID)
	}
	return out
}

// remaining lists the ids in dead-letters, in queue order, leaving them.
func remaining(t *testing.T, c *dlq.Client) []string {
	t.Helper()
	l, err := c.List(t.Context(), dlq.All(), dlq.MaxLimit)
	if err != nil {
		t.Fatal(err)
	}
	return ids(l.Letters)
}

// TestLettersNameTheirHandler: a letter failed by one of a handler's
// subscriptions ("RecordViews#17" to the router) names the handler.
func TestLettersNameTheirHandler(t *testing.T) {
	t.Parallel()
	url := broker(t)
	deadLetter(t, url, letter{id: "s17", topic: "commands.RecordViews", handler: "RecordViews#17", reason: "bad", body: `{}`, timestamp: time.Now()})
	got, err := dlq.New(url).List(t.Context(), dlq.All(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Letters) != 1 || got.Letters[0].Handler != "RecordViews" {
		t.Errorf("list: got %+v, want one letter of handler RecordViews", got.Letters)
	}
}

func TestListShowsEveryLetterAndLeavesThemInOrder(t *testing.T) {
	t.Parallel()
	url := broker(t)
	at := time.Date(2026, 5, 6, 9, 30, 0, 0, time.UTC)
	// 199 ASCII bytes, then a 3-byte character across the 200-byte limit.
	long := `{"title":"` + strings.Repeat("a", 189) + "€" + strings.Repeat("b", 100) + `"}`
	deadLetter(t, url,
		command("c1"),
		letter{id: "b1", topic: "events", handler: "tmdb-enrichment", reason: "tmdb: invalid api key or token", body: long, timestamp: at},
		command("c2"),
	)
	c := dlq.New(url)

	got, err := c.List(t.Context(), dlq.All(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"c1", "b1", "c2"}; !slices.Equal(ids(got.Letters), want) || got.Total != 3 {
		t.Fatalf("list: got %v of %d, want %v of 3", ids(got.Letters), got.Total, want)
	}
	first := got.Letters[0]
	if want := (dlq.Letter{ID: "c1", Topic: "commands.RecordViews", Handler: "RecordViews", Reason: "decode RecordViews: unexpected end of JSON input",
		PayloadPreview: `{"views": "not a list"`, PayloadBytes: 22}); first != want {
		t.Errorf("letter c1: got %+v, want %+v", first, want)
	}
	b1 := got.Letters[1]
	if want := long[:199]; b1.PayloadPreview != want || b1.PayloadBytes != len(long) {
		t.Errorf("letter b1 preview: got %q (%d bytes of %d), want the first 199 bytes (the character cut by the limit dropped) of %d",
			b1.PayloadPreview, len(b1.PayloadPreview), b1.PayloadBytes, len(long))
	}
	if b1.DeadLetteredAt == nil || !b1.DeadLetteredAt.Equal(at) {
		t.Errorf("letter b1 dead-lettered at: got %v, want %v", b1.DeadLetteredAt, at)
	}
	if b1.Topic != "events" || b1.Handler != "tmdb-enrichment" || b1.Reason != "tmdb: invalid api key or token" {
		t.Errorf("letter b1: got topic %q, handler %q, reason %q; want events, tmdb-enrichment, the TMDB error", b1.Topic, b1.Handler, b1.Reason)
	}

	waitDepth(t, url, messaging.DeadLetterTopic, 3)
	if got, want := remaining(t, c), []string{"c1", "b1", "c2"}; !slices.Equal(got, want) {
		t.Errorf("after listing: got %v, want %v (nothing lost, same order)", got, want)
	}
}

func TestListLimitAndSelection(t *testing.T) {
	t.Parallel()
	url := broker(t)
	deadLetter(t, url, command("c1"), command("c2"), command("c3"), command("c2"))
	c := dlq.New(url)

	got, err := c.List(t.Context(), dlq.All(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"c1", "c2"}; !slices.Equal(ids(got.Letters), want) || got.Total != 4 {
		t.Errorf("limit 2: got %v of %d, want %v of 4", ids(got.Letters), got.Total, want)
	}
	got, err = c.List(t.Context(), dlq.ByID("c2"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"c2", "c2"}; !slices.Equal(ids(got.Letters), want) {
		t.Errorf("by id c2: got %v, want %v", ids(got.Letters), want)
	}
	got, err = c.List(t.Context(), dlq.ByID(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Letters) != 0 {
		t.Errorf("empty selection: got %v, want none (an empty list is not \"all\")", ids(got.Letters))
	}
	waitDepth(t, url, messaging.DeadLetterTopic, 4)
	if got, want := remaining(t, c), []string{"c1", "c2", "c3", "c2"}; !slices.Equal(got, want) {
		t.Errorf("after listing: got %v, want %v", got, want)
	}
}

func TestRequeueRepublishesToTheOriginalExchange(t *testing.T) {
	t.Parallel()
	url := broker(t)
	deadLetter(t, url,
		command("c1"),
		letter{id: "b1", topic: "events", handler: "enrichment", reason: "boom", body: `{"batch_id":"b1"}`},
		command("c2"),
	)
	c := dlq.New(url)

	res, err := c.Requeue(t.Context(), dlq.ByID("c2", "nope"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Requeued != 1 || len(res.Skipped) != 0 || !slices.Equal(res.NotFound, []string{"nope"}) {
		t.Errorf("requeue c2, nope: got %+v, want 1 requeued, nope not found", res)
	}
	copies := testenv.Drain(t, url, messaging.CommandTopic("RecordViews"))
	if len(copies) != 1 {
		t.Fatalf("commands.RecordViews: got %d messages, want the 1 requeued", len(copies))
	}
	cp := copies[0]
	for _, k := range []string{"reason_poisoned", "topic_poisoned", "handler_poisoned", "subscriber_poisoned"} {
		if v, ok := cp.Headers[k]; ok {
			t.Errorf("requeued copy: got header %s=%v, want it stripped", k, v)
		}
	}
	if cp.Headers["_watermill_message_uuid"] != "c2" || cp.Headers["name"] != "RecordViews" {
		t.Errorf("requeued copy headers: got %v, want the message UUID c2 and name RecordViews kept", cp.Headers)
	}
	if cp.DeliveryMode != amqp.Persistent || string(cp.Body) != `{"views": "not a list"` {
		t.Errorf("requeued copy: got delivery mode %d, body %q; want persistent, the original body", cp.DeliveryMode, cp.Body)
	}
	waitDepth(t, url, messaging.DeadLetterTopic, 2)
	if got, want := remaining(t, c), []string{"c1", "b1"}; !slices.Equal(got, want) {
		t.Errorf("dead letters after requeueing c2: got %v, want %v", got, want)
	}

	res, err = c.Requeue(t.Context(), dlq.All())
	if err != nil {
		t.Fatal(err)
	}
	if res.Requeued != 2 || len(res.Skipped) != 0 || len(res.NotFound) != 0 {
		t.Errorf("requeue all: got %+v, want 2 requeued", res)
	}
	waitDepth(t, url, messaging.DeadLetterTopic, 0)
	// The events exchange is a fanout: every group gets the batch again,
	// as when it was first published.
	for _, q := range []string{messaging.EventQueue("projection"), messaging.EventQueue("enrichment")} {
		if got := testenv.Drain(t, url, q); len(got) != 1 || got[0].Headers["_watermill_message_uuid"] != "b1" {
			t.Errorf("%s: got %d messages, want the requeued batch b1", q, len(got))
		}
	}
	if got := testenv.Drain(t, url, messaging.CommandTopic("RecordViews")); len(got) != 1 || got[0].Headers["_watermill_message_uuid"] != "c1" {
		t.Errorf("commands.RecordViews: got %d messages, want the requeued c1", len(got))
	}
}

func TestRequeueLeavesWhatItCannotRoute(t *testing.T) {
	t.Parallel()
	url := broker(t)
	// An exchange no queue is bound to: a copy would be confirmed and
	// dropped without the mandatory flag.
	if err := testenv.Channel(t, url).ExchangeDeclare("unbound", amqp.ExchangeFanout, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	deadLetter(t, url,
		letter{id: "no-topic", reason: "boom", body: "{}"},
		letter{id: "no-exchange", topic: "commands.Gone", reason: "boom", body: "{}"},
		letter{id: "no-queue", topic: "unbound", reason: "boom", body: "{}"},
		command("c1"),
	)
	c := dlq.New(url)

	res, err := c.Requeue(t.Context(), dlq.All())
	if err != nil {
		t.Fatal(err)
	}
	var skipped []string
	for _, s := range res.Skipped {
		skipped = append(skipped, s.ID)
		if s.Reason == "" {
			t.Errorf("skipped %s: got no reason, want one", s.ID)
		}
	}
	if want := []string{"no-topic", "no-exchange", "no-queue"}; res.Requeued != 1 || !slices.Equal(skipped, want) {
		t.Errorf("requeue: got %d requeued, skipped %v; want 1, %v", res.Requeued, skipped, want)
	}
	waitDepth(t, url, messaging.DeadLetterTopic, 3)
	if got, want := remaining(t, c), []string{"no-topic", "no-exchange", "no-queue"}; !slices.Equal(got, want) {
		t.Errorf("dead letters after the requeue: got %v, want %v, in that order", got, want)
	}
}

// A letter whose copy comes straight back (it fails again at once) must
// not be taken again by the same requeue.
func TestRequeueTakesOnlyTheLettersPresentAtTheStart(t *testing.T) {
	t.Parallel()
	url := broker(t)
	deadLetter(t, url, letter{id: "loop", topic: messaging.DeadLetterTopic, reason: "boom", body: "{}"})
	c := dlq.New(url)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	res, err := c.Requeue(ctx, dlq.All())
	if err != nil {
		t.Fatal(err)
	}
	if res.Requeued != 1 {
		t.Errorf("requeued: got %d, want 1", res.Requeued)
	}
	waitDepth(t, url, messaging.DeadLetterTopic, 1)
}

func TestPurge(t *testing.T) {
	t.Parallel()
	url := broker(t)
	deadLetter(t, url, command("c1"), command("c2"), command("c3"), command("c2"))
	c := dlq.New(url)

	res, err := c.Purge(t.Context(), dlq.ByID("c2", "nope"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Purged != 2 || !slices.Equal(res.NotFound, []string{"nope"}) {
		t.Errorf("purge c2, nope: got %+v, want 2 purged (both c2), nope not found", res)
	}
	waitDepth(t, url, messaging.DeadLetterTopic, 2)
	if got, want := remaining(t, c), []string{"c1", "c3"}; !slices.Equal(got, want) {
		t.Errorf("after purging c2: got %v, want %v", got, want)
	}
	res, err = c.Purge(t.Context(), dlq.All())
	if err != nil {
		t.Fatal(err)
	}
	if res.Purged != 2 {
		t.Errorf("purge all: got %d, want 2", res.Purged)
	}
	waitDepth(t, url, messaging.DeadLetterTopic, 0)
}

// Before anything was dead-lettered the queue may not exist: that is an
// empty queue, and looking must not create it.
func TestNoQueueIsEmpty(t *testing.T) {
	t.Parallel()
	url := testenv.BrokerURL(t)
	c := dlq.New(url)
	l, err := c.List(t.Context(), dlq.All(), 0)
	if err != nil || len(l.Letters) != 0 || l.Total != 0 {
		t.Errorf("list: got %v of %d, %v; want none", ids(l.Letters), l.Total, err)
	}
	if r, err := c.Requeue(t.Context(), dlq.All()); err != nil || r.Requeued != 0 {
		t.Errorf("requeue: got %+v, %v; want 0", r, err)
	}
	if r, err := c.Purge(t.Context(), dlq.All()); err != nil || r.Purged != 0 {
		t.Errorf("purge: got %+v, %v; want 0", r, err)
	}
	if _, err := testenv.QueueDepth(url, messaging.DeadLetterTopic); err == nil {
		t.Errorf("dead-letters queue: got one, want none created")
	}
}

func TestUnreachableBroker(t *testing.T) {
	t.Parallel()
	c := dlq.New("amqp://guest:guest@127.0.0.1:1/")
	_, err := c.List(t.Context(), dlq.All(), 0)
	if !errors.Is(err, dlq.ErrUnavailable) {
		t.Errorf("list: got %v, want ErrUnavailable", err)
	}
	_, err = c.Requeue(t.Context(), dlq.All())
	if !errors.Is(err, dlq.ErrUnavailable) {
		t.Errorf("requeue: got %v, want ErrUnavailable", err)
	}
	_, err = c.Purge(t.Context(), dlq.All())
	if !errors.Is(err, dlq.ErrUnavailable) {
		t.Errorf("purge: got %v, want ErrUnavailable", err)
	}
}

// A broker that refuses the login (a wrong password or virtual host) is
// said to, not to be unreachable.
func TestARefusedLoginIsSaidSo(t *testing.T) {
	t.Parallel()
	password, vhost := testenv.Refused(t, testenv.AMQPBaseURL(), "/no-such-vhost")
	for _, url := range []string{password, vhost} {
		_, err := dlq.New(url).List(t.Context(), dlq.All(), 0)
		if err == nil || !strings.Contains(err.Error(), "RabbitMQ refused the login") || errors.Is(err, dlq.ErrUnavailable) {
			t.Errorf("list with %s: got %v, want the refused login said", url, err)
		}
	}
}

// A payload sent compressed is previewed as the JSON it holds.
func TestListPreviewsCompressedPayloadsAsJSON(t *testing.T) {
	t.Parallel()
	url := broker(t)
	plain := `{"command_id":"c3","views":[` + strings.Repeat(`{"tmdb_id":27205},`, 100) + `{"tmdb_id":1}]}`
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	body := string(enc.EncodeAll([]byte(plain), nil))
	deadLetter(t, url, letter{id: "c3", topic: "commands.RecordViews", handler: "RecordViews", reason: "test", body: body, encoding: "zstd"})
	got, err := dlq.New(url).List(t.Context(), dlq.All(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Letters) != 1 {
		t.Fatalf("got %d letters, want 1", len(got.Letters))
	}
	l := got.Letters[0]
	if want := plain[:200]; l.PayloadPreview != want || l.PayloadBytes != len(body) {
		t.Errorf("preview %q of %d bytes; want %q of the %d bytes sent", l.PayloadPreview, l.PayloadBytes, want, len(body))
	}
}
