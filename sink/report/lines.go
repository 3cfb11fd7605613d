package report

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/mqttdiag/mqttdiag/sink"
)

// Lines is a sink.Notifier that writes one short line per diagnosis for a
// person watching `run`: when, how bad, what, the facts the line named,
// where it was read and the best fix. Everything taken from the log goes
// through Printable, so a line cannot drive the terminal.
type Lines struct {
	mu  sync.Mutex
	w   io.Writer
	buf strings.Builder
	// for Summary: diagnoses by severity, and per signature (bounded by
	// the pack's size: one entry per signature id seen)
	bySev   map[string]int
	bySig   map[string]int
	titles  map[string]string
	written int
}

// NewLines returns a Lines writing to w.
func NewLines(w io.Writer) *Lines { return &Lines{w: w} }

// String names the sink in logs and metrics.
func (l *Lines) String() string { return "stdout" }

// Notify writes ds, one line each, in one Write. A write error is
// recoverable, as for sink.Writer.
func (l *Lines) Notify(_ context.Context, ds []*sink.Diagnosis) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Reset()
	for _, d := range ds {
		l.buf.WriteString(Line(d))
		l.buf.WriteByte('\n')
		l.count(d)
	}
	if _, err := io.WriteString(l.w, l.buf.String()); err != nil {
		return true, fmt.Errorf("write diagnoses: %w", err)
	}
	return false, nil
}

func (l *Lines) count(d *sink.Diagnosis) {
	if d.EndedAt != nil || d.PartOf != "" {
		return // an ending or a detail is no occurrence of its own
	}
	if l.bySev == nil {
		l.bySev, l.bySig, l.titles = map[string]int{}, map[string]int{}, map[string]string{}
	}
	l.written++
	l.bySev[d.Severity]++
	l.bySig[d.SignatureID]++
	l.titles[d.SignatureID] = d.Title
}

// Summary writes one closing line for the person who stopped run: how
// many lines were read, how many diagnoses of each severity went by, and
// the most frequent fault.
func (l *Lines) Summary(lines int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "— stopped after %d lines: %d diagnoses", lines, l.written)
	var parts []string
	for _, sev := range []string{"critical", "error", "warning", "info"} {
		if n := l.bySev[sev]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, sev))
		}
	}
	if len(parts) > 0 {
		b.WriteString(" (" + strings.Join(parts, ", ") + ")")
	}
	top, n := "", 0
	for id, k := range l.bySig {
		if k > n || k == n && id < top {
			top, n = id, k
		}
	}
	if n > 0 {
		fmt.Fprintf(&b, "; most often: %s ×%d", Printable(l.titles[top]), n)
	}
	b.WriteString("\n")
	_, _ = io.WriteString(l.w, b.String())
}

// factOrder puts the facts an operator acts on first; other fields follow
// by name.
var factOrder = map[string]int{"client_id": 1, "username": 2, "address": 3, "port": 4, "listener": 5, "topic": 6, "option": 7, "file": 8}

// Line is d as one line: time, severity, title, a count for a summary,
// the facts (name=value; a file and line as file:line), the log file and
// line it was read from, and the best fix.
func Line(d *sink.Diagnosis) string {
	var b strings.Builder
	b.WriteString(stamp(d.SeenAt()))
	sev := strings.ToUpper(d.Severity)
	if d.EndedAt != nil {
		sev = "ENDED" // the fault's ending line: the alert resolves
	}
	fmt.Fprintf(&b, " %-8s %s", sev, Printable(d.Title))
	if n := d.Occurrences(); n > 1 {
		fmt.Fprintf(&b, " ×%d", n)
	}
	if d.PartOf != "" {
		fmt.Fprintf(&b, " (part of %s)", d.PartOf) // a detail: its cause alerted
	}
	keys := make([]string, 0, len(d.Fields))
	for k, v := range d.Fields {
		if v != "" && k != "line" {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		oi, oj := factOrder[keys[i]], factOrder[keys[j]]
		if oi == 0 {
			oi = len(factOrder) + 1
		}
		if oj == 0 {
			oj = len(factOrder) + 1
		}
		return oi < oj || oi == oj && keys[i] < keys[j]
	})
	sep := " —"
	for _, k := range keys {
		v := d.Fields[k]
		if k == "file" && d.Fields["line"] != "" {
			v += ":" + d.Fields["line"]
		}
		v = Printable(v)
		if v == "" || strings.ContainsAny(v, " \"") {
			v = `"` + strings.ReplaceAll(v, `"`, `\"`) + `"` // Printable already escaped the rest
		}
		fmt.Fprintf(&b, "%s %s=%s", sep, k, v)
		sep = ""
	}
	if d.Source.File != "" {
		fmt.Fprintf(&b, " (%s:%d)", Printable(filepath.Base(d.Source.File)), d.Source.LineNumber)
	}
	if len(d.Workarounds) > 0 {
		fmt.Fprintf(&b, " — fix: %s", Printable(d.Workarounds[0].Action))
	}
	return b.String()
}
