// Package groupcommit lets concurrent callers share one transaction (a
// group commit). While a batch commits, the next one gathers. Batches
// grow with load, and no timer adds latency on an idle system: a lone
// caller is flushed at once.
//
// PostgreSQL commits about 14,000 single-row transactions a second on
// our 2-core machine but inserts about 230,000 rows a second in batches
// of 100, so every hot write path goes through one of these: the API's
// views and the worker's RecordViews and projection handlers.
package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrClosed is returned by Do after Close.
var ErrClosed = errors.New("groupcommit: shutting down")

// Flush commits items in one go. It returns nil when every item succeeded,
// or one error per item (nil for those that succeeded).
type Flush[T any] func(items []T) []error

// Config tunes a Batcher.
type Config struct {
	// MaxBatch bounds the items of one flush (default 1000).
	MaxBatch int
	// Committers is how many flushes may run at once (default 1). More
	// committers split the waiting items into smaller batches.
	Committers int
	// Spacing is the least time between the starts of two flushes
	// (default 0: none), unless MaxBatch items are waiting (or, with
	// Returning, as many as the previous flush carried). A
	// flush that follows a quiet spell still starts at once; under load,
	// the items of the next flush gather for what is left of it. Fewer,
	// larger flushes cost less per item where each flush pays per row
	// touched (the projection's movies). Where callers can have at most
	// n items in flight (n subscriptions), MaxBatch n makes a full
	// house flush at once.
	Spacing time.Duration
	// Returning starts a spaced flush early, as soon as as many items wait
	// as the previous flush carried. It is for callers that send their
	// next item only once the last one was answered (HTTP clients with one
	// request in flight): once they are back, the rest of Spacing would
	// only add latency, and a caller a little late for the cut-off would
	// wait a whole extra cycle. The API's views, 64 such clients, measured
	// about a tenth more views a second with it (docs/benchmarks.md).
	// Spacing stays the longest wait.
	Returning bool
}

// Batcher gathers concurrent items into flushes.
type Batcher[T any] struct {
	flush  Flush[T]
	cfg    Config
	in     chan request[T]
	wg     sync.WaitGroup
	closed chan struct{}
	once   sync.Once
	// mu orders Close after every send in progress, so that no item is
	// sent after the committers drained the queue and stopped.
	mu       sync.RWMutex
	shutting bool
	// gatherMu is held by the committer gathering the next batch; last
	// is when the previous batch started its flush.
	gatherMu sync.Mutex
	last     time.Time
	// previous is the size of the last flush (for Returning).
	previous int
}

type request[T any] struct {
	item T
	done chan error
}

// New starts the committers; Close stops them.
func New[T any](cfg Config, flush Flush[T]) *Batcher[T] {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 1000
	}
	if cfg.Committers <= 0 {
		cfg.Committers = 1
	}
	b := &Batcher[T]{flush: flush, cfg: cfg, in: make(chan request[T], 4*cfg.MaxBatch), closed: make(chan struct{})}
	for range cfg.Committers {
		b.wg.Go(b.loop)
	}
	return b
}

// Do submits item and returns its result once its batch was flushed. If
// ctx ends first, Do returns ctx's error, but the item may still be
// flushed: callers must be idempotent (every caller here is, by id).
func (b *Batcher[T]) Do(ctx context.Context, item T) error {
	req := request[T]{item: item, done: make(chan error, 1)}
	b.mu.RLock()
	if b.shutting {
		b.mu.RUnlock()
		return ErrClosed
	}
	select {
	case b.in <- req:
		b.mu.RUnlock()
	case <-ctx.Done():
		b.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close flushes what was submitted, then stops the committers.
func (b *Batcher[T]) Close() {
	b.once.Do(func() {
		b.mu.Lock()
		b.shutting = true
		b.mu.Unlock()
		close(b.closed)
	})
	b.wg.Wait()
}

func (b *Batcher[T]) loop() {
	batch := make([]request[T], 0, b.cfg.MaxBatch)
	items := make([]T, 0, b.cfg.MaxBatch)
	for {
		var ok bool
		if batch, ok = b.gather(batch[:0]); !ok {
			return
		}
		items = items[:0]
		for _, r := range batch {
			items = append(items, r.item)
		}
		errs := b.flushSafely(items)
		for i, r := range batch {
			if errs != nil {
				r.done <- errs[i]
			} else {
				r.done <- nil
			}
		}
		clear(items) // let the flushed items be collected
	}
}

// gather waits for the next batch; false means closed with nothing left.
// One committer gathers at a time, so that with Spacing, committers take
// turns: the next batch gathers while earlier ones commit.
func (b *Batcher[T]) gather(batch []request[T]) ([]request[T], bool) {
	b.gatherMu.Lock()
	defer b.gatherMu.Unlock()
	var first request[T]
	select {
	case first = <-b.in:
	case <-b.closed:
		// Flush what was already submitted, then stop.
		select {
		case first = <-b.in:
		default:
			return batch, false
		}
	}
	batch = append(batch, first)
	if wait := b.cfg.Spacing - time.Since(b.last); wait > 0 {
		enough := b.cfg.MaxBatch
		if b.cfg.Returning { // a previous flush started at b.last
			enough = min(enough, b.previous)
		}
		batch = b.gatherFor(batch, enough, wait)
	}
	b.last = time.Now()
drain:
	for len(batch) < b.cfg.MaxBatch {
		select {
		case r := <-b.in:
			batch = append(batch, r)
		default:
			break drain
		}
	}
	b.previous = len(batch)
	return batch, true
}

// gatherFor adds items to batch for up to d, until it holds enough items
// or Close was called (what was submitted is then flushed without delay).
func (b *Batcher[T]) gatherFor(batch []request[T], enough int, d time.Duration) []request[T] {
	t := time.NewTimer(d)
	defer t.Stop()
	for len(batch) < enough {
		select {
		case r := <-b.in:
			batch = append(batch, r)
		case <-t.C:
			return batch
		case <-b.closed:
			return batch
		}
	}
	return batch
}

// flushSafely turns a panic of the flush into an error for each item:
// the committer goroutine is no handler's, so nothing else would recover
// it, and the process would die with every item in flight.
func (b *Batcher[T]) flushSafely(items []T) []error {
	var errs []error
	err := safely(func() error { errs = b.flush(items); return nil })
	if err == nil && errs != nil && len(errs) != len(items) {
		// A flush's bug, not an item's: the loop would index past the
		// slice (a panic outside any recover) or leave callers unanswered.
		err = fmt.Errorf("groupcommit: the flush returned %d results for %d items", len(errs), len(items))
	}
	if err != nil {
		errs = make([]error, len(items))
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}

// safely runs fn, turning a panic into an error.
func safely(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("groupcommit: panic: %v", p)
		}
	}()
	return fn()
}

// AllOrEach builds a Flush from an all-or-nothing commit of the whole
// batch, falling back to one commit per item when the batch fails (or
// panics), so that one bad item fails alone and its neighbours still
// commit.
func AllOrEach[T any](all func(items []T) error, each func(item T) error) Flush[T] {
	return AllOrEachUnless(all, each, nil, nil)
}

// AllOrEachUnless is AllOrEach, except that a batch error for which
// shared (if set) returns true is every item's error at once, without
// the commits one by one: when the database stops answering, each of
// them would wait out its own timeout in turn, holding the batch's
// messages (and those behind them) for minutes.
//
// And once two items in a row fail one by one with an error for which
// stuck (if set) returns true, the items left fail with it too: an error
// that neither item caused alone (a commit past its bound while the
// database still answers pings: its disk stalled) would cost each item
// left its own wait, one after another.
func AllOrEachUnless[T any](all func(items []T) error, each func(item T) error, shared, stuck func(error) bool) Flush[T] {
	return func(items []T) []error {
		err := safely(func() error { return all(items) })
		if err == nil {
			return nil
		}
		errs := make([]error, len(items))
		if len(items) == 1 || shared != nil && shared(err) {
			for i := range errs {
				errs[i] = err
			}
			return errs
		}
		inARow := 0
		for i, it := range items {
			if inARow == 2 {
				errs[i] = errs[i-1]
				continue
			}
			errs[i] = safely(func() error { return each(it) })
			if errs[i] != nil && stuck != nil && stuck(errs[i]) {
				inARow++
			} else {
				inARow = 0
			}
		}
		return errs
	}
}
