// Package events holds the facts the system records in its event log. Each
// event type lives in its own file with its name and schema version; the
// Envelope is how an event is stored and carried; Batch is what one
// transaction appended, and what travels on the bus.
package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	// Seal runs once for every view: segmentio's encoder writes the same
	// bytes as encoding/json (TestSealWritesEncodingJSONsBytes) in about
	// a third of its time.
	fastjson "github.com/segmentio/encoding/json"

	"github.com/movietrend/trend/internal/idgen"
)

// Event is a fact about one movie.
type Event interface {
	// EventType is the stable name stored in the log. Renaming it breaks
	// replay of old logs: add an upcaster instead.
	EventType() string
	// SchemaVersion is the version of the payload's shape.
	SchemaVersion() int
	// MovieID is the TMDB id the fact is about.
	MovieID() int64
	// OccurredAt is when it happened; projections use it instead of the
	// wall clock, so that a replay reproduces them exactly.
	OccurredAt() time.Time
}

// Deduplicated is an event that carries an id chosen outside the system
// (a client's view_id): the log stores at most one event per such key.
type Deduplicated interface {
	DedupKey() uuid.UUID
}

// Envelope is an event as stored in the log and carried on the bus.
type Envelope struct {
	Position      int64           `json:"position"`
	EventID       uuid.UUID       `json:"event_id"`
	Type          string          `json:"type"`
	Version       int             `json:"version"`
	TMDBID        int64           `json:"tmdb_id"`
	OccurredAt    time.Time       `json:"occurred_at"`
	CorrelationID string          `json:"correlation_id,omitempty"`
	Data          json.RawMessage `json:"data"`
}

// Batch is every event one transaction appended to the log, in log order.
// It is the unit on the bus: a thousand views accepted together travel as
// one message, and a handler applies them in one transaction.
type Batch struct {
	BatchID uuid.UUID  `json:"batch_id"`
	Events  []Envelope `json:"events"`
}

// Types lists the distinct types of the batch's events, sorted.
func (b *Batch) Types() []string {
	var types []string
	for _, e := range b.Events {
		if !slices.Contains(types, e.Type) {
			types = append(types, e.Type)
		}
	}
	slices.Sort(types)
	return types
}

// ErrUndecodable is in every error of Decode: no retry can decode it.
var ErrUndecodable = errors.New("undecodable event")

// ErrUnknownType is returned for an event type this build does not know.
var ErrUnknownType = fmt.Errorf("%w: unknown event type", ErrUndecodable)

type decoder func(version int, data json.RawMessage) (Event, error)

var decoders = map[string]decoder{
	TypeMovieRegistered:       decodeAs[MovieRegistered],
	TypeViewRecorded:          decodeAs[ViewRecorded],
	TypeMovieRefreshRequested: decodeAs[MovieRefreshRequested],
	TypeMovieDetailsFetched:   decodeAs[MovieDetailsFetched],
	TypeMovieRemoved:          decodeAs[MovieRemoved],
}

// decodeAs decodes the current version of T. When a schema changes, the
// event's file gains an upcaster from the older versions, and its entry
// above points at it.
func decodeAs[T any, P interface {
	*T
	Event
}](version int, data json.RawMessage) (Event, error) {
	var v T
	if got, want := version, P(&v).SchemaVersion(); got != want {
		return nil, fmt.Errorf("schema version %d is not known (this build reads %d)", got, want)
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	return P(&v), nil
}

// Decode returns the typed event inside the envelope.
func (e Envelope) Decode() (Event, error) {
	d, ok := decoders[e.Type]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownType, e.Type)
	}
	ev, err := d(e.Version, e.Data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s event %s: %w", ErrUndecodable, e.Type, e.EventID, err)
	}
	return ev, nil
}

// Seal wraps an event in a new envelope (without a position: the log
// assigns it).
func Seal(ev Event, correlationID string) (Envelope, error) {
	data, err := fastjson.Marshal(ev)
	if err != nil {
		return Envelope{}, fmt.Errorf("encode %s: %w", ev.EventType(), err)
	}
	return Envelope{
		EventID:       idgen.New(),
		Type:          ev.EventType(),
		Version:       ev.SchemaVersion(),
		TMDBID:        ev.MovieID(),
		OccurredAt:    ev.OccurredAt().UTC(),
		CorrelationID: correlationID,
		Data:          data,
	}, nil
}
