package postgres

import (
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

func TestUUIDs(t *testing.T) {
	ids := []uuid.UUID{uuid.New(), uuid.New()}
	got := UUIDs(ids)
	if len(got) != 2 || got[0] != (pgtype.UUID{Bytes: ids[0], Valid: true}) || got[1] != (pgtype.UUID{Bytes: ids[1], Valid: true}) {
		t.Errorf("got %v for %v", got, ids)
	}
}

// BenchmarkEncodeUUIDs encodes an array of 28 ids, as one RecordViews
// message's events, the way pgx sends a uuid[] parameter.
func BenchmarkEncodeUUIDs(b *testing.B) {
	m := pgtype.NewMap()
	ids := make([]uuid.UUID, 28)
	for i := range ids {
		ids[i] = uuid.New()
	}
	for _, c := range []struct {
		name string
		v    any
	}{{"uuid.UUID", ids}, {"UUIDs", UUIDs(ids)}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Encode(pgtype.UUIDArrayOID, pgtype.BinaryFormatCode, c.v, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
