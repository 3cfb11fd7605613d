package devset

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/brokerlog"
	"github.com/mqttdiag/mqttdiag/internal/envelope"
	"github.com/mqttdiag/mqttdiag/matcher"
	"github.com/mqttdiag/mqttdiag/signatures"
)

const dir = "../../../signatures/testdata/devset"

// entry is one line of the development set (see the README beside it).
type entry struct {
	Line     string `json:"line"`
	URL      string `json:"url"`
	Broker   string `json:"broker"`
	Version  string `json:"version"`
	Envelope string `json:"envelope"`
	Kind     string `json:"kind"`
	Class    string `json:"class"`
	Basis    string `json:"basis"`
	Cause    string `json:"cause,omitempty"`

	where string // file:line, for messages
}

// newClass prefixes a class the pack has no signature for yet.
const newClass = "new:"

var (
	envelopes = []string{"none", "no-timestamp", "syslog", "docker-compose", "docker-service", "erl-console", "ui-copy", "label-prefix", "pretty-json"}
	brokers   = []string{signatures.BrokerMosquitto, signatures.BrokerEMQX, signatures.BrokerHiveMQ, signatures.BrokerVerneMQ, signatures.BrokerAWSIoT, signatures.BrokerPaho}
)

// load reads every *.jsonl file of the set and checks each entry's fields;
// a bad entry is reported with its file, line and field.
func load(t *testing.T, known map[string]bool) []entry {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no development set under %s: %v", dir, err)
	}
	var all []entry
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for n := 1; sc.Scan(); n++ {
			where := fmt.Sprintf("%s:%d", filepath.Base(f), n)
			var e entry
			dec := json.NewDecoder(strings.NewReader(sc.Text()))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&e); err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			e.where = where
			if msg := check(e, known); msg != "" {
				t.Errorf("%s: %s", where, msg)
				continue
			}
			all = append(all, e)
		}
		if err := sc.Err(); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		fh.Close()
	}
	return all
}

// check returns what is wrong with e, naming the field, or "".
func check(e entry, known map[string]bool) string {
	switch {
	case e.Line == "" || strings.ContainsAny(e.Line, "\r\n"):
		return "field line: want one non-empty line"
	case !strings.HasPrefix(e.URL, "https://"):
		return fmt.Sprintf("field url: %q is not an https link to the thread", e.URL)
	case !slices.Contains(brokers, e.Broker):
		return fmt.Sprintf("field broker: %q, want one of %v", e.Broker, brokers)
	case e.Version == "":
		return `field version: empty, want the version the thread states or "unknown"`
	case !slices.Contains(envelopes, e.Envelope):
		return fmt.Sprintf("field envelope: %q, want one of %v", e.Envelope, envelopes)
	case e.Basis != "thread" && e.Basis != "wording":
		return fmt.Sprintf(`field basis: %q, want "thread" or "wording"`, e.Basis)
	case e.Basis == "thread" && e.Cause == "":
		return `field cause: empty, but basis is "thread"`
	}
	switch e.Kind {
	case "normal":
		if e.Class != "normal" {
			return fmt.Sprintf(`field class: %q on a normal line, want "normal"`, e.Class)
		}
	case "fault", "detail":
		if !strings.HasPrefix(e.Class, newClass) && !known[e.Class] {
			return fmt.Sprintf("field class: %q is no signature of the built-in pack (a class it lacks is written %q+name)", e.Class, newClass)
		}
	default:
		return fmt.Sprintf(`field kind: %q, want "fault", "detail" or "normal"`, e.Kind)
	}
	return ""
}

// versionLine groups versions: Mosquitto by major.minor, EMQX by major.
func versionLine(e entry) string {
	m := regexp.MustCompile(`^[vVrRe]?(\d+)(?:\.(\d+))?`).FindStringSubmatch(e.Version)
	switch {
	case m == nil:
		return "unknown"
	case e.Broker == signatures.BrokerEMQX || m[2] == "":
		return m[1] + ".x"
	default:
		return m[1] + "." + m[2]
	}
}

// stripEnvelope removes the envelope kinds the set records, only to tell
// which misses an envelope alone causes: the line as pasted goes through
// the real envelope decoder, and the gap between the two is what it does
// not recognise yet.
var envelopeRE = map[string]*regexp.Regexp{
	// RFC 3164 syslog and journalctl's short output, "Mon DD HH:MM:SS host prog[pid]: "
	// with month names in any locale, or rsyslog's RFC 3339 time in their place.
	"syslog": regexp.MustCompile(`^(?:\pL{3,5}\.? +\d{1,2} \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:?\d\d|Z)) [^\s\[]\S* [^\s:]+: `),
	// docker compose and docker service logs: "name    | ".
	"docker-compose": regexp.MustCompile(`^\S+\s+\| `),
	"docker-service": regexp.MustCompile(`^\S+\s+\| `),
	// The Erlang shell prompt of `emqx console`: "(emqx@host)1> ".
	"erl-console": regexp.MustCompile(`^\([^()\s]+\)\d+> `),
	// A web UI's own time glued before the line when copied: "5/3/2017 8:55:40 AM".
	"ui-copy": regexp.MustCompile(`^\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d\d:\d\d [AP]M`),
	// A process manager's label: "[emqx] ".
	"label-prefix": regexp.MustCompile(`^\[[^\]\s]+\] `),
}

func stripEnvelope(e entry) string {
	if re := envelopeRE[e.Envelope]; re != nil {
		if loc := re.FindStringIndex(e.Line); loc != nil {
			return e.Line[loc[1]:]
		}
	}
	return e.Line
}

// result is what the real path made of one entry.
type result struct {
	entry
	ids      []string // signatures that fired on the line as pasted
	stripped []string // the same after the test-local envelope strip
}

func (r result) hit() bool   { return len(r.ids) > 0 }
func (r result) right() bool { return slices.Contains(r.ids, r.Class) }

func score(m *matcher.Matcher, e entry) result {
	match := func(msg string) []string {
		var out []string
		for _, h := range m.MatchBroker(e.Broker, msg) {
			if h.Signature.Expects != nil {
				// diagnosed only when the expected line does not follow
				// in time (internal/pipeline follow.go), never on a line
				// scored alone
				continue
			}
			out = append(out, h.Signature.ID)
		}
		sort.Strings(out)
		return out
	}
	// As pasted: the pipeline's path, an envelope.Decoder in Auto with its
	// default programs (internal/pipeline decode), one per line since the
	// set's lines are scored on their own. A line the decoder gives to
	// another program, or cannot read, is not matched: the pipeline skips
	// it too.
	var ids []string
	if rec := envelope.NewDecoder(envelope.Location(time.UTC), envelope.Clock(setClock)).Decode(e.Line); rec.Kind == envelope.Broker {
		ids = match(rec.Msg)
	}
	r := result{entry: e, ids: ids}
	if s := stripEnvelope(e); s != e.Line {
		msg, _, _ := brokerlog.Split(s)
		r.stripped = match(msg)
	} else {
		msg, _, _ := brokerlog.Split(e.Line)
		r.stripped = match(msg)
	}
	return r
}

// setClock is "now" for year-less syslog times: fixed, so that a run's
// figures do not depend on the day it runs.
func setClock() time.Time { return time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) }

// figures are the counts behind one row of the report.
type figures struct {
	faults, recalled, judged, right, newClass int
	normals, fps                              int
	// after the test-local envelope strip
	recalledStripped, fpsStripped int
	// detail lines, and those that raise a diagnosis of their own
	details, detailsFired int
	// fault lines that raise more than one diagnosis
	multi int
}

func (f *figures) add(r result) {
	if r.Kind == "detail" {
		f.details++
		if r.hit() {
			f.detailsFired++
		}
		return
	}
	if r.Kind == "normal" {
		f.normals++
		if r.hit() {
			f.fps++
		}
		if len(r.stripped) > 0 {
			f.fpsStripped++
		}
		return
	}
	f.faults++
	if len(r.stripped) > 0 {
		f.recalledStripped++
	}
	if strings.HasPrefix(r.Class, newClass) {
		f.newClass++
	}
	if !r.hit() {
		return
	}
	f.recalled++
	if len(r.ids) > 1 {
		f.multi++
	}
	if !strings.HasPrefix(r.Class, newClass) {
		f.judged++
		if r.right() {
			f.right++
		}
	}
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func (f figures) recall() float64      { return ratio(f.recalled, f.faults) }
func (f figures) fpRate() float64      { return ratio(f.fps, f.normals) }
func (f figures) rightClass() float64  { return ratio(f.right, f.judged) }
func (f figures) recallStrip() float64 { return ratio(f.recalledStripped, f.faults) }
func (f figures) fpStrip() float64     { return ratio(f.fpsStripped, f.normals) }

func (f figures) row(name string) string {
	right := "-"
	if f.judged > 0 {
		right = fmt.Sprintf("%5.3f", f.rightClass())
	}
	return fmt.Sprintf("| %-17s | %5d | %5.3f (%d) | %5.3f | %6d | %5.2f %% (%d) | %5.2f %% | %s (%d/%d) | %5d |",
		name, f.faults, f.recall(), f.recalled, f.recallStrip(), f.normals, 100*f.fpRate(), f.fps, 100*f.fpStrip(),
		right, f.right, f.judged, f.newClass)
}

const header = "| broker / version  | fault | recall (hits) | recall, envelope stripped | normal | false positives | false positives, envelope stripped | right class (right/judged) | class the pack lacks |\n" +
	"|---|---|---|---|---|---|---|---|---|"

// floor is the lowest figure accepted for one broker: the values measured
// when they were last recorded in BENCHMARKS.md ("Knowledge"), rounded
// down. Raise them when the pack improves; a fall below is a regression.
type floor struct {
	recall, rightClass, maxFP float64
}

var floors = map[string]floor{
	signatures.BrokerMosquitto: {recall: 0.975, rightClass: 1.000, maxFP: 0},
	signatures.BrokerEMQX:      {recall: 0.960, rightClass: 1.000, maxFP: 0},
	signatures.BrokerHiveMQ:    {recall: 0.333, rightClass: 1.000, maxFP: 0},
	signatures.BrokerVerneMQ:   {recall: 0.947, rightClass: 1.000, maxFP: 0},
	signatures.BrokerAWSIoT:    {recall: 1.000, rightClass: 1.000, maxFP: 0},
	signatures.BrokerPaho:      {recall: 1.000, rightClass: 1.000, maxFP: 0},
}

// TestDevset scores the built-in pack on the development set. Run with -v
// to see the report.
func TestDevset(t *testing.T) {
	sigs, err := signatures.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	pack, err := signatures.NewPack(sigs)
	if err != nil {
		t.Fatal(err)
	}
	m, err := matcher.New(pack.Signatures())
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, s := range pack.Signatures() {
		known[s.ID] = true
	}
	entries := load(t, known)
	if t.Failed() {
		t.FailNow()
	}
	var results []result
	for _, e := range entries {
		results = append(results, score(m, e))
	}

	byBroker := map[string]*figures{}
	byLine := map[string]*figures{}
	for _, r := range results {
		for _, k := range []string{r.Broker, r.Broker + " " + versionLine(r.entry)} {
			fm := byLine
			if k == r.Broker {
				fm = byBroker
			}
			if fm[k] == nil {
				fm[k] = &figures{}
			}
			fm[k].add(r)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "development set: %d lines from %d threads\n\n%s\n", len(results), threads(results), header)
	lines := make([]string, 0, len(byLine))
	for k := range byLine {
		lines = append(lines, k)
	}
	sort.Strings(lines)
	for _, br := range brokers {
		if f := byBroker[br]; f != nil {
			fmt.Fprintln(&b, f.row(br+" (all)"))
		}
		for _, k := range lines {
			if strings.HasPrefix(k, br+" ") {
				fmt.Fprintln(&b, byLine[k].row(k))
			}
		}
	}
	b.WriteString(envelopeTable(results))
	fmt.Fprintf(&b, "\n| broker | detail lines | details that fire on their own | fault lines with more than one diagnosis |\n|---|---|---|---|\n")
	for _, br := range brokers {
		if f := byBroker[br]; f != nil {
			fmt.Fprintf(&b, "| %s | %d | %d | %d |\n", br, f.details, f.detailsFired, f.multi)
		}
	}
	b.WriteString(report(results))
	t.Log("\n" + b.String())

	for _, br := range brokers {
		f, fl := byBroker[br], floors[br]
		if f == nil {
			t.Errorf("%s: no lines in the development set", br)
			continue
		}
		if got := f.recall(); got < fl.recall {
			t.Errorf("%s: recall %.3f fell below its floor %.3f", br, got, fl.recall)
		}
		if got := f.rightClass(); got < fl.rightClass {
			t.Errorf("%s: right-class rate %.3f fell below its floor %.3f", br, got, fl.rightClass)
		}
		if got := f.fpRate(); got > fl.maxFP {
			t.Errorf("%s: false positives %.4f of normal lines rose above the ceiling %.4f", br, got, fl.maxFP)
		}
	}
}

// envelopeTable says, per envelope kind, how many fault lines the real
// path recalls as pasted and how many it would recall with the envelope
// removed: the gap is what the envelope alone blocks.
func envelopeTable(rs []result) string {
	type row struct{ faults, pasted, stripped int }
	rows := map[string]*row{}
	for _, r := range rs {
		if r.Kind != "fault" {
			continue
		}
		w := rows[r.Envelope]
		if w == nil {
			w = &row{}
			rows[r.Envelope] = w
		}
		w.faults++
		if r.hit() {
			w.pasted++
		}
		if len(r.stripped) > 0 {
			w.stripped++
		}
	}
	var b strings.Builder
	b.WriteString("\n| envelope | fault lines | recalled as pasted | recalled, envelope stripped (test-local) |\n|---|---|---|---|\n")
	for _, env := range envelopes {
		if w := rows[env]; w != nil {
			fmt.Fprintf(&b, "| %s | %d | %d | %d |\n", env, w.faults, w.pasted, w.stripped)
		}
	}
	return b.String()
}

func threads(rs []result) int {
	seen := map[string]bool{}
	for _, r := range rs {
		seen[r.URL] = true
	}
	return len(seen)
}

// report lists what went wrong, grouped by kind: missed fault lines by
// the class they should have raised (and whether only an envelope blocked
// them), wrong classes, and false positives.
func report(rs []result) string {
	type group struct {
		n       int
		samples []result
	}
	groups := map[string]*group{}
	add := func(key string, r result) {
		g := groups[key]
		if g == nil {
			g = &group{}
			groups[key] = g
		}
		g.n++
		if len(g.samples) < 3 {
			g.samples = append(g.samples, r)
		}
	}
	for _, r := range rs {
		switch {
		case r.Kind == "normal" && r.hit():
			add("false positive: "+strings.Join(r.ids, "+"), r)
		case r.Kind == "normal":
		case r.Kind == "detail" && r.hit():
			add("detail line raises its own diagnosis: "+strings.Join(r.ids, "+")+" (belongs to "+r.Class+")", r)
		case r.Kind == "detail":
		case !r.hit() && len(r.stripped) > 0:
			add("missed, only the "+r.Envelope+" envelope blocks it: "+r.Class, r)
		case !r.hit():
			add("missed: "+r.Class, r)
		case !strings.HasPrefix(r.Class, newClass) && !r.right():
			add("wrong class: "+r.Class+" got "+strings.Join(r.ids, "+"), r)
		}
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if groups[keys[i]].n != groups[keys[j]].n {
			return groups[keys[i]].n > groups[keys[j]].n
		}
		return keys[i] < keys[j]
	})
	var b strings.Builder
	fmt.Fprintf(&b, "\nmisses, wrong classes and false positives by kind (%d kinds):\n", len(keys))
	for _, k := range keys {
		g := groups[k]
		fmt.Fprintf(&b, "\n%4d  %s\n", g.n, k)
		for _, r := range g.samples {
			fmt.Fprintf(&b, "        %q  %s (%s)\n", r.Line, r.URL, r.where)
		}
	}
	return b.String()
}
