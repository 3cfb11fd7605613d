package pipeline

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/mqttdiag/mqttdiag/internal/clock"
	"github.com/mqttdiag/mqttdiag/signatures"
	"github.com/mqttdiag/mqttdiag/sink"
)

// delivery is how diagnoses leave the pipeline: which sinks, their
// queues and batches, storm control, retries and the clock they wait on.
type delivery struct {
	clock        clock.Clock
	retry        RetryPolicy
	alerting     []sink.Notifier
	queue        int
	batchMax     int
	batchWait    time.Duration
	dedupWindow  time.Duration
	thresholds   map[string]Threshold
	maxDedupKeys int
	dedupRecords bool
	shutdown     time.Duration
}

func defaultDelivery() delivery {
	return delivery{clock: clock.Real{}, retry: DefaultRetry(), queue: DefaultQueue, batchMax: 100, maxDedupKeys: DefaultMaxDedupKeys}
}

// DefaultQueue is each sink's queue length, in diagnoses, unless Queue
// sets another.
const DefaultQueue = 4096

// recordBatchMax bounds a batch to a recording sink (stdout); they wait
// for nothing, so a batch is what was queued at that moment.
const recordBatchMax = 256

// Alerting adds sinks that alert people (webhooks, Alertmanager). They
// sit behind storm control (StormControl), each with its own queue; the
// sinks given to New record every diagnosis.
func Alerting(sinks ...sink.Notifier) Option {
	return func(o *options) { o.alerting = append(o.alerting, sinks...) }
}

// StormControl folds identical diagnoses (same signature and key fields)
// within window into one summary after the first, and holds back the
// diagnoses of signatures with a threshold until it is crossed. thresholds
// override the signatures' own, by signature id; a Count below 2 turns a
// signature's threshold off. A window of 0 turns dedup off. It applies to
// the alerting sinks, and to the recording ones with DedupRecords.
func StormControl(window time.Duration, thresholds map[string]Threshold) Option {
	return func(o *options) { o.dedupWindow, o.thresholds = window, thresholds }
}

// MaxDedupKeys bounds the dedup keys (signature and key fields) storm
// control keeps open at once; while that many windows are open, an
// occurrence of a new key is folded into its signature's overflow summary
// (SummaryOverflow). Below 1 it is DefaultMaxDedupKeys.
func MaxDedupKeys(n int) Option {
	return func(o *options) {
		if n < 1 {
			n = DefaultMaxDedupKeys
		}
		o.maxDedupKeys = n
	}
}

// StormStats is storm control's use of its bound on dedup keys.
type StormStats struct {
	// Keys is the dedup windows open now, of MaxKeys.
	Keys, MaxKeys int
	// Folded counts occurrences folded into overflow summaries because
	// MaxKeys windows were open.
	Folded int64
}

// StormStats returns storm control's counters; safe while Run runs.
func (p *Pipeline) StormStats() StormStats {
	return StormStats{Keys: int(p.storm.keys.Load()), MaxKeys: p.o.maxDedupKeys, Folded: p.storm.folded.Load()}
}

// DedupRecords puts the recording sinks (stdout) behind storm control too.
func DedupRecords(on bool) Option { return func(o *options) { o.dedupRecords = on } }

// Queue sets each sink's queue length, in diagnoses.
func Queue(n int) Option { return func(o *options) { o.queue = max(1, n) } }

// AlertBatch sets how many diagnoses an alerting sink gets per call at
// most, and how long a batch may wait to fill up after its first diagnosis.
func AlertBatch(maxDiagnoses int, wait time.Duration) Option {
	return func(o *options) { o.batchMax, o.batchWait = max(1, maxDiagnoses), wait }
}

// Retry sets the backoff of the retry loop every sink shares.
func Retry(p RetryPolicy) Option { return func(o *options) { o.retry = p } }

// ShutdownTimeout bounds delivery after Run's context ends.
func ShutdownTimeout(d time.Duration) Option { return func(o *options) { o.shutdown = d } }

// SinkStats returns each sink's counters: the recording sinks first, then
// the alerting ones, in the order given. Safe to call while Run runs.
func (p *Pipeline) SinkStats() []SinkStats {
	p.lanesMu.Lock()
	defer p.lanesMu.Unlock()
	st := make([]SinkStats, 0, len(p.lanes))
	for _, l := range p.lanes {
		st = append(st, l.stats())
	}
	return st
}

// drainContext is the delivery context. It ends the shutdown timeout
// after ctx ends or the input ends (deadline is called), whichever comes
// first; without a timeout it never ends on its own.
func (p *Pipeline) drainContext(ctx context.Context) (dctx context.Context, deadline, stop func()) {
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	if p.o.shutdown <= 0 {
		return dctx, func() {}, cancel
	}
	var once sync.Once
	deadline = func() {
		once.Do(func() {
			go func() {
				select {
				case <-p.o.clock.After(p.o.shutdown):
					p.o.log.Warn().Stringer("shutdown_timeout", p.o.shutdown).Msg("shutdown timeout: abandoning what is not delivered yet")
					cancel()
				case <-dctx.Done():
				}
			}()
		})
	}
	stopAfter := context.AfterFunc(ctx, deadline)
	return dctx, deadline, func() { stopAfter(); cancel() }
}

// network is one Run's delivery: lanes that get every diagnosis
// straight away, and the storm stage feeding the lanes behind it.
type network struct {
	log     zerolog.Logger
	lanes   []*lane
	direct  []*lane
	stormIn chan item // nil without a storm stage
	wg      sync.WaitGroup
	err     error // of the storm stage
	// routed counts diagnoses handed to the network, settled those every
	// route accepted (or refused for good): the difference is what a
	// shutdown deadline abandons.
	routed, settled atomic.Int64
	timeout         time.Duration
}

func (p *Pipeline) startDelivery(ctx context.Context) *network {
	o := &p.o
	var records, alerts []*lane
	for _, s := range p.sinks {
		records = append(records, newLane(s, o.queue, recordBatchMax, 0, o))
	}
	for _, s := range o.alerting {
		alerts = append(alerts, newLane(s, o.queue, o.batchMax, o.batchWait, o))
	}
	p.lanesMu.Lock()
	p.lanes = append(append([]*lane(nil), records...), alerts...)
	p.lanesMu.Unlock()

	n := &network{log: o.log, lanes: p.lanes, timeout: o.shutdown}
	behind := alerts
	if o.dedupRecords {
		behind = append(behind, records...)
	} else {
		n.direct = records
	}
	// The storm stage runs whenever sinks are behind it, even with dedup
	// off and no --threshold: a signature may carry its own threshold, in
	// the pack loaded now or in one a reload brings. What no policy holds
	// back passes straight through it.
	st := newStorm(o.dedupWindow, o.thresholds, o.maxDedupKeys, o.clock, &p.storm)
	if len(behind) > 0 {
		n.stormIn = make(chan item, o.queue)
		st.emit = func(ctx context.Context, d *sink.Diagnosis, then func()) error {
			t := newTally(int64(len(behind)), then)
			for _, l := range behind {
				if err := l.put(ctx, item{d: d, ack: t}); err != nil {
					return err
				}
			}
			return nil
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.err = st.run(ctx, n.stormIn)
			for _, l := range behind {
				close(l.q)
			}
		}()
	} else {
		n.direct = append(n.direct, behind...)
	}
	for _, l := range p.lanes {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			l.run(ctx)
		}()
	}
	return n
}

// send routes a batch's diagnoses, and arranges for done to run once
// every route accepted every one of them (at once when there are none).
// It blocks while a queue is full.
func (n *network) send(ctx context.Context, pk *Pack, ds []*sink.Diagnosis, sigs []*signatures.Signature, done func()) error {
	if len(ds) == 0 {
		if done != nil {
			done()
		}
		return nil
	}
	routes := int64(len(n.direct))
	if n.stormIn != nil {
		routes++
	}
	if routes == 0 { // no sink: nothing to wait for
		if done != nil {
			done()
		}
		return nil
	}
	t := newTally(1, done) // the 1 keeps it open until every diagnosis is routed
	for i, d := range ds {
		t.add(1)
		n.routed.Add(1)
		it := item{d: d, sig: sigs[i], pack: pk, ack: newTally(routes, func() { n.settled.Add(1); t.release() })}
		for _, l := range n.direct {
			if err := l.put(ctx, it); err != nil {
				return err
			}
		}
		if n.stormIn != nil {
			if err := put(ctx, n.stormIn, it); err != nil {
				return err
			}
		}
	}
	t.release()
	return nil
}

// close ends the input and waits until every lane has delivered what it
// holds, or ctx ended.
func (n *network) close(ctx context.Context) error {
	for _, l := range n.direct {
		close(l.q)
	}
	if n.stormIn != nil {
		close(n.stormIn)
	}
	n.wg.Wait()
	abandoned := &AbandonedError{Diagnoses: n.routed.Load() - n.settled.Load(), Timeout: n.timeout}
	for _, l := range n.lanes {
		st := l.stats()
		pending := l.pending()
		ev := n.log.Info()
		if pending > 0 || st.Poisoned > 0 {
			ev = n.log.Warn()
		}
		ev.Str("sink", st.Name).Int64("sent", st.Sent).Int64("poisoned", st.Poisoned).Int64("failed_attempts", st.Failed).
			Int64("undelivered", pending).Msg("delivery ended")
		if pending > 0 {
			loss := SinkLoss{Name: st.Name, Pending: pending}
			if e := l.c.lastErr.Load(); e != nil {
				loss.LastError = *e
			}
			abandoned.Sinks = append(abandoned.Sinks, loss)
		}
	}
	if ctx.Err() != nil && (abandoned.Diagnoses > 0 || len(abandoned.Sinks) > 0) {
		return abandoned
	}
	return n.err
}

// AbandonedError is what the shutdown deadline left undelivered: the
// lines of these diagnoses are not acknowledged.
type AbandonedError struct {
	Timeout time.Duration
	// Diagnoses is how many diagnoses not every sink accepted.
	Diagnoses int64
	Sinks     []SinkLoss
}

// SinkLoss is what one sink did not accept.
type SinkLoss struct {
	Name      string
	Pending   int64
	LastError string // of its last failed attempt; "" when none failed
}

func (e *AbandonedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d diagnoses not delivered within the shutdown timeout (%v)", e.Diagnoses, e.Timeout)
	for i, s := range e.Sinks {
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		fmt.Fprintf(&b, "%s%s: %d pending", sep, s.Name, s.Pending)
		if s.LastError != "" {
			fmt.Fprintf(&b, " (last error: %s)", s.LastError)
		}
	}
	return b.String()
}

func put(ctx context.Context, q chan<- item, it item) error {
	select {
	case q <- it:
		return nil
	default:
	}
	select {
	case q <- it:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
