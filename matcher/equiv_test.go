package matcher

import (
	"math/rand/v2"
	"testing"

	"github.com/mqttdiag/mqttdiag/signatures"
)

// The fast matcher must return exactly what the naive loop returns: same
// signatures, same captures, on every scope. The property runs over
// whatever the built-in pack contains, the 2,021-signature corpus and the
// tricky set, on the real sample log, on lines generated from every
// regex, and on random, mutated and non-ASCII lines.
func TestEquivalence(t *testing.T) {
	corpus := corpusSigs(t, "")
	// Some of the corpus scoped to each broker, so scoping is exercised
	// by both matchers.
	for i, s := range corpus {
		switch i % 7 {
		case 1:
			s.Broker = signatures.BrokerMosquitto
		case 2:
			s.Broker = signatures.BrokerEMQX
		case 3:
			s.Domain = "mqtt"
		}
	}
	packs := []struct {
		name string
		sigs []*signatures.Signature
		// lines per source; the corpus's naive side is slow under -race.
		random int
	}{
		{"builtin", builtinSigs(t), 3000},
		{"tricky", trickySigs(t), 3000},
		{"builtin+corpus", append(builtinSigs(t), corpus...), 400},
	}
	for _, p := range packs {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			n := p.random
			if raceEnabled || testing.Short() {
				n /= 4
			}
			for _, cacheSize := range []int{0, 64} {
				m, err := New(p.sigs, CacheSize(cacheSize))
				if err != nil {
					t.Fatal(err)
				}
				ref := newNaive(t, p.sigs)
				rng := rand.New(rand.NewPCG(1, uint64(cacheSize)))
				lines := sampleMessages(t)
				if p.name == "builtin+corpus" && (raceEnabled || testing.Short()) {
					lines = lines[:300]
				}
				examples := exampleLines(rng, p.sigs)
				lines = append(lines, examples...)
				for i := 0; i < n; i++ {
					lines = append(lines, randomLine(rng), mutate(rng, examples[rng.IntN(len(examples))]))
				}
				bad := 0
				for _, l := range lines {
					if !checkEqual(t, m, ref, l) {
						if bad++; bad > 10 {
							t.Fatal("too many differences")
						}
					}
				}
				// Again, now from the cache where it applies.
				for _, l := range lines[:min(len(lines), 500)] {
					checkEqual(t, m, ref, l)
				}
				st := m.Stats()
				if cacheSize > 0 && st.CacheHits == 0 {
					t.Errorf("no cache hits on repeated lines: %+v", st)
				}
			}
		})
	}
}
