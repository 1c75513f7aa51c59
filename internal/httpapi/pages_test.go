package httpapi

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestThePageCacheIsBoundedInBytes: pages of 1,000 movies at many offsets
// (about 400 KB each) must not fill the cache up to its page count.
func TestThePageCacheIsBoundedInBytes(t *testing.T) {
	c := newPageCache(t.Context(), func(context.Context) (int64, error) { return 1, nil })
	// Random text, so that gzip cannot shrink the pages to nothing.
	big := func(seed uint64) []string {
		r := rand.New(rand.NewPCG(seed, 1))
		rows := make([]string, 1000)
		for i := range rows {
			var b strings.Builder
			for range 300 {
				b.WriteByte(byte('a' + r.IntN(26)))
			}
			rows[i] = b.String()
		}
		return rows
	}
	for offset := range 120 {
		// The same page twice (a newer head): replaced, not counted twice.
		for head := int64(1); head <= 2; head++ {
			if _, err := c.get(t.Context(), pageKey{1000, offset}, head, func(context.Context) (any, int64, error) {
				return big(uint64(offset)), 1000, nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		c.mu.Lock()
		sum := 0
		for _, p := range c.pages {
			sum += p.size()
		}
		if c.bytes != sum || c.bytes > maxCachedBytes {
			t.Fatalf("after %d pages: %d bytes counted, %d cached in %d pages; at most %d wanted", offset+1, c.bytes, sum, len(c.pages), maxCachedBytes)
		}
		c.mu.Unlock()
	}
}
