package signatures_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mqttdiag/mqttdiag/internal/brokerlog"
	"github.com/mqttdiag/mqttdiag/internal/catalogue"
	"github.com/mqttdiag/mqttdiag/matcher"
	"github.com/mqttdiag/mqttdiag/signatures"
)

// maxGapShare is the share of a catalogue's entries that may still be
// gaps (issue 14: coverage of at least 98 %), overall and in each version.
const maxGapShare = 0.02

// checkCatalogue proves signatures/catalogue/<broker>.jsonl against the
// built-in pack. render turns an entry into the line(s) the broker prints
// for it, whole (timestamp prefix included); the lines go through
// brokerlog.Split and the real matcher, as in the pipeline.
//
//   - every entry has a valid disposition;
//   - a signature entry names a signature of the pack, scoped to broker
//     (or to none), and that signature matches a rendered line;
//   - no warning-or-worse signature matches a rendered line of a benign
//     entry;
//   - gaps are at most maxGapShare of the entries, overall and in each
//     version.
//
// It logs the coverage (go test -v -run TestCatalogue ./signatures).
func checkCatalogue(t *testing.T, broker string, render func(catalogue.Entry) ([]string, error)) {
	t.Helper()
	path := filepath.Join("catalogue", broker+".jsonl")
	entries, err := catalogue.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	all, err := signatures.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	pack, err := signatures.NewPack(all)
	if err != nil {
		t.Fatal(err)
	}
	m, err := matcher.New(pack.Signatures())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := fmt.Sprintf("%s: %q", path, e.Format)
		if err := e.Check(); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		lines, err := render(e)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		switch e.Disposition {
		case catalogue.Signature:
			s, ok := pack.Lookup(e.Signature)
			if !ok {
				t.Errorf("%s: signature %s is not in the built-in pack", name, e.Signature)
				continue
			}
			if s.Broker != "" && s.Broker != broker {
				t.Errorf("%s: signature %s is scoped to %s", name, e.Signature, s.Broker)
				continue
			}
			if !anyHit(m, broker, lines, func(h matcher.Hit) bool { return h.Signature.ID == e.Signature }) {
				t.Errorf("%s: %s does not match the rendered line(s) %q; its hits: %v", name, e.Signature, lines, hitIDs(m, broker, lines))
			}
		case catalogue.Benign:
			if anyHit(m, broker, lines, func(h matcher.Hit) bool { return severe(h.Signature) }) {
				t.Errorf("%s: benign (%s), but the rendered line(s) %q raise %v", name, e.Reason, lines, hitIDs(m, broker, lines))
			}
		}
	}
	counts := catalogue.Count(entries)
	report := func(label string, c catalogue.Coverage) {
		t.Logf("%-4s %s", label, c)
		if float64(c.Gap) > maxGapShare*float64(c.Entries) {
			t.Errorf("%s %s: %d gaps of %d entries, more than %.0f %%", path, label, c.Gap, c.Entries, 100*maxGapShare)
		}
	}
	report("all", counts[""])
	for _, v := range catalogue.Versions(counts) {
		report(v, counts[v])
	}
}

// severe reports whether a hit of s is a warning-or-worse diagnosis of
// the line itself. A signature with expects is not: its line is only the
// start of a wait, diagnosed when what should follow does not.
func severe(s *signatures.Signature) bool {
	if s.Expects != nil {
		return false
	}
	switch s.EffectiveSeverity() {
	case signatures.SeverityCritical, signatures.SeverityError, signatures.SeverityWarning:
		return true
	}
	return false
}

func anyHit(m *matcher.Matcher, broker string, lines []string, ok func(matcher.Hit) bool) bool {
	for _, l := range lines {
		msg, _, _ := brokerlog.Split(l)
		for _, h := range m.MatchBroker(broker, msg) {
			if ok(h) {
				return true
			}
		}
	}
	return false
}

func hitIDs(m *matcher.Matcher, broker string, lines []string) []string {
	var ids []string
	for _, l := range lines {
		msg, _, _ := brokerlog.Split(l)
		for _, h := range m.MatchBroker(broker, msg) {
			ids = append(ids, h.Signature.ID)
		}
	}
	return ids
}

// splitLines is the physical lines of a rendered message that holds
// newlines, as a log reader sees them; only the first carries the
// prefix.
func splitLines(prefix, text string) []string {
	parts := strings.Split(text, "\n")
	parts[0] = prefix + parts[0]
	return parts
}
