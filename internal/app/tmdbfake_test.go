package app

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/movietrend/trend/internal/testenv"
)

// TestTheStandInWarnsOfACatalogWithoutTheControlMovie: without movie 550,
// the service never believes a 404 of the stand-in's, so no movie is
// removed as unknown; the stand-in says so at start.
func TestTheStandInWarnsOfACatalogWithoutTheControlMovie(t *testing.T) {
	for _, c := range []struct {
		rows string
		warn bool
	}{
		{"27205,Inception,2010-07-15,8.4,35000,80.5,Action|Science Fiction\n", true},
		{"550,Fight Club,1999-10-15,8.4,30000,60.1,Drama\n", false},
	} {
		path := filepath.Join(t.TempDir(), "catalog.csv")
		if err := os.WriteFile(path, []byte("tmdb_id,title,release_date,vote_average,vote_count,popularity,genres\n"+c.rows), 0o644); err != nil {
			t.Fatal(err)
		}
		var logs testenv.Buffer
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		err := RunTMDBFake(ctx, "127.0.0.1:0", path, "", "", slog.New(slog.NewTextHandler(&logs, nil)))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(logs.String(), "lacks the control movie"); got != c.warn {
			t.Errorf("catalog %q: warned %v, want %v\n%s", c.rows, got, c.warn, logs.String())
		}
	}
}
