package idgen

import (
	"bytes"
	"testing"
)

func TestNewIsVersion7AndOrdered(t *testing.T) {
	prev := New()
	if v := prev.Version(); v != 7 {
		t.Fatalf("version %d, want 7", v)
	}
	for range 10000 {
		id := New()
		// google/uuid keeps ids of one process increasing, even within a
		// millisecond; the indexes rely on little more than that.
		if bytes.Compare(id[:], prev[:]) <= 0 {
			t.Fatalf("%s after %s: not increasing", id, prev)
		}
		prev = id
	}
}
