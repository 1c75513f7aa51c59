package events

import "time"

// TypeMovieRefreshRequested names MovieRefreshRequested in the log.
const TypeMovieRefreshRequested = "MovieRefreshRequested"

// MovieRefreshRequested: someone asked for the TMDB facts to be fetched again.
type MovieRefreshRequested struct {
	TMDBID      int64     `json:"tmdb_id"`
	RequestedAt time.Time `json:"requested_at"`
}

func (MovieRefreshRequested) EventType() string       { return TypeMovieRefreshRequested }
func (MovieRefreshRequested) SchemaVersion() int      { return 1 }
func (e MovieRefreshRequested) MovieID() int64        { return e.TMDBID }
func (e MovieRefreshRequested) OccurredAt() time.Time { return e.RequestedAt }
