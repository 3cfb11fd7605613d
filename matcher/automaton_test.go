package matcher

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestAutomatonSizedExactly: the table is most of the matcher's memory,
// so it is allocated once for the states the trie has, not for the worst
// case of no shared prefix (issue 17: that kept 12 MB of the built-in
// pack's then 7.8 MB table allocated).
func TestAutomatonSizedExactly(t *testing.T) {
	patterns := [][]byte{[]byte("socket error"), []byte("socket closed"), []byte("sock"), []byte("error on"), []byte("closed")}
	// root; "sock"+"et " shared, then "error" and "closed"; "error on"; "closed"
	const want = 1 + len("socket ") + len("error") + len("closed") + len("error on") + len("closed")
	a, err := newAutomaton(patterns)
	if err != nil {
		t.Fatal(err)
	}
	cells := want * int(a.nclass)
	if int(a.nstates) != want || len(a.t16) != cells || cap(a.t16) != cells || a.t32 != nil {
		t.Errorf("%d states, t16 len %d cap %d, t32 len %d; want %d states and a 16-bit table of %d", a.nstates, len(a.t16), cap(a.t16), len(a.t32), want, cells)
	}
	// The outputs are exact too: one offset per state with outputs,
	// and as many ids as they have.
	if n := int(a.nstates - a.firstOut); len(a.outOff) != n+1 || cap(a.outOff) != n+1 || len(a.outIDs) != cap(a.outIDs) {
		t.Errorf("%d output states: outOff len %d cap %d, outIDs len %d cap %d", n, len(a.outOff), cap(a.outOff), len(a.outIDs), cap(a.outIDs))
	}
}

// TestAutomatonAllocation bounds what building the automaton of many
// patterns with shared stems allocates: the final table, once, and a few
// words per state and pattern besides (outputs, failure links, the
// breadth-first order, the renumbering, the sorted copy of the patterns).
func TestAutomatonAllocation(t *testing.T) {
	var patterns [][]byte
	for i := 0; i < 2000; i++ {
		// distinct first bytes for a few, long shared stems for most
		p := []byte("mosquitto client error number ")
		p = append(p, byte('a'+i%26), byte('a'+i/26%26), byte('a'+i/676%26))
		patterns = append(patterns, p)
	}
	// The least of a few builds: TotalAlloc is the process's, and a
	// background goroutine may allocate during one of them.
	var a *automaton
	got := uint64(math.MaxUint64)
	for range 3 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		var err error
		a, err = newAutomaton(patterns)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		got = min(got, after.TotalAlloc-before.TotalAlloc)
	}
	if a.t16 == nil {
		t.Fatal("no 16-bit table")
	}
	table := uint64(len(a.t16)) * 2
	limit := table + 32*uint64(a.nstates) + 64*uint64(len(patterns))
	if got > limit {
		t.Errorf("building allocated %d bytes for a table of %d (%d states): more than %d", got, table, a.nstates, limit)
	}
}

// TestAutomatonBuiltinIs16Bit: the built-in pack's table must be the
// 16-bit one, half the 32-bit one's memory (issue 17). The pack growing
// past 65,536 states would silently double it; this says so.
func TestAutomatonBuiltinIs16Bit(t *testing.T) {
	m, err := New(builtinSigs(t))
	if err != nil {
		t.Fatal(err)
	}
	a := m.ac
	if a.t16 == nil || a.t32 != nil || a.direct != nil {
		t.Fatalf("built-in pack: t16 %d, t32 %d, direct %d entries; want the 16-bit table alone", len(a.t16), len(a.t32), len(a.direct))
	}
	cells := int(a.nstates * a.nclass)
	if len(a.t16) != cells {
		t.Errorf("t16 has %d entries for %d states x %d classes", len(a.t16), a.nstates, a.nclass)
	}
	// bytes is honest: the table at 2 bytes a cell, and the outputs and
	// column maps, a small fraction besides.
	if b := m.Summary().AutomatonBytes; b < 2*cells || b > 2*cells+2*cells/5 {
		t.Errorf("AutomatonBytes %d for a 16-bit table of %d cells", b, cells)
	}
}

// TestAutomatonWidths: up to 65,536 states the table is 16-bit, from
// 65,537 on it falls back to 32-bit, and both give what a substring
// search gives, the Kelvin sign and the long s read as k and s. The
// patterns are synthetic: unique three-letter heads with long tails, and
// one run of a byte no other pattern has to make up the exact count.
func TestAutomatonWidths(t *testing.T) {
	var base []string
	for i := 0; i < 4000; i++ {
		base = append(base, fmt.Sprintf("%c%c%c-%d-sk", 'a'+i%26, 'a'+i/26%26, 'a'+i/676%26, uint32(i)*2654435761))
	}
	base = append(base, "ks", "kk", "sks", "k") // short ones, often hit
	toBytes := func(ps []string) [][]byte {
		var b [][]byte
		for _, p := range ps {
			b = append(b, []byte(p))
		}
		return b
	}
	a, err := newAutomaton(toBytes(base))
	if err != nil {
		t.Fatal(err)
	}
	const limit = 1 << 16 // what 16 bits can number, not the code's constant
	baseStates := int(a.nstates)
	if baseStates >= limit || baseStates < limit/2 {
		t.Fatalf("the base set has %d states; the test wants a little under %d", baseStates, limit)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct {
		states int
		wide   bool
	}{{limit, false}, {limit + 1, true}} {
		t.Run(fmt.Sprint(c.states), func(t *testing.T) {
			// the padding pattern adds exactly its length in states
			ps := append(slices.Clone(base), strings.Repeat("#", c.states-baseStates))
			a, err := newAutomaton(toBytes(ps))
			if err != nil {
				t.Fatal(err)
			}
			if int(a.nstates) != c.states || (a.t32 != nil) != c.wide || (a.t16 != nil) == c.wide || a.direct != nil {
				t.Fatalf("%d states: t16 %d, t32 %d, direct %d entries; want %d states, 32-bit %v", a.nstates, len(a.t16), len(a.t32), len(a.direct), c.states, c.wide)
			}
			checkAgainstSubstrings(t, a, ps, rng, 300)
		})
	}
}

// TestAutomatonDirect: a small automaton scans through its direct table,
// and agrees with a substring search, folds included.
func TestAutomatonDirect(t *testing.T) {
	ps := []string{"ks", "kk", "sks", "k", "client kelvin", "mask", "s"}
	var b [][]byte
	for _, p := range ps {
		b = append(b, []byte(p))
	}
	a, err := newAutomaton(b)
	if err != nil {
		t.Fatal(err)
	}
	if a.direct == nil {
		t.Fatal("no direct table")
	}
	checkAgainstSubstrings(t, a, ps, rand.New(rand.NewPCG(5, 6)), 2000)
}

// checkAgainstSubstrings scans random texts made of pieces of the
// patterns, with k and s sometimes written as the Kelvin sign and the long
// s, and compares the patterns found with those a substring search of the
// folded text finds.
func checkAgainstSubstrings(t *testing.T, a *automaton, ps []string, rng *rand.Rand, texts int) {
	t.Helper()
	if raceEnabled {
		texts /= 4
	}
	fold := strings.NewReplacer("\u212A", "k", "\u017F", "s")
	sc := &scratch{patStamp: make([]uint32, len(ps))}
	for n := 0; n < texts; n++ {
		var text strings.Builder
		for range 1 + rng.IntN(6) {
			p := ps[rng.IntN(len(ps))]
			i := rng.IntN(len(p))
			j := i + rng.IntN(len(p)-i+1)
			if rng.IntN(3) > 0 {
				i = 0
			}
			for _, r := range p[i:j] {
				switch {
				case r == 'k' && rng.IntN(3) == 0:
					text.WriteString("\u212A")
				case r == 's' && rng.IntN(3) == 0:
					text.WriteString("\u017F")
				default:
					text.WriteRune(r)
				}
			}
			text.WriteString([]string{"", " ", "\xe2", "\xc5", "\xe2\x84", "é", "…", "K"}[rng.IntN(8)])
		}
		s := text.String()
		sc.begin()
		sc.pats = sc.pats[:0]
		a.scan(s, sc)
		got := slices.Sorted(slices.Values(sc.pats))
		folded := strings.ToLower(fold.Replace(s))
		var want []int32
		for id, p := range ps {
			if strings.Contains(folded, p) {
				want = append(want, int32(id))
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%q: automaton found %v, substring search %v", s, got, want)
		}
	}
}
