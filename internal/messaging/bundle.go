package messaging

import (
	"fmt"
	"strconv"

	"github.com/ThreeDotsLabs/watermill/message"
	json "github.com/segmentio/encoding/json"

	"github.com/movietrend/trend/internal/idgen"
)

// BundleKey is the metadata key (an AMQP header) of a bundle: a message
// that carries several messages of one topic, whose number it holds. The
// relay bundles the outbox rows of a topic that it reads together
// (BatchRelay.BundleTopics): RabbitMQ spends about the same CPU on a
// message whatever it carries (docs/benchmarks.md), and the API's views
// make one RecordViews command per group commit, some 400 a second under
// load. Only topics consumed by BatchedHandlers may be bundled: they
// unbundle (the cqrs processors would not).
const BundleKey = "bundle"

// bundle is a bundle's payload: JSON, like every message, so the
// dead-letter listing and RabbitMQ's UI show its messages' ids.
type bundle struct {
	Messages []bundled `json:"messages"`
}

// bundled is one message of a bundle as the outbox held it: its own id,
// metadata (name, correlation id, content encoding) and payload.
type bundled struct {
	UUID     string            `json:"uuid"`
	Metadata map[string]string `json:"metadata"`
	Payload  []byte            `json:"payload"`
}

// Bundle wraps msgs, of one topic, into one message with a new id. Its
// metadata is BundleKey and, if every message has the same name, that
// name, so it shows in RabbitMQ's UI for what it carries.
func Bundle(msgs []*message.Message) (*message.Message, error) {
	b := bundle{Messages: make([]bundled, len(msgs))}
	for i, m := range msgs {
		b.Messages[i] = bundled{UUID: m.UUID, Metadata: m.Metadata, Payload: m.Payload}
	}
	payload, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	out := message.NewMessage(idgen.New().String(), payload)
	out.Metadata.Set(BundleKey, strconv.Itoa(len(msgs)))
	if len(msgs) > 0 {
		name := msgs[0].Metadata.Get("name")
		for _, m := range msgs[1:] {
			if m.Metadata.Get("name") != name {
				name = ""
				break
			}
		}
		if name != "" {
			out.Metadata.Set("name", name)
		}
	}
	return out, nil
}

// Unbundle returns the messages of a bundle, each with the bundle's
// context, or nil if msg is not a bundle. A bundle that cannot be read is
// a permanent error: no retry can fix it.
func Unbundle(msg *message.Message) ([]*message.Message, error) {
	count := msg.Metadata.Get(BundleKey)
	if count == "" {
		return nil, nil
	}
	var b bundle
	if err := json.Unmarshal(msg.Payload, &b); err != nil {
		return nil, PermanentError(fmt.Errorf("read bundle %s: %w", msg.UUID, err))
	}
	if n, err := strconv.Atoi(count); err != nil || n != len(b.Messages) || n == 0 {
		return nil, PermanentError(fmt.Errorf("bundle %s holds %d messages, its %s header says %q", msg.UUID, len(b.Messages), BundleKey, count))
	}
	out := make([]*message.Message, len(b.Messages))
	for i, m := range b.Messages {
		inner := message.NewMessage(m.UUID, m.Payload)
		for k, v := range m.Metadata {
			inner.Metadata.Set(k, v)
		}
		inner.SetContext(msg.Context())
		out[i] = inner
	}
	return out, nil
}
