package matcher

import (
	"fmt"
	"reflect"
	"regexp/syntax"
	"sync"
	"testing"

	"github.com/mqttdiag/mqttdiag/signatures"
)

func sigs(t *testing.T, doc string) []*signatures.Signature {
	t.Helper()
	s, err := signatures.Parse("test.json", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMatch(t *testing.T) {
	m, err := New(sigs(t, `[
		{"id": "takeover", "regex": "^Client (?P<client_id>.+) already connected, closing old connection\\.$"},
		{"id": "refused", "regex": "^(?:Sending CONNACK to (?P<address>\\S+) \\([01], (?P<rc>[23])\\)|Client (?P<client_id>.+) disconnected, (?P<reason>client identifier not valid)\\.)$"},
		{"id": "any-client", "regex": "^Client "},
		{"id": "empty-group", "regex": "^x(?P<opt>y?)$"}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		msg  string
		want map[string]map[string]string // signature id -> fields
	}{
		{"Client a b already connected, closing old connection.", map[string]map[string]string{
			"takeover": {"client_id": "a b"}, "any-client": nil}},
		{"Sending CONNACK to 127.0.0.1 (0, 2)", map[string]map[string]string{
			"refused": {"address": "127.0.0.1", "rc": "2"}}},
		// The second alternative's client_id is reported, not the first
		// alternative's empty, non-participating address.
		{"Client dev-7 disconnected, client identifier not valid.", map[string]map[string]string{
			"refused": {"client_id": "dev-7", "reason": "client identifier not valid"}, "any-client": nil}},
		// A group that participates with an empty match is reported as "".
		{"x", map[string]map[string]string{"empty-group": {"opt": ""}}},
		{"Sending CONNACK to abc (0, 0)", map[string]map[string]string{}},
		{"", map[string]map[string]string{}},
	}
	for _, tt := range tests {
		got := map[string]map[string]string{}
		for _, h := range m.Match(tt.msg) {
			got[h.Signature.ID] = h.Fields
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Match(%q) = %v, want %v", tt.msg, got, tt.want)
		}
	}
}

func TestMatchNoHitDoesNotAllocate(t *testing.T) {
	m, err := New(sigs(t, `[{"id": "takeover", "regex": "^Client (?P<client_id>.+) already connected"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { m.Match("Received PINGREQ from c1") }); n != 0 {
		t.Errorf("a line without a hit allocates %v times", n)
	}
}

// rarer is the ordered-literals trigger of whichever of a and b the
// frequency table (generated from the example logs) rates rarer.
func rarer(a, b string) string {
	if frequency([]byte(b)) < frequency([]byte(a)) {
		return "ordered-literals:" + b
	}
	return "ordered-literals:" + a
}

func TestDecomposition(t *testing.T) {
	tests := []struct {
		regex string
		want  []string // kind:trigger per branch
	}{
		// The third branch is keyed on the rarer of its two literals by the
		// frequency table, which go generate rebuilds from the example logs.
		{`(?i)(ANR|Application Not Responding|main thread.*blocked)`, []string{"literal-set:anr", "literal-set:application not responding", rarer("main thread", "blocked")}},
		{`Sending (CONNACK|PUBACK)`, []string{"literal-set:sending connack", "literal-set:sending puback"}},
		{`^Client (?P<client_id>.+) already connected, closing old connection\.$`, []string{"ordered-literals: already connected, closing old connection."}},
		{`ab[cd]`, []string{"literal-set:abc", "literal-set:abd"}},
		{`\(Mid: \d+, RC:145\)$`, []string{"regex:, rc:145)"}},
		{`^\d+$`, []string{"always-run:"}},
		// Non-ASCII runes read as one class; о and д are left out, their
		// orbits hold 3-byte runes (U+1C82, U+1C81), so "ар" is the key.
		{`(?i)нож.*подарок`, []string{"ordered-literals:" + string(normalize(nil, "ар"))}},
		{`(?i)straße`, []string{"literal-set:stra"}},
	}
	for _, tt := range tests {
		re, err := syntax.Parse(tt.regex, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, b := range analyze(re) {
			trig := ""
			if len(b.triggers) > 0 {
				trig = string(b.triggers[0].key)
			}
			got = append(got, b.kind.String()+":"+trig)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %q\nwant %q", tt.regex, got, tt.want)
		}
	}
}

func TestLiteralIndexFolds(t *testing.T) {
	fold := func(s string) literal {
		var l literal
		for _, r := range s {
			l = append(l, litRune{r: r, fold: true})
		}
		return l
	}
	tests := []struct {
		lit        literal
		text       string
		start, end int
	}{
		{fold("kelvin"), "x \u212Aelvin", 2, 10},
		{fold("mask"), "MA\u017FK", 0, 5},
		{fold("größe"), "GRÖSSE GRÖẞE", 8, 16},
		{literal{{r: 'a'}, {r: 'b'}}, "AB ab", 3, 5},
		// U+FFFD matches an invalid byte, not a byte inside a valid rune.
		{literal{{r: '\uFFFD'}, {r: 'x'}}, "ä\xffx", 2, 4},
		{literal{{r: '\uFFFD'}, {r: 'x'}}, "äx", -1, -1},
	}
	for _, tt := range tests {
		n := newNeedle(tt.lit)
		start, end := n.index(tt.text, 0)
		if start != tt.start || end != tt.end {
			t.Errorf("%q in %q: got %d,%d want %d,%d", tt.lit, tt.text, start, end, tt.start, tt.end)
		}
	}
}

func TestScope(t *testing.T) {
	m, err := New(sigs(t, `[
		{"id": "mosq", "regex": "boom", "broker": "mosquitto"},
		{"id": "emqx", "regex": "boom", "broker": "emqx"},
		{"id": "any", "regex": "boom"},
		{"id": "mqtt-domain", "regex": "boom", "domain": "mqtt"},
		{"id": "emqx-domain", "regex": "boom", "domain": "emqx"},
		{"id": "python", "regex": "boom", "domain": "python"},
		{"id": "python-forced", "regex": "boom", "domain": "python", "broker": "mosquitto"}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		broker string
		want   []string
	}{
		{"", []string{"mosq", "emqx", "any", "mqtt-domain", "emqx-domain", "python", "python-forced"}},
		{"rabbitmq", []string{"mosq", "emqx", "any", "mqtt-domain", "emqx-domain", "python", "python-forced"}},
		{"hivemq", []string{"any", "mqtt-domain"}},
		{"mosquitto", []string{"mosq", "any", "mqtt-domain", "python-forced"}},
		{"emqx", []string{"emqx", "any", "mqtt-domain", "emqx-domain"}},
	}
	for _, tt := range tests {
		var got []string
		for _, h := range m.MatchBroker(tt.broker, "it went boom") {
			got = append(got, h.Signature.ID)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("broker %q: got %v, want %v", tt.broker, got, tt.want)
		}
	}
}

func TestCacheIsBoundedAndCounted(t *testing.T) {
	// \d+ makes the branch a regex one, so every line goes through the cache.
	m, err := New(sigs(t, `[{"id": "mid", "regex": "Mid: (?P<mid>\\d+)"}]`), CacheSize(100), CacheBytes(4096))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		m.Match(fmt.Sprintf("Received PUBACK from c (Mid: %d)", i%10+(i/100)*10))
	}
	st := m.Stats()
	if st.CacheMisses == 0 || st.CacheHits == 0 || st.CacheHits+st.CacheMisses != 1000 {
		t.Errorf("hits %d misses %d, want both and 1000 in all", st.CacheHits, st.CacheMisses)
	}
	if st.CacheBytes > 4096 || st.CacheEntries > 100 {
		t.Errorf("cache holds %d entries, %d bytes; bounds are 100 and 4096", st.CacheEntries, st.CacheBytes)
	}
	if st.RegexRuns == 0 || m.SignatureStats()[0].RegexRuns == 0 {
		t.Errorf("regex runs not counted: %+v %+v", st, m.SignatureStats())
	}
}

// Many goroutines on one matcher get what one gets alone (run with -race).
func TestConcurrentMatch(t *testing.T) {
	m, err := New(append(builtinSigs(t), trickySigs(t)...), CacheSize(16))
	if err != nil {
		t.Fatal(err)
	}
	lines := sampleMessages(t)
	want := make([][]Hit, len(lines))
	for i, l := range lines {
		want[i] = m.Match(l)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, l := range lines {
				if got := m.Match(l); !equalHits(got, want[i]) {
					errs <- fmt.Sprintf("line %q: %s, want %s", l, describe(got), describe(want[i]))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestLazyCompilation(t *testing.T) {
	m, err := New(append(builtinSigs(t), corpusSigs(t, "")...))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range m.Costs() {
		if c.Compiled {
			t.Fatalf("%s compiled before any line", c.ID)
		}
	}
	m.Match("Received PUBACK from c (Mid: 7, RC:145)")
	compiled := 0
	for _, c := range m.Costs() {
		if c.Compiled {
			compiled++
		}
	}
	if compiled == 0 || compiled > 5 {
		t.Errorf("%d regexes compiled for one line", compiled)
	}
}
