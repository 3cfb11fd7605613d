package lint

import (
	"strings"
	"testing"

	"github.com/mqttdiag/mqttdiag/signatures"
)

func parse(t *testing.T, doc string) []*signatures.Signature {
	t.Helper()
	s, err := signatures.Parse("pack.json", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string // each a substring of one problem; none means no problem
	}{
		{"seed 002's unguarded alternation",
			`{"id": "s/002", "regex": "CONNACK.*returned.*identifier rejected|server unavailable|0x02|0x03"}`,
			[]string{`pack.json:1: s/002: regex: top-level alternative "0x0[23]" matches on its own anywhere in a line (e.g. any line containing "0x0")`}},
		{"grouped alternation is fine",
			`{"id": "s/ok", "regex": "^Connection Refused: (?:identifier rejected|broker unavailable)$"}`, nil},
		{"anchored alternatives are fine",
			`{"id": "s/ok", "regex": "^Client (?P<c>.+) closed|^Socket error on client (?P<c>.+)"}`, nil},
		{"empty match",
			`{"id": "s/empty", "regex": "^(?:Error: )?"}`, []string{"s/empty: regex: matches the empty string"}},
		{"example mismatch after the timestamp",
			`{"id": "s/ex", "regex": "^Client (?P<c>.+) disconnected\\.$", "examples": ["1700000000: Client a disconnected.", "1700000000: Client a closed its connection."]}`,
			[]string{`s/ex: examples: example does not match: "1700000000: Client a closed its connection."`}},
		{"counterexample matches",
			`{"id": "s/cx", "regex": "disconnected", "counterexamples": ["1700000000: Client a disconnected."]}`,
			[]string{"s/cx: counterexamples: counterexample matches"}},
		{"overlap",
			`[{"id": "s/a", "regex": "^Client (?P<c>.+) disconnected\\.$", "examples": ["1700000000: Client x disconnected."]},
			  {"id": "s/b", "regex": "disconnected\\.$"}]`,
			[]string{`s/a: examples: example "1700000000: Client x disconnected." also matches s/b`}},
		{"declared overlap is fine",
			`[{"id": "s/a", "regex": "^Client (?P<c>.+) disconnected\\.$", "examples": ["1700000000: Client x disconnected."], "transition_graph": {"frequently_confused_with": ["s/b"]}},
			  {"id": "s/b", "regex": "disconnected\\.$"}]`, nil},
		{"different brokers do not overlap",
			`[{"id": "s/a", "broker": "mosquitto", "regex": "^Client (?P<c>.+) disconnected\\.$", "examples": ["Client x disconnected."]},
			  {"id": "s/b", "broker": "emqx", "regex": "disconnected"}]`, nil},
		{"ends_when and expects: empty match, example mismatch",
			`{"id": "s/f", "regex": "^Connecting bridge \\(step 1\\) (?P<bridge>\\S+)",
			  "ends_when": {"regex": "^(?:running)?", "examples": ["1700000000: running"]},
			  "expects": {"regex": "^Connecting bridge \\(step 2\\) (?P<bridge>\\S+)", "within": "30s", "examples": ["1700000000: Connecting bridge (step 1) b"]}}`,
			[]string{"s/f: ends_when: regex matches the empty string", `s/f: expects: example does not match: "1700000000: Connecting bridge (step 1) b"`}},
		{"ends_when without examples",
			`{"id": "s/g", "regex": "^Error: (?P<r>x)$", "ends_when": {"regex": "^running$"}}`,
			[]string{"s/g: ends_when: warning: no examples"}},
		{"unknown related id",
			`{"id": "s/r", "regex": "x", "transition_graph": {"leads_to": ["s/nowhere"]}}`,
			[]string{`s/r: transition_graph.leads_to: warning: names "s/nowhere"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range Check(parse(t, tt.doc), Options{}) {
				if strings.Contains(p.Msg, "Chinese") || p.Field == "workarounds_zh" {
					continue // translations are tested below
				}
				got = append(got, p.String())
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d problems %q, want %d %q", len(got), got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %q lacks %q", got[i], w)
				}
			}
		})
	}
}

func TestStrictRequiresKnowledge(t *testing.T) {
	ps := Check(parse(t, `{"id": "s/bare", "regex": "^Client (?P<client_id>.+) x$"}`), Options{Strict: true})
	var fields []string
	for _, p := range ps {
		if p.Level != Error {
			t.Errorf("strict left a warning: %s", p)
		}
		fields = append(fields, p.Field)
	}
	for _, want := range []string{"signature_zh", "examples", "counterexamples", "root_cause", "workarounds", "dead_ends", "versions", "official_doc_url", "severity", "verification_tier"} {
		if !strings.Contains(strings.Join(fields, " "), want) {
			t.Errorf("strict lint does not ask for %s: %v", want, ps)
		}
	}
	// Without Strict, only translations are flagged, as warnings.
	for _, p := range Check(parse(t, `{"id": "s/bare", "regex": "^x$"}`), Options{}) {
		if p.Level != Warning {
			t.Errorf("non-strict error: %s", p)
		}
	}
}

// The built-in pack passes the strict lint: `make test` runs this.
func TestBuiltinPackIsClean(t *testing.T) {
	sigs, err := signatures.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range Check(sigs, Options{Strict: true}) {
		t.Error(p)
	}
}

// A site pack is linted against the signatures loaded beside it: an
// overlap either way is an error of the site signature, unless it names
// the other as confusable; names of them in transition_graph resolve.
func TestCheckAgainst(t *testing.T) {
	builtin := parse(t, `[{"id": "b/takeover", "regex": "^Client (?P<client_id>.+) already connected, closing old connection\\.$",
		"examples": ["Client dup already connected, closing old connection."]}]`)
	tests := []struct {
		name, doc string
		want      []string // fields of the errors expected, in order
	}{
		{"example matches it", `[{"id": "s/any", "regex": "already connected", "examples": ["Client x already connected, closing old connection."]}]`, []string{"examples", "regex"}},
		{"regex matches its example", `[{"id": "s/dup", "regex": "^Client dup ", "examples": ["Client dup went away"]}]`, []string{"regex"}},
		{"named as confusable", `[{"id": "s/any", "regex": "already connected", "examples": ["Client x already connected, closing old connection."],
			"transition_graph": {"frequently_confused_with": ["b/takeover"]}}]`, nil},
		{"unrelated, leads to it", `[{"id": "s/other", "regex": "^Frobnicator", "examples": ["Frobnicator hot"], "transition_graph": {"leads_to": ["b/takeover"]}}]`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range Check(parse(t, tt.doc), Options{Against: builtin}) {
				if p.Level == Error || strings.Contains(p.Field, "transition_graph") {
					got = append(got, p.Field)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("problems in fields %v, want %v", got, tt.want)
			}
		})
	}
}

// A rate without a basis is a warning, an error under --strict; null and
// sourced rates pass.
func TestStrictRejectsUnsourcedRates(t *testing.T) {
	sigs := parse(t, `{"id": "s/rates", "regex": "^Client (?P<client_id>.+) x$",
		"confidence": 0.9, "fix_success_rate": null,
		"workarounds": [{"action": "a", "success_rate": 0.8, "sources": []}, {"action": "b", "success_rate": 0.7, "sources": ["https://example.org/thread"]}, {"action": "c", "success_rate": null}],
		"dead_ends": [{"action": "d", "why_fails": "w", "fail_rate": 0.5}]}`)
	want := map[string]bool{"workarounds": false, "dead_ends": false, "confidence": false}
	for _, p := range Check(sigs, Options{Strict: true}) {
		if strings.Contains(p.Msg, "has no sources") || strings.Contains(p.Msg, "has no basis") {
			if p.Level != Error {
				t.Errorf("strict: %s is not an error", p)
			}
			if _, ok := want[p.Field]; !ok {
				t.Errorf("unexpected: %s", p)
			}
			want[p.Field] = true
			if strings.Contains(p.Msg, "[1]") || strings.Contains(p.Msg, "[2]") {
				t.Errorf("a sourced or null rate was reported: %s", p)
			}
		}
	}
	for f, seen := range want {
		if !seen {
			t.Errorf("no unsourced-rate problem for %s", f)
		}
	}
	for _, p := range Check(sigs, Options{}) {
		if strings.Contains(p.Msg, "has no sources") && p.Level != Warning {
			t.Errorf("non-strict: %s is not a warning", p)
		}
	}
}

// part_of and context name other signatures: an unknown one is a warning,
// a same field no earlier signature captures and a signature that is part
// of itself without a line bound are errors.
func TestCheckPartOfAndContext(t *testing.T) {
	builtin := parse(t, `[{"id": "b/refused", "regex": "^Refused (?P<client_id>\\S+)$", "examples": ["Refused a"]}]`)
	tests := []struct {
		name, doc string
		want      []string // "level field" of the problems expected, in order
	}{
		{"sound", `[{"id": "s/gone", "regex": "^Gone (?P<client_id>\\S+)$", "examples": ["Gone a"],
			"part_of": {"signatures": ["b/refused"], "within": "1s", "lines": 1, "same": ["client_id"]},
			"context": [{"preceded_by": ["b/refused"], "within": "1s", "becomes": "b/refused"}]}]`, nil},
		{"unknown cause", `[{"id": "s/gone", "regex": "^Gone (?P<client_id>\\S+)$", "examples": ["Gone a"],
			"part_of": {"signatures": ["b/nothing"], "within": "1s"}}]`, []string{"warning part_of"}},
		{"same field the cause lacks", `[{"id": "s/gone", "regex": "^Gone (?P<client_id>\\S+) (?P<file>\\S+)$", "examples": ["Gone a f"],
			"part_of": {"signatures": ["b/refused"], "within": "1s", "same": ["file"]}}]`, []string{"error part_of"}},
		{"part of itself without lines", `[{"id": "s/gone", "regex": "^Gone (?P<client_id>\\S+)$", "examples": ["Gone a"],
			"part_of": {"signatures": ["s/gone"], "within": "1s"}}]`, []string{"error part_of"}},
		{"unknown becomes", `[{"id": "s/gone", "regex": "^Gone (?P<client_id>\\S+)$", "examples": ["Gone a"],
			"context": [{"fields": {"client_id": "^local\\."}, "becomes": "b/nothing"}]}]`, []string{"warning context"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range Check(parse(t, tt.doc), Options{Against: builtin}) {
				if p.Field == "part_of" || p.Field == "context" {
					got = append(got, p.Level.String()+" "+p.Field)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("problems %v, want %v", got, tt.want)
			}
		})
	}
}
