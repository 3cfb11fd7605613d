package pipeline

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/clock"
	"github.com/mqttdiag/mqttdiag/signatures"
	"github.com/mqttdiag/mqttdiag/sink"
)

// Summary kinds, the value of sink.Diagnosis.Summary.
const (
	SummaryDedup     = "dedup"
	SummaryThreshold = "threshold"
	// SummaryOverflow counts the occurrences of one signature whose key
	// found no room among the open dedup keys (MaxDedupKeys).
	SummaryOverflow = "overflow"
)

// DefaultMaxDedupKeys is how many dedup keys storm control keeps open at
// once unless MaxDedupKeys sets another. An open key costs about 280
// bytes of live heap (BenchmarkDedupKeyMemory), so the default holds
// about 3 MB.
const DefaultMaxDedupKeys = 10000

// maxCountedClients bounds the distinct client ids a summary counts, so
// that a storm from a million clients costs bounded memory; past it,
// client_count says "at least".
const maxCountedClients = 4096

// Threshold is how many occurrences of a signature within how long make
// an incident worth an alert.
type Threshold struct {
	Count  int
	Window time.Duration
}

// storm is the storm-control stage in front of the alerting sinks.
//
// Dedup: the first diagnosis of a key (signature id and key fields) is
// sent at once and opens a window; identical ones within the window are
// folded, and when it closes they go out as one summary with their count
// and first and last times. Thresholds: a signature with a threshold is
// silent until Count occurrences fall within Window from the first; then
// one summary goes out with the count and the clients involved, and what
// follows within the window is summarised when it closes.
//
// Keys come from log content (a client id is a key field), so their number
// is bounded: while maxKeys dedup windows are open, an occurrence whose key
// has none is folded into its signature's overflow window instead, one per
// signature, which goes out as a summary of kind SummaryOverflow when it
// closes. Threshold windows are one per signature and need no bound.
//
// At least once holds across the fold: an occurrence's acknowledgement
// is held until the notification that counts it was accepted by every
// alerting sink, or, below a threshold, until its window expired. A
// crash loses nothing counted but unsent: it is re-read from the
// checkpoint. The hold is bounded by the window.
type storm struct {
	window     time.Duration // dedup window; 0 turns dedup off
	thresholds map[string]Threshold
	clock      clock.Clock
	groups     map[string]*group
	maxKeys    int // open dedup windows, at most
	dedupKeys  int // open dedup windows
	counters   *stormCounters
	due        groupHeap         // open groups by closing time
	policies   map[string]policy // by signature id, for pack
	pack       *Pack             // of the last item; policies belong to it
	keyBuf     strings.Builder
	// emit sends a notification to every alerting sink; then runs once
	// all of them accepted it.
	emit func(ctx context.Context, d *sink.Diagnosis, then func()) error
}

// stormCounters are the storm stage's use of its bound, for metrics;
// written by the stage, read by scrapes.
type stormCounters struct {
	keys   atomic.Int64 // open dedup windows
	folded atomic.Int64 // occurrences folded into overflow windows
}

// group is one open window.
type group struct {
	key       string
	threshold int  // 0 for a dedup or overflow group
	overflow  bool // the overflow window of a signature
	closes    time.Time
	crossed   bool // threshold reached in this window
	idx       int  // in the heap

	// What was folded and not yet notified.
	count         int
	held          []heldAck
	first, last   time.Time
	firstID       string
	latest        *sink.Diagnosis
	clients       map[string]struct{}
	clientsCapped bool
}

// heldAck is n acknowledgements owed to one tally; consecutive
// occurrences of a batch share a tally, so a storm of 10,000 lines holds
// about 40 entries, not 10,000.
type heldAck struct {
	t *tally
	n int
}

func newStorm(window time.Duration, thresholds map[string]Threshold, maxKeys int, c clock.Clock, counters *stormCounters) *storm {
	if maxKeys < 1 {
		maxKeys = DefaultMaxDedupKeys
	}
	if counters == nil {
		counters = new(stormCounters)
	}
	return &storm{window: window, thresholds: thresholds, maxKeys: maxKeys, clock: c, groups: make(map[string]*group), counters: counters}
}

// policy is how the stage treats one signature's diagnoses.
type policy struct {
	threshold Threshold // Count 0: none
	fields    []string  // dedup key fields
}

// policyOf returns the policy for a diagnosis of sig (nil for unknown
// lines) from pk, computed once per signature id and pack: the threshold
// configured for it, else its own; its key fields. A reload swaps the
// pack, and with it every signature's own threshold and key fields, so
// the first item of a new pack clears what was computed for the old one.
func (s *storm) policyOf(pk *Pack, sig *signatures.Signature, id string) policy {
	if pk != s.pack {
		s.pack, s.policies = pk, nil
	}
	if p, ok := s.policies[id]; ok {
		return p
	}
	var p policy
	if th, ok := s.thresholds[id]; ok {
		if th.Count > 1 {
			p.threshold = th
		}
	} else if sig != nil && sig.Threshold != nil {
		p.threshold = Threshold{Count: sig.Threshold.Count, Window: sig.Threshold.WindowDuration()}
	}
	if sig != nil {
		p.fields = sig.KeyFields()
	} else {
		p.fields = []string{"shape"} // unknown lines: one key per wording
	}
	if s.policies == nil {
		s.policies = make(map[string]policy)
	}
	s.policies[id] = p
	return p
}

// run consumes in until it is closed, then flushes (see flush). ctx is
// the delivery context: when it ends, run returns at once.
func (s *storm) run(ctx context.Context, in <-chan item) error {
	var timer <-chan time.Time
	var armed time.Time
	for {
		if len(s.due) > 0 {
			if next := s.due[0].closes; timer == nil || !next.Equal(armed) {
				timer, armed = s.clock.After(next.Sub(s.clock.Now())), next
			}
		} else {
			timer = nil
		}
		select {
		case it, ok := <-in:
			if !ok {
				return s.flush(ctx)
			}
			if err := s.add(ctx, it); err != nil {
				return err
			}
		case now := <-timer:
			timer = nil
			if err := s.expire(ctx, now); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *storm) add(ctx context.Context, it item) error {
	if it.d.PartOf != "" {
		// A detail of a fault whose cause alerts: no alert of its own.
		it.ack.release()
		return nil
	}
	now := s.clock.Now()
	p := s.policyOf(it.pack, it.sig, it.d.SignatureID)
	th, isThreshold := p.threshold, p.threshold.Count > 0
	var key string
	if it.d.EndedAt != nil {
		// An ending is news and is never folded. What its fault's dedup
		// window folded goes out first, so that no summary of the fault
		// follows its ending and opens the alert again.
		if s.window > 0 {
			if g := s.groups[s.dedupKey(it.d, p.fields)]; g != nil {
				heap.Remove(&s.due, g.idx)
				if err := s.close(ctx, g); err != nil {
					return err
				}
			}
		}
		return s.emit(ctx, it.d, it.ack.release)
	}
	if isThreshold {
		key = "T\x00" + it.d.SignatureID
	} else if s.window > 0 {
		key = s.dedupKey(it.d, p.fields)
	} else {
		// Neither dedup nor a threshold applies: pass it on.
		return s.emit(ctx, it.d, it.ack.release)
	}
	g := s.groups[key]
	if g == nil {
		if !isThreshold && s.dedupKeys >= s.maxKeys {
			s.overflow(it, now)
			return nil
		}
		g = &group{key: key, closes: now.Add(s.window)}
		if isThreshold {
			g.threshold, g.closes = th.Count, now.Add(th.Window)
		}
		s.groups[key] = g
		heap.Push(&s.due, g)
		if !isThreshold {
			s.dedupKeys++
			s.counters.keys.Store(int64(s.dedupKeys))
			// The first of a dedup window goes out at once: it is news.
			return s.emit(ctx, it.d, it.ack.release)
		}
	}
	g.fold(it)
	if g.threshold > 0 && !g.crossed && g.count >= g.threshold {
		g.crossed = true
		return s.send(ctx, g, SummaryThreshold)
	}
	return nil
}

// overflow folds an occurrence whose key found no room into its
// signature's overflow window, opening it if need be. Nothing goes out
// until the window closes: under a flood of new keys, one summary per
// signature and window says how many occurrences found no room.
func (s *storm) overflow(it item, now time.Time) {
	key := "O\x00" + it.d.SignatureID
	g := s.groups[key]
	if g == nil {
		g = &group{key: key, overflow: true, closes: now.Add(s.window)}
		s.groups[key] = g
		heap.Push(&s.due, g)
	}
	g.fold(it)
	s.counters.folded.Add(1)
}

// expire closes every window due at now.
func (s *storm) expire(ctx context.Context, now time.Time) error {
	for len(s.due) > 0 && !s.due[0].closes.After(now) {
		if err := s.close(ctx, heap.Pop(&s.due).(*group)); err != nil {
			return err
		}
	}
	return nil
}

// close ends g's window: folded occurrences go out as a summary; below a
// threshold they are acknowledged without a word (that is the point of
// the threshold: stdout recorded each of them).
func (s *storm) close(ctx context.Context, g *group) error {
	delete(s.groups, g.key)
	if g.threshold == 0 && !g.overflow {
		s.dedupKeys--
		s.counters.keys.Store(int64(s.dedupKeys))
	}
	switch {
	case g.count == 0:
		return nil
	case g.threshold > 0 && !g.crossed:
		g.releaseHeld()
		return nil
	case g.threshold > 0:
		return s.send(ctx, g, SummaryThreshold)
	case g.overflow:
		return s.send(ctx, g, SummaryOverflow)
	default:
		return s.send(ctx, g, SummaryDedup)
	}
}

// flush closes every open window at shutdown, sending what is due:
// dedup summaries and the rest of crossed thresholds. A window still
// below its threshold is not due, and its occurrences stay
// unacknowledged, so that after a restart they are read again and count
// toward the threshold once more, instead of being forgotten.
func (s *storm) flush(ctx context.Context) error {
	for len(s.due) > 0 {
		g := heap.Pop(&s.due).(*group)
		if g.threshold > 0 && !g.crossed {
			delete(s.groups, g.key)
			continue
		}
		if err := s.close(ctx, g); err != nil {
			return err
		}
	}
	return nil
}

// send emits a summary of what g folded and resets the fold.
func (s *storm) send(ctx context.Context, g *group, kind string) error {
	d := g.summary(kind)
	held := g.held
	g.reset()
	return s.emit(ctx, d, func() {
		for _, h := range held {
			for range h.n {
				h.t.release()
			}
		}
	})
}

func (g *group) fold(it item) {
	at := it.d.SeenAt()
	if g.count == 0 {
		g.first, g.firstID = at, it.d.ID
	}
	g.count++
	if at.Before(g.first) {
		g.first = at
	}
	if at.After(g.last) || g.count == 1 {
		g.last = at
	}
	g.latest = it.d
	if n := len(g.held); n > 0 && g.held[n-1].t == it.ack {
		g.held[n-1].n++
	} else {
		g.held = append(g.held, heldAck{t: it.ack, n: 1})
	}
	if c, ok := it.d.Fields["client_id"]; ok {
		if g.clients == nil {
			g.clients = make(map[string]struct{})
		}
		if len(g.clients) < maxCountedClients {
			g.clients[c] = struct{}{}
		} else if _, seen := g.clients[c]; !seen {
			g.clientsCapped = true
		}
	}
}

func (g *group) releaseHeld() {
	for _, h := range g.held {
		for range h.n {
			h.t.release()
		}
	}
	g.reset()
}

func (g *group) reset() {
	g.count, g.held, g.latest, g.clients, g.clientsCapped, g.firstID = 0, nil, nil, nil, false, ""
}

// summary is the latest occurrence (its knowledge, line, source and
// fields) standing for all that g folded.
func (g *group) summary(kind string) *sink.Diagnosis {
	d := *g.latest
	d.ID = summaryID(kind, g.firstID, g.latest.ID, g.count)
	d.Summary = kind
	d.Count = g.count
	first, last := g.first, g.last
	d.FirstSeen, d.LastSeen = &first, &last
	if len(g.clients) > 0 {
		d.Clients = make([]string, 0, len(g.clients))
		for c := range g.clients {
			d.Clients = append(d.Clients, c)
		}
		slices.Sort(d.Clients)
		d.ClientCount = len(d.Clients)
		if g.clientsCapped {
			d.ClientCount++ // at least one more than counted
		}
		d.Clients = d.Clients[:min(len(d.Clients), sink.MaxClients)]
	}
	return &d
}

// summaryID derives a summary's id from what it counts, so that a
// retried summary keeps its id and receivers can drop the duplicate.
func summaryID(kind, firstID, lastID string, count int) string {
	h := sha256.New()
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(firstID))
	h.Write([]byte{0})
	h.Write([]byte(lastID))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(count))
	h.Write(b[:])
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// dedupKey is the signature id and the values of its key fields.
func (s *storm) dedupKey(d *sink.Diagnosis, fields []string) string {
	b := &s.keyBuf
	b.Reset()
	b.WriteString("D\x00")
	b.WriteString(d.SignatureID)
	for _, f := range fields {
		b.WriteByte(0)
		b.WriteString(f)
		b.WriteByte('=')
		b.WriteString(d.Fields[f])
	}
	return b.String()
}

// groupHeap orders open windows by closing time.
type groupHeap []*group

func (h groupHeap) Len() int           { return len(h) }
func (h groupHeap) Less(i, j int) bool { return h[i].closes.Before(h[j].closes) }
func (h groupHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *groupHeap) Push(x any) {
	g := x.(*group)
	g.idx = len(*h)
	*h = append(*h, g)
}
func (h *groupHeap) Pop() any {
	old := *h
	g := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return g
}
