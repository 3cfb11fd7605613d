package pipeline

import (
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/mqttdiag/mqttdiag/signatures"
	"github.com/mqttdiag/mqttdiag/sink"
)

// One fault often logs several lines, each of which a signature knows: an
// OpenSSL error stack after "Unable to load server certificate", the
// "not authorised" line after a refused CONNACK. A signature's part_of
// says its line is a detail of such a cause when it follows it closely on
// the same source; its context rules say what a generic line means after
// a given line. incidents is the per-source memory both need: the cause's
// line, the fault's latest line, and the previous diagnosed line. It keeps
// the hits of one line each, in slices reused from line to line, so the
// lines that match nothing cost a counter increment.

// lineHit is one diagnosis made on a line, as a later line sees it.
type lineHit struct {
	sig   string // the signature the line matched (before any reclassification)
	as    string // the signature it was diagnosed as
	d     *sink.Diagnosis
	batch uint64 // the read it came in: its diagnosis is unsent while it is the current one
}

// diagLine is the hits of one line, with where and when it was.
type diagLine struct {
	hits []lineHit
	n    int64 // line number within the source (lines read, from 1)
	at   time.Time
}

func (l *diagLine) reset(n int64, at time.Time) {
	clear(l.hits) // drop the diagnoses for the collector
	l.hits, l.n, l.at = l.hits[:0], n, at
}

// incidents is one source's memory of its recent faults.
type incidents struct {
	n     int64    // lines read from the source
	cause diagLine // the latest line that raised a fault of its own
	last  int64    // line number of the fault's latest line, cause or detail
	prev  diagLine // the latest line with a diagnosis, of any kind
	cur   diagLine // the line being read, filled as its hits are diagnosed
}

// line starts line n of the source, read at at.
func (in *incidents) line(at time.Time) {
	in.n++
	in.cur.reset(in.n, at)
}

// near reports whether a hit with fields, now, follows l as rule says, and
// which of l's hits it follows: the first whose signature the rule names.
// lastN is the line the Lines bound counts from.
func near(l *diagLine, lastN, n int64, at time.Time, rule *signatures.Near, fields map[string]string) *lineHit {
	if len(l.hits) == 0 || l.n == n {
		return nil // nothing before, or the same line
	}
	if rule.Lines > 0 && n-lastN > int64(rule.Lines) {
		return nil
	}
	if d := at.Sub(l.at); d < 0 || d > rule.WithinDuration() {
		return nil
	}
	for i := range l.hits {
		h := &l.hits[i]
		if !slices.Contains(rule.Signatures, h.sig) && !slices.Contains(rule.Signatures, h.as) {
			continue
		}
		if same(rule.Same, h.d.Fields, fields) {
			return h
		}
	}
	return nil
}

// same reports whether a and b agree on every field of names that both
// captured.
func same(names []string, a, b map[string]string) bool {
	for _, f := range names {
		x, y := a[f], b[f]
		if x != "" && y != "" && x != y {
			return false
		}
	}
	return true
}

// causeOf returns the diagnosis the current line's hit of sig is a detail
// of, or nil when it is a fault of its own.
func (in *incidents) causeOf(sig *signatures.Signature, fields map[string]string) *lineHit {
	if sig.PartOf == nil {
		return nil
	}
	return near(&in.cause, in.last, in.n, in.cur.at, sig.PartOf, fields)
}

// classify returns the signature id the current line's hit of sig is
// diagnosed as by its context rules, "" when none holds.
func (in *incidents) classify(sig *signatures.Signature, fields map[string]string, res [][]fieldRe) string {
	for i := range sig.Context {
		r := &sig.Context[i]
		var before *lineHit
		if n := r.Near(); n != nil {
			if before = near(&in.prev, in.prev.n, in.n, in.cur.at, n, fields); before == nil {
				continue
			}
		}
		if i < len(res) && !matchFields(res[i], fields) {
			continue
		}
		if r.AsPreceding {
			return before.as
		}
		return r.Becomes
	}
	return ""
}

// fieldRe is a context rule's pattern for one capture.
type fieldRe struct {
	name string
	re   *regexp.Regexp
}

func matchFields(fs []fieldRe, fields map[string]string) bool {
	for _, f := range fs {
		if !f.re.MatchString(fields[f.name]) {
			return false
		}
	}
	return true
}

// detail records the current line's hit as a detail of cause, and carries
// it on the cause's diagnosis while that is still unsent (read in the same
// batch): its line, and the captures the cause's own line lacked.
func (in *incidents) detail(cause *lineHit, h lineHit) {
	d := h.d
	d.PartOf = cause.d.ID
	d.Severity = signatures.SeverityInfo
	in.last = in.n
	in.cur.hits = append(in.cur.hits, h)
	if cause.batch != h.batch {
		return
	}
	c := cause.d
	c.Details = append(c.Details, sink.Detail{Line: d.Line, SignatureID: d.SignatureID, Fields: d.Fields})
	for k, v := range d.Fields {
		if c.Fields[k] == "" {
			c.Fields[k] = v
		}
	}
}

// fault records the current line's hit as a fault of its own: the cause
// later lines may be details of.
func (in *incidents) fault(h lineHit) {
	if in.cause.n != in.n {
		in.cause.reset(in.n, in.cur.at)
	}
	in.cause.hits = append(in.cause.hits, h)
	in.last = in.n
	in.cur.hits = append(in.cur.hits, h)
}

// done ends the current line: when it had diagnoses, it is the previous
// diagnosed line of the next.
func (in *incidents) done() {
	if len(in.cur.hits) > 0 {
		in.prev, in.cur = in.cur, in.prev
	}
}

// factsBefore fills fields the line left empty with the named captures of
// re on the message of the line before (prev), when it matches.
func factsBefore(re *regexp.Regexp, prev string, fields map[string]string) {
	if re == nil || prev == "" {
		return
	}
	m := re.FindStringSubmatch(prev)
	if m == nil {
		return
	}
	for i, name := range re.SubexpNames() {
		if name != "" && m[i] != "" && fields[name] == "" {
			fields[name] = strings.Clone(m[i]) // the line's text belongs to its read
		}
	}
}
