package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/mqttdiag/mqttdiag/internal/clock"
	"github.com/mqttdiag/mqttdiag/signatures"
	"github.com/mqttdiag/mqttdiag/sink"
)

// tally counts the acceptances still owed for something, and runs then
// once when the last one comes in. A batch owes one per diagnosis per
// route; a notification fanned out to several sinks owes one per sink.
type tally struct {
	n    atomic.Int64
	then func()
}

func newTally(n int64, then func()) *tally {
	t := &tally{then: then}
	t.n.Store(n)
	return t
}

func (t *tally) add(n int64) { t.n.Add(n) }

func (t *tally) release() {
	if t.n.Add(-1) == 0 && t.then != nil {
		t.then()
	}
}

// item is one diagnosis on its way along one route, with the tally its
// acceptance releases.
type item struct {
	d    *sink.Diagnosis
	sig  *signatures.Signature // nil for unknown-line diagnoses
	pack *Pack                 // that matched it (storm control's policies follow it)
	ack  *tally
}

// SinkStats counts what one sink's lane did, for a metrics layer to read.
type SinkStats struct {
	Name string
	// Sent is diagnoses the sink accepted; Poisoned is diagnoses it
	// refused for good (a 4xx other than 429), counted as accepted so
	// that they cannot stall delivery forever.
	Sent, Poisoned int64
	// Failed counts failed attempts; Retried the attempts repeated after
	// a recoverable failure.
	Failed, Retried int64
	// Refreshes counts re-sends of what is still current (Alertmanager's
	// active alerts; a turn with nothing active sends nothing and is not
	// counted), RefreshFailures those that failed. A failed re-send sets
	// FailingSince as a failed delivery does; a successful one clears it.
	Refreshes, RefreshFailures int64
	// QueueDepth is how many diagnoses wait in the lane's queue, of
	// QueueCap.
	QueueDepth, QueueCap int
	// FailingSince is when the sink's current run of failed attempts
	// began; zero while its last attempt succeeded.
	FailingSince time.Time
	// Usage is the state the sink keeps per label set against its bound,
	// for a sink.Bounded (Alertmanager); zero for the others.
	Usage sink.Usage
}

// laneCounters are a lane's SinkStats, updated while it runs.
type laneCounters struct {
	queued, sent, poisoned, failed, retried, refreshes, refreshFailures atomic.Int64
	failingSince                                                        atomic.Int64 // Unix ns; 0 when healthy
	lastErr                                                             atomic.Pointer[string]
}

// RetryPolicy is the shared retry loop's backoff: the first wait is
// about Min, each next one doubles up to Max, and every wait is drawn
// from [w/2, 3w/2) so that sinks failing together do not retry in step.
// A Retry-After from the receiver is honoured up to MaxRetryAfter.
type RetryPolicy struct {
	Min, Max      time.Duration
	MaxRetryAfter time.Duration
}

// DefaultRetry returns the retry policy used unless Retry sets another.
func DefaultRetry() RetryPolicy {
	return RetryPolicy{Min: 100 * time.Millisecond, Max: 30 * time.Second, MaxRetryAfter: 10 * time.Minute}
}

// lane is one sink with its own bounded queue, drained by its own
// goroutine: a slow sink fills its own queue before it holds anyone up.
type lane struct {
	name      string
	n         sink.Notifier
	q         chan item
	batchMax  int
	batchWait time.Duration
	retry     RetryPolicy
	clock     clock.Clock
	log       zerolog.Logger
	c         laneCounters
}

func newLane(n sink.Notifier, queue, batchMax int, batchWait time.Duration, o *options) *lane {
	return &lane{
		name: sinkName(n), n: n, q: make(chan item, queue),
		batchMax: max(1, batchMax), batchWait: batchWait,
		retry: o.retry, clock: o.clock, log: o.log,
	}
}

// sinkName names a sink in logs and stats: its String (which must not
// reveal secrets), else its type.
func sinkName(n sink.Notifier) string {
	if s, ok := n.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", n)
}

func (l *lane) stats() SinkStats {
	return SinkStats{
		Name: l.name, Sent: l.c.sent.Load(), Poisoned: l.c.poisoned.Load(),
		Failed: l.c.failed.Load(), Retried: l.c.retried.Load(),
		Refreshes: l.c.refreshes.Load(), RefreshFailures: l.c.refreshFailures.Load(),
		QueueDepth: len(l.q), QueueCap: cap(l.q),
		FailingSince: unixNano(l.c.failingSince.Load()),
		Usage:        usage(l.n),
	}
}

// put queues an item for the lane; it blocks while the queue is full.
func (l *lane) put(ctx context.Context, it item) error {
	if err := put(ctx, l.q, it); err != nil {
		return err
	}
	l.c.queued.Add(1)
	return nil
}

// pending is how many diagnoses were queued for the lane and neither
// accepted nor refused for good: in its queue, or in the batch it is
// trying to deliver.
func (l *lane) pending() int64 {
	return l.c.queued.Load() - l.c.sent.Load() - l.c.poisoned.Load()
}

func usage(n sink.Notifier) sink.Usage {
	if b, ok := n.(sink.Bounded); ok {
		return b.Usage()
	}
	return sink.Usage{}
}

func unixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// run delivers the queue in batches until it is closed and drained, or
// ctx ends (the shutdown deadline): what is left then stays unaccepted,
// so its lines are not acknowledged and are read again after a restart.
func (l *lane) run(ctx context.Context) {
	var refresh <-chan time.Time
	r, refresher := l.n.(sink.Refresher)
	if refresher && r.RefreshInterval() > 0 {
		refresh = l.clock.After(r.RefreshInterval())
	}
	batch := make([]item, 0, l.batchMax)
	ds := make([]*sink.Diagnosis, 0, l.batchMax)
	for {
		select {
		case it, ok := <-l.q:
			if !ok {
				return
			}
			batch = append(batch[:0], it)
			batch, ok = l.fill(ctx, batch)
			ds = ds[:0]
			for _, it := range batch {
				ds = append(ds, it.d)
			}
			if l.deliver(ctx, ds) != nil {
				return
			}
			for i := range batch {
				batch[i].ack.release()
				batch[i] = item{}
			}
			if !ok {
				return
			}
		case <-refresh:
			n, err := r.Refresh(ctx)
			if n > 0 {
				l.c.refreshes.Add(1)
			}
			if err != nil {
				// A receiver that cannot take re-sends is failing as much as
				// one that cannot take deliveries: it shows in the failing
				// time and readiness, not only in a counter.
				l.c.refreshFailures.Add(1)
				l.c.failingSince.CompareAndSwap(0, l.clock.Now().UnixNano())
				l.log.Warn().Err(err).Str("sink", l.name).Msg("re-sending active alerts failed; trying again at the next interval")
			} else if n > 0 {
				l.c.failingSince.Store(0)
			}
			refresh = l.clock.After(r.RefreshInterval())
		case <-ctx.Done():
			return
		}
	}
}

// fill adds queued items to batch up to batchMax, waiting up to
// batchWait for more. ok is false when the queue was closed.
func (l *lane) fill(ctx context.Context, batch []item) ([]item, bool) {
	var deadline <-chan time.Time
	if l.batchWait > 0 && len(batch) < l.batchMax {
		deadline = l.clock.After(l.batchWait)
	}
	for len(batch) < l.batchMax {
		if deadline == nil {
			select {
			case it, ok := <-l.q:
				if !ok {
					return batch, false
				}
				batch = append(batch, it)
				continue
			default:
				return batch, true
			}
		}
		select {
		case it, ok := <-l.q:
			if !ok {
				return batch, false
			}
			batch = append(batch, it)
		case <-deadline:
			return batch, true
		case <-ctx.Done():
			return batch, true
		}
	}
	return batch, true
}

// deliver is the one retry loop every sink shares: it repeats a
// recoverable failure with exponential backoff and jitter, waiting at
// least as long as a Retry-After the sink reports, until the sink
// accepts or ctx ends. A failure the sink calls unrecoverable (a request
// the receiver will always refuse) is logged loudly, counted, and treated
// as accepted: retrying cannot help, and holding it would stall every
// later diagnosis behind it (see README, "Delivery guarantees").
func (l *lane) deliver(ctx context.Context, ds []*sink.Diagnosis) error {
	backoff := l.retry.Min
	for attempt := 1; ; attempt++ {
		retry, err := l.n.Notify(ctx, ds)
		if err == nil {
			l.c.sent.Add(int64(len(ds)))
			l.c.failingSince.Store(0)
			if attempt > 1 {
				l.log.Info().Str("sink", l.name).Int("attempts", attempt).Int("diagnoses", len(ds)).Msg("delivered after retrying")
			}
			return nil
		}
		l.c.failed.Add(1)
		l.c.failingSince.CompareAndSwap(0, l.clock.Now().UnixNano())
		msg := err.Error()
		l.c.lastErr.Store(&msg)
		if !retry {
			l.c.poisoned.Add(int64(len(ds)))
			ids := make([]string, 0, min(len(ds), 5))
			for _, d := range ds[:min(len(ds), 5)] {
				ids = append(ids, d.ID)
			}
			l.log.Error().Err(err).Str("sink", l.name).Int("diagnoses", len(ds)).Strs("first_ids", ids).
				Msg("sink refused diagnoses for good; dropping them from this sink (counted as poisoned): fix the receiver or its configuration")
			return nil
		}
		if ctx.Err() != nil {
			return errors.Join(err, ctx.Err())
		}
		wait := backoff/2 + rand.N(backoff)
		var ra *sink.RetryAfterError
		if errors.As(err, &ra) && ra.After > wait {
			wait = min(ra.After, l.retry.MaxRetryAfter)
		}
		l.log.Warn().Err(err).Str("sink", l.name).Int("attempt", attempt).Stringer("retry_in", wait.Round(time.Millisecond)).Msg("delivery failed; retrying")
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-l.clock.After(wait):
		}
		l.c.retried.Add(1)
		backoff = min(2*backoff, l.retry.Max)
	}
}
