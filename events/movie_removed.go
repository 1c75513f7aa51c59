package events

import "time"

// TypeMovieRemoved names MovieRemoved in the log.
const TypeMovieRemoved = "MovieRemoved"

// MovieRemoved: TMDB does not know the movie (404), so it stops being tracked.
type MovieRemoved struct {
	TMDBID    int64     `json:"tmdb_id"`
	Reason    string    `json:"reason"`
	RemovedAt time.Time `json:"removed_at"`
}

func (MovieRemoved) EventType() string       { return TypeMovieRemoved }
func (MovieRemoved) SchemaVersion() int      { return 1 }
func (e MovieRemoved) MovieID() int64        { return e.TMDBID }
func (e MovieRemoved) OccurredAt() time.Time { return e.RemovedAt }
