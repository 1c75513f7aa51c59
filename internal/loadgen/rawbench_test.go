package loadgen

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/movietrend/trend/internal/testenv"
)

// BenchmarkRawRabbitMQ measures what the broker alone does on this
// machine, the ceiling the product's pipeline is compared with: b.N
// persistent messages of about 150 bytes published to a durable queue
// with publisher confirms, pipelined (up to rawWindow unconfirmed), and
// consumed at the same time by a consumer with a prefetch of
// rawPrefetch that acknowledges every rawAckEvery messages at once. The
// rate is messages over the time from the first publish to the last
// acknowledgement. Run it with a count, e.g. -benchtime 200000x.
// RAW_AMQP_URL selects the broker (a virtual host); by default a fresh
// virtual host is created and deleted.
func BenchmarkRawRabbitMQ(b *testing.B) { benchRawRabbit(b, rawWindow) }

// BenchmarkRawRabbitMQConfirmEach is the same with every publish waiting
// for its own confirm, as Watermill's AMQP publisher does: the ceiling of
// a relay that forwards one message at a time.
func BenchmarkRawRabbitMQConfirmEach(b *testing.B) { benchRawRabbit(b, 1) }

func benchRawRabbit(b *testing.B, window int) {
	url := os.Getenv("RAW_AMQP_URL")
	if url == "" {
		url = testenv.BrokerURL(b)
	}
	b.ReportAllocs()
	r, err := rawRabbit(b.Context(), url, b.N, window)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/r.total.Seconds(), "msgs/s")
	b.ReportMetric(float64(b.N)/r.confirmed.Seconds(), "confirmed-msgs/s")
}

const (
	rawWindow   = 1000 // unconfirmed publishes in flight
	rawPrefetch = 1000
	rawAckEvery = 100
	rawBodySize = 150
)

type rawResult struct {
	confirmed time.Duration // until the broker confirmed every publish
	total     time.Duration // until the consumer acknowledged every message
}

func rawRabbit(ctx context.Context, url string, n, window int) (rawResult, error) {
	pub, err := amqp.Dial(url)
	if err != nil {
		return rawResult{}, err
	}
	defer pub.Close()
	sub, err := amqp.Dial(url) // its own connection, as a worker has
	if err != nil {
		return rawResult{}, err
	}
	defer sub.Close()
	pch, err := pub.Channel()
	if err != nil {
		return rawResult{}, err
	}
	queue := fmt.Sprintf("raw-bench-%d", time.Now().UnixNano())
	if _, err := pch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
		return rawResult{}, err
	}
	defer func() { _, _ = pch.QueueDelete(queue, false, false, false) }()

	consumed := make(chan error, 1)
	cch, err := sub.Channel()
	if err != nil {
		return rawResult{}, err
	}
	if err := cch.Qos(rawPrefetch, 0, false); err != nil {
		return rawResult{}, err
	}
	deliveries, err := cch.ConsumeWithContext(ctx, queue, "", false, false, false, false, nil)
	if err != nil {
		return rawResult{}, err
	}
	start := time.Now()
	go func() { consumed <- consumeN(deliveries, n) }()
	if err := publishConfirmed(ctx, pch, queue, n, window); err != nil {
		return rawResult{}, err
	}
	confirmed := time.Since(start)
	select {
	case err := <-consumed:
		return rawResult{confirmed: confirmed, total: time.Since(start)}, err
	case <-ctx.Done():
		return rawResult{}, ctx.Err()
	}
}

// publishConfirmed publishes n persistent messages with confirms,
// keeping up to window unconfirmed: waiting for each confirm in turn
// (window 1) measures the round trip to the disk, not the broker.
func publishConfirmed(ctx context.Context, ch *amqp.Channel, queue string, n, window int) error {
	if err := ch.Confirm(false); err != nil {
		return err
	}
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, window))
	body := make([]byte, rawBodySize)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	inFlight, acked := 0, 0
	awaitOne := func() error {
		c, ok := <-confirms
		if !ok {
			return fmt.Errorf("channel closed after %d confirms", acked)
		}
		if !c.Ack {
			return fmt.Errorf("broker refused message %d", c.DeliveryTag)
		}
		inFlight--
		acked++
		return nil
	}
	for range n {
		if inFlight == window {
			if err := awaitOne(); err != nil {
				return err
			}
		}
		err := ch.PublishWithContext(ctx, "", queue, false, false, amqp.Publishing{
			DeliveryMode: amqp.Persistent, ContentType: "application/json", Body: body,
		})
		if err != nil {
			return err
		}
		inFlight++
	}
	for inFlight > 0 {
		if err := awaitOne(); err != nil {
			return err
		}
	}
	return nil
}

// consumeN receives n messages, acknowledging rawAckEvery at a time.
func consumeN(deliveries <-chan amqp.Delivery, n int) error {
	for i := 1; i <= n; i++ {
		d, ok := <-deliveries
		if !ok {
			return fmt.Errorf("deliveries ended after %d of %d", i-1, n)
		}
		if i%rawAckEvery == 0 || i == n {
			if err := d.Ack(true); err != nil {
				return err
			}
		}
	}
	return nil
}
