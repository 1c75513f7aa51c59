package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"golang.org/x/sync/singleflight"

	"github.com/movietrend/trend/internal/groupcommit"
)

// pageCache keeps the encoded pages of GET /api/movies for as long as the
// projection has not changed (its Head: one index lookup). A list request
// then costs that lookup instead of a sort of the ranking, the scan of its
// rows, a count and their JSON encoding: under thousands of reads a second
// that was most of PostgreSQL's and the API's CPU (docs/benchmarks.md).
//
// A page is never older than the projection was when the request arrived:
// a client that saw a change (a movie's 404, the live stream's "ready")
// lists the movies as of that change or later. The head lookups are
// shared the way commits are (groupcommit): requests that arrive while a
// lookup runs wait for the next one, which starts after they arrived, so
// one lookup serves every request waiting at that moment.
type pageCache struct {
	mu    sync.Mutex
	pages map[pageKey]page
	bytes int // of every cached page's bodies
	fill  singleflight.Group
	heads *groupcommit.Batcher[*int64]
}

// newPageCache reads the head through head until ctx ends.
func newPageCache(ctx context.Context, head func(context.Context) (int64, error)) *pageCache {
	c := &pageCache{}
	c.heads = groupcommit.New(groupcommit.Config{}, func(slots []*int64) []error {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		h, err := head(ctx)
		errs := make([]error, len(slots))
		for i, slot := range slots {
			*slot, errs[i] = h, err
		}
		return errs
	})
	go func() {
		<-ctx.Done()
		c.heads.Close()
	}()
	return c
}

// head returns the projection's head, read after the call began.
func (c *pageCache) head(ctx context.Context) (int64, error) {
	var h int64
	if err := c.heads.Do(ctx, &h); err != nil {
		// Not h: a lookup may still write it, the call having ended first.
		return 0, err
	}
	return h, nil
}

type pageKey struct{ limit, offset int }

type page struct {
	head  int64
	total int64
	body  []byte
	// gz is body gzipped, for the clients that accept it (browsers do): a
	// page of 50 movies, 17 KB of JSON, is 2.2 KB. Serving a cached page is
	// mostly the kernel copying its bytes to the socket.
	gz []byte
}

var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return w
}}

func gzipped(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(b) / 4)
	w := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(w)
	w.Reset(&buf)
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// maxCachedPages and maxCachedBytes bound the memory: a client paging
// through the whole ranking must not grow the cache without end, nor one
// asking for pages of 1,000 movies at 256 offsets hold about 100 MB.
const (
	maxCachedPages = 256
	maxCachedBytes = 16 << 20
)

func (p page) size() int { return len(p.body) + len(p.gz) }

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
		body = append(body, '\n')
		gz, err := gzipped(body)
		if err != nil {
			return page{}, err
		}
		p := page{head: head, total: total, body: body, gz: gz}
		c.mu.Lock()
		defer c.mu.Unlock()
		// The head was read before the list, so the page is at least as new
		// as head; a newer page already cached is kept.
		old, ok := c.pages[key]
		if ok && old.head > head {
			return p, nil
		}
		if ok {
			c.bytes -= old.size()
			delete(c.pages, key)
		}
		if c.pages == nil || len(c.pages) >= maxCachedPages || c.bytes+p.size() > maxCachedBytes {
			c.pages, c.bytes = make(map[pageKey]page), 0
		}
		c.pages[key], c.bytes = p, c.bytes+p.size()
		return p, nil
	})
	if err != nil {
		return page{}, err
	}
	return v.(page), nil
}
