package events

import "time"

// TypeMovieDetailsFetched names MovieDetailsFetched in the log.
const TypeMovieDetailsFetched = "MovieDetailsFetched"

// MovieDetailsFetched: TMDB answered with the movie's facts. The facts are
// stored in the event so that a replay never calls TMDB.
type MovieDetailsFetched struct {
	TMDBID      int64     `json:"tmdb_id"`
	Title       string    `json:"title"`
	VoteAverage float64   `json:"vote_average"`
	VoteCount   int64     `json:"vote_count"`
	Popularity  float64   `json:"popularity"`
	ReleaseDate string    `json:"release_date"`
	PosterPath  *string   `json:"poster_path"`
	Genres      []string  `json:"genres"`
	FetchedAt   time.Time `json:"fetched_at"`
}

func (MovieDetailsFetched) EventType() string       { return TypeMovieDetailsFetched }
func (MovieDetailsFetched) SchemaVersion() int      { return 1 }
func (e MovieDetailsFetched) MovieID() int64        { return e.TMDBID }
func (e MovieDetailsFetched) OccurredAt() time.Time { return e.FetchedAt }
