// Package report turns a stream of diagnoses into the summary a person
// reads after a scan: a verdict, each signature with its count, first and
// last time, top clients and best workaround, the unexplained fault lines
// grouped by wording, and a timeline. It renders the summary as text for a
// terminal and as a self-contained HTML incident report.
package report

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/mqttdiag/mqttdiag/sink"
)

// UnknownID is the signature id of fault-looking lines no signature
// explains (see internal/pipeline).
const UnknownID = "unknown"

// maxDistinct bounds the distinct clients counted per signature, so that
// memory stays bounded on a log with millions of client ids; the top ones
// appear early and often enough to be kept.
const maxDistinct = 10000

// maxWordings bounds the wordings of unexplained lines kept apart: a
// wording is what is left of a line once ids and numbers are gone, and a
// log can hold any number of them. The lines of wordings seen after that
// many are counted together under OtherWordings.
const maxWordings = 1000

// OtherWordings is the shape under which lines of wordings past the
// first 1,000 are counted.
const OtherWordings = "(other wordings, past the first 1,000)"

// Collector is a sink.Notifier that aggregates diagnoses into a Report.
// Memory is bounded by the number of signatures, not by the number of
// diagnoses nor what they say: per signature its first diagnosis and up
// to 10,000 clients, per wording of unexplained lines (up to 1,000) its
// first line, and counts per time slot.
type Collector struct {
	mu      sync.Mutex
	sigs    map[string]*sigAgg
	unknown map[string]*UnknownGroup
	// counts holds diagnoses per signature and time slot, for the
	// timeline. Slots start at a second and grow sixty-fold whenever
	// there are more than maxSlots of them, so memory stays bounded on a
	// long log while a short one keeps its detail.
	counts     map[slotKey]int
	resolution time.Duration
	start, end time.Time
}

type slotKey struct {
	sig  string
	slot int64 // Unix time / resolution
}

const maxSlots = 100000

type sigAgg struct {
	s       Signature
	clients map[string]int
}

// NewCollector returns an empty Collector.
func NewCollector() *Collector {
	return &Collector{sigs: map[string]*sigAgg{}, unknown: map[string]*UnknownGroup{}, counts: map[slotKey]int{}, resolution: time.Second}
}

// String names the sink in self-logs and metrics.
func (c *Collector) String() string { return "report" }

// Notify aggregates ds; it never fails.
func (c *Collector) Notify(_ context.Context, ds []*sink.Diagnosis) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range ds {
		if d.EndedAt != nil {
			continue // the end of a fault counted already, not an occurrence
		}
		at := d.ObservedAt
		if d.LogTime != nil {
			at = *d.LogTime
		}
		c.count(d.SignatureID, at)
		if d.SignatureID == UnknownID {
			shape := d.Fields["shape"]
			g := c.unknown[shape]
			if g == nil && len(c.unknown) >= maxWordings {
				shape = OtherWordings
				g = c.unknown[shape]
			}
			if g == nil {
				g = &UnknownGroup{Shape: shape, Example: d.Line, Severity: d.Severity, First: at}
				c.unknown[shape] = g
			}
			g.Count++
			g.Last = at
			continue
		}
		a := c.sigs[d.SignatureID]
		if a == nil {
			a = &sigAgg{s: Signature{
				ID: d.SignatureID, Title: d.Title, Severity: d.Severity, Category: d.Category,
				RootCause: d.RootCause, DocURL: d.DocURL, ErrorCode: d.ErrorCode, Example: d.Line,
				First: at, Workarounds: d.Workarounds, DeadEnds: d.DeadEnds,
			}, clients: map[string]int{}}
			c.sigs[d.SignatureID] = a
		}
		a.s.Count++
		if at.Before(a.s.First) {
			a.s.First = at
		}
		if at.After(a.s.Last) {
			a.s.Last = at
		}
		if who := client(d.Fields); who != "" {
			if _, seen := a.clients[who]; seen || len(a.clients) < maxDistinct {
				a.clients[who]++
			}
		}
	}
	return false, nil
}

func (c *Collector) count(sig string, at time.Time) {
	if c.start.IsZero() || at.Before(c.start) {
		c.start = at
	}
	if at.After(c.end) {
		c.end = at
	}
	c.counts[slotKey{sig, at.UnixNano() / int64(c.resolution)}]++
	if len(c.counts) > maxSlots {
		c.resolution *= 60
		coarse := make(map[slotKey]int, len(c.counts)/60+1)
		for k, n := range c.counts {
			coarse[slotKey{k.sig, k.slot / 60}] += n
		}
		c.counts = coarse
	}
}

// client is the field that says who a diagnosis is about.
func client(f map[string]string) string {
	for _, k := range []string{"client_id", "username", "address", "node", "listener", "resource_id"} {
		if v := f[k]; v != "" {
			return v
		}
	}
	return ""
}

// Report is the summary of a scan.
type Report struct {
	Sources    []string
	Lines      int64
	Start, End time.Time // the log's time range, from the diagnoses
	Signatures []Signature
	Unknown    []UnknownGroup
	Timeline   Timeline
	// Verdict is one line saying what happened.
	Verdict string
	// Worst is the highest severity seen ("" when nothing was found).
	Worst string
	// Unreadable counts lines that could not be read as the broker's
	// (their envelope could not be read): the report is no clean bill
	// for them. UnreadableExample is one, UnreadableReason why.
	Unreadable                          int64
	UnreadableExample, UnreadableReason string
	// Other counts lines of other programs, skipped (no fault).
	Other int64
}

// NoteEnvelope adds what reading the lines' envelopes left out: lines that
// could not be read, with an example and why, and lines of other
// programs. The verdict then says so.
func (r *Report) NoteEnvelope(unreadable, other int64, example, reason string) {
	r.Unreadable, r.Other = unreadable, other
	r.UnreadableExample, r.UnreadableReason = example, reason
	r.Worst, r.Verdict = verdict(r)
}

// Signature is one signature's share of the report.
type Signature struct {
	ID, Title, Severity, Category string
	RootCause, DocURL, ErrorCode  string
	Count                         int
	First, Last                   time.Time
	TopClients                    []Count
	Workarounds                   []sink.Workaround
	DeadEnds                      []sink.DeadEnd
	Example                       string
}

// Count is a value and how often it occurred.
type Count struct {
	Value string
	N     int
}

// UnknownGroup is the fault-looking lines of one wording no signature
// explains.
type UnknownGroup struct {
	Shape, Example, Severity string
	Count                    int
	First, Last              time.Time
}

// Timeline counts diagnoses per signature in equal time buckets.
type Timeline struct {
	Start  time.Time
	Bucket time.Duration
	// Series maps a signature id to its count per bucket.
	Series map[string][]int
}

// Report builds the summary. sources and lines describe what was read.
func (c *Collector) Report(sources []string, lines int64) *Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := &Report{Sources: sources, Lines: lines}
	for _, a := range c.sigs {
		s := a.s
		s.TopClients = top(a.clients, 5)
		r.Signatures = append(r.Signatures, s)
	}
	sort.Slice(r.Signatures, func(i, j int) bool {
		a, b := r.Signatures[i], r.Signatures[j]
		if ra, rb := rank(a.Severity), rank(b.Severity); ra != rb {
			return ra < rb
		}
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.ID < b.ID
	})
	for _, g := range c.unknown {
		r.Unknown = append(r.Unknown, *g)
	}
	sort.Slice(r.Unknown, func(i, j int) bool {
		a, b := r.Unknown[i], r.Unknown[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Shape < b.Shape
	})
	r.Start, r.End = c.start, c.end
	r.Timeline = c.timeline(60)
	r.Worst, r.Verdict = verdict(r)
	return r
}

func top(m map[string]int, n int) []Count {
	out := make([]Count, 0, len(m))
	for v, k := range m {
		out = append(out, Count{v, k})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].N != out[j].N {
			return out[i].N > out[j].N
		}
		return out[i].Value < out[j].Value
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// rank orders severities, most severe first.
func rank(sev string) int {
	switch sev {
	case "critical":
		return 0
	case "error":
		return 1
	case "warning":
		return 2
	case "info":
		return 3
	}
	return 4
}

// timeline spreads the counts over at most n buckets of a round
// duration no finer than the collector's resolution.
func (c *Collector) timeline(n int) Timeline {
	t := Timeline{Series: map[string][]int{}}
	if len(c.counts) == 0 {
		return t
	}
	span := c.end.Sub(c.start)
	for _, d := range []time.Duration{time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute,
		10 * time.Minute, 30 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour} {
		t.Bucket = d
		if d >= c.resolution && span/d < time.Duration(n) {
			break
		}
	}
	t.Start = c.start.Truncate(t.Bucket)
	buckets := int(c.end.Sub(t.Start)/t.Bucket) + 1
	for k, cnt := range c.counts {
		s := t.Series[k.sig]
		if s == nil {
			s = make([]int, buckets)
			t.Series[k.sig] = s
		}
		at := time.Unix(0, k.slot*int64(c.resolution))
		if i := int(at.Sub(t.Start) / t.Bucket); i >= 0 && i < buckets {
			s[i] += cnt
		} else if i >= buckets {
			s[buckets-1] += cnt
		} else {
			s[0] += cnt
		}
	}
	return t
}
