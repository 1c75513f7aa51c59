package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// pageCache keeps the encoded pages of GET /api/movies for as long as the
// projection has not changed (its Head). A list request then costs no
// query at all most of the time, instead of a sort of the ranking, the
// scan of its rows and their JSON encoding: under thousands of reads a
// second that was most of PostgreSQL's and the API's CPU
// (docs/benchmarks.md). The head itself is read at most every
// headMaxAge, and the live stream shares what it reads: a page is at most
// headMaxAge older than the projection when the request arrived, and never
// older than what the stream announced, so a client that loads the list
// after the stream said "ready" misses no change.
type pageCache struct {
	mu    sync.Mutex
	pages map[pageKey]page
	fill  singleflight.Group

	headMu sync.Mutex
	head   int64
	headAt time.Time
}

// headMaxAge is how long a read of the projection's head serves.
const headMaxAge = 50 * time.Millisecond

// currentHead returns the projection's head, read through read when the
// one known is older than headMaxAge.
func (c *pageCache) currentHead(ctx context.Context, read func(context.Context) (int64, error)) (int64, error) {
	c.headMu.Lock()
	head, at := c.head, c.headAt
	c.headMu.Unlock()
	if !at.IsZero() && time.Since(at) < headMaxAge {
		return head, nil
	}
	v, err, _ := c.fill.Do("head", func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		start := time.Now()
		h, err := read(ctx)
		if err == nil {
			c.sawHead(h, start)
		}
		return h, err
	})
	if err != nil {
		return 0, err
	}
	return v.(int64), nil
}

// sawHead records a head read at (or after) at. The newest read wins,
// whether the head grew or not (a replay's switch can lower it).
func (c *pageCache) sawHead(head int64, at time.Time) {
	c.headMu.Lock()
	defer c.headMu.Unlock()
	if at.After(c.headAt) || head > c.head {
		c.head, c.headAt = head, at
	}
}

type pageKey struct{ limit, offset int }

type page struct {
	head  int64
	total int64
	body  []byte
}

// maxCachedPages bounds the memory: a client paging through the whole
// ranking must not grow the cache without end.
const maxCachedPages = 256

// get returns the page for key as of head, building it with list when the
// cached one is older. Concurrent requests for the same missing page
// share one query.
func (c *pageCache) get(ctx context.Context, key pageKey, head int64, list func(ctx context.Context) (any, int64, error)) (page, error) {
	c.mu.Lock()
	p, ok := c.pages[key]
	c.mu.Unlock()
	if ok && p.head == head {
		return p, nil
	}
	v, err, _ := c.fill.Do(fmt.Sprintf("%d/%d/%d", key.limit, key.offset, head), func() (any, error) {
		// Shared by every waiting request: the first one leaving must not
		// fail the others.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		movies, total, err := list(ctx)
		if err != nil {
			return page{}, err
		}
		body, err := json.Marshal(movies)
		if err != nil {
			return page{}, err
		}
		p := page{head: head, total: total, body: append(body, '\n')}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.pages == nil || len(c.pages) >= maxCachedPages {
			c.pages = make(map[pageKey]page)
		}
		// The head was read before the list, so the page is at least as new
		// as head; a newer page already cached is kept.
		if old, ok := c.pages[key]; !ok || old.head <= head {
			c.pages[key] = p
		}
		return p, nil
	})
	if err != nil {
		return page{}, err
	}
	return v.(page), nil
}
