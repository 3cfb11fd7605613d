package tailer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mqttdiag/mqttdiag/internal/clock"
)

// newFakeClock returns a fake clock for a tailer under test: its timers
// fire only when the test moves time on.
func newFakeClock() *clock.Fake {
	return clock.NewFake(time.Date(2026, 11, 22, 4, 0, 0, 0, time.UTC))
}

// awaitIdle waits until the tailer's loop has done its round and waits on
// its d timer again.
func awaitIdle(t *testing.T, c *clock.Fake, d time.Duration) {
	t.Helper()
	if !c.AwaitAfter(d, 10*time.Second) {
		t.Fatalf("the tailer did not wait on a %v timer within 10s", d)
	}
}

// tick runs one round of the tailer's loop on its d timer.
func tick(t *testing.T, c *clock.Fake, d time.Duration) {
	t.Helper()
	if !c.Tick(d, 10*time.Second) {
		t.Fatalf("the tailer did not wait on a %v timer within 10s", d)
	}
}

// collector receives a tailer's batches, acknowledging each (unless
// holding), and lets a test wait for lines.
type collector struct {
	mu      sync.Mutex
	lines   []Line
	held    []Batch // batches not acknowledged yet, when holding
	hold    bool
	changed chan struct{}
	done    chan struct{}
}

func collect(in <-chan Batch) *collector {
	c := &collector{changed: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for b := range in {
			c.mu.Lock()
			c.lines = append(c.lines, b.Lines...)
			b.Release() // copied: the tailer may reuse the slice
			if c.hold {
				c.held = append(c.held, b)
			} else if b.Done != nil {
				b.Done()
			}
			close(c.changed)
			c.changed = make(chan struct{})
			c.mu.Unlock()
		}
	}()
	return c
}

// wait returns the lines once at least n have arrived.
func (c *collector) wait(t *testing.T, n int) []Line {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		c.mu.Lock()
		if len(c.lines) >= n {
			ls := append([]Line(nil), c.lines...)
			c.mu.Unlock()
			return ls
		}
		ch, got := c.changed, len(c.lines)
		c.mu.Unlock()
		select {
		case <-ch:
		case <-c.done:
			c.mu.Lock()
			got = len(c.lines)
			c.mu.Unlock()
			if got < n {
				t.Fatalf("output closed after %d of %d lines", got, n)
			}
		case <-deadline:
			ls := texts(c.snapshot())
			if len(ls) > 20 {
				ls = append(ls[:20], "...")
			}
			t.Fatalf("got %d of %d lines within 20s: %q", got, n, ls)
		}
	}
}

func (c *collector) snapshot() []Line {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Line(nil), c.lines...)
}

// waitText waits for a line with the given text and returns all lines so far.
func (c *collector) waitText(t *testing.T, text string) []Line {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		c.mu.Lock()
		for _, l := range c.lines {
			if l.Text == text {
				ls := append([]Line(nil), c.lines...)
				c.mu.Unlock()
				return ls
			}
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no line %q within 20s; got %v", text, texts(c.snapshot()))
		}
	}
}

// ackHeld acknowledges the held batches in the given order of indexes (all,
// in order, when none are given).
func (c *collector) ackHeld(order ...int) {
	c.mu.Lock()
	held := c.held
	if len(order) == 0 {
		c.held = nil
		for i := range held {
			order = append(order, i)
		}
	}
	c.mu.Unlock()
	for _, i := range order {
		if held[i].Done != nil {
			held[i].Done()
		}
	}
}

// session is a running tailer with a collector, stopped (and closed) when
// stop is called or the test ends.
type session struct {
	tl     *Tailer
	c      *collector
	ev     logEvents
	cancel context.CancelFunc
	errc   chan error
	once   sync.Once
}

func start(t *testing.T, paths []string, opts ...Option) *session {
	t.Helper()
	ev := make(logEvents, 256)
	opts = append([]Option{Follow(true), Logger(zerolog.New(ev).Level(zerolog.DebugLevel))}, opts...)
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan Batch)
	s := &session{tl: New(paths, opts...), ev: ev, cancel: cancel, errc: make(chan error, 1)}
	s.c = collect(out)
	go func() { s.errc <- s.tl.Run(ctx, out) }()
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop cancels the tailer, waits for its output to be consumed and writes
// the final checkpoints, as cmd/mqttdiag does on SIGTERM.
func (s *session) stop(t *testing.T) {
	t.Helper()
	s.once.Do(func() {
		s.cancel()
		select {
		case err := <-s.errc:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return within 10s of cancellation")
		}
		<-s.c.done
		if err := s.tl.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}

func (s *session) waitMsg(t *testing.T, msg string) { t.Helper(); waitMsg(t, s.ev, msg) }

// writeLines appends numbered lines "<prefix> <i>" for i in [from, to).
func writeLines(t *testing.T, path, prefix string, from, to int) {
	t.Helper()
	var b []byte
	for i := from; i < to; i++ {
		b = fmt.Appendf(b, "%s %d\n", prefix, i)
	}
	appendFile(t, path, string(b))
}

func wantTexts(t *testing.T, got []Line, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d lines %q, want %q", len(got), texts(got), want)
	}
	for i := range want {
		if got[i].Text != want[i] {
			t.Fatalf("got %q, want %q", texts(got), want)
		}
	}
}

// checkPositions verifies that every line's offset, end and number point
// at that line in the content.
func checkPositions(t *testing.T, content []byte, ls []Line) {
	t.Helper()
	for _, l := range ls {
		if l.Offset < 0 || l.End > int64(len(content)) || l.Offset >= l.End {
			t.Fatalf("line %q: [%d,%d) outside the %d-byte content", l.Text, l.Offset, l.End, len(content))
		}
		raw := string(content[l.Offset:l.End])
		if raw != l.Text+"\n" {
			t.Fatalf("line %q: content at [%d,%d) is %q", l.Text, l.Offset, l.End, raw)
		}
		if n := int64(countByte(content[:l.Offset], '\n')) + 1; n != l.Number {
			t.Fatalf("line %q: number %d, want %d", l.Text, l.Number, n)
		}
	}
}

func countByte(b []byte, c byte) int {
	n := 0
	for _, x := range b {
		if x == c {
			n++
		}
	}
	return n
}

func tempLog(t *testing.T) (dir, path string) {
	dir = t.TempDir()
	return dir, filepath.Join(dir, "mosquitto.log")
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func filterText(ls []Line, keep func(string) bool) []Line {
	var out []Line
	for _, l := range ls {
		if keep(l.Text) {
			out = append(out, l)
		}
	}
	return out
}

func nopLog() zerolog.Logger { return zerolog.Nop() }
