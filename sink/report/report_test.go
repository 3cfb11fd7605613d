package report

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"

	"github.com/mqttdiag/mqttdiag/sink"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

var rate80 = 0.8

// diag is a diagnosis of signature id about client at t0+sec seconds.
func diag(id, severity, client string, sec int) *sink.Diagnosis {
	at := t0.Add(time.Duration(sec) * time.Second)
	d := &sink.Diagnosis{SignatureID: id, Title: "title of " + id, Severity: severity, Line: "line of " + id,
		Fields: map[string]string{}, LogTime: &at,
		Workarounds: []sink.Workaround{{Action: "fix " + id, SuccessRate: &rate80, Sources: []string{"a test"}}}, DeadEnds: []sink.DeadEnd{{Action: "not this"}}}
	if client != "" {
		d.Fields["client_id"] = client
	}
	return d
}

func unknown(shape, line string, sec int) *sink.Diagnosis {
	d := diag(UnknownID, "warning", "", sec)
	d.Fields["shape"], d.Line = shape, line
	return d
}

func collect(t *testing.T, ds ...*sink.Diagnosis) *Collector {
	t.Helper()
	c := NewCollector()
	if retry, err := c.Notify(context.Background(), ds); err != nil || retry {
		t.Fatalf("Notify: %v %v", retry, err)
	}
	return c
}

// The report counts each signature with its time range and top clients,
// puts the worst severity first, groups unexplained lines by wording, and
// says so in the verdict.
func TestReportAggregates(t *testing.T) {
	c := collect(t,
		diag("x/warn", "warning", "c1", 5), diag("x/warn", "warning", "c2", 1), diag("x/warn", "warning", "c1", 9),
		diag("x/crit", "critical", "", 3),
		unknown("Error: <n> failed", "Error: 1 failed", 2), unknown("Error: <n> failed", "Error: 2 failed", 4),
		unknown("Warning: odd", "Warning: odd", 6),
	)
	r := c.Report([]string{"m.log"}, 100)
	if len(r.Signatures) != 2 || r.Signatures[0].ID != "x/crit" || r.Signatures[1].ID != "x/warn" {
		t.Fatalf("signatures %+v, want x/crit before x/warn", r.Signatures)
	}
	w := r.Signatures[1]
	if w.Count != 3 || !w.First.Equal(t0.Add(time.Second)) || !w.Last.Equal(t0.Add(9*time.Second)) {
		t.Errorf("x/warn: count %d from %v to %v", w.Count, w.First, w.Last)
	}
	if fmt.Sprint(w.TopClients) != "[{c1 2} {c2 1}]" {
		t.Errorf("top clients %v", w.TopClients)
	}
	if len(r.Unknown) != 2 || r.Unknown[0].Shape != "Error: <n> failed" || r.Unknown[0].Count != 2 || r.Unknown[0].Example != "Error: 1 failed" {
		t.Errorf("unknown groups %+v", r.Unknown)
	}
	if r.Worst != "critical" || r.Verdict != "CRITICAL: 4 known faults (2 kinds) in 100 lines; worst: title of x/crit. 3 fault-looking lines no signature explains." {
		t.Errorf("verdict %q (worst %q)", r.Verdict, r.Worst)
	}
	if !r.Start.Equal(t0.Add(time.Second)) || !r.End.Equal(t0.Add(9*time.Second)) {
		t.Errorf("range %v to %v", r.Start, r.End)
	}
}

func TestReportNothingFound(t *testing.T) {
	r := NewCollector().Report(nil, 1)
	if r.Worst != "" || r.Verdict != "No known faults in 1 line." {
		t.Errorf("verdict %q (worst %q)", r.Verdict, r.Worst)
	}
}

// A log with more distinct clients than the collector keeps costs bounded
// memory; the counts stay exact.
func TestCollectorBoundsClients(t *testing.T) {
	var ds []*sink.Diagnosis
	for i := range maxDistinct + 500 {
		ds = append(ds, diag("x/warn", "warning", fmt.Sprintf("c%d", i), i%60))
	}
	ds = append(ds, diag("x/warn", "warning", "c0", 1))
	c := collect(t, ds...)
	if n := len(c.sigs["x/warn"].clients); n != maxDistinct {
		t.Errorf("%d distinct clients kept, want %d", n, maxDistinct)
	}
	r := c.Report(nil, int64(len(ds)))
	if r.Signatures[0].Count != maxDistinct+501 || r.Signatures[0].TopClients[0] != (Count{"c0", 2}) || len(r.Signatures[0].TopClients) != 5 {
		t.Errorf("count %d, top %v", r.Signatures[0].Count, r.Signatures[0].TopClients)
	}
}

// The text report without colour: no escape codes of its own, the verdict
// first, then per signature its count, clients, best fix and dead end,
// and the unexplained wordings with an example.
func TestWriteText(t *testing.T) {
	c := collect(t, diag("x/warn", "warning", "c1", 5), diag("x/warn", "warning", "c1", 9), unknown("Error: <n> failed", "Error: 1 failed", 2))
	var b strings.Builder
	if err := c.Report([]string{"m.log"}, 10).WriteText(&b, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "\x1b") {
		t.Errorf("escape codes without colour:\n%q", out)
	}
	if !strings.HasPrefix(out, "WARNING: 2 known faults (1 kind) in 10 lines; worst: title of x/warn. 1 fault-looking line no signature explains.\n") {
		t.Errorf("verdict line:\n%s", out)
	}
	for _, want := range []string{"Read m.log", "×2  title of x/warn", "client_id: c1 (2)", "fix: fix x/warn (80% success, per a test)", "don't: not this",
		"Fault-looking lines no signature explains (1 wording):", "×1  Error: <n> failed", "e.g. Error: 1 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	if err := c.Report(nil, 10).WriteText(&b, TextOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\x1b[") {
		t.Errorf("no colour with Color set:\n%q", b.String())
	}
}

// The HTML report escapes what comes from the log.
func TestWriteHTMLEscapes(t *testing.T) {
	d := diag("x/warn", "warning", "<img src=x onerror=alert(1)>", 1)
	d.Line = "Client <script>alert(1)</script> gone"
	c := collect(t, d)
	var b strings.Builder
	if err := c.Report([]string{"m.log"}, 1).WriteHTML(&b, HTMLOptions{Generated: t0}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "<script>alert(1)") || strings.Contains(out, "<img src=x") {
		t.Errorf("log text not escaped in HTML")
	}
	if !strings.Contains(out, "title of x/warn") {
		t.Errorf("HTML report lacks the signature")
	}
}

// However many wordings a log holds, the collector keeps 1,000 apart and
// counts the rest together: every line is still counted.
func TestCollectorBoundsWordings(t *testing.T) {
	c := NewCollector()
	at := time.Date(2026, 11, 22, 4, 33, 18, 0, time.UTC)
	for i := range 5000 {
		shape := fmt.Sprintf("Error: odd wording %c%c%c.", 'a'+i%26, 'a'+i/26%26, 'a'+i/676)
		_, _ = c.Notify(context.Background(), []*sink.Diagnosis{{ID: fmt.Sprint(i), SignatureID: UnknownID, Severity: "error",
			Line: "1795321999: " + shape, Fields: map[string]string{"shape": shape}, LogTime: &at}})
	}
	r := c.Report(nil, 5000)
	total := 0
	for _, g := range r.Unknown {
		total += g.Count
	}
	if len(r.Unknown) != maxWordings+1 || total != 5000 || r.Unknown[0].Shape != OtherWordings || r.Unknown[0].Count != 4000 {
		t.Errorf("%d wordings counting %d, the first %q ×%d; want %d counting 5000, the other wordings first with 4000",
			len(r.Unknown), total, r.Unknown[0].Shape, r.Unknown[0].Count, maxWordings+1)
	}
}

// Facts are every field the diagnoses named, whatever the signature,
// with their distinct values counted, the most frequent first, a file
// joined with its line, and bounded: the values past the first 1,000 are
// counted, not kept, and the report says so.
func TestCollectorFacts(t *testing.T) {
	var ds []*sink.Diagnosis
	for i := range 7 {
		d := diag("x/port", "critical", "", i)
		d.Fields["port"] = fmt.Sprint(1883 + i%3) // 1883 ×3, 1884 ×2, 1885 ×2
		d.Fields["file"], d.Fields["line"] = "/etc/mosquitto/mosquitto.conf", "12"
		d.Fields["empty"] = ""
		ds = append(ds, d)
	}
	for i := range maxFactValues + 10 {
		d := diag("x/many", "warning", fmt.Sprintf("c%04d", i), i)
		ds = append(ds, d)
	}
	ds = append(ds, diag("x/many", "warning", "c0000", 1))
	long := diag("x/long", "error", strings.Repeat("ä", 200)+"tail", 1) // 404 bytes
	ds = append(ds, long)
	r := collect(t, ds...).Report(nil, int64(len(ds)))
	var port, many Signature
	for _, s := range r.Signatures {
		switch s.ID {
		case "x/port":
			port = s
		case "x/many":
			many = s
		}
	}
	if got := fmt.Sprint(port.Facts); got != "[{port [{1883 3} {1884 2} {1885 2}] 0 0} {file [{/etc/mosquitto/mosquitto.conf:12 7}] 0 0}]" {
		t.Errorf("facts of x/port: %s", got)
	}
	if len(many.Facts) != 1 {
		t.Fatalf("facts of x/many: %v", many.Facts)
	}
	f := many.Facts[0]
	if f.Name != "client_id" || len(f.Values) != FactsShown || f.Values[0] != (Count{"c0000", 2}) || f.More != maxFactValues-FactsShown || f.Past != 10 {
		t.Errorf("bounded fact: %s ×%d values, first %v, more %d, past %d", f.Name, len(f.Values), f.Values[0], f.More, f.Past)
	}
	if got := factValues(f, quoteText); !strings.HasSuffix(got, " and more than 995 other values (10 occurrences past the first 1,000 not told apart)") {
		t.Errorf("factValues: %s", got)
	}
	if got := factValues(port.Facts[0], quoteText); got != "1883 (3), 1884 (2), 1885 (2)" {
		t.Errorf("factValues: %s", got)
	}
	for _, s := range r.Signatures {
		if s.ID == "x/long" {
			if v := s.Facts[0].Values[0].Value; v != strings.Repeat("ä", 128)+"…" {
				t.Errorf("a long value is kept as %q (%d bytes)", v, len(v))
			}
		}
	}
}

// The report quotes the first lines of a signature with where they were
// read and at most two lines before each.
func TestCollectorEvidence(t *testing.T) {
	var ds []*sink.Diagnosis
	for i := range MaxEvidence + 2 {
		d := diag("x/e", "error", "", i)
		d.Line = fmt.Sprintf("line %d", i)
		d.Source = sink.Source{File: "/var/log/m.log", LineNumber: int64(10 * (i + 1))}
		d.Context = []string{"a", "b", "c"}
		ds = append(ds, d)
	}
	r := collect(t, ds...).Report(nil, 100)
	ev := r.Signatures[0].Evidence
	if len(ev) != MaxEvidence || ev[0].Line != "line 0" || ev[2].Where() != "/var/log/m.log:30" || fmt.Sprint(ev[1].Context) != "[b c]" {
		t.Errorf("evidence %+v", ev)
	}
	var b strings.Builder
	if err := r.WriteText(&b, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if want := "at /var/log/m.log:10\n                    b\n                    c\n                  > line 0\n"; !strings.Contains(b.String(), want) {
		t.Errorf("text report lacks\n%s\nin\n%s", want, b.String())
	}
}

// The timeline's colours differ for any number of signatures, unlike a
// fixed palette that repeats.
func TestColorsDistinct(t *testing.T) {
	seen := map[string]int{}
	for k := range 5000 {
		c := Color(k)
		if j, dup := seen[c]; dup {
			t.Fatalf("signatures %d and %d share colour %s", j, k, c)
		}
		seen[c] = k
	}
}

// hostile is a diagnosis whose line and fields carry markup for HTML and
// Markdown: a script, a table cell separator, a code fence, a backtick.
func hostile() *sink.Diagnosis {
	d := diag("x/h", "error", "evil`|<b>x</b>", 1)
	d.Line = "1796465852: Client <script>document.title='pwned'</script> | ``` `x` gone"
	d.Context = []string{"```", "<img src=x onerror=alert(1)>"}
	d.Source = sink.Source{File: "m.log", LineNumber: 7}
	return d
}

// The Markdown report, rendered by a real GitHub-flavoured renderer, shows
// the hostile line as text in a code block and the facts as a table: no
// markup from the log gets through.
func TestWriteMarkdownEscapes(t *testing.T) {
	var b strings.Builder
	if err := collect(t, hostile()).Report([]string{"m.log"}, 7).WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := goldmark.New(goldmark.WithExtensions(extension.Table)).Convert([]byte(b.String()), &out); err != nil {
		t.Fatal(err)
	}
	html := out.String()
	for _, bad := range []string{"<script", "<img", "<b>x"} {
		if strings.Contains(html, bad) {
			t.Errorf("markup %q from the log got through Markdown:\n%s\n---\n%s", bad, b.String(), html)
		}
	}
	for _, want := range []string{
		"<td><code>evil`|&lt;b&gt;x&lt;/b&gt;</code> (1)</td>", // the fact, whole, in its cell
		"&gt; 1796465852: Client &lt;script&gt;document.title='pwned'&lt;/script&gt; | ``` `x` gone\n</code></pre>",
		"<code>m.log:7</code>",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("rendered Markdown lacks %q:\n%s\n---\n%s", want, b.String(), html)
		}
	}
}

// A card's Markdown table is an HTML table in the report, not "| … |".
func TestWriteHTMLRendersCardTables(t *testing.T) {
	card := "# T\n\n## Version Compatibility\n\n| Version | Status |\n| --- | --- |\n| Mosquitto 2.0 | active |\n"
	var b strings.Builder
	err := collect(t, hostile()).Report(nil, 1).WriteHTML(&b, HTMLOptions{Cards: map[string]string{"x/h": card}, Generated: t0})
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, "<td>Mosquitto 2.0</td>") || strings.Contains(out, "| Mosquitto 2.0 |") {
		t.Errorf("card table not rendered as a table")
	}
	if !strings.Contains(out, `<span class="hit">1796465852: Client &lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;`) {
		t.Errorf("the quoted line is not in the HTML, escaped")
	}
}
