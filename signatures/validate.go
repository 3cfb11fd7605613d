package signatures

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"time"
)

// validate checks what decoding cannot: required fields, enumerations and
// that the regex compiles. raw and line locate the fields for errors.
func validate(s *Signature, raw []byte, line int) []error {
	var keys map[string]int // found when a field fails: most signatures pass
	var errs []error
	fail := func(field string, err error) {
		if keys == nil {
			keys = keyLines(raw, line)
		}
		l := keys[field]
		if l == 0 {
			l = line
		}
		errs = append(errs, &Error{File: s.origin.File, Line: l, ID: s.ID, Field: field, Err: err})
	}
	if strings.TrimSpace(s.ID) == "" {
		fail("id", errors.New("missing: every signature needs a unique id such as \"mosquitto/client-id-takeover\""))
	}
	// The regex is parsed once here for its check and its capture names:
	// parsing is most of loading a pack of long alternations.
	var names []string
	if s.Regex == "" {
		fail("regex", errors.New("missing: every signature needs a regex"))
	} else if re, err := syntax.Parse(s.Regex, syntax.Perl); err != nil {
		fail("regex", fmt.Errorf("does not compile in Go (RE2 syntax): %w", err))
	} else {
		names = namedCaptures(re)
	}
	switch s.Severity {
	case "", SeverityCritical, SeverityError, SeverityWarning, SeverityInfo:
	default:
		fail("severity", fmt.Errorf("%q is not one of critical, error, warning, info", s.Severity))
	}
	switch s.Broker {
	case "", BrokerMosquitto, BrokerEMQX, BrokerHiveMQ, BrokerVerneMQ, BrokerAWSIoT, BrokerPaho:
	default:
		fail("broker", fmt.Errorf("%q is not one of mosquitto, emqx, hivemq, vernemq, awsiot, paho (or empty for any broker)", s.Broker))
	}
	if s.LogLevel != "" && !validLogLevel(s.Broker, s.LogLevel) {
		fail("log_level", fmt.Errorf("%q is not a Mosquitto log_type (error, warning, notice, information, debug, subscribe, unsubscribe, websockets) or an EMQX level (debug, info, notice, warning, error, critical, alert, emergency)", s.LogLevel))
	}
	if len(s.DedupFields) > 0 {
		for _, f := range s.DedupFields {
			if !slices.Contains(names, f) {
				fail("dedup_fields", fmt.Errorf("%q is not a named capture of the regex (have %s)", f, strings.Join(names, ", ")))
			}
		}
	}
	if th := s.Threshold; th != nil {
		if th.Count < 2 {
			fail("threshold", fmt.Errorf("count %d: want 2 or more (a threshold of 1 is no threshold: drop the field)", th.Count))
		}
		if d, err := time.ParseDuration(th.Window); err != nil {
			fail("threshold", fmt.Errorf("window %q is not a Go duration such as \"5m\" or \"30s\"", th.Window))
		} else if d <= 0 {
			fail("threshold", fmt.Errorf("window %q: want a positive duration", th.Window))
		}
	}
	for _, ff := range []struct {
		field string
		f     *Follow
	}{{"ends_when", s.EndsWhen}, {"expects", s.Expects}} {
		field, f := ff.field, ff.f
		if f == nil {
			continue
		}
		if f.Regex == "" {
			fail(field, errors.New("regex missing: say which line follows"))
		} else if _, err := syntax.Parse(f.Regex, syntax.Perl); err != nil {
			fail(field, fmt.Errorf("regex does not compile in Go (RE2 syntax): %w", err))
		}
		switch {
		case field == "ends_when" && f.Within != "":
			fail(field, errors.New("within: only expects has a deadline; an ending has none"))
		case field == "expects":
			if d, err := time.ParseDuration(f.Within); err != nil {
				fail(field, fmt.Errorf("within %q is not a Go duration such as \"30s\"", f.Within))
			} else if d <= 0 {
				fail(field, fmt.Errorf("within %q: want a positive duration", f.Within))
			}
		}
	}
	near := func(field string, n *Near) {
		if len(n.Signatures) == 0 {
			fail(field, errors.New("name the signatures of the earlier line"))
		}
		if d, err := time.ParseDuration(n.Within); err != nil {
			fail(field, fmt.Errorf("within %q is not a Go duration such as \"1s\"", n.Within))
		} else if d <= 0 {
			fail(field, fmt.Errorf("within %q: want a positive duration", n.Within))
		}
		if n.Lines < 0 {
			fail(field, fmt.Errorf("lines %d: want 0 (no bound) or more", n.Lines))
		}
		for _, f := range n.Same {
			if !slices.Contains(names, f) {
				fail(field, fmt.Errorf("same: %q is not a named capture of the regex (have %s)", f, strings.Join(names, ", ")))
			}
		}
	}
	if s.PartOf != nil {
		near("part_of", s.PartOf)
	}
	if fb := s.FactsBefore; fb != nil {
		if re, err := syntax.Parse(fb.Regex, syntax.Perl); err != nil || fb.Regex == "" {
			fail("facts_before", fmt.Errorf("regex %q does not compile in Go (RE2 syntax): %v", fb.Regex, err))
		} else if !slices.ContainsFunc(re.CapNames(), func(n string) bool { return n != "" }) {
			fail("facts_before", errors.New("regex has no named capture: it would take no fact"))
		}
	}
	for i, r := range s.Context {
		field := fmt.Sprintf("context[%d]", i)
		switch {
		case r.Becomes == "" && !r.AsPreceding:
			fail("context", fmt.Errorf("%s: becomes missing: name the signature the line is diagnosed as, or set as_preceding", field))
		case r.Becomes != "" && r.AsPreceding:
			fail("context", fmt.Errorf("%s: becomes and as_preceding both set: keep one", field))
		case r.AsPreceding && len(r.PrecededBy) == 0:
			fail("context", fmt.Errorf("%s: as_preceding needs preceded_by: which line it takes its class from", field))
		}
		if n := r.Near(); n != nil {
			near("context", n)
		} else if len(r.Fields) == 0 {
			fail("context", fmt.Errorf("%s: give preceded_by or fields: a rule with neither would reclassify every line", field))
		}
		for f, pat := range r.Fields {
			if !slices.Contains(names, f) {
				fail("context", fmt.Errorf("%s: fields: %q is not a named capture of the regex (have %s)", field, f, strings.Join(names, ", ")))
			}
			if _, err := regexp.Compile(pat); err != nil {
				fail("context", fmt.Errorf("%s: fields: %q's pattern does not compile in Go (RE2 syntax): %w", field, f, err))
			}
		}
	}
	for i, w := range s.Workarounds {
		if r := w.SuccessRate; r != nil && (*r < 0 || *r > 1) {
			fail("workarounds", fmt.Errorf("[%d].success_rate %v is not within 0..1 (null: not known)", i, *r))
		}
	}
	for i, d := range s.DeadEnds {
		if r := d.FailRate; r != nil && (*r < 0 || *r > 1) {
			fail("dead_ends", fmt.Errorf("[%d].fail_rate %v is not within 0..1 (null: not known)", i, *r))
		}
	}
	if r := s.Confidence; r != nil && (*r < 0 || *r > 1) {
		fail("confidence", fmt.Errorf("%v is not within 0..1 (null: not known)", *r))
	}
	if r := s.FixSuccessRate; r != nil && (*r < 0 || *r > 1) {
		fail("fix_success_rate", fmt.Errorf("%v is not within 0..1 (null: not known)", *r))
	}
	return errs
}

// keyLines maps each top-level key of the JSON object raw to its line,
// counting from line.
func keyLines(raw []byte, line int) map[string]int {
	keys := make(map[string]int)
	dec := json.NewDecoder(bytes.NewReader(raw))
	depth := 0
	expectKey := false
	for {
		off := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return keys
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
			// After an object opens at the top, or a nested value closes
			// back to it, the next top-level token is a key.
			expectKey = depth == 1
			continue
		}
		if depth != 1 {
			continue
		}
		if expectKey {
			if k, ok := tok.(string); ok {
				keys[k] = line + bytes.Count(raw[:off], []byte{'\n'}) + leadingNewlines(raw[off:])
			}
		}
		expectKey = !expectKey
	}
}

func leadingNewlines(b []byte) int {
	n := 0
	for _, c := range b {
		switch c {
		case '\n':
			n++
		case ' ', '\t', '\r', ',', ':':
		default:
			return n
		}
	}
	return n
}

// validLogLevel reports whether level names something the broker can be
// configured to log.
func validLogLevel(broker, level string) bool {
	mosquitto := map[string]bool{"error": true, "warning": true, "notice": true, "information": true, "debug": true, "subscribe": true, "unsubscribe": true, "websockets": true}
	emqx := map[string]bool{"debug": true, "info": true, "notice": true, "warning": true, "error": true, "critical": true, "alert": true, "emergency": true}
	switch broker {
	case BrokerMosquitto:
		return mosquitto[level]
	case BrokerEMQX:
		return emqx[level]
	}
	return mosquitto[level] || emqx[level]
}
