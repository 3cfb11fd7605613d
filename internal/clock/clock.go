// Package clock owns time for the parts of mqttdiag that wait: delivery
// backoffs, storm-control windows and Alertmanager re-sends. Production
// code uses Real; tests use Fake and move time forward themselves, so that
// a one-minute window passes in microseconds and no test sleeps.
//
// It follows the idea of mtail's waker: whoever waits asks the clock for a
// channel, and a test can wait until the code under test is waiting
// (BlockUntil) before advancing time, instead of guessing with a sleep.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time and delivers it after a while.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives the time once d has passed.
	After(d time.Duration) <-chan time.Time
}

// Real is the system clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// After is time.After. Since Go 1.23 an unstopped timer is collected once
// unreferenced, so a select loop may call it on every turn.
func (Real) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Fake is a clock that moves only when Advance is called.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	gen     int // Advance calls so far
	waiters []waiter
	changed chan struct{} // closed and replaced when waiters are added
}

type waiter struct {
	at  time.Time
	d   time.Duration
	gen int // Advance calls before it was asked for
	ch  chan time.Time
}

// NewFake returns a Fake clock showing now.
func NewFake(now time.Time) *Fake { return &Fake{now: now, changed: make(chan struct{})} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// After returns a channel that receives the fake time once Advance has
// moved it d or more past now. d <= 0 fires at once.
func (f *Fake) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- f.now
		return ch
	}
	f.waiters = append(f.waiters, waiter{at: f.now.Add(d), d: d, gen: f.gen, ch: ch})
	close(f.changed)
	f.changed = make(chan struct{})
	return ch
}

// Advance moves the time forward by d and fires every waiter that is due.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	f.gen++
	kept := f.waiters[:0]
	for _, w := range f.waiters {
		if !w.at.After(f.now) {
			w.ch <- f.now
			continue
		}
		kept = append(kept, w)
	}
	f.waiters = kept
}

// Waiters is the number of channels from After that have not fired yet.
// Channels abandoned by their receivers still count until they fire.
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

// BlockUntil waits until at least n channels from After are pending, so a
// test can advance time knowing the code under test is waiting on it.
// It returns false when timeout passes first (real time: a test's guard
// against a hang, never part of what is measured).
func (f *Fake) BlockUntil(n int, timeout time.Duration) bool {
	return f.await(timeout, func() bool { return len(f.waiters) >= n })
}

// await waits until ok, called with f.mu held, holds after a change of
// the waiters, or timeout (real time) passes.
func (f *Fake) await(timeout time.Duration, ok func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		done, changed := ok(), f.changed
		f.mu.Unlock()
		if done {
			return true
		}
		select {
		case <-changed:
		case <-deadline.C:
			return false
		}
	}
}

// AwaitAfter waits until a channel from After(d) has been asked for since
// the last Advance: a loop driven by a d timer has done its round of work
// and waits again. A waiter from before the last Advance does not count,
// so a test that advances and then awaits knows the round it started is
// over. It returns false when timeout (real time) passes first.
func (f *Fake) AwaitAfter(d, timeout time.Duration) bool {
	return f.await(timeout, func() bool {
		for _, w := range f.waiters {
			if w.d == d && w.gen == f.gen {
				return true
			}
		}
		return false
	})
}

// Tick runs one round of a loop driven by a d timer: it waits until the
// loop waits (AwaitAfter), moves time on by d, and waits until the loop
// waits again. Advancing while the loop is still busy would fire no timer
// of it. It returns false when either wait takes longer than timeout.
func (f *Fake) Tick(d, timeout time.Duration) bool {
	if !f.AwaitAfter(d, timeout) {
		return false
	}
	f.Advance(d)
	return f.AwaitAfter(d, timeout)
}

// NextIn is how far the earliest pending waiter is from now, and false
// when none is pending.
func (f *Fake) NextIn() (time.Duration, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.waiters) == 0 {
		return 0, false
	}
	next := f.waiters[0].at
	for _, w := range f.waiters[1:] {
		if w.at.Before(next) {
			next = w.at
		}
	}
	return next.Sub(f.now), true
}
