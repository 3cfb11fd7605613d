package matcher

import "fmt"

// automaton is an Aho-Corasick matcher compiled to a dense DFA over byte
// classes of the normalised text (see literal.go): one table load per
// input byte, no failure links followed at scan time.
//
// It is our own rather than a package because the literal scan is most of
// the matcher's time on a broker log, and a dense DFA over the few dozen
// byte classes that occur in the patterns ran about twice as fast as the
// best Go Aho-Corasick package measured for this (and cloudflare/ahocorasick
// and the Rust port petar-dambovaliev/aho-corasick neither fold case nor
// know the Kelvin sign and the long s, which our normalisation needs at
// scan time).
type automaton struct {
	// class maps a byte to its class; uppercase ASCII shares the class of
	// its lowercase letter. The lead bytes of the Kelvin sign and the long
	// s map to leadMarker and are resolved in scan.
	class [256]uint8
	// lead holds the real class of 0xE2 and 0xC5 when not part of the
	// Kelvin sign or the long s.
	leadE2, leadC5 uint8
	nclass         uint32
	// trans is indexed by state*nclass + class. A value is the next
	// state's row offset (state*nclass), with matchFlag set when that
	// state has outputs.
	trans []uint32
	out   [][]int32 // pattern ids by state number
	npat  int
}

const (
	matchFlag  = 1 << 31
	leadMarker = 255
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
		if used[c] && !(c >= 'A' && c <= 'Z') {
			if n == leadMarker {
				return nil, fmt.Errorf("automaton: more than %d byte classes", leadMarker-1)
			}
			a.class[c] = n
			n++
		}
	}
	for c := 'A'; c <= 'Z'; c++ {
		a.class[c] = a.class[c+'a'-'A']
	}
	a.leadE2, a.leadC5 = a.class[0xE2], a.class[0xC5]
	a.class[0xE2], a.class[0xC5] = leadMarker, leadMarker
	a.nclass = uint32(n)
	nc := a.nclass

	// Trie: goto transitions in the dense table, 0 meaning none (no edge
	// leads back to the root).
	a.trans = make([]uint32, nc)
	a.out = [][]int32{nil}
	for id, p := range patterns {
		s := uint32(0)
		for _, c := range p {
			cl := uint32(a.classOf(c))
			next := a.trans[s*nc+cl]
			if next == 0 {
				next = uint32(len(a.out))
				a.trans = append(a.trans, make([]uint32, nc)...)
				a.out = append(a.out, nil)
				a.trans[s*nc+cl] = next
			}
			s = next
		}
		a.out[s] = append(a.out[s], int32(id))
	}
	if len(a.out) >= matchFlag/int(nc) {
		return nil, fmt.Errorf("automaton: %d states is too many", len(a.out))
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
	return a, nil
}

func (a *automaton) classOf(c byte) uint8 {
	switch c {
	case 0xE2:
		return a.leadE2
	case 0xC5:
		return a.leadC5
	}
	return a.class[c]
}

// scan feeds the normalised s through the automaton and records every
// pattern that occurs in it.
func (a *automaton) scan(s string, sc *scratch) {
	trans, nc := a.trans, a.nclass
	st := uint32(0)
	for i := 0; i < len(s); i++ {
		c := a.class[s[i]]
		if c == leadMarker {
			c, i = a.lead(s, i)
		}
		st = trans[st+uint32(c)]
		if st&matchFlag != 0 {
			st &^= matchFlag
			sc.addPatterns(a.out[st/nc])
		}
	}
}

// lead resolves a 0xE2 or 0xC5 byte at s[i]: the Kelvin sign reads as k,
// the long s as s, anything else as the byte itself.
func (a *automaton) lead(s string, i int) (uint8, int) {
	if s[i] == 0xE2 {
		if i+2 < len(s) && s[i+1] == 0x84 && s[i+2] == 0xAA {
			return a.class['k'], i + 2
		}
		return a.leadE2, i
	}
	if i+1 < len(s) && s[i+1] == 0xBF {
		return a.class['s'], i + 1
	}
	return a.leadC5, i
}

// bytes is the memory the tables hold, for the cost report.
func (a *automaton) bytes() int {
	n := 4 * len(a.trans)
	for _, o := range a.out {
		n += 24 + 4*len(o)
	}
	return n
}
