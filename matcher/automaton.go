package matcher

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
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
type automaton struct {
	// class maps a byte to its class at scan time: the class of its
	// normalised form (normByte), except that the lead bytes of the Kelvin
	// sign and the long s map to slowPath.
	class [256]uint8
	// byteClass is the class of a byte's normalised form.
	byteClass [256]uint8
	nclass    uint32
	// trans is indexed by state*nclass + class. A value is the next
	// state's row offset (state*nclass), with matchFlag set when that
	// state has outputs.
	trans []uint32
	// direct, for small automata, is trans with 256 columns indexed by
	// the raw byte (row offset state<<8): one dependent load per byte, no
	// class lookup. Slow-path bytes hold slowFlag.
	direct []uint32
	out    [][]int32 // pattern ids by state number
	npat   int
}

const (
	matchFlag = 1 << 31
	slowFlag  = 1 << 30 // in direct: fold this byte first
	slowPath  = 255
	// maxDirect bounds the direct table: 1024 states, 1 MiB, enough for
	// packs of a few hundred signatures.
	maxDirect = 1 << 20
)

// newAutomaton compiles normalised patterns; pattern i is reported as i.
func newAutomaton(patterns [][]byte) (*automaton, error) {
	a := &automaton{npat: len(patterns)}
	var used [256]bool
	for _, p := range patterns {
		for _, c := range p {
			used[c] = true
		}
	}
	n := uint8(1) // class 0: bytes no pattern contains
	for c := 0; c < 256; c++ {
		if used[c] && normByte(byte(c)) == byte(c) {
			if n == slowPath {
				return nil, fmt.Errorf("automaton: more than %d byte classes", slowPath-1)
			}
			a.byteClass[c] = n
			n++
		}
	}
	for c := 0; c < 256; c++ {
		a.byteClass[c] = a.byteClass[normByte(byte(c))]
	}
	a.class = a.byteClass
	a.class[0xE2], a.class[0xC5] = slowPath, slowPath
	a.nclass = uint32(n)
	nc := a.nclass
	states := trieStates(patterns)
	if states >= matchFlag/int(nc) {
		return nil, fmt.Errorf("automaton: %d states is too many", states)
	}

	// Trie: goto transitions in the dense table, 0 meaning none (no edge
	// leads back to the root). Sized exactly: the table is most of the
	// matcher's memory (7.8 MB for the built-in pack), and sizing it for
	// the worst case, no shared prefix, kept 12 MB allocated (issue 17).
	a.trans = make([]uint32, nc, states*int(nc))
	a.out = make([][]int32, 1, states)
	for id, p := range patterns {
		s := uint32(0)
		for _, c := range p {
			cl := uint32(a.byteClass[c])
			next := a.trans[s*nc+cl]
			if next == 0 {
				next = uint32(len(a.out))
				a.trans = a.trans[:len(a.trans)+int(nc)] // zero: within the exact capacity
				a.out = append(a.out, nil)
				a.trans[s*nc+cl] = next
			}
			s = next
		}
		a.out[s] = append(a.out[s], int32(id))
	}

	// Breadth-first: failure links, then every missing transition filled
	// from the failure state's, and outputs merged along failure links.
	fail := make([]uint32, len(a.out))
	queue := make([]uint32, 0, len(a.out))
	for c := uint32(0); c < nc; c++ {
		if t := a.trans[c]; t != 0 {
			queue = append(queue, t)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for c := uint32(0); c < nc; c++ {
			t := a.trans[s*nc+c]
			if t != 0 {
				f := a.trans[fail[s]*nc+c]
				fail[t] = f
				if len(a.out[f]) > 0 {
					a.out[t] = append(a.out[t], a.out[f]...)
				}
				queue = append(queue, t)
				continue
			}
			a.trans[s*nc+c] = a.trans[fail[s]*nc+c]
		}
	}
	// Premultiply and flag.
	for i, t := range a.trans {
		v := t * nc
		if len(a.out[t]) > 0 {
			v |= matchFlag
		}
		a.trans[i] = v
	}
	if n := len(a.out); n*256*4 <= maxDirect {
		a.direct = make([]uint32, n*256)
		for st := 0; st < n; st++ {
			for b := 0; b < 256; b++ {
				if a.class[b] == slowPath {
					a.direct[st<<8+b] = slowFlag
					continue
				}
				a.direct[st<<8+b] = a.toDirect(a.trans[uint32(st)*nc+uint32(a.class[b])])
			}
		}
	}
	return a, nil
}

// trieStates is the number of states of the trie of patterns: its root
// and one state per distinct non-empty prefix.
func trieStates(patterns [][]byte) int {
	sorted := slices.Clone(patterns)
	slices.SortFunc(sorted, bytes.Compare)
	n := 1
	var prev []byte
	for _, p := range sorted {
		common := 0
		for common < len(p) && common < len(prev) && p[common] == prev[common] {
			common++
		}
		n += len(p) - common
		prev = p
	}
	return n
}

// toDirect converts a trans value to a direct one.
func (a *automaton) toDirect(v uint32) uint32 {
	return (v&^matchFlag)/a.nclass<<8 | v&matchFlag
}

// scan feeds the normalised s through the automaton and records every
// pattern that occurs in it.
func (a *automaton) scan(s string, sc *scratch) {
	if a.direct != nil {
		a.scanDirect(s, sc)
		return
	}
	trans := a.trans
	st := uint32(0)
	for i := 0; i < len(s); i++ {
		c := a.class[s[i]]
		if c == slowPath {
			i, st = a.fold(s, i, st, sc)
			continue
		}
		st = trans[st+uint32(c)]
		if st&matchFlag != 0 {
			st &^= matchFlag
			sc.addPatterns(a.out[st/a.nclass])
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
				// Fold in the class table, then back to a direct row.
				var t uint32
				i, t = a.fold(s, i, st>>8*a.nclass, sc)
				st = t / a.nclass << 8
				continue
			}
			v &^= matchFlag
			sc.addPatterns(a.out[v>>8])
		}
		st = v
	}
}

// step feeds one byte class.
func (a *automaton) step(st uint32, c uint8, sc *scratch) uint32 {
	st = a.trans[st+uint32(c)]
	if st&matchFlag != 0 {
		st &^= matchFlag
		sc.addPatterns(a.out[st/a.nclass])
	}
	return st
}

// fold feeds the Kelvin sign as k and the long s as s, any other byte as
// itself, and returns the index of the last byte it consumed and the new
// state.
func (a *automaton) fold(s string, i int, st uint32, sc *scratch) (int, uint32) {
	switch {
	case strings.HasPrefix(s[i:], "\u212A"):
		return i + 2, a.step(st, a.byteClass['k'], sc)
	case strings.HasPrefix(s[i:], "\u017F"):
		return i + 1, a.step(st, a.byteClass['s'], sc)
	}
	return i, a.step(st, a.byteClass[s[i]], sc)
}

// bytes is the memory the tables hold, for the cost report.
func (a *automaton) bytes() int {
	n := 4 * (len(a.trans) + len(a.direct))
	for _, o := range a.out {
		n += 24 + 4*len(o)
	}
	return n
}
