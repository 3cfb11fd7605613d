package pipeline

import (
	"strings"
	"time"

	"github.com/mqttdiag/mqttdiag/matcher"
	"github.com/mqttdiag/mqttdiag/signatures"
)

// Pack is the signature pack the pipeline matches with: the compiled
// matcher and what identifies the pack in diagnoses, metrics and /readyz.
// SetPack swaps it whole, so a reload never mixes two packs in one batch.
type Pack struct {
	Matcher *matcher.Matcher
	// Version names the pack (mqttdiag's version for the built-in pack,
	// with the count of site signatures); Hash is a digest of every loaded
	// signature, so two hosts can tell whether they run the same pack.
	Version, Hash string
	// Signatures is the pack's signatures, for the links between them.
	Signatures []*signatures.Signature
	// preds maps a signature id to the ids of signatures that precede it:
	// its own preceded_by, and every signature naming it in leads_to.
	preds map[string][]string
}

// NewPack prepares a pack for the pipeline.
func NewPack(m *matcher.Matcher, sigs []*signatures.Signature, version, hash string) *Pack {
	p := &Pack{Matcher: m, Version: version, Hash: hash, Signatures: sigs, preds: map[string][]string{}}
	add := func(to, from string) {
		for _, x := range p.preds[to] {
			if x == from {
				return
			}
		}
		p.preds[to] = append(p.preds[to], from)
	}
	for _, s := range sigs {
		for _, before := range s.Transitions.PrecededBy {
			add(s.ID, before)
		}
		for _, after := range s.Transitions.LeadsTo {
			add(after, s.ID)
		}
	}
	return p
}

// recent remembers, per source, the last diagnosis of each signature, so
// that a diagnosis can name the earlier ones it follows from.
type recent struct {
	window time.Duration
	bySig  map[string]seen
}

type seen struct {
	id string
	at time.Time
}

// related returns, for each signature that precedes sig, the id of its
// latest diagnosis seen within the window before at: the nearest cause,
// not every earlier occurrence (a burst of refused clients would otherwise
// link each to all the others).
func (r *recent) related(pk *Pack, sig string, at time.Time) []string {
	var ids []string
	for _, before := range pk.preds[sig] {
		last, ok := r.bySig[before]
		if !ok {
			continue
		}
		if d := at.Sub(last.at); d >= 0 && d <= r.window {
			ids = append(ids, last.id)
		}
	}
	return ids
}

func (r *recent) add(sig, id string, at time.Time) {
	if r.bySig == nil {
		r.bySig = map[string]seen{}
	}
	r.bySig[sig] = seen{id: id, at: at}
}

// ring keeps the last lines of a source, for a diagnosis' context.
type ring struct {
	lines []string
	next  int
	full  bool
}

func (r *ring) push(s string, n int) {
	if n <= 0 {
		return
	}
	if r.lines == nil {
		r.lines = make([]string, n)
	}
	r.lines[r.next] = s
	r.next = (r.next + 1) % n
	if r.next == 0 {
		r.full = true
	}
}

// last returns the lines, oldest first, copied: the originals share
// memory with their read batch.
func (r *ring) last() []string {
	if r.lines == nil {
		return nil
	}
	var out []string
	if r.full {
		for _, s := range r.lines[r.next:] {
			out = append(out, strings.Clone(s))
		}
	}
	for _, s := range r.lines[:r.next] {
		out = append(out, strings.Clone(s))
	}
	return out
}
