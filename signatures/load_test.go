package signatures

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

var seedFiles = []string{
	"testdata/seeds/000_6487f11a06e68c2a.txt",
	"testdata/seeds/001_09283fea6aa8d51f.txt",
	"testdata/seeds/002_63c0e9ab7710950a.txt",
}

// The seed documents must load unchanged and survive a decode/encode round
// trip with every field and value intact.
func TestSeedsLoadAndRoundTrip(t *testing.T) {
	for _, path := range seedFiles {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			sigs, err := Parse(path, data)
			if err != nil {
				t.Fatalf("seed does not load: %v", err)
			}
			if len(sigs) != 1 {
				t.Fatalf("got %d signatures, want 1", len(sigs))
			}
			out, err := json.Marshal(sigs[0])
			if err != nil {
				t.Fatal(err)
			}
			var want, got map[string]any
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if len(want) != 30 {
				t.Errorf("seed has %d fields, the schema names 30", len(want))
			}
			for k := range want {
				if _, ok := got[k]; !ok {
					t.Errorf("field %q lost in the round trip", k)
				}
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("field %q added by the round trip", k)
				}
			}
			if !reflect.DeepEqual(want, got) {
				t.Errorf("round trip changed values:\nwant %v\ngot  %v", want, got)
			}
			// A second decode of our own output gives the same struct.
			again, err := Parse("again", out)
			if err != nil {
				t.Fatal(err)
			}
			again[0].origin, sigs[0].origin = Origin{}, Origin{}
			if !reflect.DeepEqual(again[0], sigs[0]) {
				t.Errorf("re-decoded signature differs")
			}
		})
	}
}

func TestParseArrayAndOrigins(t *testing.T) {
	doc := "[\n  {\"id\": \"a/one\", \"regex\": \"^one$\"},\n\n  {\n    \"id\": \"a/two\",\n    \"regex\": \"two\"\n  }\n]\n"
	sigs, err := Parse("pack.json", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(sigs) != 2 || sigs[0].ID != "a/one" || sigs[1].ID != "a/two" {
		t.Fatalf("got %+v", sigs)
	}
	if o := sigs[0].Origin(); o != (Origin{"pack.json", 2}) {
		t.Errorf("origin of a/one = %+v, want pack.json:2", o)
	}
	if o := sigs[1].Origin(); o != (Origin{"pack.json", 4}) {
		t.Errorf("origin of a/two = %+v, want pack.json:4", o)
	}
}

// Every way a signature file can be wrong is reported with file, line,
// id and field, so that the user can go straight to the mistake.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string // substrings of the error, in order: file:line, id, field, reason
	}{
		{"bad json", "{\n  \"id\": \"a/b\",\n  \"regex\": \"x\"\n  \"domain\": \"d\"\n}", []string{"f.json:4", "a/b", "invalid JSON"}},
		{"truncated", "[\n {\"id\": \"a/b\", \"regex\": \"x\"},\n {\"id\": \"a/c\",", []string{"f.json:3", "unexpected end"}},
		{"missing id", "{\n  \"regex\": \"x\"\n}", []string{"f.json:1", ": id: missing"}},
		{"missing regex", "{\n  \"id\": \"a/b\"\n}", []string{"f.json:1", "a/b: regex: missing"}},
		{"bad regex", "{\n  \"id\": \"a/b\",\n  \"regex\": \"Client (?P<client_id>.+\"\n}", []string{"f.json:3", "a/b: regex: does not compile", "missing closing )"}},
		{"perl lookahead", "{\"id\": \"a/b\", \"regex\": \"x(?=y)\"}", []string{"f.json:1", "a/b: regex", "invalid or unsupported Perl syntax"}},
		{"unknown field", "{\n  \"id\": \"a/b\",\n  \"regex\": \"x\",\n  \"regx\": \"y\"\n}", []string{"f.json:4", "a/b: regx: unknown field"}},
		{"wrong type", "{\n  \"id\": \"a/b\",\n  \"regex\": \"x\",\n  \"confidence\": \"high\"\n}", []string{"f.json:4", "a/b: confidence", "JSON string", "float64"}},
		{"bad severity", "{\n  \"id\": \"a/b\",\n  \"regex\": \"x\",\n  \"severity\": \"fatal\"\n}", []string{"f.json:4", "a/b: severity", "critical, error, warning, info"}},
		{"bad broker", "{\"id\": \"a/b\", \"regex\": \"x\", \"broker\": \"rabbitmq\"}", []string{"a/b: broker"}},
		{"rate out of range", "{\"id\": \"a/b\", \"regex\": \"x\", \"workarounds\": [{\"action\": \"y\", \"success_rate\": 95}]}", []string{"a/b: workarounds", "success_rate 95"}},
		{"dedup field not captured", "{\n  \"id\": \"a/b\",\n  \"regex\": \"Client (?P<client_id>\\\\S+)\",\n  \"dedup_fields\": [\"client\"]\n}", []string{"f.json:4", "a/b: dedup_fields", `"client" is not a named capture`, "client_id"}},
		{"threshold count", "{\"id\": \"a/b\", \"regex\": \"x\", \"threshold\": {\"count\": 1, \"window\": \"5m\"}}", []string{"a/b: threshold", "count 1"}},
		{"threshold window", "{\n  \"id\": \"a/b\",\n  \"regex\": \"x\",\n  \"threshold\": {\"count\": 50, \"window\": \"5 minutes\"}\n}", []string{"f.json:4", "a/b: threshold", `window "5 minutes" is not a Go duration`}},
		{"ends_when without regex", "{\"id\": \"a/b\", \"regex\": \"x\", \"ends_when\": {}}", []string{"a/b: ends_when", "regex missing"}},
		{"ends_when with within", "{\"id\": \"a/b\", \"regex\": \"x\", \"ends_when\": {\"regex\": \"y\", \"within\": \"1m\"}}", []string{"a/b: ends_when", "only expects has a deadline"}},
		{"expects bad regex", "{\"id\": \"a/b\", \"regex\": \"x\", \"expects\": {\"regex\": \"(\", \"within\": \"30s\"}}", []string{"a/b: expects", "does not compile"}},
		{"expects without within", "{\"id\": \"a/b\", \"regex\": \"x\", \"expects\": {\"regex\": \"y\"}}", []string{"a/b: expects", `within "" is not a Go duration`}},
		{"expects negative within", "{\"id\": \"a/b\", \"regex\": \"x\", \"expects\": {\"regex\": \"y\", \"within\": \"-30s\"}}", []string{"a/b: expects", "positive"}},
		{"part_of without signatures", "{\"id\": \"a/b\", \"regex\": \"x\", \"part_of\": {\"within\": \"1s\"}}", []string{"a/b: part_of", "name the signatures"}},
		{"part_of bad within", "{\"id\": \"a/b\", \"regex\": \"x\", \"part_of\": {\"signatures\": [\"c\"], \"within\": \"a second\"}}", []string{"a/b: part_of", `within "a second" is not a Go duration`}},
		{"part_of negative lines", "{\"id\": \"a/b\", \"regex\": \"x\", \"part_of\": {\"signatures\": [\"c\"], \"within\": \"1s\", \"lines\": -1}}", []string{"a/b: part_of", "lines -1"}},
		{"part_of same not captured", "{\"id\": \"a/b\", \"regex\": \"(?P<client_id>x)\", \"part_of\": {\"signatures\": [\"c\"], \"within\": \"1s\", \"same\": [\"file\"]}}", []string{"a/b: part_of", `same: "file" is not a named capture`}},
		{"context without becomes", "{\"id\": \"a/b\", \"regex\": \"x\", \"context\": [{\"preceded_by\": [\"c\"], \"within\": \"1s\"}]}", []string{"a/b: context", "becomes missing"}},
		{"context as_preceding without preceded_by", "{\"id\": \"a/b\", \"regex\": \"(?P<client_id>x)\", \"context\": [{\"fields\": {\"client_id\": \"y\"}, \"as_preceding\": true}]}", []string{"a/b: context", "as_preceding needs preceded_by"}},
		{"context without condition", "{\"id\": \"a/b\", \"regex\": \"x\", \"context\": [{\"becomes\": \"c\"}]}", []string{"a/b: context", "give preceded_by or fields"}},
		{"context bad field pattern", "{\"id\": \"a/b\", \"regex\": \"(?P<client_id>x)\", \"context\": [{\"fields\": {\"client_id\": \"(\"}, \"becomes\": \"c\"}]}", []string{"a/b: context", "does not compile"}},
		{"facts_before bad regex", "{\"id\": \"a/b\", \"regex\": \"x\", \"facts_before\": {\"regex\": \"(\"}}", []string{"a/b: facts_before", "does not compile"}},
		{"facts_before without a capture", "{\"id\": \"a/b\", \"regex\": \"x\", \"facts_before\": {\"regex\": \"^New connection\"}}", []string{"a/b: facts_before", "no named capture"}},
		{"threshold negative window", "{\"id\": \"a/b\", \"regex\": \"x\", \"threshold\": {\"count\": 5, \"window\": \"-1m\"}}", []string{"a/b: threshold", "positive"}},
		{"not an object", "[1]", []string{"f.json:1", "not an object"}},
		{"scalar document", "\"x\"", []string{"f.json:1", "want a signature object"}},
		{"empty", "  \n", []string{"f.json:1", "empty document"}},
		{"trailing data", "[{\"id\": \"a/b\", \"regex\": \"x\"}] []", []string{"unexpected data after the array"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("f.json", []byte(tt.doc))
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			pos := 0
			for _, w := range tt.want {
				i := strings.Index(msg[pos:], w)
				if i < 0 {
					t.Fatalf("error %q lacks %q (in order)", msg, w)
				}
				pos += i + len(w)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("error is not a *signatures.Error: %T", err)
			}
		})
	}
}

// All problems of a file are reported at once, each on its own line.
func TestParseReportsEveryProblem(t *testing.T) {
	doc := "[\n {\"id\": \"a/1\", \"regex\": \"(\"},\n {\"id\": \"a/2\"},\n {\"id\": \"a/3\", \"regex\": \"ok\"}\n]"
	sigs, err := Parse("f.json", []byte(doc))
	if err == nil {
		t.Fatal("no error")
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 2 {
		t.Errorf("got %d problems, want 2: %v", n, err)
	}
	if len(sigs) != 1 || sigs[0].ID != "a/3" {
		t.Errorf("good signatures = %v, want a/3", sigs)
	}
}

func TestKeyFields(t *testing.T) {
	tests := []struct {
		regex string
		dedup []string
		want  string
	}{
		{`^Client (?P<client_id>\S+) already connected`, nil, "client_id"},
		// The address carries an ephemeral port and the mid cycles: a
		// reconnect storm keyed on them would never fold.
		{`^New client connected from (?P<address>\S+) as (?P<client_id>\S+) .*mid (?P<mid>\d+) (?P<reason>.*)`, nil, "client_id,reason"},
		{`^(?P<client_id>\S+) (?P<address>\S+)|^(?P<client_id>x)`, nil, "client_id"},
		{`^Client (?P<client_id>\S+) from (?P<address>\S+)`, []string{"address"}, "address"},
		{`^no captures`, nil, ""},
	}
	for _, tt := range tests {
		s := &Signature{Regex: tt.regex, DedupFields: tt.dedup}
		if got := strings.Join(s.KeyFields(), ","); got != tt.want {
			t.Errorf("%s %v: key fields %q, want %q", tt.regex, tt.dedup, got, tt.want)
		}
	}
	th := Threshold{Count: 50, Window: "5m"}
	if th.WindowDuration() != 5*time.Minute {
		t.Errorf("window %v", th.WindowDuration())
	}
}

func TestNewPackRejectsDuplicateIDs(t *testing.T) {
	a, err := Parse("a.json", []byte(`{"id": "x/dup", "regex": "a"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("b.json", []byte("\n\n{\"id\": \"x/dup\", \"regex\": \"b\"}"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewPack(a, b)
	if err == nil {
		t.Fatal("duplicate id accepted")
	}
	for _, w := range []string{"b.json:3", "x/dup", "id", "duplicate id, first defined at a.json:1"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}

func TestLoadDirectoryRecursively(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, doc string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.json", `{"id": "d/a", "regex": "a"}`)
	write("sub/b.json", `[{"id": "d/b", "regex": "b"}, {"id": "d/c", "regex": "c"}]`)
	write("notes.txt", `not json`)
	sigs, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range sigs {
		ids = append(ids, s.ID)
	}
	if strings.Join(ids, ",") != "d/a,d/b,d/c" {
		t.Errorf("ids = %v", ids)
	}
	if o := sigs[1].Origin(); o.File != filepath.Join(dir, "sub/b.json") {
		t.Errorf("origin = %+v", o)
	}
	if _, err := Load(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing path accepted")
	}
}

// The built-in pack keeps the seed ids, and each built-in signature is
// proven by its own examples and counterexamples.
func TestBuiltinPack(t *testing.T) {
	sigs, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPack(sigs)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{
		"communication/mqtt-packet-identifier-in-use",
		"communication/mqtt-publish-identifier-already-in-use",
		"communication/mqtt-publish-identifier-in-use",
	} {
		if _, ok := p.Lookup(id); !ok {
			t.Errorf("seed id %s missing from the built-in pack", id)
		}
	}
	for _, s := range p.Signatures() {
		re := regexp.MustCompile(s.Regex)
		// Source-derived signatures (faults that cannot be provoked here)
		// prove themselves with source_examples instead.
		if len(s.Examples)+len(s.SourceExamples) == 0 || len(s.Counterexamples) == 0 {
			t.Errorf("%s: needs examples and counterexamples", s.ID)
		}
		for _, ex := range append(append([]string{}, s.Examples...), s.SourceExamples...) {
			if !re.MatchString(stripTimestamp(ex)) {
				t.Errorf("%s: example does not match: %q", s.ID, ex)
			}
		}
		for _, ex := range s.Counterexamples {
			if re.MatchString(stripTimestamp(ex)) {
				t.Errorf("%s: counterexample matches: %q", s.ID, ex)
			}
		}
		if !strings.HasPrefix(s.Origin().File, "builtin:") {
			t.Errorf("%s: origin %q", s.ID, s.Origin().File)
		}
	}
}

// stripTimestamp removes Mosquitto's unix-seconds prefix, EMQX's prefixes
// (RFC 3339 or epoch-µs text, the JSON "time" member) and those of the
// other systems; the full
// prefix grammar lives in internal/brokerlog, which this package must not
// import.
var tsPrefix = regexp.MustCompile(`^(?:\d{9,12}: |\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+[+-]\d\d:\d\d |\d{16} |\{"time":(?:\d+|"[^"]*"),` +
	// HiveMQ (hivemq.log, event.log " - "), lager (and its " UTC", and
	// its console clock), Paho C's trace, AWS IoT's leading "timestamp".
	`|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:[.,]\d+)?(?: UTC)? (?:- )?|\d\d:\d\d:\d\d\.\d{3} |\d{8} \d{6}\.\d{3} |\{\s*"timestamp"\s*:\s*"[^"]*"\s*,\s*)`)

func stripTimestamp(line string) string { return tsPrefix.ReplaceAllString(line, "") }

func TestPackHash(t *testing.T) {
	a, err := Parse("a.json", []byte(`[{"id": "x/a", "regex": "a"}, {"id": "x/b", "regex": "b"}]`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("b.json", []byte(`[{"id": "x/b", "regex": "b"}, {"id": "x/a", "regex": "a"}]`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse("c.json", []byte(`[{"id": "x/a", "regex": "a"}, {"id": "x/b", "regex": "bb"}]`))
	if err != nil {
		t.Fatal(err)
	}
	pa, _ := NewPack(a)
	pb, _ := NewPack(b)
	pc, _ := NewPack(c)
	if pa.Hash() != pb.Hash() {
		t.Error("the hash depends on load order")
	}
	if pa.Hash() == pc.Hash() {
		t.Error("a changed regex keeps the hash")
	}
	if len(pa.Hash()) != 12 {
		t.Errorf("hash %q", pa.Hash())
	}
}

// A file past MaxFileBytes (a log given by mistake, say) is refused by
// name before it is parsed, whether loaded as a file or from a directory.
func TestLoadRefusesHugeFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "huge.json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxFileBytes + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, load := range []func() error{
		func() error { _, err := LoadFile(path); return err },
		func() error { _, err := Load(dir); return err },
	} {
		if err := load(); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "larger than 16 MiB") {
			t.Errorf("got %v, want a refusal naming %s", err, path)
		}
	}
}
