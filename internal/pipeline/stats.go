package pipeline

import (
	"maps"
	"sync"

	"github.com/mqttdiag/mqttdiag/matcher"
)

// Stats counts what a pipeline did.
type Stats struct {
	Lines     int64
	Bytes     int64 // of the lines read, terminators included
	Diagnoses int64
}

// UnknownLines is how many fault-looking lines no signature explained,
// each one, also those not reported because their wording was reported
// within the interval (0 with Unknown off). It may be called while Run
// runs.
func (p *Pipeline) UnknownLines() int64 { return p.unknownLines.Load() }

// Stats returns the counts so far; it may be called while Run runs.
func (p *Pipeline) Stats() Stats {
	return Stats{Lines: p.lines.Load(), Bytes: p.bytes.Load(), Diagnoses: p.diagnoses.Load()}
}

// SignatureCount is how many diagnoses one signature produced at one
// severity.
type SignatureCount struct {
	SignatureID, Severity string
	N                     int64
}

// sigCounts counts diagnoses per signature; written by Run, read by
// metrics scrapes.
type sigCounts struct {
	mu sync.Mutex
	m  map[[2]string]int64
}

func (c *sigCounts) add(id, severity string) {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[[2]string]int64{}
	}
	c.m[[2]string{id, severity}]++
	c.mu.Unlock()
}

// SignatureCounts returns the diagnoses made per signature and severity
// ("unknown" included); it may be called while Run runs.
func (p *Pipeline) SignatureCounts() []SignatureCount {
	p.bySig.mu.Lock()
	defer p.bySig.mu.Unlock()
	out := make([]SignatureCount, 0, len(p.bySig.m))
	for k, n := range p.bySig.m {
		out = append(out, SignatureCount{SignatureID: k[0], Severity: k[1], N: n})
	}
	return out
}

// matcherWork keeps the matchers' counters monotonic across reloads: the
// counts of matchers Run no longer uses are added up in retired, and the
// one it matches with now is read live.
type matcherWork struct {
	mu      sync.Mutex
	active  *matcher.Matcher
	retired matcher.Stats
	bySig   map[string]int64 // retired regex runs per signature id
}

// use makes m the matcher Run matches with, retiring the previous one:
// Run is done with it (a pack is swapped between batches).
func (w *matcherWork) use(m *matcher.Matcher) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if m == w.active {
		return
	}
	if old := w.active; old != nil {
		st := old.Stats()
		w.retired.Lines += st.Lines
		w.retired.Candidates += st.Candidates
		w.retired.RegexRuns += st.RegexRuns
		w.retired.CacheHits += st.CacheHits
		w.retired.CacheMisses += st.CacheMisses
		for _, ss := range old.SignatureStats() {
			if ss.RegexRuns > 0 {
				if w.bySig == nil {
					w.bySig = map[string]int64{}
				}
				w.bySig[ss.ID] += ss.RegexRuns
			}
		}
	}
	w.active = m
}

// MatcherStats returns the matchers' work since the pipeline was made,
// across reloads: the counters of every pack it matched with, added up
// (they never go backwards), and the cache size of the matcher in use.
// Per-signature regex runs are by signature id, in no particular order.
// It may be called while Run runs.
func (p *Pipeline) MatcherStats() (matcher.Stats, []matcher.SignatureStats) {
	w := &p.work
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.retired
	bySig := maps.Clone(w.bySig)
	if m := w.active; m != nil {
		cur := m.Stats()
		st.Lines += cur.Lines
		st.Candidates += cur.Candidates
		st.RegexRuns += cur.RegexRuns
		st.CacheHits += cur.CacheHits
		st.CacheMisses += cur.CacheMisses
		st.CacheEntries, st.CacheBytes = cur.CacheEntries, cur.CacheBytes
		for _, ss := range m.SignatureStats() {
			if ss.RegexRuns > 0 {
				if bySig == nil {
					bySig = map[string]int64{}
				}
				bySig[ss.ID] += ss.RegexRuns
			}
		}
	}
	out := make([]matcher.SignatureStats, 0, len(bySig))
	for id, n := range bySig {
		out = append(out, matcher.SignatureStats{ID: id, RegexRuns: n})
	}
	return st, out
}
