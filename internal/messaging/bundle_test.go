package messaging

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

func newMsg(id, name string, payload []byte) *message.Message {
	m := message.NewMessage(id, payload)
	m.Metadata.Set("name", name)
	m.Metadata.Set("correlation_id", "corr-"+id)
	return m
}

func TestBundleCarriesEachMessageAsItWas(t *testing.T) {
	compressed, err := marshaler.Marshal(struct{ Text string }{string(make([]byte, 2000))})
	if err != nil {
		t.Fatal(err)
	}
	compressed.Metadata.Set("name", "RecordViews")
	msgs := []*message.Message{newMsg("a", "RecordViews", []byte(`{"x":1}`)), compressed, newMsg("c", "RecordViews", []byte{0, 1, 2, 255})}
	b, err := Bundle(msgs)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Metadata.Get(BundleKey); got != "3" {
		t.Errorf("%s header %q, want 3", BundleKey, got)
	}
	if got := b.Metadata.Get("name"); got != "RecordViews" {
		t.Errorf("name %q, want the messages' own", got)
	}
	if slices.Contains([]string{"a", compressed.UUID, "c", ""}, b.UUID) {
		t.Errorf("bundle id %q: want an id of its own", b.UUID)
	}
	type key struct{}
	b.SetContext(context.WithValue(context.Background(), key{}, "router's"))
	got, err := Unbundle(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(msgs) {
		t.Fatalf("%d messages, want %d", len(got), len(msgs))
	}
	for i, m := range got {
		if !m.Equals(msgs[i]) {
			t.Errorf("message %d: got %s %v %q, want %s %v %q", i, m.UUID, m.Metadata, m.Payload, msgs[i].UUID, msgs[i].Metadata, msgs[i].Payload)
		}
		if m.Context().Value(key{}) != "router's" {
			t.Errorf("message %d does not carry the bundle's context", i)
		}
	}
	var v struct{ Text string }
	if err := marshaler.Unmarshal(got[1], &v); err != nil || len(v.Text) != 2000 {
		t.Errorf("the compressed message decodes to %d bytes, %v", len(v.Text), err)
	}
}

func TestBundleOfMixedNamesIsNamedByNone(t *testing.T) {
	b, err := Bundle([]*message.Message{newMsg("a", "RecordViews", nil), newMsg("b", "RegisterMovie", nil)})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Metadata.Get("name"); got != "" {
		t.Errorf("name %q, want none", got)
	}
}

func TestUnbundleLeavesOtherMessagesAlone(t *testing.T) {
	got, err := Unbundle(newMsg("a", "RecordViews", []byte(`{"messages":[]}`)))
	if got != nil || err != nil {
		t.Errorf("got %v, %v; want nil, nil", got, err)
	}
}

func TestUnbundleRefusesBadBundlesPermanently(t *testing.T) {
	good, err := Bundle([]*message.Message{newMsg("a", "RecordViews", nil), newMsg("b", "RecordViews", nil)})
	if err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]*message.Message{
		"not JSON":           message.NewMessage("x", []byte(`{"messages":[`)),
		"count disagrees":    message.NewMessage("x", good.Payload),
		"count not a number": message.NewMessage("x", good.Payload),
		"empty":              message.NewMessage("x", []byte(`{"messages":[]}`)),
	} {
		m.Metadata.Set(BundleKey, map[string]string{"not JSON": "1", "count disagrees": "3", "count not a number": "two", "empty": "0"}[name])
		got, err := Unbundle(m)
		if err == nil || !Permanent(err) || got != nil {
			t.Errorf("%s: got %d messages, %v; want a permanent error", name, len(got), err)
		}
	}
}

// A bundle's messages are handled at once, so that they can share one
// group commit: here each waits until all of them are in the handler.
func TestBatchedHandlerHandlesABundlesMessagesAtOnce(t *testing.T) {
	const n = 5
	var mu sync.Mutex
	var seen []string
	all := make(chan struct{})
	h := BatchedHandler{Handle: func(m *message.Message) error {
		mu.Lock()
		seen = append(seen, m.UUID)
		if len(seen) == n {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
			return nil
		case <-time.After(10 * time.Second):
			return errors.New("the others never came")
		}
	}}
	var msgs []*message.Message
	for i := range n {
		msgs = append(msgs, newMsg(fmt.Sprint(i), "RecordViews", nil))
	}
	b, err := Bundle(msgs)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.handle(b); err != nil {
		t.Fatal(err)
	}
	slices.Sort(seen)
	if want := []string{"0", "1", "2", "3", "4"}; !slices.Equal(seen, want) {
		t.Errorf("handled %v, want %v each once", seen, want)
	}
	plain := newMsg("p", "RecordViews", nil)
	if err := (BatchedHandler{Handle: func(m *message.Message) error {
		if m != plain {
			return errors.New("not the message itself")
		}
		return nil
	}}).handle(plain); err != nil {
		t.Errorf("a message not bundled: %v", err)
	}
}

// A bundle fails permanently (to the dead letters at once) only when each
// of its failures is permanent; otherwise it is retried, and a panic is an
// error, not a crash.
func TestBatchedHandlerBundleErrors(t *testing.T) {
	outcome := map[string]error{
		"ok":        nil,
		"permanent": PermanentError(errors.New("no views")),
		"transient": errors.New("connection reset"),
	}
	for _, c := range []struct {
		ids           []string
		fails, retry  bool
		wantInMessage string
	}{
		{ids: []string{"ok", "ok"}},
		{ids: []string{"ok", "permanent"}, fails: true, wantInMessage: "1 of 2"},
		{ids: []string{"permanent", "transient", "ok"}, fails: true, retry: true, wantInMessage: "2 of 3"},
		{ids: []string{"panic", "ok"}, fails: true, retry: true, wantInMessage: "panic"},
	} {
		h := BatchedHandler{Handle: func(m *message.Message) error {
			if m.Metadata.Get("outcome") == "panic" {
				panic("boom")
			}
			return outcome[m.Metadata.Get("outcome")]
		}}
		var msgs []*message.Message
		for i, id := range c.ids {
			m := newMsg(fmt.Sprint(i), "RecordViews", nil)
			m.Metadata.Set("outcome", id)
			msgs = append(msgs, m)
		}
		b, err := Bundle(msgs)
		if err != nil {
			t.Fatal(err)
		}
		err = h.handle(b)
		switch {
		case !c.fails && err != nil:
			t.Errorf("%v: %v, want nil", c.ids, err)
		case c.fails && err == nil:
			t.Errorf("%v: nil, want an error", c.ids)
		case c.fails && Permanent(err) == c.retry:
			t.Errorf("%v: permanent %v, want %v (%v)", c.ids, Permanent(err), !c.retry, err)
		case c.fails && !strings.Contains(err.Error(), c.wantInMessage):
			t.Errorf("%v: %q does not say %q", c.ids, err, c.wantInMessage)
		}
	}
}

// The relay gathers a bundled topic's messages into bundles of at most
// bundleMessages (or about bundleBytes), each where its first message
// stood, and leaves the other topics' messages as they are, in order.
func TestRelayBundleLimits(t *testing.T) {
	r := &BatchRelay{BundleTopics: []string{"views"}}
	var in []outgoing
	for i := range 2*bundleMessages + 50 {
		in = append(in, outgoing{"views", newMsg(fmt.Sprint("v", i), "RecordViews", nil)})
		if i == 0 || i == 150 {
			in = append(in, outgoing{"other", newMsg(fmt.Sprint("o", i), "RegisterMovie", nil)})
		}
	}
	big := make([]byte, bundleBytes/2+1)
	for i := range 5 {
		in = append(in, outgoing{"big", newMsg(fmt.Sprint("b", i), "RecordViews", big)})
	}
	r.BundleTopics = append(r.BundleTopics, "big")
	out, err := r.bundle(in)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range out {
		inner, err := Unbundle(o.msg)
		if err != nil {
			t.Fatal(err)
		}
		if inner == nil {
			got = append(got, o.topic+":"+o.msg.UUID)
			continue
		}
		got = append(got, fmt.Sprintf("%s:%s..%s(%d)", o.topic, inner[0].UUID, inner[len(inner)-1].UUID, len(inner)))
	}
	want := []string{"views:v0..v99(100)", "other:o0", "views:v100..v199(100)", "other:o150", "views:v200..v249(50)", "big:b0..b1(2)", "big:b2..b3(2)", "big:b4"}
	if !slices.Equal(got, want) {
		t.Errorf("published\n%v\nwant\n%v", got, want)
	}
}
