// Package idgen makes the identifiers the system generates: event ids,
// batch and command ids, view ids a client did not choose.
package idgen

import "github.com/google/uuid"

// New returns a version 7 UUID: it starts with the time in milliseconds,
// so ids made one after another sort together. Every id ends up in a
// unique B-tree index (events.event_id, events.dedup_key,
// handled_messages); random (version 4) ids would insert all over those
// indexes, where time-ordered ones append at their right edge, touching
// few pages per transaction and writing fewer full-page images to the WAL.
func New() uuid.UUID {
	return uuid.Must(uuid.NewV7())
}
