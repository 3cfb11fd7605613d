package report

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// verdict is the report's first line and its worst severity.
func verdict(r *Report) (worst, line string) {
	known := 0
	for _, s := range r.Signatures {
		known += s.Count
	}
	unexplained := 0
	for _, g := range r.Unknown {
		unexplained += g.Count
	}
	tail := ""
	if unexplained > 0 {
		tail = fmt.Sprintf(" %s no signature explains.", plural(unexplained, "fault-looking line", "fault-looking lines"))
	}
	if r.Other > 0 {
		tail += fmt.Sprintf(" %s of other programs skipped.", plural64(r.Other, "line", "lines"))
	}
	if r.Unreadable > 0 {
		// Never an all clear about lines it could not read.
		tail += fmt.Sprintf(" %s could not be read as broker lines (envelope: %s): their faults are not diagnosed; check --envelope.",
			plural64(r.Unreadable, "line", "lines"), r.UnreadableReason)
	}
	if known == 0 {
		read := r.Lines - r.Unreadable - r.Other
		switch {
		case r.Unreadable > 0:
			return "", fmt.Sprintf("NOT A CLEAN BILL: no known faults in the %s read as broker lines.%s", plural64(read, "line", "lines"), tail)
		case r.Lines > 0 && read <= 0:
			return "", fmt.Sprintf("NOT A CLEAN BILL: none of the %s is the broker's.%s", plural64(r.Lines, "line", "lines"), tail)
		}
		return "", fmt.Sprintf("No known faults in %s.%s", plural64(r.Lines, "line", "lines"), tail)
	}
	worst = r.Signatures[0].Severity
	return worst, fmt.Sprintf("%s: %s (%s) in %s; worst: %s.%s",
		strings.ToUpper(worst), plural(known, "known fault", "known faults"), plural(len(r.Signatures), "kind", "kinds"),
		plural64(r.Lines, "line", "lines"), r.Signatures[0].Title, tail)
}

func plural(n int, one, many string) string { return plural64(int64(n), one, many) }

func plural64(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return group(n) + " " + many
}

// group writes n with thousands separators.
func group(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && c != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// TextOptions control the terminal report.
type TextOptions struct {
	// Color adds ANSI colours: on a terminal, unless NO_COLOR is set.
	Color bool
}

// WriteText writes the report for a person at a terminal. Every text that
// came from a log, a file name or a signature pack is passed through
// Printable: a log line must not be able to drive the terminal.
func (r *Report) WriteText(w io.Writer, o TextOptions) error {
	st := style{on: o.Color}
	var b strings.Builder
	b.WriteString(st.bold(st.severity(r.Worst, Printable(r.Verdict))))
	b.WriteByte('\n')
	if r.UnreadableExample != "" {
		fmt.Fprintf(&b, "%s\n", st.dim("Unreadable, e.g.: "+Printable(r.UnreadableExample)))
	}
	if len(r.Sources) > 0 {
		fmt.Fprintf(&b, "%s\n", st.dim("Read "+Printable(strings.Join(r.Sources, ", "))+timeRange(r.Start, r.End)))
	}
	for _, s := range r.Signatures {
		b.WriteByte('\n')
		fmt.Fprintf(&b, "%s %5s  %s\n", st.severity(s.Severity, fmt.Sprintf("%-8s", strings.ToUpper(s.Severity))), "×"+fmt.Sprint(s.Count), st.bold(Printable(s.Title)))
		pad := strings.Repeat(" ", 16)
		fmt.Fprintf(&b, "%s%s\n", pad, st.dim(Printable(s.ID)))
		fmt.Fprintf(&b, "%sfirst %s   last %s\n", pad, stamp(s.First), stamp(s.Last))
		for _, f := range s.Facts {
			fmt.Fprintf(&b, "%s%s: %s\n", pad, Printable(f.Name), factValues(f, quoteText))
		}
		if len(s.Workarounds) > 0 {
			wa := s.Workarounds[0]
			// A null rate is "nothing measured it", not "never works".
			if wa.SuccessRate != nil {
				fmt.Fprintf(&b, "%sfix: %s (%d%% success, per %s)\n", pad, Printable(wa.Action), int(*wa.SuccessRate*100+0.5), Printable(strings.Join(wa.Sources, ", ")))
			} else {
				fmt.Fprintf(&b, "%sfix: %s\n", pad, Printable(wa.Action))
			}
		}
		if len(s.DeadEnds) > 0 && s.DeadEnds[0].Action != "" {
			fmt.Fprintf(&b, "%sdon't: %s\n", pad, Printable(s.DeadEnds[0].Action))
		}
		for _, e := range s.Evidence {
			writeEvidenceText(&b, st, pad, e)
		}
	}
	if len(r.Unknown) > 0 {
		fmt.Fprintf(&b, "\n%s\n", st.bold(fmt.Sprintf("Fault-looking lines no signature explains (%s):", plural(len(r.Unknown), "wording", "wordings"))))
		for _, g := range r.Unknown {
			fmt.Fprintf(&b, "%s %5s  %s\n", st.severity(g.Severity, fmt.Sprintf("%-8s", strings.ToUpper(g.Severity))), "×"+fmt.Sprint(g.Count), Printable(g.Shape))
			if at := g.At.Where(); at != "" {
				fmt.Fprintf(&b, "%se.g. at %s: %s\n", strings.Repeat(" ", 16), Printable(at), st.dim(Printable(g.Example)))
			} else {
				fmt.Fprintf(&b, "%se.g. %s\n", strings.Repeat(" ", 16), st.dim(Printable(g.Example)))
			}
		}
		fmt.Fprintf(&b, "\n%s\n", st.dim("Explain a line against the pack with `mqttdiag explain LINE`."))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeEvidenceText quotes a matched line under its file:line, the lines
// before it dimmed and the line itself marked with ">".
func writeEvidenceText(b *strings.Builder, st style, pad string, e Evidence) {
	if at := e.Where(); at != "" {
		fmt.Fprintf(b, "%sat %s\n", pad, Printable(at))
	}
	for _, l := range e.Context {
		fmt.Fprintf(b, "%s    %s\n", pad, st.dim(Printable(l)))
	}
	fmt.Fprintf(b, "%s  > %s\n", pad, Printable(e.Line))
}

// factValues writes a fact's values with their counts, most frequent
// first, and how many others there were. quote formats one value.
func factValues(f Fact, quote func(string) string) string {
	parts := make([]string, 0, len(f.Values))
	for _, c := range f.Values {
		parts = append(parts, fmt.Sprintf("%s (%d)", quote(c.Value), c.N))
	}
	out := strings.Join(parts, ", ")
	switch {
	case f.Past > 0:
		out += fmt.Sprintf(" and more than %s other values (%s past the first %s not told apart)",
			group(int64(f.More)), plural(f.Past, "occurrence", "occurrences"), group(maxFactValues))
	case f.More > 0:
		out += fmt.Sprintf(" and %s more", group(int64(f.More)))
	}
	return out
}

// quoteText makes a value printable, quoting it when it has spaces or is
// empty, so that where it ends is clear.
func quoteText(v string) string {
	v = Printable(v)
	if v == "" || strings.ContainsAny(v, " \",") {
		v = `"` + strings.ReplaceAll(v, `"`, `\"`) + `"`
	}
	return v
}

func timeRange(start, end time.Time) string {
	if start.IsZero() {
		return ""
	}
	return fmt.Sprintf(" (faults from %s to %s)", stamp(start), stamp(end))
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// style applies ANSI colours when on.
type style struct{ on bool }

func (s style) wrap(code, text string) string {
	if !s.on || text == "" {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

func (s style) bold(t string) string { return s.wrap("1", t) }
func (s style) dim(t string) string  { return s.wrap("2", t) }

func (s style) severity(sev, t string) string {
	switch sev {
	case "critical":
		return s.wrap("1;35", t)
	case "error":
		return s.wrap("1;31", t)
	case "warning":
		return s.wrap("33", t)
	case "":
		return s.wrap("32", t) // nothing found
	}
	return s.wrap("36", t)
}
