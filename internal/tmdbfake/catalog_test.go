package tmdbfake

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/movietrend/trend/internal/tmdb"
)

func wantInception() tmdb.Movie {
	return tmdb.Movie{
		ID:          27205,
		Title:       "Inception",
		VoteAverage: 8.1,
		VoteCount:   13752,
		Popularity:  167.58371,
		ReleaseDate: "2010-07-14",
		Genres: []tmdb.Genre{
			{ID: 28, Name: "Action"}, {ID: 53, Name: "Thriller"}, {ID: 878, Name: "Science Fiction"},
			{ID: 9648, Name: "Mystery"}, {ID: 12, Name: "Adventure"},
		},
	}
}

func mustDefaultCatalog(t *testing.T) *Catalog {
	t.Helper()
	c, err := DefaultCatalog()
	if err != nil {
		t.Fatalf("DefaultCatalog: %v", err)
	}
	return c
}

func TestDefaultCatalog(t *testing.T) {
	t.Parallel()
	c := mustDefaultCatalog(t)

	if got, want := c.Len(), 924; got != want {
		t.Errorf("Len: got %d, want %d", got, want)
	}
	ids := c.IDs()
	if len(ids) != c.Len() {
		t.Errorf("IDs: got %d ids, want %d", len(ids), c.Len())
	}
	if !slices.IsSorted(ids) {
		t.Error("IDs: got an unsorted slice, want ascending order")
	}
	ids[0] = -1 // must not reach the catalog
	if got := c.IDs()[0]; got == -1 {
		t.Error("IDs: got a slice shared with the catalog, want a copy")
	}

	got, ok := c.Movie(27205)
	if !ok {
		t.Fatal("Movie(27205): got not found, want Inception")
	}
	if want := wantInception(); !reflect.DeepEqual(got, want) {
		t.Errorf("Movie(27205):\ngot  %+v\nwant %+v", got, want)
	}

	// A quoted title with a comma survives RFC 4180 parsing.
	if m, ok := c.Movie(585); !ok || m.Title != "Monsters, Inc." {
		t.Errorf("Movie(585): got %q (found %v), want %q", m.Title, ok, "Monsters, Inc.")
	}
	if _, ok := c.Movie(1); ok {
		t.Error("Movie(1): got found, want not found")
	}
	// Every genre in the shipped file is one TMDB knows.
	for _, id := range c.IDs() {
		m, _ := c.Movie(id)
		for _, g := range m.Genres {
			if g.ID == 0 {
				t.Errorf("movie %d: genre %q has no TMDB id", id, g.Name)
			}
		}
	}
}

func TestLoadCatalog(t *testing.T) {
	t.Parallel()
	const header = "tmdb_id,title,release_date,vote_average,vote_count,popularity,genres\n"
	in := header +
		`27205,Inception,2010-07-14,8.1,13752,167.58371,Action|Thriller|Science Fiction|Mystery|Adventure` + "\n" +
		`585,"Monsters, Inc.",2001-11-01,7.5,5996,106.815545,Animation|Comedy|Family` + "\n" +
		`42,"The ""Quoted"" One",,0,0,0,` + "\n" +
		`7,Odd Genres,1999-01-01,5,10,1.5,Space Opera| Drama ` + "\n"

	c, err := LoadCatalog(strings.NewReader(in))
	if err != nil {
		t.Fatalf("LoadCatalog: %v", err)
	}
	if got, want := c.IDs(), []int64{7, 42, 585, 27205}; !slices.Equal(got, want) {
		t.Errorf("IDs: got %v, want %v", got, want)
	}
	if got, _ := c.Movie(27205); !reflect.DeepEqual(got, wantInception()) {
		t.Errorf("Movie(27205):\ngot  %+v\nwant %+v", got, wantInception())
	}
	tests := []struct {
		id   int64
		want tmdb.Movie
	}{
		{42, tmdb.Movie{ID: 42, Title: `The "Quoted" One`, Genres: []tmdb.Genre{}}},
		{7, tmdb.Movie{ID: 7, Title: "Odd Genres", ReleaseDate: "1999-01-01", VoteAverage: 5, VoteCount: 10, Popularity: 1.5,
			Genres: []tmdb.Genre{{ID: 0, Name: "Space Opera"}, {ID: 18, Name: "Drama"}}}},
	}
	for _, tt := range tests {
		if got, _ := c.Movie(tt.id); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Movie(%d):\ngot  %+v\nwant %+v", tt.id, got, tt.want)
		}
	}
}

func TestLoadCatalogRejectsBadInput(t *testing.T) {
	t.Parallel()
	const header = "tmdb_id,title,release_date,vote_average,vote_count,popularity,genres\n"
	const good = "27205,Inception,2010-07-14,8.1,13752,167.58371,Action\n"
	tests := []struct {
		name string
		in   string
		want []string // substrings of the error
	}{
		{"empty input", "", []string{"empty input"}},
		{"wrong header", "id,title\n" + good, []string{"line 1", "header"}},
		{"too few fields", header + good + "155,The Dark Knight,2008-07-16\n", []string{"line 3", "wrong number of fields"}},
		{"unterminated quote", header + good + `155,"The Dark Knight,2008-07-16,8.2,12002,187.3,Drama` + "\n", []string{"line 3"}},
		{"non-numeric id", header + "abc,Inception,2010-07-14,8.1,13752,167.58371,Action\n", []string{"line 2", "tmdb_id"}},
		{"zero id", header + "0,Inception,2010-07-14,8.1,13752,167.58371,Action\n", []string{"line 2", "tmdb_id"}},
		{"duplicate id", header + good + good, []string{"line 3", "duplicate tmdb_id 27205", "line 2"}},
		{"empty title", header + "27205, ,2010-07-14,8.1,13752,167.58371,Action\n", []string{"line 2", "title"}},
		{"bad date", header + "27205,Inception,14/07/2010,8.1,13752,167.58371,Action\n", []string{"line 2", "release_date"}},
		{"vote average above 10", header + "27205,Inception,2010-07-14,81,13752,167.58371,Action\n", []string{"line 2", "vote_average"}},
		{"negative vote count", header + "27205,Inception,2010-07-14,8.1,-1,167.58371,Action\n", []string{"line 2", "vote_count"}},
		{"NaN popularity", header + "27205,Inception,2010-07-14,8.1,13752,NaN,Action\n", []string{"line 2", "popularity"}},
		{"every bad column is named", header + good + "x,,x,x,x,x,\n", []string{"line 3", "tmdb_id", "title", "release_date", "vote_average", "vote_count", "popularity"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := LoadCatalog(strings.NewReader(tt.in))
			if err == nil {
				t.Fatalf("LoadCatalog: got a catalog of %d movies, want an error", c.Len())
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q: want it to contain %q", err, want)
				}
			}
		})
	}
}

func TestGenreID(t *testing.T) {
	t.Parallel()
	want := map[string]int{
		"Action": 28, "Adventure": 12, "Animation": 16, "Comedy": 35, "Crime": 80, "Documentary": 99,
		"Drama": 18, "Family": 10751, "Fantasy": 14, "History": 36, "Horror": 27, "Music": 10402,
		"Mystery": 9648, "Romance": 10749, "Science Fiction": 878, "TV Movie": 10770, "Thriller": 53,
		"War": 10752, "Western": 37, "Sci-Fi": 0, "action": 0, "": 0,
	}
	for name, id := range want {
		if got := genreID(name); got != id {
			t.Errorf("genreID(%q): got %d, want %d", name, got, id)
		}
	}
}
