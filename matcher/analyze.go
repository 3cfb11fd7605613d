package matcher

import (
	"regexp/syntax"
	"slices"
	"unicode"
)

// Limits of the decomposition; past them a branch is kept whole and runs
// its regex, which is always correct, only slower.
const (
	maxBranches = 64 // top-level branches one signature is expanded into
	maxSetSize  = 16 // strings in a finite literal set
	maxClass    = 8  // runes of a character class expanded into literals
	// maxClassBranches: a class of at most this many literals is split
	// into branches.
	maxClassBranches = 4
)

// kind says how a branch is decided once its trigger literal was hit.
type kind uint8

const (
	// kindSet: the branch is a finite set of literals; a hit on one of
	// them decides it, verified on the message only where the automaton
	// cannot tell case apart.
	kindSet kind = iota
	// kindOrdered: literals joined by .* or .+, optionally anchored;
	// confirmed by searching the literals in order.
	kindOrdered
	// kindRegex: anything else; runs the branch's own regexp.
	kindRegex
	// kindAlways: no literal can trigger it; runs on every line in scope.
	kindAlways
)

func (k kind) String() string {
	return [...]string{"literal-set", "ordered-literals", "regex", "always-run"}[k]
}

// branch is one top-level alternative of a signature's regex, after the
// parser's prefix factoring was undone.
type branch struct {
	kind kind
	set  []needle // kindSet
	ord  ordered  // kindOrdered
	re   *syntax.Regexp
	// triggers are the automaton keys: one per set member for kindSet,
	// else one, the branch's rarest necessary literal.
	triggers []trigger
}

type trigger struct {
	key    []byte // normalised bytes
	exact  bool   // a hit decides the set member without verification
	member int    // index into set, kindSet only
	freq   uint32 // estimated lines per million containing key
}

// ordered is a branch of the form [^] lit (gap lit)* [$].
type ordered struct {
	steps     []step
	anchorEnd bool
	tailMin   int  // runes a trailing gap needs after the last literal
	tailGap   bool // a gap follows the last literal
	dotNL     bool // some gap is . without (?s): it must not span a newline
}

type step struct {
	lit      needle
	minGap   int  // runes required between the previous literal's end and this one
	anchored bool // must start exactly where the previous literal ended (only ^lit)
}

// confirm reports whether msg matches the ordered branch. It must only be
// called when msg has no newline or the branch has no dotNL gap.
func (o *ordered) confirm(msg string) bool {
	pos := 0
	for i, st := range o.steps {
		last := i == len(o.steps)-1
		if st.anchored {
			end, ok := st.lit.lit.matchAt(msg, pos)
			if !ok {
				return false
			}
			pos = end
			if last && o.anchorEnd && !o.tailGap && pos != len(msg) {
				return false
			}
			continue
		}
		from := skipRunes(msg, pos, st.minGap)
		if from < 0 {
			return false
		}
		if last && o.anchorEnd && !o.tailGap {
			return st.lit.suffixFrom(msg, from)
		}
		_, end := st.lit.index(msg, from)
		if end < 0 {
			return false
		}
		pos = end
	}
	return skipRunes(msg, pos, o.tailMin) >= 0
}

// analyze decomposes a parsed signature regex into branches.
func analyze(re *syntax.Regexp) []branch {
	var out []branch
	for _, b := range expand(re) {
		out = append(out, classify(b))
	}
	return out
}

// expand returns the alternatives of re with alternations distributed over
// concatenations, undoing the parser's factoring of common prefixes
// ("Sending (?:CONNACK|PUBACK)" becomes two branches). Captures are dropped:
// a branch only decides whether there is a match.
func expand(re *syntax.Regexp) []*syntax.Regexp {
	switch re.Op {
	case syntax.OpCapture:
		return expand(re.Sub[0])
	case syntax.OpAlternate:
		var out []*syntax.Regexp
		for _, s := range re.Sub {
			out = append(out, expand(s)...)
		}
		if len(out) > maxBranches {
			return []*syntax.Regexp{re}
		}
		return out
	case syntax.OpConcat:
		prods := [][]*syntax.Regexp{nil}
		for _, s := range re.Sub {
			alts := expand(s)
			if len(prods)*len(alts) > maxBranches {
				return []*syntax.Regexp{re}
			}
			next := make([][]*syntax.Regexp, 0, len(prods)*len(alts))
			for _, p := range prods {
				for _, a := range alts {
					next = append(next, append(slices.Clip(p), a))
				}
			}
			prods = next
		}
		out := make([]*syntax.Regexp, len(prods))
		for i, p := range prods {
			out[i] = &syntax.Regexp{Op: syntax.OpConcat, Sub: p, Flags: re.Flags}
		}
		return out
	case syntax.OpCharClass:
		// A small class ([01], [23], (?i)'s [Kk\x{212A}]) becomes
		// literals, so that "\((?:0|1), (?:2|3)\)" yields the literal
		// " (0, 2)" rather than the common " (".
		if set, ok := classSet(re.Rune); ok && len(set) <= maxClassBranches {
			out := make([]*syntax.Regexp, len(set))
			for i, l := range set {
				lit := &syntax.Regexp{Op: syntax.OpLiteral, Rune: []rune{l[0].r}}
				if l[0].fold {
					lit.Flags = syntax.FoldCase
				}
				out[i] = lit
			}
			return out
		}
	}
	return []*syntax.Regexp{re}
}

// flatten lists the nodes of a concatenation, looking through captures.
func flatten(re *syntax.Regexp, out []*syntax.Regexp) []*syntax.Regexp {
	switch re.Op {
	case syntax.OpConcat:
		for _, s := range re.Sub {
			out = flatten(s, out)
		}
	case syntax.OpCapture:
		out = flatten(re.Sub[0], out)
	case syntax.OpEmptyMatch:
	default:
		out = append(out, re)
	}
	return out
}

func classify(re *syntax.Regexp) branch {
	b := branch{re: re}
	nodes := flatten(re, nil)
	if set, ok := litSet(nodes); ok && len(set) > 0 && !slices.ContainsFunc(set, func(l literal) bool { return len(l) == 0 }) {
		b.kind = kindSet
		for i, l := range set {
			b.set = append(b.set, newNeedle(l))
			t, ok := bestTrigger([]literal{l})
			if !ok {
				// A member the automaton cannot see (say (?i)ä alone).
				return alwaysRun(b)
			}
			t.member = i
			b.triggers = append(b.triggers, t)
		}
		return b
	}
	if o, lits, ok := orderedOf(nodes); ok {
		if t, ok := bestTrigger(lits); ok {
			t.exact = false
			b.kind, b.ord, b.triggers = kindOrdered, o, []trigger{t}
			return b
		}
		return alwaysRun(b)
	}
	if t, ok := bestTrigger(necessary(nodes, nil)); ok {
		t.exact = false
		b.kind, b.triggers = kindRegex, []trigger{t}
		return b
	}
	return alwaysRun(b)
}

func alwaysRun(b branch) branch {
	b.kind, b.set, b.triggers = kindAlways, nil, nil
	return b
}

func literalOf(re *syntax.Regexp) literal {
	l := make(literal, len(re.Rune))
	for i, r := range re.Rune {
		l[i] = litRune{r: r, fold: re.Flags&syntax.FoldCase != 0}
	}
	return l
}

// litSet returns the finite set of strings the concatenation of nodes
// matches, if it is small.
func litSet(nodes []*syntax.Regexp) ([]literal, bool) {
	set := []literal{nil}
	for _, n := range nodes {
		s, ok := nodeSet(n)
		if !ok || len(set)*len(s) > maxSetSize {
			return nil, false
		}
		set = product(set, s)
	}
	return set, true
}

func product(a, b []literal) []literal {
	out := make([]literal, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			out = append(out, append(slices.Clip(x), y...))
		}
	}
	return out
}

func nodeSet(re *syntax.Regexp) ([]literal, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		return []literal{literalOf(re)}, true
	case syntax.OpEmptyMatch:
		return []literal{nil}, true
	case syntax.OpCharClass:
		return classSet(re.Rune)
	case syntax.OpCapture:
		return nodeSet(re.Sub[0])
	case syntax.OpQuest:
		s, ok := nodeSet(re.Sub[0])
		if !ok || len(s)+1 > maxSetSize {
			return nil, false
		}
		return append(s, nil), true
	case syntax.OpConcat:
		return litSet(re.Sub)
	case syntax.OpAlternate:
		var out []literal
		for _, s := range re.Sub {
			x, ok := nodeSet(s)
			if !ok || len(out)+len(x) > maxSetSize {
				return nil, false
			}
			out = append(out, x...)
		}
		return out, true
	case syntax.OpRepeat:
		if re.Max < 0 || re.Max > 4 {
			return nil, false
		}
		s, ok := nodeSet(re.Sub[0])
		if !ok {
			return nil, false
		}
		var out []literal
		cur := []literal{nil}
		for i := 0; i <= re.Max; i++ {
			if i >= re.Min {
				out = append(out, cur...)
			}
			if len(cur)*len(s) > maxSetSize {
				return nil, false
			}
			cur = product(cur, s)
		}
		if len(out) > maxSetSize {
			return nil, false
		}
		return out, true
	}
	return nil, false
}

// classSet turns a small character class into single-rune literals. A
// class that holds a rune's whole folding orbit ([Kk\x{212A}], as (?i)
// produces) becomes one folded rune, so the automaton can decide it.
func classSet(ranges []rune) ([]literal, bool) {
	var runes []rune
	for i := 0; i < len(ranges); i += 2 {
		for r := ranges[i]; r <= ranges[i+1]; r++ {
			if len(runes) == maxClass {
				return nil, false
			}
			runes = append(runes, r)
		}
	}
	in := func(r rune) bool { return slices.Contains(runes, r) }
	var out []literal
	done := map[rune]bool{}
	for _, r := range runes {
		if done[r] {
			continue
		}
		orbit := []rune{r}
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			orbit = append(orbit, f)
		}
		if len(orbit) > 1 && !slices.ContainsFunc(orbit, func(f rune) bool { return !in(f) }) {
			for _, f := range orbit {
				done[f] = true
			}
			out = append(out, literal{{r: r, fold: true}})
			continue
		}
		done[r] = true
		out = append(out, literal{{r: r}})
	}
	return out, true
}

func isGap(re *syntax.Regexp) (minRunes int, dotNL, ok bool) {
	if (re.Op == syntax.OpStar || re.Op == syntax.OpPlus) && len(re.Sub) == 1 {
		switch re.Sub[0].Op {
		case syntax.OpAnyCharNotNL, syntax.OpAnyChar:
			if re.Op == syntax.OpPlus {
				minRunes = 1
			}
			return minRunes, re.Sub[0].Op == syntax.OpAnyCharNotNL, true
		}
	}
	return 0, false, false
}

// orderedOf recognises [^] (lit | gap)* [$] with at least one literal.
func orderedOf(nodes []*syntax.Regexp) (ordered, []literal, bool) {
	var o ordered
	var lits []literal
	gap, anchored, sawGap := 0, false, false
	for i, n := range nodes {
		switch {
		case n.Op == syntax.OpBeginText && i == 0:
			anchored = true
		case n.Op == syntax.OpEndText && i == len(nodes)-1:
			o.anchorEnd = true
		case n.Op == syntax.OpLiteral:
			l := literalOf(n)
			if len(o.steps) > 0 && !sawGap {
				// Adjacent literals (split by a capture) form one.
				lits[len(lits)-1] = append(lits[len(lits)-1], l...)
				continue
			}
			o.steps = append(o.steps, step{minGap: gap, anchored: anchored && !sawGap && len(o.steps) == 0})
			lits = append(lits, l)
			gap, sawGap = 0, false
		default:
			m, nl, ok := isGap(n)
			if !ok {
				return ordered{}, nil, false
			}
			gap += m
			sawGap = true
			o.dotNL = o.dotNL || nl
		}
	}
	if len(o.steps) == 0 {
		return ordered{}, nil, false
	}
	for i := range o.steps {
		o.steps[i].lit = newNeedle(lits[i])
	}
	if sawGap {
		o.tailGap, o.tailMin = true, gap
	}
	return o, lits, true
}

// necessary returns literals every match of the concatenation contains.
func necessary(nodes []*syntax.Regexp, out []literal) []literal {
	var run literal
	flush := func() {
		if len(run) > 0 {
			out = append(out, run)
			run = nil
		}
	}
	for _, n := range nodes {
		switch n.Op {
		case syntax.OpLiteral:
			run = append(run, literalOf(n)...)
			continue
		case syntax.OpPlus:
			flush()
			out = necessary(flatten(n.Sub[0], nil), out)
		case syntax.OpRepeat:
			flush()
			if n.Min >= 1 {
				out = necessary(flatten(n.Sub[0], nil), out)
			}
		case syntax.OpBeginText, syntax.OpEndText, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
			// Zero-width: the literals either side are still adjacent in
			// the text, but a run across them would be wrong for ^ and $
			// in the middle, so end the run.
			flush()
		default:
			flush()
		}
	}
	flush()
	return out
}

// bestTrigger picks the automaton key among the usable runs of lits that
// occurs in the fewest broker log lines, longer on ties. exact is set when
// the key is a whole literal whose every rune the automaton decides.
func bestTrigger(lits []literal) (trigger, bool) {
	var best trigger
	found := false
	for _, l := range lits {
		var key []byte
		exact, whole := true, true
		consider := func(last bool) {
			if len(key) == 0 {
				return
			}
			f := frequency(key)
			if !found || f < best.freq || f == best.freq && len(key) > len(best.key) {
				best = trigger{key: slices.Clone(key), exact: exact && whole && last, freq: f}
				found = true
			}
		}
		for _, lr := range l {
			var usable, ex bool
			key, usable, ex = lr.key(key)
			if !usable {
				whole = false
				consider(false)
				key, exact = key[:0], true
				continue
			}
			exact = exact && ex
		}
		consider(true)
	}
	return best, found
}
