package messaging

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/movietrend/trend/commands"
	"github.com/movietrend/trend/events"
)

func TestPermanent(t *testing.T) {
	unmarshal := func(payload string) error {
		return marshaler.Unmarshal(message.NewMessage("id", []byte(payload)), &commands.RecordViews{})
	}
	_, decodeErr := events.Envelope{Type: "NoSuchEvent", Version: 1}.Decode()
	_, versionErr := events.Envelope{Type: events.TypeViewRecorded, Version: 7, Data: []byte(`{}`)}.Decode()
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"truncated JSON", unmarshal(`{"views": "not a list"`), true},
		{"wrong JSON type", unmarshal(`{"views": "not a list"}`), true},
		{"unknown event type", fmt.Errorf("apply: %w", decodeErr), true},
		{"unknown schema version", versionErr, true},
		{"database down", errors.New("connection refused"), false},
		// What pgx returns when the server's connection drops mid-statement
		// (a killed backend, a proxy restarting): a retry fixes it.
		{"connection dropped mid-statement", fmt.Errorf("append events: %w", io.ErrUnexpectedEOF), false},
	}
	for _, c := range cases {
		if c.err == nil {
			t.Fatalf("%s: the case produced no error", c.name)
		}
		if got := Permanent(c.err); got != c.want {
			t.Errorf("%s (%v): got %v, want %v", c.name, c.err, got, c.want)
		}
	}
}
