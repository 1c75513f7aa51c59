package httpapi

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/movietrend/trend/projections/trend"
)

// headAtZero is a projection whose head is 0; the hub asks it nothing else
// here (the tests broadcast themselves).
type headAtZero struct{ Queries }

func (headAtZero) Head(context.Context) (int64, error) { return 0, nil }

// testHub is a hub (not polling) with two clients: quick, which takes
// every event, and slow, which takes none unless the test does.
// broadcast sends one change of each movie id and returns quick's event.
func testHub(t *testing.T) (h *hub, slow *streamClient, broadcast func(ids ...int64) []byte) {
	t.Helper()
	h = newHub(headAtZero{}, time.Hour, time.Hour, 10, slog.New(slog.DiscardHandler))
	slow, err := h.subscribe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	quick, err := h.subscribe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var change int64
	return h, slow, func(ids ...int64) []byte {
		var rows []trend.Movie
		for _, id := range ids {
			change++
			rows = append(rows, trend.Movie{TMDBID: id, Change: change})
		}
		h.broadcast(h.cursor, rows)
		select {
		case data := <-quick.ch:
			return data
		default:
			t.Fatalf("broadcast of %v: quick got no event", ids)
			return nil
		}
	}
}

// A lagging client's events stay in order: its buffered events first, then
// what it missed since, each row once at its newest change; then it gets
// the broadcasts as they come again.
func TestHubBacklogComesAfterTheBufferedEvents(t *testing.T) {
	h, slow, broadcast := testHub(t)
	// Keeping up, every client gets the same bytes: encoded once.
	data := broadcast(1)
	if got := <-slow.ch; &got[0] != &data[0] {
		t.Error("a client keeping up got its own encoding of the broadcast, want the one shared")
	}
	for range cap(slow.ch) {
		broadcast(1)
	}
	broadcast(2, 1) // 2@18 1@19
	broadcast(2)    // 2@20
	if rows := h.takeBacklog(slow); rows != nil {
		t.Fatalf("backlog before the buffered events were taken: got %v, want none yet", rows)
	}
	for range cap(slow.ch) {
		<-slow.ch
	}
	rows := h.takeBacklog(slow)
	if len(rows) != 2 || rows[0].TMDBID != 1 || rows[0].Change != 19 || rows[1].TMDBID != 2 || rows[1].Change != 20 {
		t.Fatalf("backlog: got %+v, want movie 1 at change 19, then 2 at 20", rows)
	}
	broadcast(3)
	if len(slow.ch) != 1 {
		t.Errorf("a broadcast after the backlog was taken: %d events buffered, want 1", len(slow.ch))
	}
}

// A client whose backlog outgrows the cap is dropped (its channel closed,
// after the events it holds), and only it.
func TestHubDropsAClientTooFarBehind(t *testing.T) {
	h, slow, broadcast := testHub(t)
	h.maxBacklog = 3
	for range cap(slow.ch) {
		broadcast(1)
	}
	broadcast(1, 2)
	broadcast(2, 3)
	broadcast(1) // 3 rows: at the cap, kept
	if _, in := h.clients[slow]; !in || len(slow.backlog) != 3 {
		t.Fatalf("3 movies missed, cap 3: subscribed %v with %d rows, want kept with 3", in, len(slow.backlog))
	}
	broadcast(4)
	for range cap(slow.ch) {
		<-slow.ch
	}
	select {
	case _, ok := <-slow.ch:
		if ok {
			t.Fatal("4 movies missed, cap 3: got another event, want the channel closed")
		}
	default:
		t.Fatal("4 movies missed, cap 3: the channel is open, want it closed (the client dropped)")
	}
	if _, in := h.clients[slow]; in || len(h.clients) != 1 {
		t.Errorf("after the drop: slow subscribed %v, %d clients, want only the quick one", in, len(h.clients))
	}
}
