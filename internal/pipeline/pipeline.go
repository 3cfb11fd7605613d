// Package pipeline wires the stages together: lines from the tailer are
// taken out of their envelope (syslog, journal, Docker, CRI... one
// envelope.Decoder per source), split from their timestamp, matched, turned into diagnoses and handed to
// the sinks. It also watches, per source, for the lines signatures say
// end a fault (ends_when) or must follow a line in time (expects), so that
// an alert lasts as long as its fault and silence can be a fault
// (follow.go). It owns the goroutines and the order of things, so that
// cmd/mqttdiag stays flags and wiring, and the stage packages stay
// ignorant of one another.
package pipeline

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/mqttdiag/mqttdiag/internal/brokerlog"
	"github.com/mqttdiag/mqttdiag/internal/envelope"
	"github.com/mqttdiag/mqttdiag/matcher"
	"github.com/mqttdiag/mqttdiag/signatures"
	"github.com/mqttdiag/mqttdiag/sink"
	"github.com/mqttdiag/mqttdiag/tailer"
)

// Pipeline diagnoses lines and delivers the diagnoses.
type Pipeline struct {
	lanesMu sync.Mutex
	lanes   []*lane // of the last Run, for SinkStats
	pack    atomic.Pointer[Pack]
	sinks   []sink.Notifier
	o       options
	d       diagnoser
	// Counters are atomic so that progress can be read while Run runs.
	lines, bytes, diagnoses atomic.Int64
	unknownLines            atomic.Int64 // fault-looking lines no signature explains
	env                     envelopeCounts
	sources                 map[string]*sourceState
	unknown                 *unknowns // nil when off
	bySig                   sigCounts
	work                    matcherWork
	storm                   stormCounters
	follow                  *follows // Run's only
	followN                 followCounters
}

// New returns a pipeline that matches with m and delivers every diagnosis
// to each of sinks (the recording sinks, such as stdout); see Alerting for
// the sinks behind storm control.
func New(m *matcher.Matcher, sinks []sink.Notifier, opts ...Option) *Pipeline {
	o := options{log: zerolog.Nop(), unknown: true, unknownInterval: time.Minute, delivery: defaultDelivery()}
	for _, opt := range opts {
		opt(&o)
	}
	if o.loc == nil {
		o.loc = time.Local
	}
	p := &Pipeline{sinks: sinks, o: o, d: diagnoser{lang: o.lang}, sources: make(map[string]*sourceState), follow: newFollows(o.maxOpen)}
	p.pack.Store(NewPack(m, m.Signatures(), o.packVersion, o.packHash))
	p.work.active = m
	if o.unknown {
		p.unknown = newUnknowns(o.unknownInterval)
	}
	return p
}

// Run consumes batches until in is closed, and calls each batch's Done
// once its diagnoses were accepted by every sink; batches may complete
// out of order. Delivery runs behind per-sink queues: a full queue blocks
// Run, which blocks the producer (backpressure), and nothing is dropped.
//
// To stop, stop the producer (close in): Run then delivers what was read,
// flushes storm-control windows, and returns. Delivery goes on for at most
// the ShutdownTimeout after ctx ends or in is closed, whichever is first
// (without one, until done); what is undelivered then stays
// unacknowledged, and Run returns an *AbandonedError that counts it.
func (p *Pipeline) Run(ctx context.Context, in <-chan tailer.Batch) error {
	ctx, deadline, stop := p.drainContext(ctx)
	defer stop()
	out := p.startDelivery(ctx)
	var ds []*sink.Diagnosis
	var sigs []*signatures.Signature
	var pk *Pack
	var timer <-chan time.Time
	var armed time.Time
	var seq uint64
read:
	for {
		// A pending expectation (expects) is a deadline: wait for it
		// beside the input, so that silence itself is diagnosed.
		if next, ok := p.follow.next(); !ok {
			timer = nil
		} else if timer == nil || !next.Equal(armed) {
			timer, armed = p.o.clock.After(next.Sub(p.o.clock.Now())), next
		}
		var b tailer.Batch
		var ok bool
		select {
		case b, ok = <-in:
		case now := <-timer:
			timer = nil
			ds, sigs = p.unmet(ds[:0], sigs[:0], pk, p.follow.expire(now), now)
			p.diagnoses.Add(int64(len(ds)))
			p.followN.store(p.follow)
			if out.send(ctx, pk, ds, sigs, nil) != nil {
				break read
			}
			continue
		}
		if !ok {
			break
		}
		ds, sigs = ds[:0], sigs[:0]
		seq++ // diagnoses of this read are unsent until its end
		now := p.o.clock.Now()
		if cur := p.pack.Load(); cur != pk {
			pk = cur // a reload takes effect between batches
			p.d.reset(pk)
			p.work.use(pk.Matcher)
			p.follow.use(p.o.log, pk)
		}
		endings := 0
		for i := range b.Lines {
			l := &b.Lines[i]
			src := p.source(l.Source)
			rec, ok := p.decode(src, l)
			if !ok {
				continue // another program's line, a piece, or unreadable: counted
			}
			text, msg, ts := rec.Text, rec.Msg, rec.Time
			// A JSON object pretty-printed over several lines (AWS IoT
			// entries from `aws logs tail --format json`) is matched once,
			// whole, at its closing line.
			if obj, held := src.json.Add(text); held {
				if obj == "" {
					continue
				}
				joined := *l
				joined.Text = obj
				l = &joined
				text = obj
				msg, ts, _ = brokerlog.SplitIn(obj, p.o.loc)
			}
			if broker, version, ok := brokerlog.Banner(msg); ok {
				if src.broker != broker || src.version != version {
					p.o.log.Info().Str("source", l.Source).Str("broker", broker).Str("version", version).Msg("broker detected from its startup banner")
				}
				if p.o.broker == "" {
					src.broker = broker
				}
				src.version = version
			} else if src.broker == "" {
				if system, ok := brokerlog.Detect(text, msg); ok {
					p.o.log.Info().Str("source", l.Source).Str("broker", system).Msg("system detected from the shape of its lines")
					src.broker = system
				}
			}
			at := ts
			if at.IsZero() {
				at = now
			}
			if p.follow.watches(l.Source) {
				ended, unmet := p.follow.line(l.Source, l, msg, ts, now)
				for _, e := range ended {
					ds, sigs = append(ds, e.d), append(sigs, e.sig)
				}
				endings += len(ended)
				ds, sigs = p.unmet(ds, sigs, pk, unmet, now)
			}
			hits := pk.Matcher.MatchBroker(src.broker, msg)
			src.inc.line(at)
			for _, h := range hits {
				line := h.Signature
				var from string
				if len(line.Context) > 0 {
					// The line before says what this generic line means.
					if id := src.inc.classify(line, h.Fields, pk.ctx[line]); id != "" {
						if b := pk.byID[id]; b != nil {
							h.Signature, from = b, line.ID
						}
					}
				}
				d := p.d.diagnose(l, h, ts, now, src.broker, src.version)
				d.Envelope = envelopeOf(&rec)
				d.ClassifiedFrom = from
				if re := pk.before[h.Signature]; re != nil {
					factsBefore(re, src.prevMsg, d.Fields)
				} else if re := pk.before[line]; re != nil {
					factsBefore(re, src.prevMsg, d.Fields)
				}
				if h.Signature.Expects != nil {
					// Not a fault yet: one if the expected line does not
					// follow in time.
					d.Context = src.ctx.last()
					p.follow.expect(p.o.log, l.Source, src, h.Signature, d, now, ts)
					continue
				}
				lh := lineHit{sig: line.ID, as: h.Signature.ID, d: d, batch: seq}
				if cause := src.inc.causeOf(line, h.Fields); cause != nil {
					// A detail of a fault already diagnosed: recorded, no
					// alert, and no fault of its own for ends_when.
					src.inc.detail(cause, lh)
					p.enrich(d, src, pk, at)
					ds = append(ds, d)
					sigs = append(sigs, h.Signature)
					continue
				}
				src.inc.fault(lh)
				p.enrich(d, src, pk, at)
				p.follow.opened(p.o.log, l.Source, h.Signature, d)
				ds = append(ds, d)
				sigs = append(sigs, h.Signature)
			}
			src.inc.done()
			src.prevMsg = msg // texts are not reused (tailer.Batch.Release): keeping it costs no copy
			if len(hits) == 0 && p.unknown != nil {
				d, fault := p.unknown.check(l, msg, ts, now, src.broker, src.version)
				if fault {
					p.unknownLines.Add(1)
				}
				if d != nil {
					d.Envelope = envelopeOf(&rec)
					p.enrich(d, src, pk, at)
					ds = append(ds, d)
					sigs = append(sigs, nil)
				}
			}
			src.ctx.push(l.Text, p.o.contextLines)
			src.levels.see(msg)
			src.levels.judge(p.o.log, l.Source, src.broker, pk)
		}
		var n int64
		for i := range b.Lines {
			n += b.Lines[i].End - b.Lines[i].Offset
		}
		nlines := len(b.Lines)
		// Diagnoses copy what they keep of a line (text, source, offset), so
		// the slice can go back to the tailer now.
		b.Release()
		p.lines.Add(int64(nlines))
		p.bytes.Add(n)
		p.diagnoses.Add(int64(len(ds) - endings))
		p.followN.store(p.follow)
		if out.send(ctx, pk, ds, sigs, b.Done) != nil {
			break // the shutdown deadline passed: the rest stays unacknowledged
		}
	}
	deadline() // the input ended: what is left has the shutdown timeout to go
	return out.close(ctx)
}

// unmet appends the diagnoses of expectations whose deadline passed at
// now, made into faults: enriched as when their line was read, and open
// when their signature also says what ends them.
func (p *Pipeline) unmet(ds []*sink.Diagnosis, sigs []*signatures.Signature, pk *Pack, es []*expectation, now time.Time) ([]*sink.Diagnosis, []*signatures.Signature) {
	for _, e := range es {
		d := e.d
		d.ObservedAt = now
		ctx := d.Context
		p.enrich(d, e.src, pk, d.SeenAt())
		d.Context = ctx // the lines before the one that went unanswered
		p.follow.opened(p.o.log, d.Source.File, e.sig, d)
		ds, sigs = append(ds, d), append(sigs, e.sig)
	}
	return ds, sigs
}

// sourceState is what the pipeline has learnt about one log source.
type sourceState struct {
	broker, version string    // from the startup banner (or Broker); empty until seen
	ctx             ring      // the last lines, for context
	recent          recent    // the last diagnoses, for related links
	levels          levels    // the log levels its lines show
	inc             incidents // its recent faults, for part_of and context
	prevMsg         string    // the message of its previous line, for facts_before
	json            brokerlog.JSONJoiner
	env             *envelope.Decoder
	warned          bool // about a line it could not read
}

// enrich adds what depends on the source's history to a diagnosis:
// context lines, related diagnoses, the pack, and counts it.
func (p *Pipeline) enrich(d *sink.Diagnosis, src *sourceState, pk *Pack, at time.Time) {
	d.Context = src.ctx.last()
	d.PackVersion, d.PackHash = pk.Version, pk.Hash
	if p.o.relatedWindow > 0 && d.PartOf == "" { // a detail links through its cause
		src.recent.window = p.o.relatedWindow
		d.Related = src.recent.related(pk, d.SignatureID, at)
		src.recent.add(d.SignatureID, d.ID, at)
	}
	p.bySig.add(d.SignatureID, d.Severity)
}

// SetPack replaces the signature pack; batches already being matched
// finish with the old one. It may be called while Run runs (a reload).
func (p *Pipeline) SetPack(pk *Pack) { p.pack.Store(pk) }

// CurrentPack returns the pack in use.
func (p *Pipeline) CurrentPack() *Pack { return p.pack.Load() }

func (p *Pipeline) source(name string) *sourceState {
	s := p.sources[name]
	if s == nil {
		f := p.o.envelope
		if tailer.IsJournal(name) {
			f = envelope.Journal // journalctl --output=json, whatever --envelope says
		}
		s = &sourceState{broker: p.o.broker, levels: levels{lowest: -1},
			env: envelope.NewDecoder(envelope.Envelope(f), envelope.Location(p.o.loc), envelope.MaxLineBytes(p.o.maxLine))}
		p.sources[name] = s
	}
	return s
}
