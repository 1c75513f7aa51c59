package app

import (
	"slices"
	"testing"

	"github.com/movietrend/trend/events"
	"github.com/movietrend/trend/handlers"
	"github.com/movietrend/trend/projections/trend"
)

// Batches of views alone reach the projection, which counts them, and not
// the enrichment, which has nothing to do with them; every other batch
// reaches both.
func TestViewBatchesReachOnlyTheGroupsActingOnViews(t *testing.T) {
	if got, want := Topology.ViewGroups, []string{trend.HandlerName}; !slices.Equal(got, want) {
		t.Errorf("groups receiving batches of views alone: %v, want %v", got, want)
	}
	if got, want := groupsActingOn(events.TypeMovieRegistered), []string{trend.HandlerName, handlers.EnrichmentName}; !slices.Equal(got, want) {
		t.Errorf("groups acting on %s: %v, want %v", events.TypeMovieRegistered, got, want)
	}
}
