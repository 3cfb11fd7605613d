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
