package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/mqttdiag/mqttdiag/internal/testutil/brokertest"
)

// faultLog is mosquitto 2.0.11's real output for every fault of the pack,
// captured by `make fault-log` (see its header).
const faultLog = "../../examples/logs/mosquitto-2.0.11-faults.log"

// at is where a report must say a fault's line is, "faults.log:N": the
// line n after the capture's first line containing text (found, not
// fixed, so that a capture made again keeps the test meaningful).
func at(text string, n int) string {
	data, err := os.ReadFile(faultLog)
	if err != nil {
		panic(err)
	}
	for i, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, text) {
			return fmt.Sprintf("faults.log:%d", i+1+n)
		}
	}
	panic("no line of " + faultLog + " contains " + text)
}

// evidenceWants are facts and quoted lines of the real fault log that a
// report must carry, per signature: what an operator needs to act. A
// function, not a variable: the test binary also runs as mqttdiag itself
// (startMqttdiag), elsewhere than beside the capture.
func evidenceWants() map[string][]string {
	return map[string][]string{
		// A websockets listener that cannot bind names its port.
		"mosquitto/websockets-listener-failed": {"port", "38597", at("websockets listener on port 38597", 0), "Error: Unable to create websockets listener on port 38597."},
		// A port in use: the line before names the port (facts_before).
		"mosquitto/startup-address-in-use": {"port", "44623", at("Opening ipv4 listen socket on port 44623.", 1), "1796465852: Opening ipv4 listen socket on port 44623.", "1796465852: Error: Address already in use"},
		// A refused client is named by its client id.
		"mosquitto/connack-bad-username-password": {"client_id", "no-identity", at("Sending CONNACK to no-identity (0, 4)", 0), "1796465852: Sending CONNACK to no-identity (0, 4)"},
		// A config error names the file and the line: the "Error found at"
		// line after it is its detail, whose facts it carries.
		"mosquitto/config-unknown-variable": {"file", "mosquitto.conf:5", at(`Unknown configuration variable "allow_anonymus"`, 0), "1796465850: Error: Unknown configuration variable \"allow_anonymus\"."},
	}
}

// textGroup is the block of a text report about signature id: from its
// title line to the blank line after it.
func textGroup(t *testing.T, report, id string) string {
	t.Helper()
	i := strings.Index(report, "\n                "+id+"\n")
	if i < 0 {
		t.Fatalf("the report has no group for %s", id)
	}
	start := strings.LastIndex(report[:i], "\n") + 1
	end := strings.Index(report[i:], "\n\n")
	if end < 0 {
		return report[start:]
	}
	return report[start : i+end]
}

// The text report of the real fault log names, per fault, the facts its
// lines carried and quotes the first lines with their file:line and the
// lines before them.
func TestScanTextReportCarriesEvidence(t *testing.T) {
	code, out, errOut := runCLI(t, "", "scan", "--format", "text", "--color", "never", faultLog)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for id, wants := range evidenceWants() {
		g := textGroup(t, out, id)
		for _, want := range wants {
			if !strings.Contains(g, want) {
				t.Errorf("%s: the text report's group lacks %q:\n%s", id, want, g)
			}
		}
	}
	g := textGroup(t, out, "mosquitto/websockets-listener-failed")
	if !regexp.MustCompile(`(?m)^ +port: (\d+ \(1\), ){3}\d+ \(1\)$`).MatchString(g) {
		t.Errorf("the websockets group does not count its four ports:\n%s", g)
	}
	if !strings.Contains(textGroup(t, out, "mosquitto/connack-bad-username-password"), "client_id: no-identity (2), no-identity-5 (2)") {
		t.Errorf("the refused clients are not counted")
	}
	if !strings.Contains(textGroup(t, out, "mosquitto/startup-address-in-use"), "  > 1796465852: Error: Address already in use") {
		t.Errorf("the matched line is not marked")
	}
}

// The Markdown report carries the same facts and lines, and its tables
// are tables.
func TestScanMarkdownReportCarriesEvidence(t *testing.T) {
	code, out, errOut := runCLI(t, "", "scan", "--format", "markdown", faultLog)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for id, wants := range evidenceWants() {
		i := strings.Index(out, "`"+id+"` · ")
		if i < 0 {
			t.Fatalf("no section for %s", id)
		}
		sec := out[i:]
		if j := strings.Index(sec, "\n## "); j >= 0 {
			sec = sec[:j]
		}
		for _, want := range wants {
			if !strings.Contains(sec, want) {
				t.Errorf("%s: the Markdown section lacks %q:\n%s", id, want, sec)
			}
		}
	}
	for _, want := range []string{"| `port` | `33767` (1), `38597` (1), `41369` (1), `44621` (1) |", "| `client_id` | `no-identity` (2), `no-identity-5` (2) |", "At `" + faultLog + ":1777`:\n\n```text\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("the Markdown report lacks %q", want)
		}
	}
}

// faultFacts is, per signature, the names of the facts its diagnoses of
// the log at path carried, read from scan's JSON: what each HTML group
// must show, whatever the signature.
func faultFacts(t *testing.T, path string) map[string][]string {
	t.Helper()
	code, out, errOut := runCLI(t, "", "scan", "--format", "json", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	sets := map[string]map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var d struct {
			SignatureID string            `json:"signature_id"`
			Fields      map[string]string `json:"fields"`
			PartOf      string            `json:"part_of"`
		}
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		if d.SignatureID == "unknown" || d.PartOf != "" {
			continue // a detail is carried by its cause's group
		}
		if sets[d.SignatureID] == nil {
			sets[d.SignatureID] = map[string]bool{}
		}
		for k, v := range d.Fields {
			if v != "" && !(k == "line" && d.Fields["file"] != "") {
				sets[d.SignatureID][k] = true
			}
		}
	}
	out2 := map[string][]string{}
	for id, s := range sets {
		names := []string{}
		for k := range s {
			names = append(names, k)
		}
		sort.Strings(names)
		out2[id] = names
	}
	return out2
}

// hostileLine is a real keepalive-timeout line whose client id is a
// script: if the report let it through, the page's title would change.
const hostileLine = "1796465871: Client <script>document.title='pwned'</script> has exceeded timeout, disconnecting.\n"

// The HTML report of the real fault log, opened in a real headless
// Chromium: every group shows its facts and its quoted lines, the card's
// Version Compatibility is a table, the timeline's colours are all
// distinct, and a log line holding a script shows as text and does not
// run. Screenshots are kept with the test's artifacts.
func TestHTMLReportEvidenceInChromium(t *testing.T) {
	chromium := brokertest.RequireTool(t, "chromium")
	dir := t.TempDir()
	log, err := os.ReadFile(faultLog)
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "faults.log")
	if err := os.WriteFile(logPath, append(log, hostileLine...), 0o644); err != nil {
		t.Fatal(err)
	}
	want := faultFacts(t, logPath)
	html := filepath.Join(dir, "report.html")
	if code, _, errOut := runCLI(t, "", "scan", "--format", "json", "--html", html, logPath); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	ctx := openInChromium(t, chromium, html, 1100)
	type group struct {
		Facts  map[string]string `json:"facts"`
		Quotes []struct {
			Where, Hit string
			Context    []string
		} `json:"quotes"`
		CardTables int `json:"cardTables"`
	}
	type page struct {
		Title   string           `json:"title"`
		Scripts int              `json:"scripts"`
		Groups  map[string]group `json:"groups"`
		Colors  []string         `json:"colors"`
		Series  int              `json:"series"`
	}
	p, err := chromedp.Run(ctx, chromedp.Evaluate[page](`(() => {
	  const groups = {};
	  document.querySelectorAll("section.group").forEach(s => {
	    const facts = {};
	    // innerText is what is rendered: a script element's code is not.
	    s.querySelectorAll("table.facts tbody tr").forEach(r => facts[r.dataset.fact] = r.cells[1].innerText);
	    const quotes = [...s.querySelectorAll("figure.quote")].map(f => ({
	      Where: f.querySelector("figcaption").textContent,
	      Hit: f.querySelector(".hit").innerText,
	      Context: [...f.querySelectorAll(".ctx")].map(c => c.textContent)}));
	    groups[s.dataset.sig] = {facts, quotes, cardTables: s.querySelectorAll("details.card table").length};
	  });
	  const colors = [...document.querySelectorAll("#legend i")].map(i => getComputedStyle(i).backgroundColor);
	  return {title: document.title, scripts: document.scripts.length, groups, colors, series: data.Series.length};
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if p.Title != "mqttdiag incident report" || p.Scripts != 1 {
		t.Errorf("the injected script ran or was added: title %q, %d scripts", p.Title, p.Scripts)
	}
	if len(p.Groups) != len(want) {
		t.Errorf("%d groups on the page, the scan diagnosed %d signatures", len(p.Groups), len(want))
	}
	for id, names := range want {
		g, ok := p.Groups[id]
		if !ok {
			t.Errorf("%s: no group on the page", id)
			continue
		}
		got := []string{}
		for k := range g.Facts {
			got = append(got, k)
		}
		sort.Strings(got)
		if strings.Join(got, ",") != strings.Join(names, ",") {
			t.Errorf("%s: the page shows facts %v, the diagnoses carried %v", id, got, names)
		}
		if len(g.Quotes) == 0 {
			t.Errorf("%s: no quoted line", id)
		}
		for _, q := range g.Quotes {
			if !regexp.MustCompile(`^at .*faults\.log:\d+$`).MatchString(q.Where) || q.Hit == "" {
				t.Errorf("%s: a quote without its file:line or line: %+v", id, q)
			}
		}
		if g.CardTables == 0 {
			t.Errorf("%s: the card's Version Compatibility is not a <table>", id)
		}
	}
	for id, wants := range evidenceWants() {
		g := p.Groups[id]
		var all strings.Builder
		for k, v := range g.Facts {
			all.WriteString(k + " " + v + "\n")
		}
		for _, q := range g.Quotes {
			all.WriteString(q.Where + "\n" + strings.Join(q.Context, "\n") + "\n" + q.Hit + "\n")
		}
		for _, w := range wants {
			if !strings.Contains(all.String(), w) {
				t.Errorf("%s: the page's group lacks %q:\n%s", id, w, all.String())
			}
		}
	}
	ka := p.Groups["mosquitto/keepalive-timeout"]
	if !strings.Contains(ka.Facts["client_id"], "<script>document.title='pwned'</script> (1)") {
		t.Errorf("the script client id is not shown as text: %q", ka.Facts["client_id"])
	}
	shown := false
	for _, q := range ka.Quotes {
		shown = shown || q.Hit == strings.TrimSuffix(hostileLine, "\n")
	}
	if !shown {
		t.Errorf("the line holding a script is not shown as text: %+v", ka.Quotes)
	}
	distinct := map[string]bool{}
	for _, c := range p.Colors {
		distinct[c] = true
	}
	if p.Series < 9 || len(p.Colors) != p.Series || len(distinct) != p.Series {
		t.Errorf("%d timeline series, %d legend colours of which %d distinct", p.Series, len(p.Colors), len(distinct))
	}
	// Pictures for a person: the top of the page, and the port-in-use group
	// with its card open.
	top, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	sel := `section.group[data-sig="mosquitto/startup-address-in-use"]`
	if err := chromedp.Do(ctx, chromedp.SetAttributeValue(chromedp.CSS(sel+` details.card`), "open", "")); err != nil {
		t.Fatal(err)
	}
	grp, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(sel)))
	if err != nil {
		t.Fatal(err)
	}
	ka2, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(`section.group[data-sig="mosquitto/keepalive-timeout"]`)))
	if err != nil {
		t.Fatal(err)
	}
	for name, png := range map[string][]byte{"report-top.png": top, "report-group.png": grp, "report-script-line.png": ka2} {
		path := filepath.Join(t.ArtifactDir(), name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s (%d bytes)", path, len(png))
	}
}
