package messaging

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/movietrend/trend/commands"
	"github.com/movietrend/trend/events"
)

func recordViews(n int) *commands.RecordViews {
	c := &commands.RecordViews{CommandID: uuid.New(), CorrelationID: "req-1"}
	for i := range n {
		c.Views = append(c.Views, commands.View{ViewID: uuid.New(), TMDBID: int64(27205 + i), ViewedAt: time.Unix(1_790_000_000, int64(i)).UTC()})
	}
	return c
}

func TestCodecCompressesLargePayloadsOnly(t *testing.T) {
	for _, c := range []struct {
		views      int
		compressed bool
	}{{1, false}, {100, true}} {
		cmd := recordViews(c.views)
		plain, err := json.Marshal(cmd)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := marshaler.Marshal(cmd)
		if err != nil {
			t.Fatal(err)
		}
		if got := msg.Metadata.Get(EncodingKey) == encodingZstd; got != c.compressed {
			t.Errorf("%d views (%d bytes of JSON): compressed %v, want %v", c.views, len(plain), got, c.compressed)
		}
		if c.compressed && len(msg.Payload) >= len(plain)*2/3 {
			t.Errorf("%d views: %d bytes compressed from %d; want at most two thirds", c.views, len(msg.Payload), len(plain))
		}
		if !c.compressed && !bytes.Equal(msg.Payload, plain) {
			t.Errorf("%d views: payload %q, want the plain JSON %q", c.views, msg.Payload, plain)
		}
		if got := marshaler.Name(cmd); marshaler.NameFromMessage(msg) != got {
			t.Errorf("name %q lost: got %q", got, marshaler.NameFromMessage(msg))
		}
		var back commands.RecordViews
		if err := marshaler.Unmarshal(msg, &back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(&back, cmd) {
			t.Errorf("%d views: round trip changed the command", c.views)
		}
	}
}

// Messages queued by a version that did not compress carry plain JSON
// and no encoding: they must still decode.
func TestCodecReadsPlainPayloads(t *testing.T) {
	cmd := recordViews(100)
	plain, err := json.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	var back commands.RecordViews
	if err := marshaler.Unmarshal(message.NewMessage("id", plain), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, cmd) {
		t.Error("a plain payload decoded to another command")
	}
}

func TestCodecRejectsBadPayloadsPermanently(t *testing.T) {
	for name, m := range map[string]*message.Message{
		"corrupt zstd":     withEncoding(encodingZstd, []byte("not a zstd frame at all")),
		"unknown encoding": withEncoding("br", []byte("{}")),
	} {
		err := marshaler.Unmarshal(m, &commands.RecordViews{})
		if err == nil || !Permanent(err) {
			t.Errorf("%s: got %v, want a permanent error", name, err)
		}
	}
}

// Bad JSON fails with encoding/json's own error, the one dead letters
// show (the dashboard's end-to-end test looks for it), and permanently.
func TestCodecNamesBadJSONAsEncodingJSONDoes(t *testing.T) {
	for _, payload := range []string{`{"views": "not a list"`, `{"views": 5}`, `not json`} {
		want := json.Unmarshal([]byte(payload), &commands.RecordViews{})
		err := marshaler.Unmarshal(message.NewMessage("id", []byte(payload)), &commands.RecordViews{})
		if err == nil || want == nil || err.Error() != want.Error() || !Permanent(err) {
			t.Errorf("%s: got %v, want encoding/json's %v, permanent", payload, err, want)
		}
	}
}

func withEncoding(enc string, payload []byte) *message.Message {
	m := message.NewMessage("id", payload)
	m.Metadata.Set(EncodingKey, enc)
	return m
}

func viewBatch(n int) *events.Batch {
	b := &events.Batch{BatchID: uuid.New()}
	for i := range n {
		env, err := events.Seal(events.ViewRecorded{ViewID: uuid.New(), TMDBID: int64(27205 + i), ViewedAt: time.Unix(1_790_000_000, int64(i)).UTC()}, "req-1")
		if err != nil {
			panic(err)
		}
		env.Position = int64(1000 + i)
		b.Events = append(b.Events, env)
	}
	return b
}

// The codec's JSON is encoding/json's both ways: what an older build
// queued (plain encoding/json) decodes the same, and what this one
// sends is what encoding/json would have sent.
func TestCodecJSONIsEncodingJSONs(t *testing.T) {
	for _, v := range []any{recordViews(30), viewBatch(30)} {
		msg, err := marshaler.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		payload, err := DecodePayload(msg.Metadata.Get(EncodingKey), msg.Payload)
		if err != nil {
			t.Fatal(err)
		}
		std, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(payload, std) {
			t.Errorf("%T: the codec's JSON differs from encoding/json's:\n%s\n%s", v, payload, std)
		}
		back := reflect.New(reflect.TypeOf(v).Elem())
		if err := marshaler.Unmarshal(message.NewMessage("x", std), back.Interface()); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back.Interface(), v) {
			t.Errorf("%T: decoded %+v, want %+v", v, back.Interface(), v)
		}
	}
}

// BenchmarkCodec: one RecordViews of 27 views and one batch of 180 view
// events (the sizes of the views benchmark), through the message codec
// (JSON and zstd), each way.
func BenchmarkCodec(b *testing.B) {
	for _, c := range []struct {
		name string
		v    any
		new  func() any
	}{
		{"RecordViews-27", recordViews(27), func() any { return new(commands.RecordViews) }},
		{"Batch-180", viewBatch(180), func() any { return new(events.Batch) }},
	} {
		msg, err := marshaler.Marshal(c.v)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name+"/encode", func(b *testing.B) {
			for b.Loop() {
				if _, err := marshaler.Marshal(c.v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/decode", func(b *testing.B) {
			for b.Loop() {
				if err := marshaler.Unmarshal(msg, c.new()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The projection's handler takes batches; another type of ours is skipped,
// as the event group processor skips it, but a message with no name
// header (published by hand, or a batch that lost it) goes to the dead
// letters: it was acknowledged unread.
func TestAnEventMessageWithoutANameIsNotDroppedUnread(t *testing.T) {
	var handled int
	h := BatchedEventGroup("g", 1, func(context.Context, *events.Batch) error { handled++; return nil })
	batch, err := marshaler.Marshal(&events.Batch{BatchID: uuid.New()})
	if err != nil {
		t.Fatal(err)
	}
	other, err := marshaler.Marshal(&commands.RefreshMovie{CommandID: uuid.New(), TMDBID: 1})
	if err != nil {
		t.Fatal(err)
	}
	nameless := message.NewMessage(watermill.NewUUID(), batch.Payload)
	if err := h.Handle(batch); err != nil || handled != 1 {
		t.Errorf("a batch: %v, handled %d times; want it handled once", err, handled)
	}
	if err := h.Handle(other); err != nil || handled != 1 {
		t.Errorf("another type: %v, handled %d times; want it skipped", err, handled)
	}
	if err := h.Handle(nameless); !Permanent(err) || handled != 1 {
		t.Errorf("a message without a name: %v, handled %d times; want a permanent error", err, handled)
	}
}
