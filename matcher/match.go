package matcher

import (
	"cmp"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Match returns every signature whose regex matches msg, in pack order,
// as if the broker were unknown: every signature applies.
func (m *Matcher) Match(msg string) []Hit { return m.match(scopeAny, msg) }

// MatchBroker is Match for a log of the given broker ("mosquitto",
// "emqx"): signatures scoped to another broker or to a domain foreign to
// broker logs are skipped (see GenericDomains). An empty or unknown
// broker is Match.
func (m *Matcher) MatchBroker(broker, msg string) []Hit { return m.match(scopeOf(broker), msg) }

func (m *Matcher) match(sp int, msg string) []Hit {
	m.lines.Add(1)
	s := &m.scopes[sp]
	sc := m.pool.Get().(*scratch)
	sc.begin()
	m.ac.scan(msg, sc)
	if len(sc.pats) == 0 && len(s.always) == 0 {
		m.pool.Put(sc)
		return nil
	}
	needRegex := len(s.always) > 0
	for _, p := range sc.pats {
		for _, u := range m.users[p] {
			if !s.active[u.sig] {
				continue
			}
			sc.cands = append(sc.cands, u)
			if k := m.sigs[u.sig].branches[u.branch].kind; k != kindSet && k != kindOrdered || m.sigs[u.sig].named {
				needRegex = true
			}
		}
	}
	if len(sc.cands) == 0 && len(s.always) == 0 {
		m.pool.Put(sc)
		return nil
	}
	m.candidates.Add(int64(len(sc.cands)))
	c := m.caches[sp]
	if !needRegex || len(msg) > maxCachedMessage {
		c = nil
	}
	if c != nil {
		if hits, ok := c.lru.Get(msg); ok {
			m.cacheHits.Add(1)
			m.pool.Put(sc)
			return hits
		}
		m.cacheMisses.Add(1)
	}
	hits := m.evaluate(s, msg, sc)
	if c != nil && c.admit(msg) {
		// The message and its captures are substrings of the caller's read
		// buffer (a whole batch of lines): the cache keeps copies, or every
		// entry would pin a batch.
		c.add(strings.Clone(msg), detach(hits))
	}
	m.pool.Put(sc)
	return hits
}

// evaluate decides the candidate branches, cheapest first, then extracts
// the captures of the signatures that matched.
func (m *Matcher) evaluate(s *scope, msg string, sc *scratch) []Hit {
	nl := -1 // whether msg has a newline, computed when first needed
	hasNL := func() bool {
		if nl < 0 {
			nl = 0
			if strings.IndexByte(msg, '\n') >= 0 {
				nl = 1
			}
		}
		return nl == 1
	}
	for _, u := range sc.cands {
		if sc.sigStamp[u.sig] == sc.gen {
			continue
		}
		b := &m.sigs[u.sig].branches[u.branch]
		ok := false
		switch b.kind {
		case kindSet:
			if u.exact {
				ok = true
			} else {
				start, _ := b.set[u.member].index(msg, 0)
				ok = start >= 0
			}
		case kindOrdered:
			if b.ord.dotNL && hasNL() {
				sc.deferred = append(sc.deferred, u)
				continue
			}
			ok = b.ord.confirm(msg)
		default:
			sc.deferred = append(sc.deferred, u)
			continue
		}
		if ok {
			sc.matchSig(u.sig)
		}
	}
	runs := 0
	// Several triggered regex branches of one signature (PUBACK|PUBCOMP
	// behind one literal) run its whole regex once instead.
	slices.SortFunc(sc.deferred, func(a, b user) int { return cmp.Compare(a.sig, b.sig) })
	for _, list := range [][]user{sc.deferred, s.always} {
		for i, u := range list {
			if sc.sigStamp[u.sig] == sc.gen {
				continue
			}
			re := m.sigs[u.sig].res[u.branch]
			if i+1 < len(list) && list[i+1].sig == u.sig {
				re = m.sigs[u.sig].full
			}
			runs++
			m.evals[u.sig].Add(1)
			if re.get().MatchString(msg) {
				sc.matchSig(u.sig)
			} else if re == m.sigs[u.sig].full {
				sc.sigStamp[u.sig] = sc.gen // decided: no match
			}
		}
	}
	if len(sc.matched) == 0 {
		m.regexRuns.Add(int64(runs))
		return nil
	}
	slices.Sort(sc.matched)
	hits := make([]Hit, 0, len(sc.matched))
	for _, i := range sc.matched {
		si := &m.sigs[i]
		if !si.named {
			hits = append(hits, Hit{Signature: si.sig})
			continue
		}
		runs++
		m.evals[i].Add(1)
		re := si.full.get()
		loc := re.FindStringSubmatchIndex(msg)
		if loc == nil {
			continue // cannot happen: the branch that matched is part of re
		}
		hits = append(hits, Hit{Signature: si.sig, Fields: fields(re.SubexpNames(), loc, msg)})
	}
	m.regexRuns.Add(int64(runs))
	if len(hits) == 0 {
		return nil
	}
	return hits
}

// fields collects named groups that participated in the match. With
// duplicate names (one per alternative), the first participating wins.
func fields(names []string, loc []int, msg string) map[string]string {
	var f map[string]string
	for i, n := range names {
		if n == "" || loc[2*i] < 0 {
			continue
		}
		if f == nil {
			f = make(map[string]string, 4)
		}
		if _, dup := f[n]; !dup {
			f[n] = msg[loc[2*i]:loc[2*i+1]]
		}
	}
	return f
}

// scratch is one goroutine's working memory for a line, pooled so that a
// line without a hit allocates nothing. Stamps avoid clearing per line.
type scratch struct {
	gen      uint32
	patStamp []uint32 // by pattern: gen when seen on this line
	pats     []int32
	sigStamp []uint32 // by signature: gen when matched on this line
	matched  []int32
	cands    []user
	deferred []user
}

func (sc *scratch) begin() {
	sc.gen++
	if sc.gen == 0 {
		clear(sc.patStamp)
		clear(sc.sigStamp)
		sc.gen = 1
	}
	sc.pats, sc.matched, sc.cands, sc.deferred = sc.pats[:0], sc.matched[:0], sc.cands[:0], sc.deferred[:0]
}

func (sc *scratch) addPatterns(ps []int32) {
	for _, p := range ps {
		if sc.patStamp[p] != sc.gen {
			sc.patStamp[p] = sc.gen
			sc.pats = append(sc.pats, p)
		}
	}
}

func (sc *scratch) matchSig(i int32) {
	sc.sigStamp[i] = sc.gen
	sc.matched = append(sc.matched, i)
}

// lazyRE compiles a regexp on first use: most signatures of a large pack
// never need theirs on a given log, so start-up and memory stay small.
type lazyRE struct {
	once sync.Once
	done atomic.Bool // for the cost report, which must not race with once
	src  string
	// whole and branch name the branch of a signature's regex that src
	// is printed from on first use, when src is empty.
	whole    string
	branch   int
	fallback *lazyRE // the signature's whole regex, if src does not compile
	re       *regexp.Regexp
}

func (l *lazyRE) get() *regexp.Regexp {
	l.once.Do(func() {
		if l.src == "" && l.whole != "" {
			if re, err := syntax.Parse(l.whole, syntax.Perl); err == nil {
				if bs := analyze(re); l.branch < len(bs) && bs[l.branch].re != nil {
					l.src = bs[l.branch].re.String()
				}
			}
			if l.src == "" && l.fallback != nil {
				// Cannot happen for a regex New analysed; stay correct if
				// it does: the whole regex decides the signature as well.
				l.re = l.fallback.get()
				l.done.Store(true)
				return
			}
		}
		re, err := regexp.Compile(l.src)
		if err != nil && l.fallback != nil {
			// A branch printed back from its syntax tree that Go will not
			// parse again: the whole regex decides the signature as well.
			re = l.fallback.get()
		} else if err != nil {
			panic(fmt.Sprintf("matcher: regex %q parsed at load but does not compile: %v", l.src, err))
		}
		l.re = re
		l.done.Store(true)
	})
	return l.re
}

func (l *lazyRE) compiled() bool { return l.done.Load() }
