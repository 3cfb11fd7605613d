// Package matcher finds the signatures whose regex matches a log message.
// It is a pure function of the message (a line without its timestamp
// prefix), the broker the log comes from, and the compiled signatures: it
// knows nothing of files or delivery, so it can be tested and benchmarked
// alone.
//
// The result is exactly what running every signature's regex on the
// message would give, without running most of them. Each regex is split
// into its top-level branches (alternations distributed, the parser's
// prefix factoring undone), and each branch is decided by the cheapest
// means that is exact for it:
//
//   - a finite set of literals is decided by a hit of one Aho-Corasick
//     automaton over every literal of every signature, run once per line;
//   - literals joined by .* or .+ (optionally ^ and $) are confirmed by
//     searching the literals in order, when the rarest of them was hit;
//   - any other branch runs its own regexp, compiled on first use, only
//     when its rarest necessary literal was hit;
//   - a branch no literal can trigger runs on every line ("always-run").
//
// "Rarest" is judged by a table of how often n-grams occur in broker logs
// (freq_table.txt, generated). Results of lines that needed regex work are kept in an
// LRU cache keyed by the message: broker logs repeat themselves.
package matcher

import (
	"cmp"
	"fmt"
	"hash/maphash"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/mqttdiag/mqttdiag/signatures"
)

// Hit is one signature that matched a message.
type Hit struct {
	Signature *signatures.Signature
	// Fields holds the regex's named captures that took part in the match,
	// by name; nil when there are none. A name used in several
	// alternatives takes the value of the one that matched.
	Fields map[string]string
}

// Matcher matches messages against a set of signatures. It is safe for
// concurrent use. The hits it returns may be shared with other callers
// (through the cache): treat them as read-only.
type Matcher struct {
	sigs   []sigInfo
	ac     *automaton
	users  [][]user // by automaton pattern id: the branches it triggers
	scopes [numScopes]scope
	caches [numScopes]*cache
	pool   sync.Pool // *scratch
	keys   []string  // automaton patterns, for the cost report

	lines, candidates, regexRuns, cacheHits, cacheMisses atomic.Int64
	evals                                                []atomic.Int64 // regex runs by signature
}

type sigInfo struct {
	sig      *signatures.Signature
	branches []branch
	res      []*lazyRE // by branch; nil for kinds that never run a regex
	full     *lazyRE   // the whole regex: captures, and a fallback
	named    bool      // has named groups
}

// user is one (signature, branch, set member) a pattern triggers.
type user struct {
	sig, branch, member int32
	exact               bool
}

// Scopes: which signatures apply to a log. Until a source's broker is
// known every signature applies.
const (
	scopeAny = iota
	scopeMosquitto
	scopeEMQX
	scopeHiveMQ
	scopeVerneMQ
	scopeAWSIoT
	scopePaho
	numScopes
)

type scope struct {
	active []bool // by signature
	always []user // kindAlways branches of active signatures
}

type options struct {
	cacheEntries int
	cacheBytes   int64
	domains      []string
}

// Option configures a Matcher.
type Option func(*options)

// Default cache bounds: a fault storm repeats few distinct lines, and at
// 8192 entries the cache was a third of the built-in pack's RSS on a 15M
// line scan (BENCHMARKS.md).
const (
	DefaultCacheEntries = 4096
	DefaultCacheBytes   = 2 << 20
	// maxCachedMessage keeps one huge line from flushing the cache.
	maxCachedMessage = 1024
)

// CacheSize bounds the result cache to n entries; 0 disables it.
func CacheSize(n int) Option { return func(o *options) { o.cacheEntries = max(n, 0) } }

// CacheBytes bounds the result cache's keys and results to about n bytes;
// 0 disables it.
func CacheBytes(n int64) Option { return func(o *options) { o.cacheBytes = max(n, 0) } }

// GenericDomains sets the signature domains that apply to every broker's
// logs once the broker is known (default: "", "mqtt", "communication").
// A signature with a broker field applies to that broker only, whatever
// its domain; one whose domain names a broker ("mosquitto", "emqx")
// applies to that broker; any other domain ("python", "android") applies
// only while the broker is unknown, so that generic packs do not fire on
// every broker line.
func GenericDomains(domains ...string) Option {
	return func(o *options) { o.domains = domains }
}

// New analyses the signatures' regexes and builds the automaton. Regexes
// are compiled lazily, on the first line that needs one.
func New(sigs []*signatures.Signature, opts ...Option) (*Matcher, error) {
	o := options{cacheEntries: DefaultCacheEntries, cacheBytes: DefaultCacheBytes, domains: []string{"", "mqtt", "communication"}}
	for _, opt := range opts {
		opt(&o)
	}
	m := &Matcher{sigs: make([]sigInfo, len(sigs)), evals: make([]atomic.Int64, len(sigs))}
	ids := make(map[string]int32)
	var patterns [][]byte
	for i, s := range sigs {
		re, err := syntax.Parse(s.Regex, syntax.Perl)
		if err != nil {
			o := s.Origin()
			return nil, fmt.Errorf("%s:%d: %s: regex: %w", o.File, o.Line, s.ID, err)
		}
		si := &m.sigs[i]
		si.sig, si.named = s, hasNamed(re)
		si.full = &lazyRE{src: s.Regex}
		si.branches = analyze(re)
		si.res = make([]*lazyRE, len(si.branches))
		for bi := range si.branches {
			b := &si.branches[bi]
			if b.kind != kindSet {
				if len(si.branches) == 1 {
					si.res[bi] = si.full
				} else {
					// Printing the branch back is deferred to first use: for
					// wide negated classes such as [^,] String() costs
					// milliseconds, seconds over a pack of them. Keeping
					// the tree until then cost 1.5 MB resident for the
					// built-in pack; re-parsing a regex is microseconds.
					si.res[bi] = &lazyRE{whole: s.Regex, branch: bi, fallback: si.full}
				}
			}
			b.re = nil // the syntax tree is not needed any more
			for _, t := range b.triggers {
				id, ok := ids[string(t.key)]
				if !ok {
					id = int32(len(patterns))
					ids[string(t.key)] = id
					patterns = append(patterns, t.key)
					m.keys = append(m.keys, string(t.key))
					m.users = append(m.users, nil)
				}
				m.users[id] = append(m.users[id], user{sig: int32(i), branch: int32(bi), member: int32(t.member), exact: t.exact})
			}
		}
	}
	ac, err := newAutomaton(patterns)
	if err != nil {
		return nil, fmt.Errorf("build the literal automaton of %d signatures: %w", len(sigs), err)
	}
	m.ac = ac
	brokers := [numScopes]string{scopeAny: "", scopeMosquitto: signatures.BrokerMosquitto, scopeEMQX: signatures.BrokerEMQX,
		scopeHiveMQ: signatures.BrokerHiveMQ, scopeVerneMQ: signatures.BrokerVerneMQ, scopeAWSIoT: signatures.BrokerAWSIoT, scopePaho: signatures.BrokerPaho}
	for sp, broker := range brokers {
		s := &m.scopes[sp]
		s.active = make([]bool, len(sigs))
		for i := range m.sigs {
			si := &m.sigs[i]
			if !inScope(si.sig, broker, o.domains) {
				continue
			}
			s.active[i] = true
			for bi, b := range si.branches {
				if b.kind == kindAlways {
					s.always = append(s.always, user{sig: int32(i), branch: int32(bi)})
				}
			}
		}
		if o.cacheEntries > 0 && o.cacheBytes > 0 {
			m.caches[sp] = newCache(o.cacheEntries, o.cacheBytes)
		}
	}
	npat, nsig := len(patterns), len(sigs)
	m.pool.New = func() any {
		return &scratch{patStamp: make([]uint32, npat), sigStamp: make([]uint32, nsig)}
	}
	return m, nil
}

func hasNamed(re *syntax.Regexp) bool {
	if re.Op == syntax.OpCapture && re.Name != "" {
		return true
	}
	return slices.ContainsFunc(re.Sub, hasNamed)
}

func inScope(s *signatures.Signature, broker string, generic []string) bool {
	if broker == "" {
		return true
	}
	if s.Broker != "" {
		return s.Broker == broker
	}
	d := strings.ToLower(s.Domain)
	return d == broker || slices.Contains(generic, d)
}

func scopeOf(broker string) int {
	switch broker {
	case signatures.BrokerMosquitto:
		return scopeMosquitto
	case signatures.BrokerEMQX:
		return scopeEMQX
	case signatures.BrokerHiveMQ:
		return scopeHiveMQ
	case signatures.BrokerVerneMQ:
		return scopeVerneMQ
	case signatures.BrokerAWSIoT:
		return scopeAWSIoT
	case signatures.BrokerPaho:
		return scopePaho
	}
	return scopeAny
}

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

// cache maps a message to its hits, bounded in entries and bytes.
//
// A message enters it only on its second miss: a doorkeeper remembers the
// hash of each message missed once. Most messages of a broker log never
// repeat (message ids, ports), and copying each into the LRU cost more
// than the cache saved (an always-triggered regex ran 43 % slower with it
// than without); a fault storm repeats its few lines at once.
type cache struct {
	lru      *lru.Cache[string, []Hit]
	bytes    atomic.Int64
	maxBytes int64
	seed     maphash.Seed
	seen     []atomic.Uint64 // doorkeeper, indexed by hash; a power of two long
}

func newCache(entries int, maxBytes int64) *cache {
	slots := 1024
	for slots < 2*entries {
		slots *= 2
	}
	c := &cache{maxBytes: maxBytes, seed: maphash.MakeSeed(), seen: make([]atomic.Uint64, slots)}
	l, err := lru.NewWithEvict(entries, func(k string, v []Hit) { c.bytes.Add(-entryBytes(k, v)) })
	if err != nil {
		panic(err) // only for a size <= 0, which New never asks for
	}
	c.lru = l
	return c
}

// entryBytes estimates what an entry holds: key, slice, maps.
func entryBytes(k string, v []Hit) int64 {
	n := int64(len(k)) + 64 + int64(cap(v))*24
	for _, h := range v {
		for name, val := range h.Fields {
			n += int64(len(name)+len(val)) + 48
		}
	}
	return n
}

// admit reports whether msg was missed before (as far as the doorkeeper
// remembers), and remembers it.
func (c *cache) admit(msg string) bool {
	h := maphash.String(c.seed, msg) | 1 // 0 is an empty slot
	slot := &c.seen[h&uint64(len(c.seen)-1)]
	if slot.Load() == h {
		return true
	}
	slot.Store(h)
	return false
}

// detach returns hits whose captures own their memory.
func detach(hits []Hit) []Hit {
	if len(hits) == 0 {
		return hits
	}
	out := make([]Hit, len(hits))
	for i, h := range hits {
		out[i] = h
		if h.Fields != nil {
			f := make(map[string]string, len(h.Fields))
			for k, v := range h.Fields {
				f[k] = strings.Clone(v)
			}
			out[i].Fields = f
		}
	}
	return out
}

func (c *cache) add(k string, v []Hit) {
	if present, _ := c.lru.ContainsOrAdd(k, v); present {
		return
	}
	c.bytes.Add(entryBytes(k, v))
	for c.bytes.Load() > c.maxBytes && c.lru.Len() > 0 {
		c.lru.RemoveOldest()
	}
}

// Stats counts the matcher's work since New, for metrics.
type Stats struct {
	Lines       int64 // messages matched
	Candidates  int64 // branches whose trigger literal was hit, in scope
	RegexRuns   int64 // regexp evaluations, captures included
	CacheHits   int64
	CacheMisses int64
	// CacheEntries and CacheBytes are the caches' current size, all
	// scopes together.
	CacheEntries int
	CacheBytes   int64
}

// Stats returns the counts so far. It may be called at any time.
func (m *Matcher) Stats() Stats {
	st := Stats{Lines: m.lines.Load(), Candidates: m.candidates.Load(), RegexRuns: m.regexRuns.Load(),
		CacheHits: m.cacheHits.Load(), CacheMisses: m.cacheMisses.Load()}
	for _, c := range m.caches {
		if c != nil {
			st.CacheEntries += c.lru.Len()
			st.CacheBytes += c.bytes.Load()
		}
	}
	return st
}

// SignatureStats is one signature's share of the work.
type SignatureStats struct {
	ID        string
	RegexRuns int64 // regexp evaluations for this signature
}

// SignatureStats returns the per-signature counts, in pack order.
func (m *Matcher) SignatureStats() []SignatureStats {
	out := make([]SignatureStats, len(m.sigs))
	for i := range m.sigs {
		out[i] = SignatureStats{ID: m.sigs[i].sig.ID, RegexRuns: m.evals[i].Load()}
	}
	return out
}

// Cost describes how a signature is matched and what it is expected to
// cost, for `mqttdiag signatures lint --cost`.
type Cost struct {
	ID       string
	Branches []BranchCost
	// AlwaysRun: some branch has no literal to trigger it and runs its
	// regex on every line in scope.
	AlwaysRun bool
	// RegexPerMillion estimates the regex runs per million broker log
	// lines: the trigger frequencies of its regex branches (a million for
	// an always-run branch).
	RegexPerMillion uint32
	// RegexRuns and Compiled are what this process has done so far.
	RegexRuns int64
	Compiled  bool
}

// BranchCost is one top-level branch of a signature's regex.
type BranchCost struct {
	Kind     string   // literal-set, ordered-literals, regex, always-run
	Triggers []string // automaton keys (normalised: lowercased ASCII)
	// PerMillion estimates how many broker log lines per million hit a
	// trigger of the branch.
	PerMillion uint32
}

// Costs reports every signature's decomposition, in pack order.
func (m *Matcher) Costs() []Cost {
	out := make([]Cost, len(m.sigs))
	for i := range m.sigs {
		si := &m.sigs[i]
		c := Cost{ID: si.sig.ID, RegexRuns: m.evals[i].Load(), Compiled: si.full.compiled()}
		var regex uint64
		for _, b := range si.branches {
			bc := BranchCost{Kind: b.kind.String()}
			for _, t := range b.triggers {
				bc.Triggers = append(bc.Triggers, string(t.key))
				bc.PerMillion = max(bc.PerMillion, t.freq)
			}
			switch b.kind {
			case kindAlways:
				c.AlwaysRun = true
				bc.PerMillion = 1_000_000
				regex += 1_000_000
			case kindRegex:
				regex += uint64(bc.PerMillion)
			}
			c.Branches = append(c.Branches, bc)
		}
		c.RegexPerMillion = uint32(min(regex, 1_000_000))
		out[i] = c
	}
	return out
}

// Summary describes the whole matcher.
type Summary struct {
	Signatures, Branches, Patterns, States int
	AutomatonBytes                         int
	Kinds                                  map[string]int // branches by kind
}

// Summary reports the matcher's shape, for the cost report and start-up log.
func (m *Matcher) Summary() Summary {
	s := Summary{Signatures: len(m.sigs), Patterns: len(m.keys), States: len(m.ac.out), AutomatonBytes: m.ac.bytes(), Kinds: map[string]int{}}
	for i := range m.sigs {
		for _, b := range m.sigs[i].branches {
			s.Branches++
			s.Kinds[b.kind.String()]++
		}
	}
	return s
}

// Signatures returns the signatures the matcher was built from, in pack
// order. The slice must not be modified.
func (m *Matcher) Signatures() []*signatures.Signature {
	out := make([]*signatures.Signature, len(m.sigs))
	for i := range m.sigs {
		out[i] = m.sigs[i].sig
	}
	return out
}
