package matcher

import (
	"math/rand/v2"
	"strings"
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
		{"builtin+corpus-as-shipped", append(builtinSigs(t), corpusAsShipped(t)...), 400},
	}
	for _, p := range packs {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(1, 2))
			lines := sampleMessages(t)
			examples := exampleLines(rng, p.sigs)
			lines = append(lines, examples...)
			random := p.random
			if raceEnabled {
				// make test runs this test again without -race, on every
				// line; the race build needs only enough to see races.
				random /= 4
			}
			for i := 0; i < random; i++ {
				lines = append(lines, randomLine(rng), mutate(rng, examples[rng.IntN(len(examples))]))
			}
			keep := 1
			switch {
			case strings.HasPrefix(p.name, "builtin+corpus"):
				// The naive side runs 2,021 regexes a line, about 4 ms;
				// a sample keeps the suite fast, more so under -race.
				keep = 2
				if testing.Short() {
					keep = 24
				}
				if raceEnabled {
					keep = 96
				}
			case raceEnabled:
				// The pack's EMQX families are regexes of thousands of
				// alternatives, which the naive side runs on every line
				// (three quarters of this test's time, in regexp's NFA):
				// under -race every 8th line still took 113 s. The race
				// build is here for races (TestConcurrentMatch); the plain
				// run after it in make test checks every line.
				keep = 64
			}
			if keep > 1 {
				var sample []string
				for i, l := range lines {
					if i%keep == 0 {
						sample = append(sample, l)
					}
				}
				lines = sample
			}
			ref := newNaive(t, p.sigs)
			// What the cache promises: the same results as without it,
			// whether it holds every line or evicts all the time, within
			// its bounds. How often it hits depends on its admission
			// policy and the data: BenchmarkScan and BenchmarkBurst
			// measure that.
			const smallEntries, smallBytes = 64, 4096
			var ms []*Matcher
			for _, opts := range [][]Option{
				{CacheSize(0)},
				{CacheSize(smallEntries), CacheBytes(smallBytes)},
				{CacheSize(1 << 16), CacheBytes(1 << 26)},
			} {
				m, err := New(p.sigs, opts...)
				if err != nil {
					t.Fatal(err)
				}
				ms = append(ms, m)
			}
			bad := 0
			// Again on a quarter of the lines, twice: a message enters the
			// cache on its second miss, so the third pass answers from it
			// (from the large cache, at least). The naive answer is the
			// same every pass.
			wants := make([][]Hit, len(lines))
			for pass := 0; pass < 3; pass++ {
				for i, l := range lines {
					if pass > 0 && i%4 != 0 {
						continue
					}
					if pass == 0 {
						wants[i] = ref.match(scopeAny, l)
					}
					want := wants[i]
					for _, m := range ms {
						if !checkEqual(t, m, ref, l, want) {
							if bad++; bad > 10 {
								t.Fatal("too many differences")
							}
						}
					}
				}
			}
			// Each scope has its own cache.
			if st := ms[1].Stats(); st.CacheEntries > numScopes*smallEntries || st.CacheBytes > numScopes*smallBytes {
				t.Errorf("the small caches hold %d entries and %d bytes, bounds are %d and %d", st.CacheEntries, st.CacheBytes, numScopes*smallEntries, numScopes*smallBytes)
			}
		})
	}
}
