package events_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/movietrend/trend/events"
)

func TestSealAndDecodeRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	poster := "/p.jpg"
	for _, ev := range []events.Event{
		events.MovieRegistered{TMDBID: 1, RegisteredAt: at},
		events.ViewRecorded{ViewID: uuid.New(), TMDBID: 2, ViewedAt: at},
		events.MovieRefreshRequested{TMDBID: 3, RequestedAt: at},
		events.MovieDetailsFetched{TMDBID: 4, Title: "T", VoteAverage: 8.1, VoteCount: 3, Popularity: 1.5, ReleaseDate: "2010-07-14", PosterPath: &poster, Genres: []string{"Drama"}, FetchedAt: at},
		events.MovieRemoved{TMDBID: 5, Reason: "404", RemovedAt: at},
	} {
		env, err := events.Seal(ev, "corr")
		if err != nil {
			t.Fatal(err)
		}
		if env.Type != ev.EventType() || env.Version != 1 || env.TMDBID != ev.MovieID() || env.CorrelationID != "corr" {
			t.Errorf("%s: envelope %+v", ev.EventType(), env)
		}
		got, err := env.Decode()
		if err != nil {
			t.Fatal(err)
		}
		// Decode gives a pointer to the event.
		if want := reflect.ValueOf(ev); !reflect.DeepEqual(reflect.ValueOf(got).Elem().Interface(), want.Interface()) {
			t.Errorf("%s: got %+v, want %+v", ev.EventType(), got, ev)
		}
	}
}

// The log stores what Seal wrote; it must be what encoding/json writes,
// escapes included, whatever encoder Seal uses.
func TestSealWritesEncodingJSONsBytes(t *testing.T) {
	at := time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.FixedZone("x", 3600))
	poster := "/p<&>.jpg"
	for _, ev := range []events.Event{
		events.MovieRegistered{TMDBID: 1, RegisteredAt: at},
		events.ViewRecorded{ViewID: uuid.New(), TMDBID: 2147483647, ViewedAt: at},
		events.MovieRefreshRequested{TMDBID: 3, RequestedAt: at},
		events.MovieDetailsFetched{TMDBID: 4, Title: "Amélie <\u2028\"&>", VoteAverage: 8.1, VoteCount: 3, Popularity: 1e-7, ReleaseDate: "2010-07-14", PosterPath: &poster, Genres: []string{"Drama", ""}, FetchedAt: at},
		events.MovieDetailsFetched{TMDBID: 6, Popularity: 123456789012, FetchedAt: at},
		events.MovieRemoved{TMDBID: 5, Reason: "404", RemovedAt: at},
	} {
		env, err := events.Seal(ev, "")
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if string(env.Data) != string(want) {
			t.Errorf("%s: Seal wrote\n%s\nencoding/json writes\n%s", ev.EventType(), env.Data, want)
		}
	}
}

func TestDecodeRefusesWhatItDoesNotKnow(t *testing.T) {
	if _, err := (events.Envelope{Type: "NoSuchEvent", Version: 1, Data: []byte(`{}`)}).Decode(); !errors.Is(err, events.ErrUnknownType) {
		t.Errorf("unknown type: got %v, want ErrUnknownType", err)
	}
	if _, err := (events.Envelope{Type: events.TypeViewRecorded, Version: 2, Data: []byte(`{}`)}).Decode(); err == nil {
		t.Error("unknown version: got nil error")
	}
	if _, err := (events.Envelope{Type: events.TypeViewRecorded, Version: 1, Data: []byte(`{"tmdb_id":"x"}`)}).Decode(); err == nil {
		t.Error("bad payload: got nil error")
	}
}

func TestBatchTypesAreDistinctAndSorted(t *testing.T) {
	b := events.Batch{Events: []events.Envelope{
		{Type: events.TypeViewRecorded}, {Type: events.TypeMovieRegistered}, {Type: events.TypeViewRecorded},
	}}
	if got, want := b.Types(), []string{events.TypeMovieRegistered, events.TypeViewRecorded}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := (&events.Batch{}).Types(); len(got) != 0 {
		t.Errorf("empty batch: got %v, want none", got)
	}
}
