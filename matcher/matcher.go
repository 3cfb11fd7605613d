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
	"fmt"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

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
