package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/clock"
	"github.com/mqttdiag/mqttdiag/sink"
	"github.com/mqttdiag/mqttdiag/tailer"
)

// instantClock is a fake clock that a goroutine moves to the next
// pending wake-up as soon as there is one: backoffs and batch waits pass
// at once, without sleeping, in tests that do not look at time.
func instantClock(t *testing.T) *clock.Fake {
	f := clock.NewFake(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if f.BlockUntil(1, 10*time.Millisecond) {
				if d, ok := f.NextIn(); ok {
					f.Advance(d)
				}
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return f
}

// gate is a Notifier that blocks in Notify until released, and reports
// each call.
type gate struct {
	mu      sync.Mutex
	open    chan struct{}
	entered chan int // number of diagnoses of each call, as it starts
	got     []*sink.Diagnosis
}

func newGate() *gate { return &gate{open: make(chan struct{}), entered: make(chan int, 1000)} }

func (g *gate) Notify(ctx context.Context, ds []*sink.Diagnosis) (bool, error) {
	g.entered <- len(ds)
	select {
	case <-g.open:
	case <-ctx.Done():
		return true, ctx.Err()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.got = append(g.got, ds...)
	return false, nil
}

func (g *gate) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.got)
}

// counter is a Notifier that counts diagnoses and signals each one.
type counter struct {
	mu  sync.Mutex
	ids map[string]int
	ch  chan *sink.Diagnosis
}

func newCounter() *counter {
	return &counter{ids: map[string]int{}, ch: make(chan *sink.Diagnosis, 100000)}
}

func (c *counter) Notify(_ context.Context, ds []*sink.Diagnosis) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range ds {
		c.ids[d.ID]++
		c.ch <- d
	}
	return false, nil
}

func takeoverLine(i int, client string) tailer.Line {
	return tailer.Line{Source: "m.log", Stream: "s", Offset: int64(i) * 100, Number: int64(i + 1),
		Text: fmt.Sprintf("1795320306: Client %s already connected, closing old connection.", client)}
}

func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// A slow sink does not hold up the others until its queue is full; then
// the pipeline blocks, which blocks the producer; nothing is dropped, and
// a batch is acknowledged only once both sinks accepted its diagnosis.
func TestSlowSinkBackpressure(t *testing.T) {
	const queue = 4
	slow, fast := newGate(), newCounter()
	p := New(pack(t), []sink.Notifier{slow, fast}, Queue(queue))
	in := make(chan tailer.Batch) // unbuffered: a send completes only when Run takes the batch
	acked := make(chan int, 100)
	ran := make(chan error, 1)
	go func() { ran <- p.Run(context.Background(), in) }()

	const total = 20
	send := func(i int, timeout time.Duration) bool {
		select {
		case in <- tailer.Batch{Lines: []tailer.Line{takeoverLine(i, fmt.Sprintf("c%d", i))}, Done: func() { acked <- i }}:
			return true
		case <-time.After(timeout):
			return false
		}
	}
	if !send(0, 10*time.Second) {
		t.Fatal("Run did not take the first batch")
	}
	// The slow sink is stuck in its first call with what it had queued.
	inCall := waitFor(t, slow.entered, "the slow sink's first call")
	// It holds that, its queue fills, and the pipeline holds one more
	// while it waits for room: that many batches go through at once.
	room := inCall + queue + 1
	for i := 1; i < room; i++ {
		if !send(i, 10*time.Second) {
			t.Fatalf("producer blocked at batch %d, before the slow sink's queue (%d) was full", i, queue)
		}
	}
	// Then the producer blocks (a short wait: this can only pass falsely,
	// never fail falsely).
	if send(room, 300*time.Millisecond) {
		t.Fatalf("producer sent batch %d while the slow sink's queue was full: no backpressure", room)
	}
	// The fast sink got every batch but the one the pipeline holds.
	for range room - 1 {
		waitFor(t, fast.ch, "the fast sink")
	}
	select {
	case i := <-acked:
		t.Fatalf("batch %d acknowledged while the slow sink has not accepted it", i)
	default:
	}
	close(slow.open)
	for i := room; i < total; i++ {
		if !send(i, 10*time.Second) {
			t.Fatalf("producer still blocked after the slow sink recovered, at batch %d", i)
		}
	}
	close(in)
	if err := waitFor(t, ran, "Run"); err != nil {
		t.Fatal(err)
	}
	if len(acked) != total || slow.count() != total || len(fast.ids) != total {
		t.Errorf("acked %d, slow got %d, fast got %d, want %d each", len(acked), slow.count(), len(fast.ids), total)
	}
}

// Batches complete out of order: one without diagnoses at once, one
// whose diagnosis is stuck in a sink only when the sink accepts it.
func TestDoneOutOfOrder(t *testing.T) {
	slow := newGate()
	p := New(pack(t), []sink.Notifier{slow})
	in := make(chan tailer.Batch, 2)
	acked := make(chan int, 2)
	in <- tailer.Batch{Lines: []tailer.Line{takeoverLine(0, "a")}, Done: func() { acked <- 1 }}
	in <- tailer.Batch{Lines: []tailer.Line{{Text: "1795320306: Client b disconnected."}}, Done: func() { acked <- 2 }}
	close(in)
	ran := make(chan error, 1)
	go func() { ran <- p.Run(context.Background(), in) }()
	if got := waitFor(t, acked, "the batch without diagnoses"); got != 2 {
		t.Fatalf("first acknowledged batch %d, want 2", got)
	}
	close(slow.open)
	if got := waitFor(t, acked, "the delivered batch"); got != 1 {
		t.Fatalf("got %d", got)
	}
	if err := waitFor(t, ran, "Run"); err != nil {
		t.Fatal(err)
	}
}

// retryAfter fails with a Retry-After once.
type retryAfter struct {
	calls int
	after time.Duration
}

func (r *retryAfter) Notify(context.Context, []*sink.Diagnosis) (bool, error) {
	r.calls++
	if r.calls == 1 {
		return true, &sink.RetryAfterError{Err: errors.New("429 Too Many Requests"), After: r.after}
	}
	return false, nil
}

// The retry loop waits as long as the receiver's Retry-After says, not
// its own (much shorter) backoff.
func TestRetryHonoursRetryAfter(t *testing.T) {
	fc := clock.NewFake(time.Unix(0, 0))
	ra := &retryAfter{after: 7 * time.Second}
	p := New(pack(t), []sink.Notifier{ra}, Clock(fc))
	ran := make(chan error, 1)
	go func() {
		ran <- p.Run(context.Background(), feed(takeoverLine(0, "a")))
	}()
	if !fc.BlockUntil(1, 10*time.Second) {
		t.Fatal("no retry scheduled")
	}
	if d, _ := fc.NextIn(); d != 7*time.Second {
		t.Errorf("retry in %v, want the 7s the receiver asked for", d)
	}
	fc.Advance(7 * time.Second)
	if err := waitFor(t, ran, "Run"); err != nil {
		t.Fatal(err)
	}
	if ra.calls != 2 {
		t.Errorf("calls = %d", ra.calls)
	}
}

// Backoff grows exponentially with jitter, within the policy's bounds.
func TestRetryBackoffGrows(t *testing.T) {
	fc := clock.NewFake(time.Unix(0, 0))
	rec := &recorder{fail: 6, retry: true}
	pol := RetryPolicy{Min: time.Second, Max: 8 * time.Second, MaxRetryAfter: time.Minute}
	p := New(pack(t), []sink.Notifier{rec}, Clock(fc), Retry(pol))
	ran := make(chan error, 1)
	go func() { ran <- p.Run(context.Background(), feed(takeoverLine(0, "a"))) }()
	base := time.Second
	for i := range 6 {
		if !fc.BlockUntil(1, 10*time.Second) {
			t.Fatalf("retry %d not scheduled", i)
		}
		d, _ := fc.NextIn()
		if d < base/2 || d >= base*3/2 {
			t.Errorf("retry %d in %v, want within [%v, %v)", i, d, base/2, base*3/2)
		}
		fc.Advance(d)
		base = min(2*base, pol.Max)
	}
	if err := waitFor(t, ran, "Run"); err != nil {
		t.Fatal(err)
	}
}

// alwaysDown fails every call, recoverably.
type alwaysDown struct{}

func (alwaysDown) Notify(ctx context.Context, _ []*sink.Diagnosis) (bool, error) {
	return true, errors.New("connection refused")
}

// After the stop signal, delivery goes on for the shutdown timeout, then
// gives up without acknowledging: the lines are read again at restart.
func TestShutdownTimeoutAbandonsUnacknowledged(t *testing.T) {
	fc := clock.NewFake(time.Unix(0, 0))
	p := New(pack(t), []sink.Notifier{alwaysDown{}}, Clock(fc), ShutdownTimeout(10*time.Second),
		Retry(RetryPolicy{Min: time.Hour, Max: time.Hour}))
	ctx, stop := context.WithCancel(context.Background())
	in := make(chan tailer.Batch, 1)
	acked := false
	in <- tailer.Batch{Lines: []tailer.Line{takeoverLine(0, "a")}, Done: func() { acked = true }}
	close(in)
	ran := make(chan error, 1)
	go func() { ran <- p.Run(ctx, in) }()
	if !fc.BlockUntil(1, 10*time.Second) { // the retry wait
		t.Fatal("no retry scheduled")
	}
	stop()                                 // SIGTERM
	if !fc.BlockUntil(2, 10*time.Second) { // and the shutdown timer
		t.Fatal("no shutdown timer")
	}
	fc.Advance(10 * time.Second)
	var ab *AbandonedError
	if err := waitFor(t, ran, "Run"); !errors.As(err, &ab) || ab.Diagnoses != 1 || len(ab.Sinks) != 1 ||
		ab.Sinks[0].Pending != 1 || ab.Sinks[0].LastError != "connection refused" {
		t.Errorf("Run after the shutdown timeout: %v, want 1 diagnosis abandoned at 1 sink, with its last error", err)
	}
	if acked {
		t.Error("undelivered batch acknowledged")
	}
}

// A scan's input ends without a signal: delivery to a sink that keeps
// failing is bounded by the shutdown timeout from then on, and Run says
// what it abandoned.
func TestShutdownTimeoutRunsFromTheEndOfInput(t *testing.T) {
	fc := clock.NewFake(time.Unix(0, 0))
	p := New(pack(t), nil, Alerting(alwaysDown{}), AlertBatch(1, 0), Clock(fc), ShutdownTimeout(10*time.Second),
		Retry(RetryPolicy{Min: time.Hour, Max: time.Hour}))
	in := make(chan tailer.Batch, 1)
	in <- tailer.Batch{Lines: []tailer.Line{takeoverLine(0, "a")}}
	close(in)
	ran := make(chan error, 1)
	go func() { ran <- p.Run(context.Background(), in) }()
	// The retry wait and the shutdown timer.
	if !fc.BlockUntil(2, 10*time.Second) {
		t.Fatal("no shutdown timer once the input ended")
	}
	fc.Advance(10 * time.Second)
	var ab *AbandonedError
	if err := waitFor(t, ran, "Run"); !errors.As(err, &ab) || ab.Diagnoses != 1 {
		t.Errorf("Run: %v, want 1 diagnosis abandoned", err)
	}
}

// Without any sink a batch with diagnoses completes at once.
func TestNoSinkAcknowledgesAtOnce(t *testing.T) {
	p := New(pack(t), nil)
	in := make(chan tailer.Batch, 1)
	acked := make(chan struct{})
	in <- tailer.Batch{Lines: []tailer.Line{takeoverLine(0, "a")}, Done: func() { close(acked) }}
	close(in)
	if err := p.Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	select {
	case <-acked:
	default:
		t.Error("batch not acknowledged")
	}
	if p.Stats().Diagnoses != 1 {
		t.Errorf("%d diagnoses, want 1", p.Stats().Diagnoses)
	}
}
