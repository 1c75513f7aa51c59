package groupcommit

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestConcurrentItemsShareFlushesAndEachGetsItsResult(t *testing.T) {
	var (
		mu      sync.Mutex
		flushed []int
		sizes   []int
	)
	release := make(chan struct{})
	b := New(Config{MaxBatch: 50}, func(items []int) []error {
		<-release // hold the first flush so that the others gather
		mu.Lock()
		defer mu.Unlock()
		flushed = append(flushed, items...)
		sizes = append(sizes, len(items))
		errs := make([]error, len(items))
		for i, it := range items {
			if it%7 == 0 {
				errs[i] = errors.New("seven")
			}
		}
		return errs
	})
	defer b.Close()

	const n = 200
	var wg sync.WaitGroup
	results := make([]error, n)
	for i := range n {
		wg.Go(func() { results[i] = b.Do(context.Background(), i) })
	}
	// Let every caller queue up, then let the flushes run.
	deadline := time.Now().Add(5 * time.Second)
	for len(b.in) < n-1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()

	slices.Sort(flushed)
	if len(flushed) != n || flushed[0] != 0 || flushed[n-1] != n-1 {
		t.Fatalf("flushed %d items (want each of %d once): %v", len(flushed), n, flushed)
	}
	for i, err := range results {
		if (i%7 == 0) != (err != nil) {
			t.Errorf("item %d: error %v", i, err)
		}
	}
	if len(sizes) >= n/2 {
		t.Errorf("%d flushes for %d concurrent items: not grouped (%v)", len(sizes), n, sizes)
	}
	for _, s := range sizes {
		if s > 50 {
			t.Errorf("a flush of %d items, above MaxBatch 50", s)
		}
	}
}

func TestLoneItemIsFlushedAtOnce(t *testing.T) {
	var (
		mu      sync.Mutex
		flushes [][]string
	)
	b := New(Config{}, func(items []string) []error {
		mu.Lock()
		defer mu.Unlock()
		flushes = append(flushes, slices.Clone(items))
		return nil
	})
	defer b.Close()
	var want [][]string
	for _, item := range []string{"a", "b", "c"} {
		if err := b.Do(context.Background(), item); err != nil {
			t.Fatal(err)
		}
		// Do returned: its item was flushed, alone, without waiting for
		// company.
		want = append(want, []string{item})
		mu.Lock()
		got := slices.Clone(flushes)
		mu.Unlock()
		if !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("after Do(%q): flushes %v, want %v", item, got, want)
		}
	}
}

// With Spacing, an item after a quiet spell, a full batch and what is
// left at Close are flushed at once; the hour-long spacing would make
// any wait for it hang the test.
func TestSpacingWaitsOnlyForAPartialBatchUnderLoad(t *testing.T) {
	flushes := make(chan []int, 10)
	b := New(Config{MaxBatch: 3, Spacing: time.Hour}, func(items []int) []error {
		flushes <- slices.Clone(items)
		return nil
	})
	if err := b.Do(t.Context(), 1); err != nil { // the first: no flush before it
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 3 { // a full batch: flushed without waiting
		wg.Go(func() {
			if err := b.Do(t.Context(), 10+i); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	done := make(chan error, 1)
	go func() { done <- b.Do(context.Background(), 20) }() // a partial batch: waits
	select {
	case items := <-flushes:
		if !slices.Equal(items, []int{1}) {
			t.Errorf("first flush %v, want [1]", items)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the first item was not flushed")
	}
	items := <-flushes
	slices.Sort(items)
	if !slices.Equal(items, []int{10, 11, 12}) {
		t.Errorf("second flush %v, want the full batch [10 11 12]", items)
	}
	select {
	case items := <-flushes:
		t.Fatalf("a partial batch %v was flushed within the spacing", items)
	case <-time.After(100 * time.Millisecond):
	}
	b.Close() // flushes item 20 without waiting for the spacing
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if items := <-flushes; !slices.Equal(items, []int{20}) {
		t.Errorf("flush at Close %v, want [20]", items)
	}
}

// With Returning, a spaced flush starts as soon as as many items wait as
// the previous flush carried, not at the end of the hour-long spacing;
// fewer wait for the spacing.
func TestReturningFlushesOnceThePreviousFlushsCountWaits(t *testing.T) {
	flushes := make(chan []int, 10)
	release := make(chan struct{})
	var calls atomic.Int32
	b := New(Config{Spacing: time.Hour, Returning: true}, func(items []int) []error {
		if calls.Add(1) == 1 {
			<-release // hold the first flush while three items queue
		}
		flushes <- slices.Clone(items)
		return nil
	})
	defer b.Close()
	var wg sync.WaitGroup
	submit := func(items ...int) {
		for _, it := range items {
			wg.Go(func() {
				if err := b.Do(context.Background(), it); err != nil {
					t.Error(err)
				}
			})
		}
	}
	next := func() []int {
		t.Helper()
		select {
		case items := <-flushes:
			slices.Sort(items)
			return items
		case <-time.After(10 * time.Second):
			t.Fatal("no flush within 10 s: waiting out the hour-long spacing")
			return nil
		}
	}

	submit(1) // after a quiet spell: flushed at once
	for calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	submit(10, 11, 12)
	for len(b.in) < 3 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	if got := next(); !slices.Equal(got, []int{1}) {
		t.Fatalf("first flush %v, want [1]", got)
	}
	// One item (the first flush's count) waits at once, and the others
	// are taken with it.
	if got := next(); !slices.Equal(got, []int{10, 11, 12}) {
		t.Fatalf("second flush %v, want [10 11 12]", got)
	}
	submit(20, 21)
	select {
	case items := <-flushes:
		t.Fatalf("%v flushed within the spacing, with fewer than the 3 of the previous flush", items)
	case <-time.After(100 * time.Millisecond):
	}
	submit(22)
	if got := next(); !slices.Equal(got, []int{20, 21, 22}) {
		t.Fatalf("third flush %v, want [20 21 22]", got)
	}
	wg.Wait()
}

func TestCloseFlushesWhatWasSubmittedAndRefusesMore(t *testing.T) {
	var (
		mu      sync.Mutex
		flushed []int
	)
	started := make(chan struct{})
	release := make(chan struct{})
	b := New(Config{}, func(items []int) []error {
		mu.Lock()
		flushed = append(flushed, items...)
		first := len(flushed) == 1
		mu.Unlock()
		if first {
			close(started)
			<-release
		}
		return nil
	})
	var wg sync.WaitGroup
	results := make([]error, 11)
	wg.Go(func() { results[0] = b.Do(context.Background(), 1) })
	<-started
	for i := range 10 {
		wg.Go(func() { results[1+i] = b.Do(context.Background(), 2) })
	}
	// The first flush holds the only committer: the ten wait in the queue.
	deadline := time.Now().Add(10 * time.Second)
	for len(b.in) < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("%d items queued after 10 s, want 10", len(b.in))
		}
		time.Sleep(time.Millisecond)
	}
	// Close while the first flush still runs: it must wait for it, then
	// flush the queued items.
	closed := make(chan struct{})
	go func() { b.Close(); close(closed) }()
	deadline = time.Now().Add(10 * time.Second)
	for {
		b.mu.RLock()
		shutting := b.shutting
		b.mu.RUnlock()
		if shutting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Close did not start shutting down in 10 s")
		}
		time.Sleep(time.Millisecond)
	}
	if err := b.Do(context.Background(), 3); !errors.Is(err, ErrClosed) {
		t.Errorf("Do during Close: %v, want ErrClosed", err)
	}
	close(release)
	<-closed
	wg.Wait()
	for i, err := range results {
		if err != nil {
			t.Errorf("Do of item %d, submitted before Close: %v, want nil (flushed)", i, err)
		}
	}
	mu.Lock()
	got := slices.Clone(flushed)
	mu.Unlock()
	want := []int{1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2}
	if !slices.Equal(got, want) {
		t.Errorf("flushed %v, want %v (the first item, then the ten queued before Close, not the one after)", got, want)
	}
	if err := b.Do(context.Background(), 3); !errors.Is(err, ErrClosed) {
		t.Errorf("Do after Close: %v, want ErrClosed", err)
	}
}

func TestDoReturnsWhenItsContextEnds(t *testing.T) {
	release := make(chan struct{})
	b := New(Config{}, func(items []int) []error { <-release; return nil })
	defer b.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := b.Do(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Do: %v, want the context's error", err)
	}
}

func TestAllOrEachIsolatesTheFailingItem(t *testing.T) {
	bad := errors.New("bad item")
	var allCalls, eachCalls int
	flush := AllOrEach(
		func(items []int) error {
			allCalls++
			if slices.Contains(items, 3) {
				return bad
			}
			return nil
		},
		func(item int) error {
			eachCalls++
			if item == 3 {
				return bad
			}
			return nil
		})

	if errs := flush([]int{1, 2}); errs != nil {
		t.Errorf("a good batch: %v", errs)
	}
	errs := flush([]int{1, 3, 5})
	if want := []error{nil, bad, nil}; !slices.Equal(errs, want) {
		t.Errorf("a batch with a bad item: %v, want %v", errs, want)
	}
	if errs := flush([]int{3}); len(errs) != 1 || errs[0] != bad {
		t.Errorf("a lone bad item: %v", errs)
	}
	if allCalls != 3 || eachCalls != 3 {
		t.Errorf("all called %d times (want 3), each %d times (want 3: only after a failed batch of several)", allCalls, eachCalls)
	}
}

// A batch error that shared claims for the whole batch (the database
// gone) is every item's, with no commits one by one; another still gets
// them.
func TestAllOrEachUnlessSharesTheBatchesError(t *testing.T) {
	down, bad := errors.New("database down"), errors.New("bad item")
	var eachCalls int
	flush := AllOrEachUnless(
		func(items []int) error {
			if slices.Contains(items, 0) {
				return down
			}
			return bad
		},
		func(item int) error { eachCalls++; return nil },
		func(err error) bool { return err == down }, nil)
	if errs := flush([]int{0, 1, 2}); !slices.Equal(errs, []error{down, down, down}) || eachCalls != 0 {
		t.Errorf("the shared error: %v after %d commits one by one, want it for each item and none", errs, eachCalls)
	}
	if errs := flush([]int{1, 2}); !slices.Equal(errs, []error{nil, nil}) || eachCalls != 2 {
		t.Errorf("another error: %v after %d commits one by one, want both committed alone", errs, eachCalls)
	}
}

func TestAPanickingFlushFailsItsItemsAndTheBatcherGoesOn(t *testing.T) {
	b := New(Config{}, func(items []int) []error {
		if items[0] == 1 {
			panic("boom")
		}
		return nil
	})
	defer b.Close()
	if err := b.Do(context.Background(), 1); err == nil || !strings.Contains(err.Error(), "panic: boom") {
		t.Errorf("the panicking flush: %v, want an error saying it panicked", err)
	}
	if err := b.Do(context.Background(), 2); err != nil {
		t.Errorf("the next flush: %v, want the committer still running", err)
	}
	// AllOrEach isolates the item that panics, as it does one that fails.
	flush := AllOrEach(
		func(items []int) error {
			if slices.Contains(items, 3) {
				panic("three")
			}
			return nil
		},
		func(item int) error {
			if item == 3 {
				panic("three")
			}
			return nil
		})
	errs := flush([]int{1, 3, 5})
	if errs == nil || errs[0] != nil || errs[1] == nil || errs[2] != nil {
		t.Errorf("a batch where one item panics: %v, want only the second to fail", errs)
	}
}

// A flush that returns fewer results than items (a bug of the flush) fails
// each of them, instead of panicking in the committer, where nothing
// recovers it.
func TestAFlushWithTooFewResultsFailsItsItems(t *testing.T) {
	b := New(Config{}, func(items []int) []error {
		if items[0] == 1 {
			return []error{}
		}
		return nil
	})
	defer b.Close()
	if err := b.Do(context.Background(), 1); err == nil || !strings.Contains(err.Error(), "0 results for 1 items") {
		t.Errorf("the short flush: %v, want an error saying it returned too few results", err)
	}
	if err := b.Do(context.Background(), 2); err != nil {
		t.Errorf("the next flush: %v, want the committer still running", err)
	}
}

// Two items in a row failing alone with a stuck error (a commit past its
// bound, the database answering pings) fail the items left with it: each
// waited out its own bound, one after another, for up to a batch's size
// times the bound. One slow item alone still fails alone.
func TestTwoStuckItemsInARowFailTheRest(t *testing.T) {
	slow, bad := errors.New("slow"), errors.New("bad item")
	var tried []int
	flush := func(slowItems ...int) Flush[int] {
		tried = nil
		return AllOrEachUnless(
			func(items []int) error { return slow },
			func(item int) error {
				tried = append(tried, item)
				if slices.Contains(slowItems, item) {
					return slow
				}
				if item == 9 {
					return bad
				}
				return nil
			},
			nil, func(err error) bool { return err == slow })
	}
	if errs := flush(1, 2, 3, 4, 5)([]int{1, 2, 3, 4, 5}); !slices.Equal(errs, []error{slow, slow, slow, slow, slow}) || !slices.Equal(tried, []int{1, 2}) {
		t.Errorf("every item slow: %v after trying %v, want every item failed after trying two", errs, tried)
	}
	if errs := flush(2)([]int{1, 2, 3, 9}); !slices.Equal(errs, []error{nil, slow, nil, bad}) || len(tried) != 4 {
		t.Errorf("one slow item: %v after trying %v, want it alone failed slow", errs, tried)
	}
	if errs := flush(1, 3)([]int{1, 2, 3, 4}); !slices.Equal(errs, []error{slow, nil, slow, nil}) || len(tried) != 4 {
		t.Errorf("slow items apart: %v after trying %v, want each tried", errs, tried)
	}
}
