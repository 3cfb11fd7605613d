// Package pipeline wires the stages together: lines from the tailer are
// split from their timestamp, matched, turned into diagnoses and handed to
// the sinks. It owns the goroutines and the order of things, so that
// cmd/mqttdiag stays flags and wiring, and the stage packages stay
// ignorant of one another.
package pipeline

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/rs/zerolog"

	"github.com/mqttdiag/mqttdiag/internal/brokerlog"
	"github.com/mqttdiag/mqttdiag/internal/logline"
	"github.com/mqttdiag/mqttdiag/matcher"
	"github.com/mqttdiag/mqttdiag/signatures"
	"github.com/mqttdiag/mqttdiag/sink"
)

// Pipeline diagnoses lines and delivers the diagnoses.
type Pipeline struct {
	m       *matcher.Matcher
	sinks   []sink.Notifier
	o       options
	d       diagnoser
	stats   Stats
	sources map[string]*sourceState
}

// Stats counts what a pipeline did.
type Stats struct {
	Lines     int64
	Diagnoses int64
}

type options struct {
	log    zerolog.Logger
	now    func() time.Time
	broker string
}

// Option configures a Pipeline.
type Option func(*options)

// Logger sets the logger for the pipeline's own messages.
func Logger(l zerolog.Logger) Option { return func(o *options) { o.log = l } }

// Clock replaces time.Now (tests).
func Clock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// Broker fixes every source's broker ("mosquitto", "emqx") instead of
// waiting for its startup banner, which a log followed from its end never
// shows. The matcher then applies only that broker's signatures.
func Broker(name string) Option { return func(o *options) { o.broker = name } }

// New returns a pipeline that matches with m and delivers to every sink.
func New(m *matcher.Matcher, sinks []sink.Notifier, opts ...Option) *Pipeline {
	o := options{log: zerolog.Nop(), now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	return &Pipeline{m: m, sinks: sinks, o: o, d: diagnoser{known: make(map[*signatures.Signature]*knowledge)}, sources: make(map[string]*sourceState)}
}

// Run consumes batches until in is closed, and calls each batch's Done
// once its diagnoses were accepted by every sink. Delivery uses ctx: cancel
// it to abandon undelivered diagnoses (a shutdown deadline), not to stop
// reading; stop the producer for that.
func (p *Pipeline) Run(ctx context.Context, in <-chan logline.Batch) error {
	var ds []*sink.Diagnosis
	for b := range in {
		ds = ds[:0]
		now := p.o.now()
		for i := range b.Lines {
			l := &b.Lines[i]
			msg, ts, _ := brokerlog.Split(l.Text)
			src := p.source(l.Source)
			if broker, version, ok := brokerlog.Banner(msg); ok {
				if src.broker != broker || src.version != version {
					p.o.log.Info().Str("source", l.Source).Str("broker", broker).Str("version", version).Msg("broker detected from its startup banner")
				}
				if p.o.broker == "" {
					src.broker = broker
				}
				src.version = version
			}
			for _, h := range p.m.MatchBroker(src.broker, msg) {
				ds = append(ds, p.d.diagnose(l, h, ts, now, src.broker, src.version))
			}
		}
		p.stats.Lines += int64(len(b.Lines))
		p.stats.Diagnoses += int64(len(ds))
		if len(ds) > 0 {
			for _, s := range p.sinks {
				if err := deliver(ctx, s, ds, p.o.log); err != nil {
					return err
				}
			}
		}
		if b.Done != nil {
			b.Done()
		}
	}
	return nil
}

// sourceState is what the pipeline has learnt about one log source.
type sourceState struct {
	broker, version string // from the startup banner (or Broker); empty until seen
}

func (p *Pipeline) source(name string) *sourceState {
	s := p.sources[name]
	if s == nil {
		s = &sourceState{broker: p.o.broker}
		p.sources[name] = s
	}
	return s
}

// Stats returns the counts so far. Call it after Run returns.
func (p *Pipeline) Stats() Stats { return p.stats }

// deliver retries a recoverable failure with exponential backoff and
// jitter until it succeeds or ctx ends. A failure the sink calls
// unrecoverable is returned at once.
func deliver(ctx context.Context, n sink.Notifier, ds []*sink.Diagnosis, log zerolog.Logger) error {
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		retry, err := n.Notify(ctx, ds)
		if err == nil {
			return nil
		}
		if !retry {
			return err
		}
		wait := backoff/2 + rand.N(backoff)
		log.Warn().Err(err).Int("attempt", attempt).Dur("retry_in", wait).Msg("delivery failed; retrying")
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(wait):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}
