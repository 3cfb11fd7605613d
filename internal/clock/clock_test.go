package clock

import (
	"testing"
	"time"
)

func TestFakeFiresWhenDue(t *testing.T) {
	start := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	f := NewFake(start)
	a := f.After(time.Minute)
	b := f.After(2 * time.Minute)
	if d, ok := f.NextIn(); !ok || d != time.Minute {
		t.Fatalf("NextIn = %v %v", d, ok)
	}
	f.Advance(59 * time.Second)
	select {
	case <-a:
		t.Fatal("fired early")
	default:
	}
	f.Advance(time.Second)
	if got := <-a; !got.Equal(start.Add(time.Minute)) {
		t.Errorf("fired with %v", got)
	}
	if f.Waiters() != 1 {
		t.Errorf("waiters = %d, want 1", f.Waiters())
	}
	f.Advance(time.Hour)
	<-b
	select {
	case <-f.After(0):
	default:
		t.Error("After(0) did not fire at once")
	}
}

func TestFakeBlockUntil(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	go func() { <-f.After(time.Second) }()
	if !f.BlockUntil(1, 10*time.Second) {
		t.Fatal("waiter never registered")
	}
	f.Advance(time.Second)
	if f.BlockUntil(1, time.Millisecond) {
		t.Error("a fired waiter still counts")
	}
}

// AwaitAfter counts only timers asked for since the last Advance, and
// only of the duration asked: a loop's next round, not its last one.
func TestFakeAwaitAfterAndTick(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	rounds := make(chan int)
	go func() {
		for i := 1; ; i++ {
			<-f.After(time.Second)
			rounds <- i
		}
	}()
	if !f.AwaitAfter(time.Second, 10*time.Second) {
		t.Fatal("the loop never waited")
	}
	if f.AwaitAfter(time.Minute, time.Millisecond) {
		t.Error("a one-second timer counted as a one-minute one")
	}
	f.Advance(time.Second)
	if f.AwaitAfter(time.Second, time.Millisecond) {
		t.Error("the fired timer still counts before the loop asked again")
	}
	if got := <-rounds; got != 1 {
		t.Fatalf("round %d", got)
	}
	done := make(chan bool)
	go func() { done <- f.Tick(time.Second, 10*time.Second) }()
	if got := <-rounds; got != 2 {
		t.Fatalf("round %d", got)
	}
	if !<-done {
		t.Error("Tick timed out")
	}
}
