package messaging

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/movietrend/trend/commands"
	"github.com/movietrend/trend/events"
)

// FuzzUnmarshalMessages feeds arbitrary payloads to the unmarshaller the
// worker uses for every command and event batch, then decodes the events
// of a batch: nothing may panic, and what unmarshals must survive a round
// trip unchanged.
func FuzzUnmarshalMessages(f *testing.F) {
	for _, seed := range []string{
		`{"command_id":"0b5c9f7e-3f2a-4c1d-9e8b-2a6f1c0d4e5f","tmdb_id":27205,"requested_at":"2026-11-26T10:00:00Z"}`,
		`{"command_id":"0b5c9f7e-3f2a-4c1d-9e8b-2a6f1c0d4e5f","views":[{"view_id":"0b5c9f7e-3f2a-4c1d-9e8b-2a6f1c0d4e5f","tmdb_id":1,"viewed_at":"2026-11-26T10:00:00Z"}]}`,
		`{"batch_id":"0b5c9f7e-3f2a-4c1d-9e8b-2a6f1c0d4e5f","events":[{"position":1,"type":"ViewRecorded","version":1,"tmdb_id":1,"data":{"view_id":"0b5c9f7e-3f2a-4c1d-9e8b-2a6f1c0d4e5f","tmdb_id":1,"viewed_at":"2026-11-26T10:00:00Z"}}]}`,
		`{"batch_id":"0b5c9f7e-3f2a-4c1d-9e8b-2a6f1c0d4e5f","events":[{"type":"MovieDetailsFetched","version":1,"data":{"title":"x","genres":null}}]}`,
		`{"views": "not a list"`, `null`, `[]`, `{"events":[{"type":"NoSuchEvent","version":9,"data":{}}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		for _, target := range []any{&commands.RegisterMovie{}, &commands.RecordViews{}, &commands.RefreshMovie{}, &events.Batch{}} {
			msg := message.NewMessage("id", payload)
			if err := marshaler.Unmarshal(msg, target); err != nil {
				continue
			}
			again, err := json.Marshal(target)
			if err != nil {
				t.Fatalf("%T unmarshalled but does not marshal: %v", target, err)
			}
			back := reflect.New(reflect.TypeOf(target).Elem()).Interface()
			if err := json.Unmarshal(again, back); err != nil {
				t.Fatalf("%T does not round-trip: %v", target, err)
			}
			// Marshalled once, the value is in its canonical form: reading
			// it back and marshalling again must give the very same bytes.
			twice, err := json.Marshal(back)
			if err != nil {
				t.Fatalf("%T read back but does not marshal: %v", back, err)
			}
			if !bytes.Equal(twice, again) {
				t.Fatalf("%T changed in a round trip:\n%s\nbecame\n%s", target, again, twice)
			}
			if b, ok := target.(*events.Batch); ok {
				for _, env := range b.Events {
					_, _ = env.Decode() // may fail, must not panic
				}
			}
		}
	})
}

// FuzzUnbundle feeds arbitrary bundle payloads and counts to Unbundle:
// nothing may panic, every refusal is permanent, and what it reads
// bundles again into the same messages.
func FuzzUnbundle(f *testing.F) {
	f.Add([]byte(`{"messages":[{"uuid":"a","metadata":{"name":"RecordViews"},"payload":"e30="},{"uuid":"b","metadata":null,"payload":null}]}`), "2")
	f.Add([]byte(`{"messages":[]}`), "0")
	f.Add([]byte(`{"messages":[{"uuid":"a"}]}`), "x")
	f.Add([]byte(`{"messages":`), "1")
	f.Add([]byte(`{"messages":[{"uuid":"a"}]}`), "") // no count: not a bundle
	f.Fuzz(func(t *testing.T, payload []byte, count string) {
		msg := message.NewMessage("bundle", payload)
		msg.Metadata.Set(BundleKey, count)
		inner, err := Unbundle(msg)
		if err != nil {
			if !Permanent(err) {
				t.Fatalf("a refusal that is not permanent: %v", err)
			}
			return
		}
		if count == "" {
			// Without a count header the message is not a bundle.
			if inner != nil {
				t.Fatalf("a message without %s unbundled into %d messages, want nil", BundleKey, len(inner))
			}
			return
		}
		again, err := Bundle(inner)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Unbundle(again)
		if err != nil || len(back) != len(inner) {
			t.Fatalf("bundled again: %d messages, %v; want %d", len(back), err, len(inner))
		}
		for i := range back {
			if !back[i].Equals(inner[i]) {
				t.Fatalf("message %d changed: %+v, want %+v", i, back[i], inner[i])
			}
		}
	})
}
