// Package lint checks signature packs for what loading cannot: patterns
// that fire on everything, examples that do not match, counterexamples that
// do, accidental overlaps between signatures, and gaps in the knowledge an
// operator needs. It is how a pack stays honest as it grows.
package lint

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"

	"github.com/mqttdiag/mqttdiag/internal/brokerlog"
	"github.com/mqttdiag/mqttdiag/signatures"
)

// Level says how serious a problem is.
type Level int

const (
	// Error problems make a pack wrong: lint exits non-zero.
	Error Level = iota
	// Warning problems make a pack weak; with Strict they are errors.
	Warning
)

func (l Level) String() string {
	if l == Error {
		return "error"
	}
	return "warning"
}

// Problem is one finding, located like a load error.
type Problem struct {
	File  string
	Line  int
	ID    string
	Field string
	Level Level
	Msg   string
}

// String formats the problem as file:line: id: field: problem.
func (p Problem) String() string {
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	s := loc + ": " + p.ID
	if p.Field != "" {
		s += ": " + p.Field
	}
	if p.Level == Warning {
		return s + ": warning: " + p.Msg
	}
	return s + ": " + p.Msg
}

// Options tune a check.
type Options struct {
	// Strict turns warnings into errors and requires the full knowledge
	// the built-in pack promises (translations, two examples and
	// counterexamples, two workarounds, a dead end, versions, doc URL).
	Strict bool
	// Against are signatures loaded beside the checked ones (the built-in
	// pack, when a site pack is linted): a checked signature that overlaps
	// one of them is reported, and names of them in transition_graph
	// resolve. Problems are reported for the checked signatures only.
	Against []*signatures.Signature
}

// Verification tiers the built-in pack uses.
const (
	TierReal   = "verified_real_broker" // examples captured from a broker provoked by a test
	TierSource = "source_derived"       // examples derived from the broker's source or docs
)

// Check lints a set of signatures that loaded without error.
func Check(sigs []*signatures.Signature, opts Options) []Problem {
	var ps []Problem
	add := func(s *signatures.Signature, field string, lvl Level, format string, args ...any) {
		if opts.Strict {
			lvl = Error
		}
		o := s.Origin()
		ps = append(ps, Problem{File: o.File, Line: o.Line, ID: s.ID, Field: field, Level: lvl, Msg: fmt.Sprintf(format, args...)})
	}
	res := make([]*regexp.Regexp, len(sigs))
	byID := make(map[string]*signatures.Signature, len(sigs))
	for i, s := range sigs {
		byID[s.ID] = s
		re, err := regexp.Compile(s.Regex)
		if err != nil { // the loader prevents this; stay safe on hand-built input
			add(s, "regex", Error, "does not compile: %v", err)
			continue
		}
		res[i] = re
		if re.MatchString("") {
			add(s, "regex", Error, "matches the empty string, so it fires on every line")
		}
		if b, lit := unguardedBranch(s.Regex); b != "" {
			add(s, "regex", Error, "top-level alternative %q matches on its own anywhere in a line (e.g. any line containing %q); anchor each alternative with ^ or group them under a common context, as in ^Prefix (?:a|b)$", b, lit)
		}
		for _, ex := range allExamples(s) {
			if !re.MatchString(message(ex)) {
				add(s, "examples", Error, "example does not match: %q", ex)
			}
		}
		for _, ex := range s.Counterexamples {
			if re.MatchString(message(ex)) {
				add(s, "counterexamples", Error, "counterexample matches: %q", ex)
			}
		}
		for _, ff := range []struct {
			field string
			f     *signatures.Follow
		}{{"ends_when", s.EndsWhen}, {"expects", s.Expects}} {
			follow(s, ff.field, ff.f, add)
		}
		if fb := s.FactsBefore; fb != nil {
			follow(s, "facts_before", &signatures.Follow{Regex: fb.Regex, Examples: fb.Examples}, add)
		}
		knowledge(s, opts, add)
	}
	// Overlaps: an example of one signature that another also matches,
	// unless they are declared as confusable or scoped to different brokers.
	overlap := func(a, b *signatures.Signature) bool {
		return !(a.Broker != "" && b.Broker != "" && a.Broker != b.Broker) && !confusable(a, b)
	}
	for i, a := range sigs {
		for _, ex := range allExamples(a) {
			msg := message(ex)
			for j, b := range sigs {
				if i == j || res[j] == nil || !res[j].MatchString(msg) || !overlap(a, b) {
					continue
				}
				add(a, "examples", Error, "example %q also matches %s (%s:%d); if both are right, name each other in transition_graph.frequently_confused_with", ex, b.ID, b.Origin().File, b.Origin().Line)
			}
		}
	}
	// The same against the signatures loaded beside them, both ways.
	for _, b := range opts.Against {
		if _, checked := byID[b.ID]; checked {
			continue // the same signature, linted as a file
		}
		bre, err := regexp.Compile(b.Regex)
		if err != nil {
			continue
		}
		for i, a := range sigs {
			if res[i] == nil || !overlap(a, b) {
				continue
			}
			for _, ex := range allExamples(a) {
				if bre.MatchString(message(ex)) {
					add(a, "examples", Error, "example %q also matches %s (%s:%d), which is loaded beside it; if both are right, name each other in transition_graph.frequently_confused_with", ex, b.ID, b.Origin().File, b.Origin().Line)
				}
			}
			for _, ex := range allExamples(b) {
				if res[i].MatchString(message(ex)) {
					add(a, "regex", Error, "matches %q, an example of %s (%s:%d), which is loaded beside it; if both are right, name each other in transition_graph.frequently_confused_with", ex, b.ID, b.Origin().File, b.Origin().Line)
				}
			}
		}
	}
	known := func(id string) bool {
		if _, ok := byID[id]; ok {
			return true
		}
		return slices.ContainsFunc(opts.Against, func(b *signatures.Signature) bool { return b.ID == id })
	}
	for _, s := range sigs {
		for field, ids := range map[string][]string{
			"transition_graph.leads_to":                 s.Transitions.LeadsTo,
			"transition_graph.preceded_by":              s.Transitions.PrecededBy,
			"transition_graph.frequently_confused_with": s.Transitions.FrequentlyConfusedWith,
		} {
			for _, id := range ids {
				if !known(id) {
					add(s, field, Warning, "names %q, which is not in the pack", id)
				}
			}
		}
	}
	// part_of and context name other signatures: they must exist, and a
	// field both lines must share must be one the earlier line captures,
	// else it ties nothing.
	lookup := func(id string) *signatures.Signature {
		if b, ok := byID[id]; ok {
			return b
		}
		for _, b := range opts.Against {
			if b.ID == id {
				return b
			}
		}
		return nil
	}
	nearCheck := func(s *signatures.Signature, field string, n *signatures.Near) {
		for _, id := range n.Signatures {
			b := lookup(id)
			if b == nil {
				add(s, field, Warning, "names %q, which is not in the pack", id)
				continue
			}
		}
		// A field only the later line captures ties nothing: some earlier
		// signature must capture it too.
		for _, f := range n.Same {
			if !slices.ContainsFunc(n.Signatures, func(id string) bool {
				b := lookup(id)
				return b != nil && slices.Contains(captures(b.Regex), f)
			}) {
				add(s, field, Error, "same: %q is captured by none of %s, so it ties nothing", f, strings.Join(n.Signatures, ", "))
			}
		}
	}
	for _, s := range sigs {
		if s.PartOf != nil {
			nearCheck(s, "part_of", s.PartOf)
			if slices.Contains(s.PartOf.Signatures, s.ID) && s.PartOf.Lines == 0 {
				add(s, "part_of", Error, "names itself without lines: every later occurrence within %s would be a detail of the first; bound it with lines", s.PartOf.Within)
			}
		}
		for i := range s.Context {
			r := &s.Context[i]
			if n := r.Near(); n != nil {
				nearCheck(s, "context", n)
			}
			if r.Becomes != "" && lookup(r.Becomes) == nil {
				add(s, "context", Warning, "becomes %q, which is not in the pack", r.Becomes)
			}
		}
	}
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		return a.Line - b.Line
	})
	return ps
}

// follow checks an ends_when or expects: its regex must not fire on
// everything and its examples must match it.
func follow(s *signatures.Signature, field string, f *signatures.Follow, add func(*signatures.Signature, string, Level, string, ...any)) {
	if f == nil {
		return
	}
	re, err := regexp.Compile(f.Regex)
	if err != nil {
		add(s, field, Error, "regex does not compile: %v", err)
		return
	}
	if re.MatchString("") {
		add(s, field, Error, "regex matches the empty string, so every line would follow")
	}
	if len(f.Examples) == 0 {
		add(s, field, Warning, "no examples: give the line that follows, captured from a real broker")
	}
	for _, ex := range f.Examples {
		if !re.MatchString(message(ex)) {
			add(s, field, Error, "example does not match: %q", ex)
		}
	}
}

// knowledge checks that the signature carries what an operator needs.
func knowledge(s *signatures.Signature, opts Options, add func(*signatures.Signature, string, Level, string, ...any)) {
	if s.SignatureZh == "" || s.RootCauseZh == "" {
		add(s, "signature_zh", Warning, "missing Chinese title or root cause (signature_zh, root_cause_zh)")
	}
	if len(s.WorkaroundsZh) != len(s.Workarounds) {
		add(s, "workarounds_zh", Warning, "has %d entries for %d workarounds", len(s.WorkaroundsZh), len(s.Workarounds))
	}
	unsourcedRates(s, add)
	if !opts.Strict {
		return
	}
	if len(allExamples(s)) < 2 {
		add(s, "examples", Error, "needs at least two examples (examples and source_examples together)")
	}
	if len(s.Counterexamples) < 2 {
		add(s, "counterexamples", Error, "needs at least two counterexamples")
	}
	if s.RootCause == "" {
		add(s, "root_cause", Error, "missing")
	}
	if len(s.Workarounds) < 2 {
		add(s, "workarounds", Error, "needs at least two workarounds")
	}
	if len(s.DeadEnds) < 1 {
		add(s, "dead_ends", Error, "needs at least one dead end with why it fails")
	}
	for i, d := range s.DeadEnds {
		if d.WhyFails == "" {
			add(s, "dead_ends", Error, "[%d] has no why_fails", i)
		}
	}
	if len(s.Versions) == 0 {
		add(s, "versions", Error, "missing")
	}
	if s.OfficialDocURL == "" {
		add(s, "official_doc_url", Error, "missing")
	}
	if s.Severity == "" {
		add(s, "severity", Error, "missing")
	}
	switch s.VerificationTier {
	case TierReal:
		if len(s.Examples) == 0 {
			add(s, "examples", Error, "verified_real_broker needs examples captured from the real broker")
		}
	case TierSource:
		if s.VerificationNote == "" {
			add(s, "verification_note", Error, "source_derived needs a note saying where the wording comes from and why it was not provoked")
		}
	default:
		add(s, "verification_tier", Error, "%q: want %s or %s", s.VerificationTier, TierReal, TierSource)
	}
	if !hasNamedGroup(s.Regex) {
		add(s, "regex", Error, "has no named capture; capture the useful fields (client_id, address, username, topic, reason)")
	}
}

func allExamples(s *signatures.Signature) []string {
	return append(append([]string(nil), s.Examples...), s.SourceExamples...)
}

// message is what a signature is matched against: the line without its
// timestamp prefix.
func message(line string) string {
	msg, _, _ := brokerlog.Split(line)
	return msg
}

func confusable(a, b *signatures.Signature) bool {
	return slices.Contains(a.Transitions.FrequentlyConfusedWith, b.ID) || slices.Contains(b.Transitions.FrequentlyConfusedWith, a.ID)
}

func hasNamedGroup(expr string) bool {
	re, err := regexp.Compile(expr)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(re.SubexpNames(), func(n string) bool { return n != "" })
}

// unguardedBranch returns the first alternative of a top-level alternation
// that is neither anchored at the start nor holds a literal long enough to
// be specific, and that literal. Seed 002's
// "CONNACK.*returned.*identifier rejected|server unavailable|0x02|0x03"
// is the case in point: "0x02" alone fires on any line containing it.
func unguardedBranch(expr string) (branch, literal string) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return "", ""
	}
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	if re.Op != syntax.OpAlternate {
		return "", ""
	}
	for _, b := range re.Sub {
		if anchored(b) {
			continue
		}
		lit := longestLiteral(b)
		if len(lit) < 10 {
			return b.String(), lit
		}
	}
	return "", ""
}

func anchored(re *syntax.Regexp) bool {
	for re.Op == syntax.OpCapture || re.Op == syntax.OpConcat {
		if len(re.Sub) == 0 {
			return false
		}
		re = re.Sub[0]
	}
	return re.Op == syntax.OpBeginText || re.Op == syntax.OpBeginLine
}

func longestLiteral(re *syntax.Regexp) string {
	switch re.Op {
	case syntax.OpLiteral:
		return string(re.Rune)
	case syntax.OpCapture:
		return longestLiteral(re.Sub[0])
	case syntax.OpConcat:
		best := ""
		for _, s := range re.Sub {
			if l := longestLiteral(s); len(l) > len(best) {
				best = l
			}
		}
		return best
	}
	return ""
}

// unsourcedRates reports every rate shown to users that names no basis: a
// workaround's success_rate or a dead end's fail_rate without sources, a
// confidence or fix_success_rate without basis. Such a rate must be null.
func unsourcedRates(s *signatures.Signature, add func(*signatures.Signature, string, Level, string, ...any)) {
	const fix = "give its sources, or make it null (not known)"
	for i, w := range s.Workarounds {
		if w.SuccessRate != nil && len(w.Sources) == 0 {
			add(s, "workarounds", Warning, "[%d].success_rate %v has no sources: %s", i, *w.SuccessRate, fix)
		}
	}
	for i, d := range s.DeadEnds {
		if d.FailRate != nil && len(d.Sources) == 0 {
			add(s, "dead_ends", Warning, "[%d].fail_rate %v has no sources: %s", i, *d.FailRate, fix)
		}
	}
	if s.Confidence != nil && len(s.Basis) == 0 {
		add(s, "confidence", Warning, "%v has no basis: %s", *s.Confidence, fix)
	}
	if s.FixSuccessRate != nil && len(s.Basis) == 0 {
		add(s, "fix_success_rate", Warning, "%v has no basis: %s", *s.FixSuccessRate, fix)
	}
}

// captures lists the named groups of an RE2 regex.
func captures(expr string) []string {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil
	}
	return re.SubexpNames()
}
