package lint

import (
	"regexp"
	"regexp/syntax"
	"sort"
	"strings"

	"github.com/mqttdiag/mqttdiag/signatures"
)

// Explanation says how a log line fares against a set of signatures: which
// match, with what captures, and when none does, which came closest and
// why they did not match. It is how a user writes and debugs a signature.
type Explanation struct {
	Line    string
	Message string // the line without its timestamp prefix: what regexes see
	Matches []Match
	Closest []NearMiss
}

// Match is a signature that matched, with its named captures.
type Match struct {
	Signature *signatures.Signature
	Fields    map[string]string
}

// NearMiss is a signature that did not match, and why.
type NearMiss struct {
	Signature *signatures.Signature
	// Score is the share (0..1) of the words of the best alternative's
	// literal text found in the message.
	Score float64
	// Present and Missing are the best alternative's literals found and not
	// found in the message.
	Present, Missing []string
	// MatchedPart is the longest leading part of the best alternative that
	// matches the message; FailedAt is the part right after it, where
	// matching fails.
	MatchedPart, FailedAt string
	words                 int // literal words found in the message, to break ties
}

// Explain explains line against sigs. At most max near misses are given.
func Explain(sigs []*signatures.Signature, line string, max int) Explanation {
	e := Explanation{Line: line, Message: message(line)}
	for _, s := range sigs {
		re, err := regexp.Compile(s.Regex)
		if err != nil {
			continue
		}
		if loc := re.FindStringSubmatchIndex(e.Message); loc != nil {
			f := map[string]string{}
			for i, n := range re.SubexpNames() {
				if n != "" && loc[2*i] >= 0 {
					if _, dup := f[n]; !dup {
						f[n] = e.Message[loc[2*i]:loc[2*i+1]]
					}
				}
			}
			e.Matches = append(e.Matches, Match{Signature: s, Fields: f})
			continue
		}
		if nm, ok := nearMiss(s, e.Message); ok {
			e.Closest = append(e.Closest, nm)
		}
	}
	if len(e.Matches) > 0 {
		e.Closest = nil // near misses only help when nothing matched
	}
	sort.SliceStable(e.Closest, func(i, j int) bool {
		a, b := e.Closest[i], e.Closest[j]
		if a.Score != b.Score {
			return a.Score > b.Score
		}
		return a.words > b.words
	})
	if len(e.Closest) > max {
		e.Closest = e.Closest[:max]
	}
	return e
}

// nearMiss scores how close s came to matching msg; ok is false when it
// is not close: fewer than two of its words, or less than half of them,
// are in msg.
func nearMiss(s *signatures.Signature, msg string) (NearMiss, bool) {
	re, err := syntax.Parse(s.Regex, syntax.Perl)
	if err != nil {
		return NearMiss{}, false
	}
	fold := re.Flags&syntax.FoldCase != 0
	branches := []*syntax.Regexp{re}
	if top := unwrap(re); top.Op == syntax.OpAlternate {
		branches = top.Sub
	}
	best := NearMiss{Signature: s}
	bestWords := 0
	msgWords := wordSet(msg)
	for _, b := range branches {
		lits := literals(b, msg, fold)
		var present, missing []string
		total, have := 0, 0
		for _, l := range lits {
			if contains(msg, l, fold) {
				present = append(present, l)
			} else {
				missing = append(missing, l)
			}
			for w := range wordSet(l) {
				total++
				if msgWords[w] {
					have++
				}
			}
		}
		if total == 0 {
			continue
		}
		// Words rather than bytes: a line with a comma missing is still
		// close, and a signature that shares only "from" with it is not.
		score := float64(have) / float64(total)
		if score > best.Score || score == best.Score && have > bestWords {
			best.Score, best.Present, best.Missing = score, present, missing
			best.MatchedPart, best.FailedAt = failure(b, msg, re.Flags, fold)
			bestWords = have
		}
	}
	best.words = bestWords
	return best, bestWords >= 2 && best.Score >= 0.5
}

// wordSet is the lower-cased words of s, ignoring punctuation and
// one-letter words.
func wordSet(s string) map[string]bool {
	ws := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r > 127)
	}) {
		if len(w) > 1 {
			ws[w] = true
		}
	}
	return ws
}

func unwrap(re *syntax.Regexp) *syntax.Regexp {
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	return re
}

// literals lists the literal runs a branch requires, in order. Of an
// inner alternation it takes the alternative whose literals msg holds
// most of: the one the user most likely meant.
func literals(re *syntax.Regexp, msg string, fold bool) []string {
	re = unwrap(re)
	switch re.Op {
	case syntax.OpLiteral:
		if len(re.Rune) >= 2 {
			return []string{string(re.Rune)}
		}
	case syntax.OpConcat:
		var out []string
		for _, s := range re.Sub {
			out = append(out, literals(s, msg, fold)...)
		}
		return out
	case syntax.OpPlus:
		return literals(re.Sub[0], msg, fold)
	case syntax.OpAlternate:
		var best []string
		bestHave := -1
		for _, alt := range re.Sub {
			lits := literals(alt, msg, fold)
			have := 0
			for _, l := range lits {
				if contains(msg, l, fold) {
					have += len(l)
				}
			}
			if have > bestHave {
				best, bestHave = lits, have
			}
		}
		return best
	}
	return nil
}

func contains(msg, lit string, fold bool) bool {
	if fold {
		return strings.Contains(strings.ToLower(msg), strings.ToLower(lit))
	}
	return strings.Contains(msg, lit)
}

// failure finds the longest leading run of a branch's parts that still
// matches msg, and the part after it.
func failure(b *syntax.Regexp, msg string, flags syntax.Flags, fold bool) (matched, failedAt string) {
	b = unwrap(b)
	parts := flatten(b, msg, fold)
	prefix := ""
	if flags&syntax.FoldCase != 0 {
		prefix = "(?i)"
	}
	for k := 1; k <= len(parts); k++ {
		sub := &syntax.Regexp{Op: syntax.OpConcat, Sub: parts[:k], Flags: flags}
		re, err := regexp.Compile(prefix + sub.String())
		if err != nil || !re.MatchString(msg) {
			done := &syntax.Regexp{Op: syntax.OpConcat, Sub: parts[:k-1], Flags: flags}
			return pretty(done.String()), pretty(parts[k-1].String())
		}
	}
	return pretty(b.String()), "" // the parts match one by one; only their combination fails
}

// flatten lists a branch's parts in order, descending into the
// alternative of an inner alternation that msg most resembles, so that
// "fails at" points inside it rather than at the whole alternation.
func flatten(re *syntax.Regexp, msg string, fold bool) []*syntax.Regexp {
	switch re.Op {
	case syntax.OpConcat:
		var out []*syntax.Regexp
		for _, s := range re.Sub {
			out = append(out, flatten(s, msg, fold)...)
		}
		return out
	case syntax.OpAlternate:
		best, bestHave := re.Sub[0], -1
		for _, alt := range re.Sub {
			have := 0
			for _, l := range literals(alt, msg, fold) {
				if contains(msg, l, fold) {
					have += len(l)
				}
			}
			if have > bestHave {
				best, bestHave = alt, have
			}
		}
		return flatten(best, msg, fold)
	}
	return []*syntax.Regexp{re}
}

// pretty makes the parser's rendering of a regex read like what users
// write: ^ and $ rather than \A and \z, without the flag groups the
// parser adds around everything.
func pretty(s string) string {
	for {
		t := strings.TrimSuffix(strings.TrimPrefix(s, "(?-s:"), ")")
		if t == s || !strings.HasPrefix(s, "(?-s:") {
			break
		}
		s = t
	}
	s = strings.ReplaceAll(s, `\A`, "^")
	s = strings.ReplaceAll(s, `(?-m:$)`, "$")
	s = strings.ReplaceAll(s, `\z`, "$")
	return s
}
