package report

import (
	"fmt"
	"io"
	"strings"
)

// WriteMarkdown writes the report as GitHub-flavoured Markdown, for a
// ticket or a chat: the verdict, a table of the faults, then per fault its
// facts as a table and its quoted lines in code blocks. Text from the log
// goes into code spans and fenced blocks, where Markdown renders nothing,
// and through Printable, so a line cannot add markup or escape sequences.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# mqttdiag incident report\n\n")
	fmt.Fprintf(&b, "**%s**\n\n", mdText(r.Verdict))
	if r.UnreadableExample != "" {
		fmt.Fprintf(&b, "Unreadable, e.g.: %s\n\n", mdCode(r.UnreadableExample))
	}
	if len(r.Sources) > 0 {
		srcs := make([]string, len(r.Sources))
		for i, s := range r.Sources {
			srcs[i] = mdCode(s)
		}
		fmt.Fprintf(&b, "Read %s%s.\n\n", strings.Join(srcs, ", "), timeRange(r.Start, r.End))
	}
	if len(r.Signatures) > 0 {
		b.WriteString("| Severity | Count | Fault | Signature | First | Last |\n| --- | ---: | --- | --- | --- | --- |\n")
		for _, s := range r.Signatures {
			fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s |\n", mdCell(s.Severity), s.Count, mdCell(mdText(s.Title)), mdCell(mdCode(s.ID)), stamp(s.First), stamp(s.Last))
		}
	}
	for _, s := range r.Signatures {
		blankLine(&b)
		fmt.Fprintf(&b, "## %s\n\n", mdText(s.Title))
		fmt.Fprintf(&b, "%s · %s · ×%d · first %s · last %s\n\n", mdCode(s.ID), mdText(strings.ToUpper(s.Severity)), s.Count, stamp(s.First), stamp(s.Last))
		if len(s.Facts) > 0 {
			b.WriteString("| Fact | Values (occurrences) |\n| --- | --- |\n")
			for _, f := range s.Facts {
				fmt.Fprintf(&b, "| %s | %s |\n", mdCell(mdCode(f.Name)), mdCell(factValues(f, mdCode)))
			}
			b.WriteByte('\n')
		}
		if len(s.Workarounds) > 0 {
			wa := s.Workarounds[0]
			if wa.SuccessRate != nil {
				fmt.Fprintf(&b, "- **Fix:** %s (%d%% success, per %s)\n", mdText(wa.Action), int(*wa.SuccessRate*100+0.5), mdText(strings.Join(wa.Sources, ", ")))
			} else {
				fmt.Fprintf(&b, "- **Fix:** %s\n", mdText(wa.Action))
			}
		}
		if len(s.DeadEnds) > 0 && s.DeadEnds[0].Action != "" {
			fmt.Fprintf(&b, "- **Don't:** %s\n", mdText(s.DeadEnds[0].Action))
		}
		if len(s.Workarounds) > 0 || len(s.DeadEnds) > 0 && s.DeadEnds[0].Action != "" {
			b.WriteByte('\n')
		}
		for _, e := range s.Evidence {
			writeEvidenceMarkdown(&b, e)
		}
	}
	if len(r.Unknown) > 0 {
		blankLine(&b)
		fmt.Fprintf(&b, "## Fault-looking lines no signature explains (%s)\n\n", plural(len(r.Unknown), "wording", "wordings"))
		b.WriteString("| Severity | Count | Wording | First at | Example |\n| --- | ---: | --- | --- | --- |\n")
		for _, g := range r.Unknown {
			fmt.Fprintf(&b, "| %s | %d | %s | %s | %s |\n", mdCell(g.Severity), g.Count, mdCell(mdCode(g.Shape)), mdCell(mdCode(g.At.Where())), mdCell(mdCode(g.Example)))
		}
		b.WriteString("\nExplain a line against the pack with `mqttdiag explain LINE`.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeEvidenceMarkdown quotes a matched line as a fenced block under its
// file:line: the lines before it, then the line marked with ">".
func writeEvidenceMarkdown(b *strings.Builder, e Evidence) {
	if at := e.Where(); at != "" {
		fmt.Fprintf(b, "At %s:\n\n", mdCode(at))
	}
	var q strings.Builder
	for _, l := range e.Context {
		q.WriteString("  " + Printable(l) + "\n")
	}
	q.WriteString("> " + Printable(e.Line) + "\n")
	fence := strings.Repeat("`", max(3, longestRun(q.String(), '`')+1))
	fmt.Fprintf(b, "%stext\n%s%s\n\n", fence, q.String(), fence)
}

// blankLine ends what b holds with one empty line, before a heading.
func blankLine(b *strings.Builder) {
	if !strings.HasSuffix(b.String(), "\n\n") {
		b.WriteByte('\n')
	}
}

// mdCode puts s in a code span: Markdown renders nothing inside it. The
// span's backticks are one more than the longest run in s, and padded
// with spaces when s starts or ends with one.
func mdCode(s string) string {
	s = Printable(s)
	if s == "" {
		return "` `"
	}
	ticks := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || strings.HasPrefix(s, " ") && strings.HasSuffix(s, " ") {
		s = " " + s + " "
	}
	return ticks + s + ticks
}

// mdText escapes the characters Markdown gives a meaning to, so that a
// title or an action is read as text.
func mdText(s string) string {
	s = Printable(s)
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\`*_{}[]()<>#+-.!|~&", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// mdCell makes s safe in a table cell: a "|" ends a cell even in a code
// span, so it is escaped (GFM removes the backslash there too).
func mdCell(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '|' && (i == 0 || s[i-1] != '\\') {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// longestRun is the length of the longest run of c in s.
func longestRun(s string, c byte) int {
	best, n := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			n++
			best = max(best, n)
		} else {
			n = 0
		}
	}
	return best
}
