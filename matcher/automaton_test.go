package matcher

import (
	"math"
	"runtime"
	"testing"
)

// TestAutomatonSizedExactly: the dense table is most of the matcher's
// memory, so the trie is allocated for the states it has, not for the
// worst case of no shared prefix (issue 17: that kept 12 MB of the
// built-in pack's 7.8 MB table allocated).
func TestAutomatonSizedExactly(t *testing.T) {
	patterns := [][]byte{[]byte("socket error"), []byte("socket closed"), []byte("sock"), []byte("error on"), []byte("closed")}
	// root; "sock"+"et " shared, then "error" and "closed"; "error on"; "closed"
	const want = 1 + len("socket ") + len("error") + len("closed") + len("error on") + len("closed")
	if got := trieStates(patterns); got != want {
		t.Fatalf("trieStates = %d, want %d", got, want)
	}
	a, err := newAutomaton(patterns)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.out) != want || cap(a.out) != want || cap(a.trans) != want*int(a.nclass) {
		t.Errorf("states %d (cap %d), table cap %d; want %d states and a table of %d", len(a.out), cap(a.out), cap(a.trans), want, want*int(a.nclass))
	}
}

// TestAutomatonAllocation bounds what building the automaton of many
// patterns with shared stems allocates: the final table, once, and a few
// words per state and pattern besides (outputs, failure links, the
// breadth-first queue, the sorted copy of the patterns).
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
	table := uint64(len(a.trans)) * 4
	limit := table + 64*uint64(len(a.out)) + 64*uint64(len(patterns))
	if got > limit {
		t.Errorf("building allocated %d bytes for a table of %d (%d states): more than %d", got, table, len(a.out), limit)
	}
}
