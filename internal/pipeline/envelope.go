package pipeline

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mqttdiag/mqttdiag/internal/envelope"
	"github.com/mqttdiag/mqttdiag/sink"
	"github.com/mqttdiag/mqttdiag/tailer"
)

// maxExample bounds the example of an unreadable line kept for reports.
const maxExample = 200

// EnvelopeStats counts the lines that were not matched because of their
// envelope: lines of other programs (a syslog file or a journal holds
// every daemon's), and lines that could not be read as the broker's.
type EnvelopeStats struct {
	// Unreadable lines looked like an envelope (or not like the chosen
	// one) but could not be read: what they hold was not diagnosed.
	Unreadable int64
	// Other lines belong to another program; they are no fault.
	Other int64
	// Example is the first unreadable line (cut at 200 bytes), Reason why
	// it could not be read, Source its file; empty when none was.
	Example, Reason, Source string
}

// envelopeCounts are the EnvelopeStats; written by Run, read by scrapes
// and reports.
type envelopeCounts struct {
	unreadable, other atomic.Int64
	mu                sync.Mutex
	example           EnvelopeStats // Example, Reason, Source of the first unreadable line
}

// EnvelopeStats returns the counts so far; it may be called while Run runs.
func (p *Pipeline) EnvelopeStats() EnvelopeStats {
	p.env.mu.Lock()
	st := p.env.example
	p.env.mu.Unlock()
	st.Unreadable, st.Other = p.env.unreadable.Load(), p.env.other.Load()
	return st
}

// decode takes l out of its envelope. ok is false when there is nothing
// to match: a line of another program, a piece of a longer line, or a line
// that could not be read (counted, and the first of each source warned
// about: its faults go undiagnosed).
func (p *Pipeline) decode(src *sourceState, l *tailer.Line) (r envelope.Record, ok bool) {
	r = src.env.Decode(l.Text)
	switch r.Kind {
	case envelope.Broker:
		return r, true
	case envelope.Other:
		p.env.other.Add(1)
	case envelope.Unreadable:
		if p.env.unreadable.Add(1) == 1 {
			ex := l.Text
			if len(ex) > maxExample {
				ex = ex[:maxExample]
			}
			p.env.mu.Lock()
			p.env.example = EnvelopeStats{Example: strings.ToValidUTF8(ex, "\uFFFD"), Reason: r.Err.Error(), Source: l.Source}
			p.env.mu.Unlock()
		}
		if !src.warned {
			src.warned = true
			p.o.log.Warn().Str("source", l.Source).Int64("line", l.Number).Err(r.Err).
				Msg("a line could not be read as the broker's: its faults are not diagnosed; check --envelope")
		}
	}
	return r, false
}

// envelopeOf is what a diagnosis says of its line's envelope; nil for a
// plain line.
func envelopeOf(r *envelope.Record) *sink.Envelope {
	if r.Envelope == envelope.None {
		return nil
	}
	m := &r.Meta
	e := &sink.Envelope{
		Format: r.Envelope.String(), Host: m.Host, Program: m.Program, PID: m.PID, Unit: m.Unit,
		Container: m.Container, Pod: m.Pod, Stream: m.Stream,
	}
	if !m.Time.IsZero() {
		t := m.Time
		e.Time = &t
	}
	// Meta's strings share the read batch's memory; a diagnosis outlives it.
	for _, s := range []*string{&e.Host, &e.Program, &e.PID, &e.Unit, &e.Container, &e.Pod, &e.Stream} {
		*s = strings.Clone(*s)
	}
	return e
}
