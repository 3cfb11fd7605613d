package matcher

import (
	"github.com/mqttdiag/mqttdiag/signatures"
)

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
	s := Summary{Signatures: len(m.sigs), Patterns: len(m.keys), States: int(m.ac.nstates), AutomatonBytes: m.ac.bytes(), Kinds: map[string]int{}}
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
