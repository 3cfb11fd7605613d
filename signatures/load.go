package signatures

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strings"
	"time"
)

// Error is a problem with one signature document, located precisely enough
// for the user to fix it: file, line, signature id and field.
type Error struct {
	File  string
	Line  int    // 1-based; 0 when unknown
	ID    string // empty when the id itself is the problem
	Field string // JSON field name; empty for whole-document problems
	Err   error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.ID != "" {
		b.WriteString(": ")
		b.WriteString(e.ID)
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Parse decodes a JSON document holding one signature or an array of them
// and validates each. name is used in errors only. Unknown fields are
// rejected, so that a misspelt field fails here rather than silently
// disabling part of a signature. All problems are reported, joined.
func Parse(name string, data []byte) ([]*Signature, error) {
	start := skipSpace(data, 0)
	if start == len(data) {
		return nil, &Error{File: name, Line: 1, Err: errors.New("empty document: want a signature object or an array of them")}
	}
	var sigs []*Signature
	var errs []error
	parseOne := func(raw []byte, base int) {
		s, err := decodeSignature(name, data, raw, base)
		if err != nil {
			errs = append(errs, err)
			return
		}
		if verrs := validate(s, raw, lineOf(data, base)); len(verrs) > 0 {
			errs = append(errs, verrs...)
			return
		}
		sigs = append(sigs, s)
	}
	switch data[start] {
	case '{':
		end := start + len(bytes.TrimRightFunc(data[start:], isSpace))
		parseOne(data[start:end], start)
	case '[':
		dec := json.NewDecoder(bytes.NewReader(data))
		if _, err := dec.Token(); err != nil {
			return nil, syntaxError(name, data, err)
		}
		for dec.More() {
			base := skipSpaceComma(data, int(dec.InputOffset()))
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				errs = append(errs, syntaxError(name, data, err))
				return sigs, errors.Join(errs...)
			}
			if len(raw) == 0 || raw[0] != '{' {
				errs = append(errs, &Error{File: name, Line: lineOf(data, base), Err: errors.New("array element is not an object")})
				continue
			}
			parseOne(raw, base)
		}
		if _, err := dec.Token(); err != nil {
			errs = append(errs, syntaxError(name, data, err))
		}
		if _, err := dec.Token(); err != io.EOF {
			errs = append(errs, &Error{File: name, Line: lineOf(data, int(dec.InputOffset())), Err: errors.New("unexpected data after the array")})
		}
	default:
		return nil, &Error{File: name, Line: lineOf(data, start), Err: fmt.Errorf("document starts with %q: want a signature object or an array of them", data[start])}
	}
	return sigs, errors.Join(errs...)
}

// decodeSignature strictly decodes one object that starts at byte base of data.
func decodeSignature(name string, data, raw []byte, base int) (*Signature, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	s := new(Signature)
	err := dec.Decode(s)
	if err == nil {
		if dec.More() {
			err = errors.New("unexpected data after the signature object")
		} else {
			s.origin = Origin{File: name, Line: lineOf(data, base)}
			return s, nil
		}
	}
	e := &Error{File: name, Line: lineOf(data, base), ID: peekID(raw), Err: err}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		e.Line = lineOf(data, base+int(se.Offset))
		e.Err = fmt.Errorf("invalid JSON: %w", se)
	case errors.As(err, &te):
		e.Line = lineOf(data, base+int(te.Offset))
		e.Field = te.Field
		e.Err = fmt.Errorf("has a JSON %s, want %s", te.Value, te.Type)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		e.Field = field
		if off := bytes.Index(raw, []byte(`"`+field+`"`)); off >= 0 {
			e.Line = lineOf(data, base+off)
		}
		e.Err = errors.New("unknown field (misspelt? see the schema in README)")
	}
	return nil, e
}

// peekID extracts the id of a signature that failed to decode, so that its
// error can still name it.
func peekID(raw []byte) string {
	var v struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(raw, &v) == nil {
		return v.ID
	}
	// Invalid JSON: the id is still worth naming if it is readable.
	idField := regexp.MustCompile(`"id"\s*:\s*"([^"\\]{1,200})"`)
	if m := idField.FindSubmatch(raw); m != nil {
		return string(m[1])
	}
	return ""
}

func syntaxError(name string, data []byte, err error) error {
	e := &Error{File: name, Err: fmt.Errorf("invalid JSON: %w", err)}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		e.Line = lineOf(data, int(se.Offset))
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		e.Line = lineOf(data, len(data))
		e.Err = errors.New("invalid JSON: unexpected end of file")
	}
	return e
}

// validate checks what decoding cannot: required fields, enumerations and
// that the regex compiles. raw and line locate the fields for errors.
func validate(s *Signature, raw []byte, line int) []error {
	keys := keyLines(raw, line)
	var errs []error
	fail := func(field string, err error) {
		l := keys[field]
		if l == 0 {
			l = line
		}
		errs = append(errs, &Error{File: s.origin.File, Line: l, ID: s.ID, Field: field, Err: err})
	}
	if strings.TrimSpace(s.ID) == "" {
		fail("id", errors.New("missing: every signature needs a unique id such as \"mosquitto/client-id-takeover\""))
	}
	if s.Regex == "" {
		fail("regex", errors.New("missing: every signature needs a regex"))
	} else if _, err := syntax.Parse(s.Regex, syntax.Perl); err != nil {
		fail("regex", fmt.Errorf("does not compile in Go (RE2 syntax): %w", err))
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
		names := captureNames(s.Regex)
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
	names := captureNames(s.Regex)
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

func lineOf(data []byte, off int) int {
	if off > len(data) {
		off = len(data)
	}
	return 1 + bytes.Count(data[:off], []byte{'\n'})
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

func skipSpace(data []byte, i int) int {
	for i < len(data) && isSpace(rune(data[i])) {
		i++
	}
	return i
}

func skipSpaceComma(data []byte, i int) int {
	for i < len(data) && (isSpace(rune(data[i])) || data[i] == ',') {
		i++
	}
	return i
}

// MaxFileBytes bounds one signature file. Parsing costs about ten times a
// file's size in memory (a 150 MB file took 1.4 GiB), and the 2,021-
// signature stress corpus is 0.6 MB: 16 MiB leaves room for any real pack
// while keeping a mistaken path (a log, a dump) from exhausting memory.
const MaxFileBytes = 16 << 20

// LoadFile reads and parses one JSON file.
func LoadFile(path string) ([]*Signature, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read signature file: %w", err)
	}
	defer f.Close()
	data, err := readBounded(f, path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// readBounded reads r whole unless it holds more than MaxFileBytes.
func readBounded(r io.Reader, name string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read signature file %s: %w", name, err)
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("signature file %s: larger than %d MiB; is it a signature file? Split a pack that large into several files", name, MaxFileBytes>>20)
	}
	return data, nil
}

// LoadFS parses every *.json file under root in fsys, in lexical order.
// prefix is prepended to file names in errors and origins.
func LoadFS(fsys fs.FS, root, prefix string) ([]*Signature, error) {
	var names []string
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".json") {
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list signature files in %s%s: %w", prefix, root, err)
	}
	sort.Strings(names)
	var all []*Signature
	var errs []error
	for _, n := range names {
		data, err := readFS(fsys, n, prefix+n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sigs, err := Parse(prefix+n, data)
		all = append(all, sigs...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return all, errors.Join(errs...)
}

func readFS(fsys fs.FS, n, name string) ([]byte, error) {
	f, err := fsys.Open(n)
	if err != nil {
		return nil, fmt.Errorf("read signature file %s: %w", name, err)
	}
	defer f.Close()
	return readBounded(f, name)
}

// Load parses signature files and directories (searched recursively for
// *.json files).
func Load(paths ...string) ([]*Signature, error) {
	var all []*Signature
	var errs []error
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("signatures: %w", err))
			continue
		}
		var sigs []*Signature
		if fi.IsDir() {
			sigs, err = LoadFS(os.DirFS(p), ".", filepath.Clean(p)+string(filepath.Separator))
		} else {
			sigs, err = LoadFile(p)
		}
		all = append(all, sigs...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return all, errors.Join(errs...)
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
