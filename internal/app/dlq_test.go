package app

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/movietrend/trend/internal/config"
	"github.com/movietrend/trend/internal/messaging"
	"github.com/movietrend/trend/internal/testenv"
)

// TestDLQSelectionRules: purge deletes for good, so it needs --id or --all;
// list and requeue select every letter without either; --all and --id
// together are refused for every subcommand.
func TestDLQSelectionRules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		do   DLQOptions
		want string // "" when accepted
	}{
		{DLQOptions{Command: "purge"}, "dlq purge deletes for good: select letters with --id ID, or every one with --all; nothing was done"},
		{DLQOptions{Command: "purge", JSON: true}, "--all"},
		{DLQOptions{Command: "purge", All: true}, ""},
		{DLQOptions{Command: "purge", IDs: IDList{"a"}}, ""},
		{DLQOptions{Command: "purge", All: true, IDs: IDList{"a"}}, "--all and --id cannot go together"},
		{DLQOptions{Command: "requeue", All: true, IDs: IDList{"a"}}, "--all and --id cannot go together"},
		{DLQOptions{Command: "list", All: true, IDs: IDList{"a"}}, "--all and --id cannot go together"},
		{DLQOptions{Command: "list"}, ""},
		{DLQOptions{Command: "list", All: true}, ""},
		{DLQOptions{Command: "requeue"}, ""},
		{DLQOptions{Command: "requeue", All: true}, ""},
		{DLQOptions{Command: "requeue", IDs: IDList{"a"}}, ""},
	} {
		err := CheckDLQ(tc.do)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: got %v, want it accepted", tc.do, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: got %v, want an error saying %q", tc.do, err, tc.want)
		}
	}
}

// TestRunDLQPurgesOnlyWhatWasSelected: RunDLQ itself refuses a purge with
// no selection (it purged every letter) and one with both --all and --id,
// touching nothing; a purge with All deletes the letters.
func TestRunDLQPurgesOnlyWhatWasSelected(t *testing.T) {
	t.Parallel()
	url := deadLettersAB(t)
	cfg := config.Config{AMQPURL: url}
	log := slog.New(slog.DiscardHandler)
	depth := func(want int) {
		t.Helper()
		testenv.WaitFor(t, 10*time.Second, "the dead letters to settle", func() bool {
			n, err := testenv.QueueDepth(url, messaging.DeadLetterTopic)
			return err == nil && n == want
		})
	}
	depth(2)

	for _, do := range []DLQOptions{
		{Command: "purge"},
		{Command: "purge", JSON: true},
		{Command: "purge", All: true, IDs: IDList{"a"}},
	} {
		var out bytes.Buffer
		do.Out = &out
		if err := RunDLQ(t.Context(), cfg, do, log); err == nil || !strings.Contains(err.Error(), "nothing was done") {
			t.Errorf("purge %+v: got %v, want it refused", do, err)
		}
		if out.Len() != 0 {
			t.Errorf("purge %+v: printed %q, want nothing", do, out.String())
		}
		if n, err := testenv.QueueDepth(url, messaging.DeadLetterTopic); err != nil || n != 2 {
			t.Fatalf("after the refused purge %+v: got %d dead letters (%v), want both", do, n, err)
		}
	}

	var out bytes.Buffer
	if err := RunDLQ(t.Context(), cfg, DLQOptions{Command: "purge", All: true, Out: &out}, log); err != nil {
		t.Fatal(err)
	}
	if out.String() != "purged 2 dead letters\n" {
		t.Errorf("purge --all: printed %q, want %q", out.String(), "purged 2 dead letters\n")
	}
	depth(0)
}

// TestRunDLQListSaysWhichIDsMatchedNothing: a list by id says how many of
// the letters it selected, and fails for an id no letter has, as requeue
// and purge do (it said "0 shown of 2" and exited 0).
func TestRunDLQListSaysWhichIDsMatchedNothing(t *testing.T) {
	t.Parallel()
	url := deadLettersAB(t)
	testenv.WaitFor(t, 10*time.Second, "the dead letters to settle", func() bool {
		n, err := testenv.QueueDepth(url, messaging.DeadLetterTopic)
		return err == nil && n == 2
	})
	cfg := config.Config{AMQPURL: url}
	log := slog.New(slog.DiscardHandler)
	for _, c := range []struct {
		ids     IDList
		json    bool
		head    string
		missing string
	}{
		{IDList{"a"}, false, "1 selected of the 2 dead letters in dead-letters\n", ""},
		{IDList{"a", "nope"}, false, "1 selected of the 2 dead letters in dead-letters\n", "nope"},
		{IDList{"nope"}, true, "[]\n", "nope"},
	} {
		var out bytes.Buffer
		err := RunDLQ(t.Context(), cfg, DLQOptions{Command: "list", IDs: c.ids, JSON: c.json, Out: &out}, log)
		if c.missing == "" && err != nil {
			t.Errorf("list %v: %v", c.ids, err)
		}
		if c.missing != "" && (err == nil || !strings.Contains(err.Error(), "no dead letter with id "+c.missing)) {
			t.Errorf("list %v: got %v, want it to fail naming %s", c.ids, err, c.missing)
		}
		if !strings.HasPrefix(out.String(), c.head) {
			t.Errorf("list %v: printed %q, want it to begin %q", c.ids, out.String(), c.head)
		}
	}
}

// deadLettersAB returns a broker of the test's own whose dead letters are
// "a" and "b".
func deadLettersAB(t *testing.T) string {
	t.Helper()
	url := testenv.BrokerURL(t)
	if err := (messaging.Topology{}).Declare(t.Context(), url); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		testenv.Publish(t, url, messaging.DeadLetterTopic,
			amqp.Publishing{Headers: amqp.Table{"_watermill_message_uuid": id}, DeliveryMode: amqp.Persistent})
	}
	return url
}

// A command that left letters behind for two reasons says both on one
// line, as every error of trend is printed after "trend: ".
func TestLeftBehindIsOneLine(t *testing.T) {
	err := leftBehind(2, []string{"a", "b"})
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "stayed in") || !strings.Contains(err.Error(), "no dead letter with id a, b") {
		t.Errorf("got %q, want both reasons on one line", err)
	}
	if err := leftBehind(0, nil); err != nil {
		t.Errorf("nothing left behind: got %v", err)
	}
}
