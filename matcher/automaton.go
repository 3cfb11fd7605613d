package matcher

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"unsafe"
)

// automaton is an Aho-Corasick matcher compiled to a dense DFA over byte
// classes of the normalised text (see literal.go): one table load per
// input byte, no failure links followed at scan time.
//
// It is our own rather than a package because the literal scan is most of
// the matcher's time on a broker log, and a dense DFA over the few dozen
// byte classes that occur in the patterns ran about twice as fast as the
// best Go Aho-Corasick package in the feasibility measurement behind issue
// 4; and the packages scan raw bytes, while ours reads the Kelvin sign and
// the long s as k and s on the fly, which keeps UTF-8 lines exact on the
// prefilter.
//
// The table is most of the matcher's memory (issue 17), hence its layout:
// it holds next-state numbers, 16-bit when they fit (the built-in pack has
// about 31,000 states), column-major so that the per-byte step is
// t[col[b]+state], one add and one load as with premultiplied row offsets,
// and states are numbered so that those with outputs come last, which
// makes the match test a comparison instead of a flag bit. The outputs are
// one flat array: no per-state slices for the GC to scan.
type automaton struct {
	// col maps a byte to its column's offset in the table at scan time:
	// class*nstates for the class of its normalised form, except that
	// the lead bytes of the Kelvin sign and the long s map to slowCol.
	col [256]uint32
	// byteCol is the column offset of a byte's normalised form.
	byteCol [256]uint32
	nclass  uint32
	nstates uint32
	// firstOut is the first state with outputs: every state numbered
	// below it has none, every state from it on has some.
	firstOut uint32
	// The next state of state s on class c is at c*nstates + s, in t16
	// when state numbers fit in 16 bits, else in t32; the other is nil.
	t16 []uint16
	t32 []uint32
	// direct, for small automata, is a row-major table with 256 columns
	// indexed by the raw byte (row offset state<<8): one dependent load
	// per byte, no column lookup. A value is the next state's row offset
	// with matchFlag set when that state has outputs; slow-path bytes
	// hold slowFlag.
	direct []uint32
	// The pattern ids of state firstOut+k are
	// outIDs[outOff[k]:outOff[k+1]].
	outIDs []int32
	outOff []uint32
}

const (
	matchFlag = 1 << 31 // in direct: the state has outputs
	slowFlag  = 1 << 30 // in direct: fold this byte first
	slowPath  = 255     // the class of a byte that needs folding
	slowCol   = math.MaxUint32
	// maxDirect bounds the direct table: 1024 states, 1 MiB, enough for
	// packs of a few hundred signatures.
	maxDirect = 1 << 20
	// max16 is the most states t16 can number.
	max16 = 1 << 16
)

// newAutomaton compiles normalised patterns; pattern i is reported as i.
func newAutomaton(patterns [][]byte) (*automaton, error) {
	a := &automaton{}
	var used [256]bool
	for _, p := range patterns {
		for _, c := range p {
			used[c] = true
		}
	}
	var byteClass, class [256]uint8
	n := uint8(1) // class 0: bytes no pattern contains
	for c := 0; c < 256; c++ {
		if used[c] && normByte(byte(c)) == byte(c) {
			if n == slowPath {
				return nil, fmt.Errorf("automaton: more than %d byte classes", slowPath-1)
			}
			byteClass[c] = n
			n++
		}
	}
	for c := 0; c < 256; c++ {
		byteClass[c] = byteClass[normByte(byte(c))]
	}
	class = byteClass
	class[0xE2], class[0xC5] = slowPath, slowPath
	nc := uint32(n)
	states := trieStates(patterns, &byteClass)
	// Every column offset and table index must stay below slowCol.
	if uint64(states)*uint64(nc) >= slowCol {
		return nil, fmt.Errorf("automaton: %d states is too many", states)
	}
	a.nclass, a.nstates = nc, uint32(states)
	for c := 0; c < 256; c++ {
		a.byteCol[c] = uint32(byteClass[c]) * a.nstates
		a.col[c] = a.byteCol[c]
		if class[c] == slowPath {
			a.col[c] = slowCol
		}
	}
	var err error
	if states <= max16 {
		a.t16 = make([]uint16, states*int(nc))
		a.firstOut, a.outIDs, a.outOff, err = build(a.t16, patterns, &byteClass, a.nstates)
	} else {
		a.t32 = make([]uint32, states*int(nc))
		a.firstOut, a.outIDs, a.outOff, err = build(a.t32, patterns, &byteClass, a.nstates)
	}
	if err != nil {
		return nil, err
	}
	if states*256*4 <= maxDirect {
		a.direct = make([]uint32, states*256)
		for st := uint32(0); st < a.nstates; st++ {
			for b := 0; b < 256; b++ {
				v := uint32(slowFlag)
				if a.col[b] != slowCol {
					v = a.toDirect(a.next(st, a.col[b]))
				}
				a.direct[st<<8+uint32(b)] = v
			}
		}
	}
	return a, nil
}

// build fills the zeroed table t (column-major, nstates rows) with the
// DFA of patterns and returns the first state with outputs and the flat
// outputs. t is allocated by the caller, once and exactly: it is most of
// the matcher's memory, and a temporary of it would raise the peak.
func build[T uint16 | uint32](t []T, patterns [][]byte, byteClass *[256]uint8, nstates uint32) (firstOut uint32, ids []int32, off []uint32, err error) {
	// Trie: goto transitions, 0 meaning none (no edge leads back to the
	// root). own lists the patterns ending at a state, in id order
	// (inserted backwards, pushed on the front).
	own := make([]int32, nstates)
	for i := range own {
		own[i] = -1
	}
	sameEnd := make([]int32, len(patterns))
	var last T
	for id := len(patterns) - 1; id >= 0; id-- {
		s := T(0)
		for _, c := range patterns[id] {
			i := uint32(byteClass[c])*nstates + uint32(s)
			if t[i] == 0 {
				last++
				t[i] = last
			}
			s = t[i]
		}
		sameEnd[id] = own[s]
		own[s] = int32(id)
	}
	if uint32(last)+1 != nstates {
		return 0, nil, nil, fmt.Errorf("automaton: trie has %d states, counted %d", uint32(last)+1, nstates)
	}

	// Breadth-first: failure links, then every missing transition filled
	// from the failure state's; nout counts the outputs a state gets,
	// its own and its failure state's.
	fail := make([]T, nstates)
	nout := make([]uint32, nstates)
	order := make([]T, 1, nstates) // breadth-first, from the root
	for p := own[0]; p >= 0; p = sameEnd[p] {
		nout[0]++
	}
	nc := uint32(len(t)) / nstates
	for h := 0; h < len(order); h++ {
		s := order[h]
		for c := uint32(0); c < nc; c++ {
			i := c*nstates + uint32(s)
			next := t[i]
			if next != 0 {
				var f T // the root's children fail to the root
				if s != 0 {
					f = t[c*nstates+uint32(fail[s])]
				}
				fail[next] = f
				for p := own[next]; p >= 0; p = sameEnd[p] {
					nout[next]++
				}
				nout[next] += nout[f]
				order = append(order, next)
				continue
			}
			if s != 0 {
				t[i] = t[c*nstates+uint32(fail[s])]
			}
		}
	}

	// Renumber: states without outputs first, each group breadth-first
	// (the root stays 0: it is first in its group, and if it has outputs
	// every state has).
	newID := make([]T, nstates)
	total := 0
	for _, s := range order {
		if nout[s] == 0 {
			newID[s] = T(firstOut)
			firstOut++
		}
		total += int(nout[s])
	}
	ids = make([]int32, 0, total)
	off = make([]uint32, 1, nstates-firstOut+1)
	k := firstOut
	for _, s := range order {
		if nout[s] == 0 {
			continue
		}
		newID[s] = T(k)
		k++
		// A state's outputs: its own, then its failure state's.
		for u := s; ; u = fail[u] {
			for p := own[u]; p >= 0; p = sameEnd[p] {
				ids = append(ids, p)
			}
			if u == 0 {
				break
			}
		}
		off = append(off, uint32(len(ids)))
	}
	tmp := make([]T, nstates)
	for c := uint32(0); c < nc; c++ {
		col := t[c*nstates : (c+1)*nstates]
		copy(tmp, col)
		for s, next := range tmp {
			col[newID[s]] = newID[next]
		}
	}
	return firstOut, ids, off, nil
}

// trieStates is the number of states of the trie of patterns read as byte
// classes: its root and one state per distinct non-empty prefix.
func trieStates(patterns [][]byte, byteClass *[256]uint8) int {
	sorted := slices.Clone(patterns)
	slices.SortFunc(sorted, func(x, y []byte) int {
		for i := 0; i < len(x) && i < len(y); i++ {
			if cx, cy := byteClass[x[i]], byteClass[y[i]]; cx != cy {
				return int(cx) - int(cy)
			}
		}
		return len(x) - len(y)
	})
	n := 1
	var prev []byte
	for _, p := range sorted {
		common := 0
		for common < len(p) && common < len(prev) && byteClass[p[common]] == byteClass[prev[common]] {
			common++
		}
		n += len(p) - common
		prev = p
	}
	return n
}

// next is the state after st on the class whose column starts at col.
func (a *automaton) next(st, col uint32) uint32 {
	if a.t16 != nil {
		return uint32(a.t16[col+st])
	}
	return a.t32[col+st]
}

// outputs are the pattern ids of state st, which must have some.
func (a *automaton) outputs(st uint32) []int32 {
	k := st - a.firstOut
	return a.outIDs[a.outOff[k]:a.outOff[k+1]]
}

// toDirect converts a state number to its direct value.
func (a *automaton) toDirect(st uint32) uint32 {
	v := st << 8
	if st >= a.firstOut {
		v |= matchFlag
	}
	return v
}

// scan feeds the normalised s through the automaton and records every
// pattern that occurs in it.
func (a *automaton) scan(s string, sc *scratch) {
	switch {
	case a.direct != nil:
		a.scanDirect(s, sc)
	case a.t16 != nil:
		scanTable(a, a.t16, s, sc)
	default:
		scanTable(a, a.t32, s, sc)
	}
}

// scanTable is scan over t16 or t32 (a generic function: the two
// instantiations have different shapes, so each is compiled for its type).
func scanTable[T uint16 | uint32](a *automaton, t []T, s string, sc *scratch) {
	first := a.firstOut
	st := uint32(0)
	for i := 0; i < len(s); i++ {
		c := a.col[s[i]]
		if c == slowCol {
			i, c = a.fold(s, i)
		}
		st = uint32(t[c+st])
		if st >= first {
			sc.addPatterns(a.outputs(st))
		}
	}
}

func (a *automaton) scanDirect(s string, sc *scratch) {
	d := a.direct
	st := uint32(0)
	for i := 0; i < len(s); i++ {
		v := d[st+uint32(s[i])]
		if v >= slowFlag {
			if v == slowFlag {
				// Fold in the column table, then back to a direct row.
				var c uint32
				i, c = a.fold(s, i)
				v = a.toDirect(a.next(st>>8, c))
			}
			if v >= matchFlag {
				v &^= matchFlag
				sc.addPatterns(a.outputs(v >> 8))
			}
		}
		st = v
	}
}

// fold reads the Kelvin sign as k and the long s as s, any other byte as
// itself, and returns the index of the last byte it consumed and the
// offset of the column to step on. Not inlined: the bytes it handles are
// rare, and inlined it crowded the scan loop's registers.
//
//go:noinline
func (a *automaton) fold(s string, i int) (int, uint32) {
	switch {
	case strings.HasPrefix(s[i:], "\u212A"):
		return i + 2, a.byteCol['k']
	case strings.HasPrefix(s[i:], "\u017F"):
		return i + 1, a.byteCol['s']
	}
	return i, a.byteCol[s[i]]
}

// bytes is the memory the automaton holds, for the cost report.
func (a *automaton) bytes() int {
	return int(unsafe.Sizeof(*a)) + 2*len(a.t16) +
		4*(len(a.t32)+len(a.direct)+len(a.outIDs)+len(a.outOff))
}
