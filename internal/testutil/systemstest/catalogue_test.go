package systemstest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mqttdiag/mqttdiag/internal/brokerlog"
	"github.com/mqttdiag/mqttdiag/matcher"
	"github.com/mqttdiag/mqttdiag/signatures"
)

// entry is one line of signatures/catalogue/<system>.jsonl, in the format
// of signatures/catalogue/README.md (branch catalogue-mosquitto): one
// distinct log format, where it is logged, and what the pack makes of it.
type entry struct {
	Format      string   `json:"format"`
	Level       string   `json:"level"`
	Sites       []string `json:"sites"`
	Versions    []string `json:"versions"`
	Disposition string   `json:"disposition"`
	Signature   string   `json:"signature,omitempty"`
	Reason      string   `json:"reason,omitempty"`
	Args        []string `json:"args,omitempty"`
}

// catalogueFloors are the shares of entries explained (signature or
// benign) when the catalogues were written; a fall below is a regression.
// These systems are not under issue 14's 98 % target: most of HiveMQ's
// and VerneMQ's warnings have no signature yet, and the catalogue says so.
var catalogueFloors = map[string]float64{
	signatures.BrokerHiveMQ:  0.26,
	signatures.BrokerVerneMQ: 0.38,
	signatures.BrokerAWSIoT:  0.95,
	signatures.BrokerPaho:    0.67,
}

// verb finds the placeholders of the four systems' log calls: SLF4J's {},
// Erlang's ~p and ~s, printf's %s and %d.
var verb = regexp.MustCompile(`\{\}|~[ps]|%[sd]`)

// render is the line a catalogue entry becomes in the system's log: the
// format with its verbs replaced (by args, else a plausible value), after
// the timestamp and level prefix that system writes for the entry's level.
func render(system string, e entry) string {
	n := 0
	text := verb.ReplaceAllStringFunc(e.Format, func(v string) string {
		defer func() { n++ }()
		if n < len(e.Args) && e.Args[n] != "" {
			return e.Args[n]
		}
		switch {
		case system == signatures.BrokerAWSIoT:
			// timestamp, traceId, accountId, [topicName,] clientId, principalId, sourceIp, sourcePort
			vals := []string{"2024-05-14 14:52:54.916", "7b92c6e1", "123456789012"}
			if strings.Contains(e.Format, `"topicName"`) {
				vals = append(vals, "a/b")
			}
			vals = append(vals, "sensor-1", "fb03ca6b", "203.0.113.7", "47021")
			if n < len(vals) {
				return vals[n]
			}
		case v == "%d":
			return "7"
		case v == "~p":
			return `{[],<<"sensor-1">>}`
		}
		return "sensor-1"
	})
	switch system {
	case signatures.BrokerHiveMQ:
		if e.Level == "event.log" {
			return "2024-05-14 14:52:54,916 - " + text
		}
		return fmt.Sprintf("2024-05-14 14:52:54,916 %-5s - %s", e.Level, text)
	case signatures.BrokerVerneMQ:
		return "2023-05-04 10:11:12.345 [" + e.Level + "] <0.2157.0>@vmq_mod:fun:1 " + text
	case signatures.BrokerPaho:
		switch e.Level {
		case "PROTOCOL", "MINIMUM":
			return "20261205 101304.348 " + text
		case "sample printf":
			return text
		case "connack_string", "error_string":
			return "2026-12-05 10:12:21,767 ERROR app: connect failed: " + text
		}
		return "2026-12-05 10:12:21,767 " + strings.ToUpper(e.Level) + " paho.mqtt.client: " + text
	}
	return text
}

// TestCatalogues proves signatures/catalogue/{hivemq,vernemq,awsiot,paho}.jsonl
// against the built-in pack, as issue 14's catalogues are proven: every
// entry has a valid disposition; a signature entry names a signature of
// the pack for that system (or a generic one) that fires on the rendered
// line; no warning-or-worse signature fires on a benign entry's line. It
// logs the coverage (go test -v -run TestCatalogues).
func TestCatalogues(t *testing.T) {
	sigs, err := signatures.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	pack, err := signatures.NewPack(sigs)
	if err != nil {
		t.Fatal(err)
	}
	m, err := matcher.New(sigs)
	if err != nil {
		t.Fatal(err)
	}
	for _, system := range []string{signatures.BrokerHiveMQ, signatures.BrokerVerneMQ, signatures.BrokerAWSIoT, signatures.BrokerPaho} {
		path := filepath.Join("../../../signatures/catalogue", system+".jsonl")
		entries := readCatalogue(t, path)
		var explained, gaps int
		for i, e := range entries {
			where := fmt.Sprintf("%s:%d: %q", path, i+1, e.Format)
			if e.Format == "" || len(e.Sites) == 0 || len(e.Versions) == 0 || e.Level == "" {
				t.Errorf("%s: format, level, sites and versions are required", where)
			}
			line := render(system, e)
			var hits []matcher.Hit
			for _, l := range strings.Split(line, "\n") {
				msg, _, _ := brokerlog.Split(l)
				hits = append(hits, m.MatchBroker(system, msg)...)
			}
			switch e.Disposition {
			case "signature":
				explained++
				s, ok := pack.Lookup(e.Signature)
				if !ok {
					t.Errorf("%s: signature %q is not in the built-in pack", where, e.Signature)
					continue
				}
				if s.Broker != "" && s.Broker != system {
					t.Errorf("%s: signature %s is scoped to %s", where, s.ID, s.Broker)
				}
				if !anyID(hits, e.Signature) {
					t.Errorf("%s: %s does not fire on the rendered line %q (hits %v)", where, e.Signature, line, ids(hits))
				}
			case "benign":
				explained++
				if e.Reason == "" {
					t.Errorf("%s: benign without a reason", where)
				}
				for _, h := range hits {
					switch h.Signature.EffectiveSeverity() {
					case signatures.SeverityCritical, signatures.SeverityError, signatures.SeverityWarning:
						t.Errorf("%s: benign (%s), but %s fires on %q", where, e.Reason, h.Signature.ID, line)
					}
				}
			case "gap":
				gaps++
				if e.Reason == "" {
					t.Errorf("%s: gap without a reason", where)
				}
			default:
				t.Errorf("%s: disposition %q, want signature, benign or gap", where, e.Disposition)
			}
		}
		share := float64(explained) / float64(len(entries))
		t.Logf("%-8s %3d entries, %3d explained (%.1f %%), %3d gaps", system, len(entries), explained, 100*share, gaps)
		if share < catalogueFloors[system] {
			t.Errorf("%s: %.3f of the catalogue explained, below its floor %.2f", system, share, catalogueFloors[system])
		}
	}
}

func readCatalogue(t *testing.T, path string) []entry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var e entry
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			t.Errorf("%s:%d: %v", path, n, err)
			continue
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s: empty", path)
	}
	return out
}

func anyID(hits []matcher.Hit, id string) bool {
	for _, h := range hits {
		if h.Signature.ID == id {
			return true
		}
	}
	return false
}

func ids(hits []matcher.Hit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, h.Signature.ID)
	}
	return out
}
