// Package matcher finds the signatures whose regex matches a log message.
// It is a pure function of the message (a line without its timestamp
// prefix) and the compiled signatures: it knows nothing of files or
// delivery, so it can be tested and benchmarked alone.
package matcher

import (
	"fmt"
	"regexp"

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
// concurrent use.
type Matcher struct {
	sigs []compiled
}

type compiled struct {
	sig   *signatures.Signature
	re    *regexp.Regexp
	names []string // SubexpNames, cached
	named bool     // whether any group is named
}

// New compiles the signatures' regexes.
func New(sigs []*signatures.Signature) (*Matcher, error) {
	m := &Matcher{sigs: make([]compiled, 0, len(sigs))}
	for _, s := range sigs {
		re, err := regexp.Compile(s.Regex)
		if err != nil {
			o := s.Origin()
			return nil, fmt.Errorf("%s:%d: %s: regex: %w", o.File, o.Line, s.ID, err)
		}
		c := compiled{sig: s, re: re, names: re.SubexpNames()}
		for _, n := range c.names {
			if n != "" {
				c.named = true
				break
			}
		}
		m.sigs = append(m.sigs, c)
	}
	return m, nil
}

// Match returns every signature whose regex matches msg, in pack order.
func (m *Matcher) Match(msg string) []Hit {
	var hits []Hit
	for i := range m.sigs {
		c := &m.sigs[i]
		if !c.named {
			if c.re.MatchString(msg) {
				hits = append(hits, Hit{Signature: c.sig})
			}
			continue
		}
		loc := c.re.FindStringSubmatchIndex(msg)
		if loc == nil {
			continue
		}
		hits = append(hits, Hit{Signature: c.sig, Fields: fields(c.names, loc, msg)})
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
