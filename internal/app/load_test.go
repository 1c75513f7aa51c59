package app

import "testing"

// The setup scenario takes a positive --movies: a negative one sliced the
// catalog with it, and panicked.
func TestTheSetupScenarioNeedsPositiveMovies(t *testing.T) {
	for movies, ok := range map[int]bool{-1: false, 0: false, 5: true} {
		err := (&LoadOptions{Scenario: "setup", Movies: movies}).validate()
		if (err == nil) != ok {
			t.Errorf("--scenario setup --movies %d: got %v, want accepted %v", movies, err, ok)
		}
	}
}
