// Package tmdbfake is a local stand-in for the TMDB v3 API. It serves movie
// details from a catalog file, so the service can run, be tested and be
// benchmarked without reaching TMDB.
//
// Movie facts from The Movie Database (TMDB). This product uses the TMDB API
// but is not endorsed or certified by TMDB.
package tmdbfake

import (
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/movietrend/trend/internal/tmdb"
)

// defaultCatalogCSV is the catalog shipped with the binary: the 924 movies
// with at least 1,000 votes in the public "TMDB 5000 Movie Dataset", a 2017
// TMDB snapshot.
// go:embed needs a package-level variable; nothing ever writes to it.
//
//go:embed tmdb-catalog.csv
var defaultCatalogCSV string

// Catalog is a read-only set of movies keyed by TMDB id. It is safe for
// concurrent use.
type Catalog struct {
	movies map[int64]tmdb.Movie
	ids    []int64 // sorted ascending
}

// DefaultCatalog is the embedded catalog, parsed once: a worker's start
// asks for it twice (the TMDB source check, the stand-in), and a Catalog
// is read-only.
var DefaultCatalog = sync.OnceValues(func() (*Catalog, error) {
	c, err := LoadCatalog(strings.NewReader(defaultCatalogCSV))
	if err != nil {
		return nil, fmt.Errorf("embedded catalog: %w", err)
	}
	return c, nil
})

// catalogHeader is the header row LoadCatalog expects, in this order.
func catalogHeader() []string {
	return []string{"tmdb_id", "title", "release_date", "vote_average", "vote_count", "popularity", "genres"}
}

// LoadCatalog parses a catalog CSV (RFC 4180) with the header
// tmdb_id,title,release_date,vote_average,vote_count,popularity,genres, where
// genres are TMDB genre names joined by '|'. An invalid row fails the whole
// load with an error naming its line, since a half-loaded catalog would
// answer 404 for movies that exist.
func LoadCatalog(r io.Reader) (*Catalog, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("catalog: empty input, want a header row")
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff") // tolerate a BOM from spreadsheet exports
	}
	if want := catalogHeader(); !slices.Equal(header, want) {
		return nil, fmt.Errorf("catalog line 1: got header %q, want %q", header, want)
	}

	c := &Catalog{movies: make(map[int64]tmdb.Movie)}
	firstLine := make(map[int64]int)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// *csv.ParseError already names the line.
			return nil, fmt.Errorf("catalog: %w", err)
		}
		line, _ := cr.FieldPos(0)
		m, err := parseRow(rec)
		if err != nil {
			return nil, fmt.Errorf("catalog line %d: %w", line, err)
		}
		if prev, dup := firstLine[m.ID]; dup {
			return nil, fmt.Errorf("catalog line %d: duplicate tmdb_id %d, first on line %d", line, m.ID, prev)
		}
		firstLine[m.ID] = line
		c.movies[m.ID] = m
		c.ids = append(c.ids, m.ID)
	}
	slices.Sort(c.ids)
	return c, nil
}

// parseRow turns one record into a movie. Errors name the column.
func parseRow(rec []string) (tmdb.Movie, error) {
	var errs []error
	fail := func(column, value, want string) {
		errs = append(errs, fmt.Errorf("%s %q: want %s", column, value, want))
	}

	var m tmdb.Movie
	var err error
	if m.ID, err = strconv.ParseInt(rec[0], 10, 64); err != nil || m.ID <= 0 {
		fail("tmdb_id", rec[0], "a positive integer")
	}
	if m.Title = strings.TrimSpace(rec[1]); m.Title == "" {
		fail("title", rec[1], "a non-empty title")
	}
	if m.ReleaseDate = rec[2]; m.ReleaseDate != "" {
		if _, err := time.Parse(time.DateOnly, m.ReleaseDate); err != nil {
			fail("release_date", rec[2], "YYYY-MM-DD or empty")
		}
	}
	if m.VoteAverage, err = strconv.ParseFloat(rec[3], 64); err != nil || !(m.VoteAverage >= 0 && m.VoteAverage <= 10) {
		fail("vote_average", rec[3], "a number from 0 to 10")
	}
	if m.VoteCount, err = strconv.ParseInt(rec[4], 10, 64); err != nil || m.VoteCount < 0 {
		fail("vote_count", rec[4], "a non-negative integer")
	}
	if m.Popularity, err = strconv.ParseFloat(rec[5], 64); err != nil || !(m.Popularity >= 0) || math.IsInf(m.Popularity, 0) {
		fail("popularity", rec[5], "a non-negative number")
	}
	// TMDB sends [] for a movie without genres, never null.
	m.Genres = []tmdb.Genre{}
	for name := range strings.SplitSeq(rec[6], "|") {
		if name = strings.TrimSpace(name); name != "" {
			m.Genres = append(m.Genres, tmdb.Genre{ID: genreID(name), Name: name})
		}
	}
	if len(errs) > 0 {
		return tmdb.Movie{}, errors.Join(errs...)
	}
	return m, nil
}

// genreID maps a TMDB movie genre name to its id, 0 for a name TMDB does
// not have.
func genreID(name string) int {
	switch name {
	case "Action":
		return 28
	case "Adventure":
		return 12
	case "Animation":
		return 16
	case "Comedy":
		return 35
	case "Crime":
		return 80
	case "Documentary":
		return 99
	case "Drama":
		return 18
	case "Family":
		return 10751
	case "Fantasy":
		return 14
	case "History":
		return 36
	case "Horror":
		return 27
	case "Music":
		return 10402
	case "Mystery":
		return 9648
	case "Romance":
		return 10749
	case "Science Fiction":
		return 878
	case "TV Movie":
		return 10770
	case "Thriller":
		return 53
	case "War":
		return 10752
	case "Western":
		return 37
	default:
		return 0
	}
}

// Len returns the number of movies.
func (c *Catalog) Len() int { return len(c.ids) }

// IDs returns the TMDB ids of all movies, sorted ascending. The slice is the
// caller's to keep.
func (c *Catalog) IDs() []int64 { return slices.Clone(c.ids) }

// Movie returns the movie with the given TMDB id, and whether there is one.
func (c *Catalog) Movie(id int64) (tmdb.Movie, bool) {
	m, ok := c.movies[id]
	// The genres slice would otherwise be shared with every other caller.
	m.Genres = slices.Clone(m.Genres)
	return m, ok
}
