package report

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"time"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// HTMLOptions control the HTML report.
type HTMLOptions struct {
	// Cards maps a signature id to its Markdown card (signatures.Markdown),
	// shown under the table.
	Cards map[string]string
	// Generated is the report's creation time.
	Generated time.Time
}

// chartData is what the page's script draws: one series per signature.
type chartData struct {
	Start    int64 `json:"start"`    // Unix ms of the first bucket
	BucketMS int64 `json:"bucketMs"` // width of a bucket
	Series   []chartSeries
}

type chartSeries struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Severity string `json:"severity"`
	Color    string `json:"color"`
	Counts   []int  `json:"counts"`
}

// unknownColor is the timeline's colour for unexplained lines: a grey,
// apart from the signatures' hues.
const unknownColor = "#90a4ae"

// Color is the k-th colour of the timeline: hues step by the golden angle
// (about 137.5°), so no two signatures share a hue however many there
// are, and neighbours in the legend are far apart on the colour wheel.
// Lightness alternates in three steps so that close hues of a long list
// still differ.
func Color(k int) string {
	const golden = 137.50776405003785 // 360° × (2 − φ)
	hue := math.Mod(float64(k)*golden, 360)
	light := []int{42, 55, 34}[k%3]
	return fmt.Sprintf("hsl(%.2f, 65%%, %d%%)", hue, light)
}

type htmlView struct {
	R         *Report
	Chart     chartData
	Groups    []htmlGroup
	Generated string
	Stamp     func(time.Time) string
}

// htmlGroup is a signature's detail: its facts, quoted lines and card.
type htmlGroup struct {
	Signature
	// Color is trusted CSS: Color builds it from numbers alone.
	Color template.CSS
	Card  template.HTML
}

// WriteHTML writes the report as one self-contained HTML page: styles,
// data and the script that draws the timeline are inline, and the page
// makes no network request, so it can be mailed or attached to a ticket.
func (r *Report) WriteHTML(w io.Writer, o HTMLOptions) error {
	v := htmlView{R: r, Stamp: stamp, Generated: stamp(o.Generated)}
	v.Chart = chartData{Start: r.Timeline.Start.UnixMilli(), BucketMS: r.Timeline.Bucket.Milliseconds()}
	titles := map[string]Signature{}
	for _, s := range r.Signatures {
		titles[s.ID] = s
	}
	ids := make([]string, 0, len(r.Timeline.Series))
	for id := range r.Timeline.Series {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	colors := map[string]string{}
	for _, id := range ids {
		s, ok := titles[id]
		title, sev, color := s.Title, s.Severity, Color(len(colors))
		if !ok {
			title, sev, color = "Unexplained fault-looking lines", "unknown", unknownColor
		}
		colors[id] = color
		v.Chart.Series = append(v.Chart.Series, chartSeries{ID: id, Title: title, Severity: sev, Color: color, Counts: r.Timeline.Series[id]})
	}
	// Tables (a card's Version Compatibility) are GitHub-flavoured
	// Markdown, not CommonMark: without the extension they would show as
	// "| … |" text.
	md := goldmark.New(goldmark.WithExtensions(extension.Table))
	for _, s := range r.Signatures {
		g := htmlGroup{Signature: s, Color: template.CSS(colors[s.ID])}
		if card, ok := o.Cards[s.ID]; ok {
			var buf bytes.Buffer
			if err := md.Convert([]byte(card), &buf); err != nil {
				return fmt.Errorf("render card %s: %w", s.ID, err)
			}
			// goldmark escapes raw HTML in Markdown by default (it renders
			// "<!-- raw HTML omitted -->"), so the card's text, from
			// signature files, cannot inject markup.
			g.Card = template.HTML(buf.String())
		}
		v.Groups = append(v.Groups, g)
	}
	t, err := template.New("report").Funcs(template.FuncMap{
		"pct":  func(f *float64) int { return int(*f*100 + 0.5) },
		"more": func(f Fact) string { return factValues(Fact{More: f.More, Past: f.Past}, nil) },
		// Log text goes through Printable too: escaping stops markup, not a
		// bidirectional control that reorders what the eye reads.
		"p": Printable,
	}).Parse(htmlPage)
	if err != nil {
		return fmt.Errorf("report template: %w", err)
	}
	return t.Execute(w, v)
}

// htmlPage is the report's template; a constant so the binary needs no
// other file.
const htmlPage = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>mqttdiag incident report</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:18px 28px}
header h1{margin:0 0 6px;font-size:20px}
header .verdict{font-size:16px}
main{padding:20px 28px;max-width:1200px}
section{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:16px 20px;margin-bottom:18px}
h2{font-size:16px;margin:0 0 12px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #eceff3;vertical-align:top}
th{font-size:12px;text-transform:uppercase;color:#5b6473}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.sev{font-weight:600;font-size:12px;padding:2px 6px;border-radius:3px;color:#fff}
.sev-critical{background:#8e24aa}.sev-error{background:#d32f2f}.sev-warning{background:#ef8f00}.sev-info{background:#1976d2}.sev-unknown{background:#607d8b}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
#timeline{width:100%;height:260px;display:block}
.legend span{display:inline-block;margin:4px 14px 0 0;font-size:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:5px;border-radius:2px}
.card{border-top:1px solid #eceff3;padding-top:8px;margin-top:8px;overflow-wrap:anywhere}
.card summary{cursor:pointer;color:#3b5bdb}
.card table{width:auto;margin:6px 0}
.group h2 .sev{margin-right:6px;vertical-align:2px}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:8px}
table.facts{width:auto;margin:10px 0}
table.facts td:first-child{color:#5b6473;padding-right:18px}
figure.quote{margin:8px 0}
figure.quote figcaption{color:#5b6473}
figure.quote pre{margin:2px 0 0;white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f7f9;border-left:3px solid #9aa3b2;padding:6px 8px;font:12px/1.5 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
figure.quote .ctx{color:#5b6473}
figure.quote .hit{font-weight:600;color:#1d2330}
.card h1{font-size:17px;margin:10px 0 8px}.card h2{font-size:14px;margin:14px 0 6px}
.card pre{white-space:pre-wrap;background:#f6f7f9;padding:6px 8px;border-radius:4px}
main{box-sizing:border-box}
.muted{color:#5b6473}
</style>
</head>
<body>
<header>
<h1>mqttdiag incident report</h1>
<div class="verdict" id="verdict">{{.R.Verdict}}</div>
<div class="muted">{{range $i, $s := .R.Sources}}{{if $i}}, {{end}}{{$s}}{{end}} · {{.R.Lines}} lines{{if not .R.Start.IsZero}} · faults from {{call .Stamp .R.Start}} to {{call .Stamp .R.End}}{{end}} · generated {{.Generated}}</div>
</header>
<main>
<section>
<h2>Timeline</h2>
<svg id="timeline" role="img" aria-label="diagnoses per signature over time"></svg>
<div class="legend" id="legend"></div>
</section>
<section>
<h2>Faults</h2>
<table id="faults">
<thead><tr><th>Severity</th><th>Count</th><th>Signature</th><th>First</th><th>Last</th><th>Best workaround</th></tr></thead>
<tbody>
{{range .R.Signatures}}<tr data-sig="{{.ID}}" data-count="{{.Count}}">
<td><span class="sev sev-{{.Severity}}">{{.Severity}}</span></td>
<td class="n">{{.Count}}</td>
<td><a href="#card-{{.ID}}">{{.Title}}</a><br><code>{{.ID}}</code></td>
<td class="mono">{{call $.Stamp .First}}</td>
<td class="mono">{{call $.Stamp .Last}}</td>
<td>{{with index .Workarounds 0}}{{.Action}}{{if .SuccessRate}} <span class="muted">({{pct .SuccessRate}}%, per {{range $i, $s := .Sources}}{{if $i}}, {{end}}{{$s}}{{end}})</span>{{end}}{{end}}</td>
</tr>
{{end}}</tbody>
</table>
{{if not .R.Signatures}}<p>No known faults{{if .R.Unreadable}} in the lines read as broker lines; {{.R.Unreadable}} lines could not be read (e.g. <code>{{p .R.UnreadableExample}}</code>){{end}}.</p>{{end}}
</section>
{{range .Groups}}<section class="group" id="card-{{.ID}}" data-sig="{{.ID}}">
<h2><i class="swatch" style="background:{{.Color}}"></i><span class="sev sev-{{.Severity}}">{{.Severity}}</span> {{.Title}} <span class="muted">×{{.Count}}</span></h2>
<div class="muted"><code>{{.ID}}</code> · first {{call $.Stamp .First}} · last {{call $.Stamp .Last}}</div>
{{if .Facts}}<table class="facts">
<thead><tr><th>Fact</th><th>Values (occurrences)</th></tr></thead>
<tbody>
{{range .Facts}}<tr data-fact="{{.Name}}"><td><code>{{p .Name}}</code></td><td>{{range $i, $v := .Values}}{{if $i}}, {{end}}<code class="value">{{p $v.Value}}</code> ({{$v.N}}){{end}}{{if or .More .Past}}<span class="muted">{{more .}}</span>{{end}}</td></tr>
{{end}}</tbody>
</table>{{end}}
{{with index .Workarounds 0}}<p><b>Fix:</b> {{.Action}}{{if .SuccessRate}} <span class="muted">({{pct .SuccessRate}}% success, per {{range $i, $s := .Sources}}{{if $i}}, {{end}}{{$s}}{{end}})</span>{{end}}</p>{{end}}
{{if .DeadEnds}}{{with index .DeadEnds 0}}{{if .Action}}<p><b>Don't:</b> {{.Action}}</p>{{end}}{{end}}{{end}}
{{range .Evidence}}<figure class="quote" data-line="{{.LineNumber}}">
<figcaption class="mono">{{with .Where}}at {{p .}}{{end}}</figcaption>
<pre>{{range .Context}}<span class="ctx">{{p .}}</span>
{{end}}<span class="hit">{{p .Line}}</span></pre>
</figure>
{{end}}{{with .Card}}<details class="card"><summary>About this fault: root cause, versions, all workarounds</summary>{{.}}</details>{{end}}
</section>
{{end}}{{if .R.Unknown}}<section>
<h2>Fault-looking lines no signature explains</h2>
<table id="unknown">
<thead><tr><th>Severity</th><th>Count</th><th>Wording</th><th>First at</th><th>Example</th></tr></thead>
<tbody>
{{range .R.Unknown}}<tr data-count="{{.Count}}"><td><span class="sev sev-{{.Severity}}">{{.Severity}}</span></td><td class="n">{{.Count}}</td><td><code>{{p .Shape}}</code></td><td class="mono">{{p .At.Where}}</td><td><code>{{p .Example}}</code></td></tr>
{{end}}</tbody>
</table>
</section>{{end}}
</main>
<script>
"use strict";
const data = {{.Chart}};
(function draw() {
  const svg = document.getElementById("timeline");
  const ns = "http://www.w3.org/2000/svg";
  const W = svg.clientWidth || 1000, H = svg.clientHeight || 260, padL = 40, padB = 28, padT = 8;
  svg.setAttribute("viewBox", "0 0 " + W + " " + H);
  const series = data.Series || [];
  const n = series.reduce((m, s) => Math.max(m, s.counts.length), 0);
  if (n === 0) { svg.setAttribute("data-empty", "true"); return; }
  const totals = new Array(n).fill(0);
  series.forEach(s => s.counts.forEach((c, i) => totals[i] += c));
  const max = Math.max(1, ...totals);
  const bw = (W - padL) / n;
  const el = (name, attrs) => { const e = document.createElementNS(ns, name); for (const k in attrs) e.setAttribute(k, attrs[k]); return e; };
  svg.appendChild(el("line", {x1: padL, y1: H - padB, x2: W, y2: H - padB, stroke: "#9aa3b2"}));
  const label = (x, y, text, anchor) => { const t = el("text", {x: x, y: y, "font-size": 11, fill: "#5b6473", "text-anchor": anchor}); t.textContent = text; svg.appendChild(t); };
  label(padL - 6, padT + 10, String(max), "end");
  label(padL - 6, H - padB, "0", "end");
  const fmt = ms => new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  label(padL, H - 8, fmt(data.start), "start");
  label(W, H - 8, fmt(data.start + n * data.bucketMs), "end");
  const base = new Array(n).fill(0);
  const legend = document.getElementById("legend");
  series.forEach(s => {
    const color = s.color; // distinct per signature, chosen by Color in Go
    const sw = document.createElement("span");
    sw.innerHTML = "<i></i>";
    sw.firstChild.style.background = color;
    sw.appendChild(document.createTextNode(s.title + " (" + s.counts.reduce((a, b) => a + b, 0) + ")"));
    legend.appendChild(sw);
    s.counts.forEach((c, i) => {
      if (c === 0) return;
      const h = (H - padB - padT) * c / max;
      const y = H - padB - (H - padB - padT) * base[i] / max - h;
      const r = el("rect", {x: padL + i * bw + 1, y: y, width: Math.max(1, bw - 2), height: h, fill: color, "data-sig": s.id, "data-count": c});
      const tip = el("title", {}); tip.textContent = s.title + ": " + c + " at " + fmt(data.start + i * data.bucketMs);
      r.appendChild(tip);
      svg.appendChild(r);
      base[i] += c;
    });
  });
  svg.setAttribute("data-rendered", "true");
})();
</script>
</body>
</html>
`
