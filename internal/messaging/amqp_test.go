package messaging

import (
	"testing"

	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	amqp "github.com/rabbitmq/amqp091-go"
)

// TestAHeaderThatIsNotAStringIsRead: a message with a number in its
// headers (sent from the management UI, or a quorum queue's delivery
// count) reaches the handlers, with the number as text, instead of being
// refused before them and requeued for ever.
func TestAHeaderThatIsNotAStringIsRead(t *testing.T) {
	headers := amqp.Table{wamqp.DefaultMessageUUIDHeaderKey: "id-1", "name": "RecordViews", "x-delivery-count": int64(3), "urgent": true}
	msg, err := headerTolerantMarshaler{}.Unmarshal(amqp.Delivery{Acknowledger: nopAcknowledger{}, Headers: headers, Body: []byte(`{}`)})
	if err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if msg.UUID != "id-1" || msg.Metadata.Get("name") != "RecordViews" || msg.Metadata.Get("x-delivery-count") != "3" || msg.Metadata.Get("urgent") != "true" {
		t.Errorf("got uuid %q, metadata %v; want id-1 and every header as text", msg.UUID, msg.Metadata)
	}
	if _, ok := headers["x-delivery-count"].(int64); !ok {
		t.Error("the delivery's own headers were changed")
	}
	if _, err := (wamqp.DefaultMarshaler{}).Unmarshal(amqp.Delivery{Headers: headers}); err == nil {
		t.Error("watermill-amqp's own marshaler reads such a header now: this wrapper may be unneeded")
	}
}

// The zero delivery a closed consumer's channel gives (RabbitMQ cancelled
// the consumer) is no message: made into one, it was dead-lettered as an
// empty letter.
func TestTheZeroDeliveryOfAClosedConsumerIsNoMessage(t *testing.T) {
	if msg, err := (headerTolerantMarshaler{}).Unmarshal(amqp.Delivery{}); err == nil {
		t.Errorf("the zero delivery became message %q, want an error", msg.UUID)
	}
}

type nopAcknowledger struct{}

func (nopAcknowledger) Ack(uint64, bool) error        { return nil }
func (nopAcknowledger) Nack(uint64, bool, bool) error { return nil }
func (nopAcknowledger) Reject(uint64, bool) error     { return nil }
