// Package report turns a stream of diagnoses into the summary a person
// reads after a scan: a verdict, each signature with its count, first and
// last time, the facts its lines named (file, port, client id: the
// signature's named captures, with their distinct values), the first lines
// it matched with their line numbers and the lines before them, the best
// workaround, the unexplained fault lines grouped by wording, and a
// timeline. It renders the summary as text for a terminal, as Markdown,
// and as a self-contained HTML incident report.
package report

import (
	"context"
	"sort"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

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

// maxFactValues bounds the distinct values kept per fact (field) of a
// signature; occurrences of values past them are counted, not kept.
const maxFactValues = 1000

// FactsShown is how many values of a fact a report shows, most frequent
// first; the rest are summed up as "and K more".
const FactsShown = 5

// MaxEvidence is how many matched lines a report quotes per signature:
// the first ones read.
const MaxEvidence = 3

// MaxContext is how many of the lines before a quoted line the report
// keeps (of those the pipeline carried, see --context): the line before
// is where Mosquitto names the port or file of a start-up fault.
const MaxContext = 2

// Collector is a sink.Notifier that aggregates diagnoses into a Report.
// Memory is bounded by the number of signatures, not by the number of
// diagnoses nor what they say: per signature its first diagnosis, up
// to 10,000 clients, up to 1,000 values of up to 256 bytes per fact and 3 quoted lines with
// 2 lines of context each, per wording of unexplained lines (up to 1,000)
// its first line, and counts per time slot.
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
	facts   map[string]*factAgg
}

// factAgg counts the values of one field of one signature.
type factAgg struct {
	values map[string]int
	// past counts occurrences of values not kept (past maxFactValues
	// distinct ones).
	past int
}

// maxFactBytes bounds a fact's value as kept: a captured value can be
// as long as a line (64 KiB by default), and 1,000 of them per field would
// cost megabytes. Longer values are cut at a character boundary and
// marked with "…"; values that differ only past the cut count together.
const maxFactBytes = 256

func (f *factAgg) add(v string) {
	if len(v) > maxFactBytes {
		cut := maxFactBytes
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		v = v[:cut] + "…"
	}
	if _, seen := f.values[v]; seen || len(f.values) < maxFactValues {
		f.values[v]++
		return
	}
	f.past++
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
		if d.PartOf != "" {
			continue // a detail of a fault: its cause is the occurrence, and carries it
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
				g = &UnknownGroup{Shape: shape, Example: d.Line, Severity: d.Severity, First: at, At: evidence(d)}
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
			}, clients: map[string]int{}, facts: map[string]*factAgg{}}
			c.sigs[d.SignatureID] = a
		}
		a.s.Count++
		if len(a.s.Evidence) < MaxEvidence {
			a.s.Evidence = append(a.s.Evidence, evidence(d))
		}
		for k, v := range facts(d.Fields) {
			f := a.facts[k]
			if f == nil {
				f = &factAgg{values: map[string]int{}}
				a.facts[k] = f
			}
			f.add(v)
		}
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

// evidence is the line d was read from, where, and the lines before it.
func evidence(d *sink.Diagnosis) Evidence {
	ctx := d.Context
	if len(ctx) > MaxContext {
		ctx = ctx[len(ctx)-MaxContext:]
	}
	return Evidence{File: d.Source.File, LineNumber: d.Source.LineNumber, Line: d.Line, Context: append([]string(nil), ctx...)}
}

// facts are the fields of a diagnosis as a report shows them: its
// signature's named captures, whatever they are, with a file and its line
// number joined as file:line, which is how an operator opens it.
func facts(f map[string]string) map[string]string {
	out := make(map[string]string, len(f))
	for k, v := range f {
		if v == "" || k == "line" && f["file"] != "" {
			continue
		}
		if k == "file" && f["line"] != "" {
			v += ":" + f["line"]
		}
		out[k] = v
	}
	return out
}

// lessFact orders field names as Line does (factOrder), then by name.
func lessFact(a, b string) bool {
	oa, ob := factOrder[a], factOrder[b]
	if oa == 0 {
		oa = len(factOrder) + 1
	}
	if ob == 0 {
		ob = len(factOrder) + 1
	}
	return oa < ob || oa == ob && a < b
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
	// Facts are the fields its diagnoses named, in factOrder.
	Facts []Fact
	// Evidence is the first lines it matched, in the order read.
	Evidence []Evidence
}

// Fact is one field of a signature's diagnoses (a port, a file, a client
// id) and its most frequent values.
type Fact struct {
	Name string
	// Values are the most frequent values, at most FactsShown.
	Values []Count
	// More is how many other distinct values were seen; Past is how many
	// occurrences had values past the first 1,000 distinct ones, which
	// are not told apart (so More is then a lower bound).
	More, Past int
}

// Evidence is a line quoted in the report.
type Evidence struct {
	File       string
	LineNumber int64 // 0 when not known
	Line       string
	// Context is the lines the same source wrote before Line, oldest
	// first, as the pipeline carried them (at most MaxContext).
	Context []string
}

// Where is the line's place as file:line.
func (e Evidence) Where() string {
	switch {
	case e.File == "" && e.LineNumber == 0:
		return ""
	case e.LineNumber == 0:
		return e.File
	}
	return e.File + ":" + strconv.FormatInt(e.LineNumber, 10)
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
	// At is the first line of the wording, where it was read.
	At Evidence
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
		for name, f := range a.facts {
			vs := top(f.values, FactsShown)
			s.Facts = append(s.Facts, Fact{Name: name, Values: vs, More: len(f.values) - len(vs), Past: f.past})
		}
		sort.Slice(s.Facts, func(i, j int) bool { return lessFact(s.Facts[i].Name, s.Facts[j].Name) })
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
