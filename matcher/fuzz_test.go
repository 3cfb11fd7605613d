package matcher

import (
	"testing"
)

// FuzzMatch: on any message, the fast matcher returns what the naive loop
// returns, on every scope, over the built-in pack, the tricky set and a
// slice of the corpus.
func FuzzMatch(f *testing.F) {
	sigs := append(builtinSigs(f), trickySigs(f)...)
	corpus := corpusSigs(f, "")
	for i := 0; i < len(corpus); i += 10 {
		sigs = append(sigs, corpus[i])
	}
	m, err := New(sigs, CacheSize(32))
	if err != nil {
		f.Fatal(err)
	}
	ref := newNaive(f, sigs)
	for _, s := range []string{
		"Client sensor-1 already connected, closing old connection.",
		"Received PUBACK from c (Mid: 7, RC:145)",
		"Sending CONNACK to 10.0.0.1 (0, 2)",
		"\u212Aelvin MA\u017FK größe GRÖẞE",
		"ä\xffx \xe2\x84 \xc5",
		"x\ny", "", "传感器 Application Not Responding",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		checkEqual(t, m, ref, msg, ref.match(scopeAny, msg))
	})
}
