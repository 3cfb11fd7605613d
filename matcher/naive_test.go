package matcher

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mqttdiag/mqttdiag/internal/brokerlog"
	"github.com/mqttdiag/mqttdiag/signatures"
)

// naive is the reference the fast matcher must equal: every compiled regex
// of the scope, run on the message.
type naive struct {
	sigs   []*signatures.Signature
	res    []*regexp.Regexp
	active [numScopes][]bool
}

func newNaive(t testing.TB, sigs []*signatures.Signature, opts ...Option) *naive {
	t.Helper()
	o := options{domains: []string{"", "mqtt", "communication"}}
	for _, opt := range opts {
		opt(&o)
	}
	n := &naive{sigs: sigs}
	for _, s := range sigs {
		n.res = append(n.res, regexp.MustCompile(s.Regex))
	}
	for sp, broker := range [numScopes]string{"", signatures.BrokerMosquitto, signatures.BrokerEMQX, signatures.BrokerHiveMQ, signatures.BrokerVerneMQ, signatures.BrokerAWSIoT, signatures.BrokerPaho} {
		n.active[sp] = make([]bool, len(sigs))
		for i, s := range sigs {
			n.active[sp][i] = inScope(s, broker, o.domains)
		}
	}
	return n
}

func (n *naive) match(sp int, msg string) []Hit {
	var hits []Hit
	for i, re := range n.res {
		if !n.active[sp][i] || !re.MatchString(msg) {
			continue
		}
		loc := re.FindStringSubmatchIndex(msg)
		if loc == nil {
			continue
		}
		hits = append(hits, Hit{Signature: n.sigs[i], Fields: fields(re.SubexpNames(), loc, msg)})
	}
	return hits
}

// equal compares two results: same signatures in the same order, same
// captures.
func equalHits(a, b []Hit) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Signature != b[i].Signature || !reflect.DeepEqual(a[i].Fields, b[i].Fields) {
			return false
		}
	}
	return true
}

func describe(hs []Hit) string {
	var b strings.Builder
	for _, h := range hs {
		fmt.Fprintf(&b, "%s%v ", h.Signature.ID, h.Fields)
	}
	return "[" + b.String() + "]"
}

// checkEqual compares fast and naive on every scope. The naive result of
// a scope is the unscoped one filtered: each regex is run alone.
func checkEqual(t testing.TB, m *Matcher, n *naive, msg string, all []Hit) bool {
	t.Helper()
	for sp := 0; sp < numScopes; sp++ {
		var want []Hit
		for _, h := range all {
			if n.active[sp][slices.Index(n.sigs, h.Signature)] {
				want = append(want, h)
			}
		}
		got := m.match(sp, msg)
		if !equalHits(got, want) {
			t.Errorf("scope %d, message %q:\nfast  %s\nnaive %s", sp, msg, describe(got), describe(want))
			return false
		}
	}
	return true
}

func builtinSigs(t testing.TB) []*signatures.Signature {
	t.Helper()
	s, err := signatures.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// corpusSigs loads the deadends.dev stress corpus (testdata/README.md)
// with (?i), as its Python regexes were meant. broker, when set, forces
// every signature into that broker's scope.
func corpusSigs(t testing.TB, broker string) []*signatures.Signature {
	t.Helper()
	s := corpusAsShipped(t)
	for _, x := range s {
		x.Regex = "(?i)" + x.Regex
		x.Broker = broker
	}
	return s
}

// corpusAsShipped loads the corpus with its regexes as written
// (case-sensitive).
func corpusAsShipped(t testing.TB) []*signatures.Signature {
	t.Helper()
	s, err := signatures.LoadFile("testdata/deadends-signatures.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// trickySigs exercise the decomposition's corners: anchors, gaps,
// folding with the Kelvin sign and the long s, non-ASCII folding,
// case-sensitive literals, classes, U+FFFD, (?s), newlines.
func trickySigs(t testing.TB) []*signatures.Signature {
	t.Helper()
	regexes := []string{
		`(?i)kelvin`, `Kelvin`, `(?i)^mask$`, `(?i)größe`, `(?i)ä`, `STRASSE|straße`,
		`^a.*b$`, `a.+b`, `^a.+$`, `.+z`, `(?s)x.*y`, `x.*y`, `^$`, `^`, `q?`, `\x{FFFD}`, `(?i)\x{FFFD}x`,
		`ab[cd]`, `(?i)[Kk]x`, `(foo|bar)baz`, `(?i)(ANR|Application Not Responding|main thread.*blocked)`,
		`^Client (?P<client_id>.+) (?:already connected, closing old connection\.|disconnected, session taken over\.)$`,
		`(?P<a>x)|(?P<a>y)z`, `\bword\b`, `(?m)^line$`, `colou?r`, `[0-9]{3} error`, `err(or)?s? \d+`,
		`(?i)ſs`, `(?i)\x{212A}`, `ü.*Ü`, `(?i)ü.*Ü`, `(a|b|c|d|e|f|g|h|i|j|k|l|m|n|o|p|q){2}zz`,
		`(?U)a.*?b`, `(?i)é`, `\.\.\.`, `NACK`, `(?i)nack`,
		`^(?:Sending CONNACK to (?P<address>\S+) \([01], (?P<rc>[23])\)|Connection Refused: (?P<reason>identifier rejected))$`,
	}
	var b strings.Builder
	b.WriteString("[")
	for i, r := range regexes {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id": "tricky/%d", "regex": %q}`, i, r)
	}
	b.WriteString("]")
	s, err := signatures.Parse("tricky.json", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sampleMessages are the messages of the real sample log.
func sampleMessages(t testing.TB) []string {
	t.Helper()
	f, err := os.Open("../examples/logs/mosquitto-2.0.11.log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		msg, _, _ := brokerlog.Split(sc.Text())
		out = append(out, msg)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// exampleLines derives lines that match, or nearly match, each
// signature: a random string generated from its regex, and its title.
func exampleLines(rng *rand.Rand, sigs []*signatures.Signature) []string {
	var out []string
	for _, s := range sigs {
		if s.Title != "" {
			out = append(out, s.Title)
		}
		out = append(out, s.Examples...)
		re, err := syntax.Parse(s.Regex, syntax.Perl)
		if err != nil {
			continue
		}
		var b strings.Builder
		generate(rng, re, &b)
		out = append(out, b.String())
	}
	return out
}

// generate writes a random string that re (mostly) matches.
func generate(rng *rand.Rand, re *syntax.Regexp, b *strings.Builder) {
	switch re.Op {
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			if re.Flags&syntax.FoldCase != 0 {
				switch rng.IntN(8) {
				case 0:
					r = []rune(strings.ToLower(string(r)))[0]
				case 1:
					r = []rune(strings.ToUpper(string(r)))[0]
				case 2:
					if r == 'k' || r == 'K' {
						r = '\u212A'
					}
					if r == 's' || r == 'S' {
						r = '\u017F'
					}
				}
			}
			b.WriteRune(r)
		}
	case syntax.OpCharClass:
		if len(re.Rune) == 0 {
			return
		}
		i := rng.IntN(len(re.Rune)/2) * 2
		lo, hi := re.Rune[i], min(re.Rune[i+1], re.Rune[i]+200)
		b.WriteRune(lo + rune(rng.IntN(int(hi-lo)+1)))
	case syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		b.WriteRune(randomRune(rng))
	case syntax.OpCapture:
		generate(rng, re.Sub[0], b)
	case syntax.OpConcat:
		for _, s := range re.Sub {
			generate(rng, s, b)
		}
	case syntax.OpAlternate:
		generate(rng, re.Sub[rng.IntN(len(re.Sub))], b)
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		lo, hi := 0, 3
		switch re.Op {
		case syntax.OpPlus:
			lo = 1
		case syntax.OpQuest:
			hi = 1
		case syntax.OpRepeat:
			lo, hi = re.Min, re.Max
			if hi < 0 {
				hi = lo + 2
			}
			hi = min(hi, lo+3)
		}
		for n := lo + rng.IntN(hi-lo+1); n > 0; n-- {
			generate(rng, re.Sub[0], b)
		}
	}
}

const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;-_/()[]'\"#+$%"

var specials = []string{"\u212A", "\u017F", "ä", "Ä", "ü", "Ü", "ß", "ẞ", "é", "ñ", "传感器", "\xff", "\xe2\x84", "\xc5", "\n", "\x00", "\uFFFD", "…"}

func randomRune(rng *rand.Rand) rune {
	if rng.IntN(10) == 0 {
		r, _ := utf8.DecodeRuneInString(specials[rng.IntN(len(specials))])
		return r
	}
	return rune(alphabet[rng.IntN(len(alphabet))])
}

// mutate changes a line a little: inserted, deleted or replaced bytes,
// case flips, the Kelvin sign and long s, non-ASCII and invalid UTF-8.
func mutate(rng *rand.Rand, s string) string {
	b := []byte(s)
	for n := 1 + rng.IntN(3); n > 0; n-- {
		i := 0
		if len(b) > 0 {
			i = rng.IntN(len(b) + 1)
		}
		switch rng.IntN(6) {
		case 0:
			b = append(b[:i:i], append([]byte(specials[rng.IntN(len(specials))]), b[i:]...)...)
		case 1:
			if i < len(b) {
				b = append(b[:i:i], b[i+1:]...)
			}
		case 2:
			if i < len(b) {
				b[i] = alphabet[rng.IntN(len(alphabet))]
			}
		case 3:
			if i < len(b) && isLetter(b[i]) {
				b[i] ^= 0x20
			}
		case 4:
			b = []byte(strings.ToUpper(string(b)))
		case 5:
			b = []byte(strings.NewReplacer("k", "\u212A", "s", "\u017F", "K", "\u212A", "S", "\u017F").Replace(string(b)))
		}
	}
	return string(b)
}

func randomLine(rng *rand.Rand) string {
	var b strings.Builder
	for n := rng.IntN(60); n > 0; n-- {
		b.WriteRune(randomRune(rng))
	}
	return b.String()
}
