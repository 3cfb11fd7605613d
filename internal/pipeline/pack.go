package pipeline

import (
	"regexp"

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
	// byID finds a context rule's becomes; ctx holds each context rule's
	// compiled field patterns, by signature and rule.
	byID map[string]*signatures.Signature
	ctx  map[*signatures.Signature][][]fieldRe
	// before holds each facts_before regex, compiled.
	before map[*signatures.Signature]*regexp.Regexp
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
	p.byID = make(map[string]*signatures.Signature, len(sigs))
	for _, s := range sigs {
		p.byID[s.ID] = s
		if fb := s.FactsBefore; fb != nil {
			if re, err := regexp.Compile(fb.Regex); err == nil { // loading rejects one that does not
				if p.before == nil {
					p.before = map[*signatures.Signature]*regexp.Regexp{}
				}
				p.before[s] = re
			}
		}
		if len(s.Context) == 0 {
			continue
		}
		res := make([][]fieldRe, len(s.Context))
		for i, r := range s.Context {
			for name, pat := range r.Fields {
				re, err := regexp.Compile(pat)
				if err != nil { // loading rejects it; a hand-built pack fails closed
					re = regexp.MustCompile(`[^\s\S]`)
				}
				res[i] = append(res[i], fieldRe{name: name, re: re})
			}
		}
		if p.ctx == nil {
			p.ctx = map[*signatures.Signature][][]fieldRe{}
		}
		p.ctx[s] = res
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
