package envelope

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// A small JSON reader for the two one-object-per-line envelopes, Docker's
// json-file records and journalctl -o json entries: it walks the members
// of the top-level object without building anything, hands out string
// values as substrings of the line, and unescapes (allocating) only the
// values that hold escapes and are wanted. encoding/json would allocate a
// map or a struct's strings per line.

// jsonErr is where and why a line is not the JSON object expected.
type jsonErr struct {
	at     int
	reason string
}

// member is one member of the object.
type member struct {
	val   string // a string's content between the quotes (escapes and all), else the raw value
	at    int32  // offset of the value in the line
	str   bool   // the value is a string
	isArr bool
}

// objIter walks the members of a JSON object.
type objIter struct {
	s     string
	i     int
	depth int
	done  bool
	err   *jsonErr
}

func newObjIter(s string) objIter {
	it := objIter{s: s}
	it.skipWS()
	if it.i >= len(s) || s[it.i] != '{' {
		it.fail("not a JSON object")
		return it
	}
	it.i++
	it.skipWS()
	if it.i < len(s) && s[it.i] == '}' {
		it.i++
		it.end()
	}
	return it
}

func (it *objIter) fail(reason string) {
	if it.err == nil {
		it.err = &jsonErr{at: it.i, reason: reason}
	}
	it.done = true
}

func (it *objIter) skipWS() {
	for it.i < len(it.s) {
		switch it.s[it.i] {
		case ' ', '\t', '\r', '\n':
			it.i++
		default:
			return
		}
	}
}

// end checks that nothing but white space follows the object.
func (it *objIter) end() {
	it.skipWS()
	if it.i != len(it.s) {
		it.fail("data after the JSON object")
	}
	it.done = true
}

// next reads the next member into m and returns its name, unescaped;
// false at the end or on an error.
func (it *objIter) next(m *member) (key string, ok bool) {
	if it.done {
		return "", false
	}
	s := it.s
	if it.i >= len(s) || s[it.i] != '"' {
		it.fail("expected a member name")
		return "", false
	}
	kStart := it.i + 1
	kEnd, ok := it.str()
	if !ok {
		return "", false
	}
	key = s[kStart:kEnd]
	if strings.IndexByte(key, '\\') >= 0 {
		k, err := unescape(key, 1<<20)
		if err != "" {
			it.i = kStart
			it.fail(err)
			return "", false
		}
		key = k
	}
	it.skipWS()
	if it.i >= len(s) || s[it.i] != ':' {
		it.fail("expected ':' after a member name")
		return "", false
	}
	it.i++
	it.skipWS()
	m.at = int32(it.i)
	m.isArr = it.i < len(s) && s[it.i] == '['
	if it.i < len(s) && s[it.i] == '"' {
		vEnd, ok := it.str()
		if !ok {
			return "", false
		}
		m.val, m.str = s[int(m.at)+1:vEnd], true
	} else {
		if !it.value() {
			return "", false
		}
		m.val, m.str = s[m.at:it.i], false
	}
	it.skipWS()
	switch {
	case it.i < len(s) && s[it.i] == ',':
		it.i++
		it.skipWS()
	case it.i < len(s) && s[it.i] == '}':
		it.i++
		it.end()
	default:
		it.fail("expected ',' or '}' after a value")
		return "", false
	}
	return key, true
}

// str scans the string starting at it.i (a '"') and leaves it.i after its
// closing quote; end is the offset of that quote. A quote is the end
// unless an odd number of backslashes precede it; escapes are checked
// when a value is used (unescape), so a member nobody reads costs one
// search for its quote.
func (it *objIter) str() (end int, ok bool) {
	s := it.s
	start := it.i + 1
	for i := start; ; {
		rel := strings.IndexByte(s[i:], '"')
		if rel < 0 {
			it.i = len(s)
			it.fail("unterminated string")
			return 0, false
		}
		q := i + rel
		n := 0
		for j := q - 1; j >= start && s[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			it.i = q + 1
			return q, true
		}
		i = q + 1
	}
}

// flatObject reads the common shape of both envelopes fast: an object of
// string members, no white space, no escaped quote. It reports false for
// anything else, which the general walker then reads (and judges).
func flatObject(s string, f *[numJSONFields]member, have *uint32) bool {
	i := 1
	if len(s) < 2 || s[0] != '{' || s[1] == '}' {
		return false
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return false
		}
		kq := quote(s[i+1:])
		if kq < 0 {
			return false
		}
		kEnd := i + 1 + kq
		v := kEnd + 2
		if v >= len(s) || s[kEnd-1] == '\\' || s[kEnd+1] != ':' || s[v] != '"' {
			return false
		}
		vq := quote(s[v+1:])
		if vq < 0 {
			return false
		}
		vEnd := v + 1 + vq
		if s[vEnd-1] == '\\' || vEnd+1 >= len(s) {
			return false
		}
		if k := jsonField(s[i+1 : kEnd]); k >= 0 {
			f[k] = member{val: s[v+1 : vEnd], at: int32(v), str: true}
			*have |= 1 << k
		} else if strings.IndexByte(s[i+1:kEnd], '\\') >= 0 {
			return false // an escaped name may be one of ours
		}
		switch s[vEnd+1] {
		case ',':
			i = vEnd + 2
		case '}':
			return vEnd+2 == len(s)
		default:
			return false
		}
	}
}

// quote is strings.IndexByte(s, '"') for the short names and values of
// a journal entry: a plain loop over the first bytes, before the vector
// search, whose start-up costs more than most names are long.
func quote(s string) int {
	n := min(len(s), 24)
	for i := 0; i < n; i++ {
		if s[i] == '"' {
			return i
		}
	}
	if n == len(s) {
		return -1
	}
	if j := strings.IndexByte(s[n:], '"'); j >= 0 {
		return n + j
	}
	return -1
}

// dockerFlat reads the layout moby writes when a container has no log
// attributes, {"log":"…","stream":"…","time":"…"}, with one search per
// value; anything else is left to the general reader.
func dockerFlat(s string) (lg, stream, tm member, ok bool) {
	i := len(`{"log":"`)
	q := endQuote(s, i)
	if q < 0 || !strings.HasPrefix(s[q:], `","stream":"`) {
		return lg, stream, tm, false
	}
	lg = member{val: s[i:q], at: int32(i - 1), str: true}
	i = q + len(`","stream":"`)
	q = endQuote(s, i)
	if q < 0 || !strings.HasPrefix(s[q:], `","time":"`) {
		return lg, stream, tm, false
	}
	stream = member{val: s[i:q], at: int32(i - 1), str: true}
	i = q + len(`","time":"`)
	q = endQuote(s, i)
	if q < 0 || s[q:] != `"}` {
		return lg, stream, tm, false
	}
	tm = member{val: s[i:q], at: int32(i - 1), str: true}
	return lg, stream, tm, true
}

// endQuote is the offset of the quote that ends the string whose content
// starts at from (a quote after an odd number of backslashes is escaped),
// or -1.
func endQuote(s string, from int) int {
	for i := from; ; {
		rel := quote(s[i:])
		if rel < 0 {
			return -1
		}
		q := i + rel
		n := 0
		for j := q - 1; j >= from && s[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			return q
		}
		i = q + 1
	}
}

// maxDepth bounds nested arrays and objects in a value the envelope does
// not use (Docker's "attrs"): deeper is no log record.
const maxDepth = 64

// value skips any value but a string at it.i, checking its syntax.
func (it *objIter) value() bool {
	s := it.s
	if it.i >= len(s) {
		it.fail("expected a value")
		return false
	}
	switch c := s[it.i]; {
	case c == '"':
		_, ok := it.str()
		return ok
	case c == '{' || c == '[':
		if it.depth++; it.depth > maxDepth {
			it.fail("values nested too deep")
			return false
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		it.i++
		it.skipWS()
		if it.i < len(s) && s[it.i] == closer {
			it.i++
			it.depth--
			return true
		}
		for {
			if c == '{' {
				if it.i >= len(s) || s[it.i] != '"' {
					it.fail("expected a member name")
					return false
				}
				if _, ok := it.str(); !ok {
					return false
				}
				it.skipWS()
				if it.i >= len(s) || s[it.i] != ':' {
					it.fail("expected ':' after a member name")
					return false
				}
				it.i++
				it.skipWS()
			}
			if !it.value() {
				return false
			}
			it.skipWS()
			if it.i < len(s) && s[it.i] == ',' {
				it.i++
				it.skipWS()
				continue
			}
			if it.i < len(s) && s[it.i] == closer {
				it.i++
				it.depth--
				return true
			}
			it.fail("expected ',' or the end of an array or object")
			return false
		}
	case c == 't':
		return it.literal("true")
	case c == 'f':
		return it.literal("false")
	case c == 'n':
		return it.literal("null")
	case c == '-' || isDigit(c):
		return it.number()
	}
	it.fail("expected a value")
	return false
}

func (it *objIter) literal(w string) bool {
	if !strings.HasPrefix(it.s[it.i:], w) {
		it.fail("invalid literal")
		return false
	}
	it.i += len(w)
	return true
}

// number checks the JSON number grammar (RFC 8259 section 6).
func (it *objIter) number() bool {
	s, i := it.s, it.i
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		it.i = i
		it.fail("invalid number")
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || !isDigit(s[i]) {
			it.i = i
			it.fail("invalid number")
			return false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || !isDigit(s[i]) {
			it.i = i
			it.fail("invalid number")
			return false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	it.i = i
	return true
}

// unescape decodes a JSON string's content (RFC 8259 section 7) into a new
// string of at most max bytes, as encoding/json does: a lone surrogate
// becomes U+FFFD. err is empty on success.
func unescape(s string, max int) (string, string) {
	b, err := appendUnescaped(make([]byte, 0, min(len(s), max)), s, max)
	return string(b), err
}

// appendUnescaped appends the decoded content of s to b, stopping once b
// holds max bytes more than it did.
func appendUnescaped(b []byte, s string, max int) ([]byte, string) {
	limit := len(b) + max
	for i := 0; i < len(s); {
		if len(b) >= limit {
			return b[:limit], ""
		}
		j := strings.IndexByte(s[i:], '\\')
		if j < 0 {
			return appendCapped(b, s[i:], limit), ""
		}
		b = appendCapped(b, s[i:i+j], limit)
		i += j
		if i+1 >= len(s) {
			return b, "unterminated escape"
		}
		c := s[i+1]
		i += 2
		switch c {
		case '"', '\\', '/':
			b = append(b, c)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := hex4(s, i)
			if !ok {
				return b, "invalid \\u escape"
			}
			i += 4
			if utf16.IsSurrogate(r) {
				r2, ok := rune(-1), false
				if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					r2, ok = hex4(s, i+2)
				}
				if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			b = utf8.AppendRune(b, r)
		default:
			return b, "invalid escape \\" + strconv.QuoteRuneToASCII(rune(c))
		}
	}
	if len(b) > limit {
		b = b[:limit]
	}
	return b, ""
}

func appendCapped(b []byte, s string, limit int) []byte {
	if room := limit - len(b); len(s) > room {
		s = s[:max(room, 0)]
	}
	return append(b, s...)
}

func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// jsonString returns a string member's value, unescaped when it must be.
func (d *Decoder) jsonString(m *member) (string, string) {
	if strings.IndexByte(m.val, '\\') < 0 {
		return m.val, ""
	}
	return unescape(m.val, d.o.maxLine)
}

// json reads a Docker json-file record or a journalctl -o json entry. want
// is Docker or Journal when the envelope was chosen, Auto to recognise
// either; in auto mode an object that is neither (EMQX's own JSON log) is
// no envelope, and a line that does not parse is Unreadable only when it
// starts like one of the two.
func (d *Decoder) json(line string, r *Record, want Format) bool {
	s := line
	if s != "" && s[0] == 0x1e { // journalctl -o json-seq: RFC 7464's record separator
		s = s[1:]
	}
	if s == "" || s[0] != '{' {
		return false
	}
	if want != Journal && strings.HasPrefix(s, `{"log":"`) {
		if lg, st, tm, ok := dockerFlat(s); ok {
			return d.docker(r, len(line)-len(s), &lg, &st, &tm)
		}
	}
	return d.jsonObject(line, s, r, want)
}

// jsonObject is json for any object: the fast flat walk, else the
// general one.
func (d *Decoder) jsonObject(line, s string, r *Record, want Format) bool {
	var f [numJSONFields]member
	var have uint32
	it := objIter{s: s, done: true} // no error: read by flatObject
	if !flatObject(s, &f, &have) {
		f, have = [numJSONFields]member{}, 0
		it = newObjIter(s)
		var m member
		for key, ok := it.next(&m); ok; key, ok = it.next(&m) {
			if k := jsonField(key); k >= 0 {
				f[k] = m
				have |= 1 << k
			}
		}
	}
	off := len(line) - len(s)
	isDocker := have&(1<<fLog) != 0 && have&(1<<fTime|1<<fStream) != 0
	isJournal := have&(1<<fMessage) != 0 && have&(1<<fRealtime|1<<fCursor) != 0
	if it.err != nil {
		f := want
		if f == Auto {
			switch {
			case strings.HasPrefix(s, `{"log":"`):
				f = Docker
			case strings.Contains(s, `"__CURSOR":"`) || strings.Contains(s, `"__REALTIME_TIMESTAMP":"`):
				f = Journal
			default:
				return false
			}
		}
		field := "record"
		if f == Journal {
			field = "entry"
		}
		d.unreadable(r, f, field, off+it.err.at, "invalid JSON: "+it.err.reason)
		return true
	}
	switch {
	case isDocker && want != Journal:
		return d.docker(r, off, &f[fLog], &f[fStream], &f[fTime])
	case isJournal && want != Docker:
		return d.journal(r, off, &f)
	}
	return false
}

// docker reads a json-file record (moby daemon/logger/jsonfilelog: "log"
// is a line of the container's output with its "\n", or a piece of a
// longer line without one, cut at the copier's 16 KiB buffer; "stream" is
// stdout or stderr; "time" is RFC 3339 with nanoseconds, in UTC).
func (d *Decoder) docker(r *Record, off int, logM, stream, ts *member) bool {
	var t time.Time
	if ts.str {
		var n int
		var ok bool
		if t, n, ok = d.isoTime(ts.val); !ok || n != len(ts.val) {
			d.unreadable(r, Docker, "time", off+int(ts.at), "not an RFC 3339 time")
			return true
		}
	}
	content, last := "", false
	switch v := logM.val; {
	case !logM.str:
		if v != "null" {
			d.unreadable(r, Docker, "log", off+int(logM.at), "not a string")
			return true
		}
	case strings.HasSuffix(v, `\n`) && strings.IndexByte(v[:len(v)-2], '\\') < 0:
		content, last = v[:len(v)-2], true // the common case, no copy
	case strings.IndexByte(v, '\\') < 0:
		content = v // a piece of a longer line: complete ones end in "\n"
	case strings.HasSuffix(v, `\r\n`) && strings.IndexByte(v[:len(v)-4], '\\') < 0:
		content, last = v[:len(v)-4], true
	default:
		u, err := unescape(v, d.o.maxLine+2)
		if err != "" {
			d.unreadable(r, Docker, "log", off+int(logM.at), err)
			return true
		}
		// Complete or a piece: the raw value says, even when the decoded
		// one was cut at the bound.
		last = escapedNewlineAtEnd(v)
		if last {
			u = strings.TrimSuffix(strings.TrimSuffix(u, "\n"), "\r")
		}
		content = u
	}
	st := ""
	if stream.str {
		st = stream.val
	}
	d.piece(r, Docker, st, t, content, last)
	return true
}

// journal reads a journalctl -o json entry (systemd.io/JOURNAL_EXPORT_FORMATS,
// "Journal JSON Format"): every field is a string, except that a value
// that is not valid UTF-8 is an array of its bytes, a field with several
// values is an array of them, and journalctl writes null for a value over
// 4096 bytes unless run with --all.
func (d *Decoder) journal(r *Record, off int, f *[numJSONFields]member) bool {
	msg, realtime := &f[fMessage], &f[fRealtime]
	var t time.Time
	if realtime.str {
		us, ok := decimal(realtime.val)
		if !ok {
			d.unreadable(r, Journal, "__REALTIME_TIMESTAMP", off+int(realtime.at), "not microseconds since the epoch")
			return true
		}
		t = time.UnixMicro(us).In(d.o.loc)
	}
	str := func(m *member) string {
		if !m.str {
			return ""
		}
		v, _ := d.jsonString(m)
		return v
	}
	mt := Meta{Time: t, Host: str(&f[fHostname]), Program: str(&f[fIdentifier]), PID: str(&f[fPID]), Unit: str(&f[fUnit]), Container: str(&f[fContainer]), Cursor: str(&f[fCursor])}
	c := str(&f[fComm])
	if mt.Program == "" {
		mt.Program = c
	}
	if mt.PID == "" {
		mt.PID = str(&f[fSyslogPID])
	}
	if mt.Unit == "" {
		mt.Unit = str(&f[fUserUnit])
	}
	if p := str(&f[fPriority]); len(p) == 1 && isDigit(p[0]) {
		mt.Severity = severity(int(p[0] - '0'))
	}
	kind := d.owner(mt.Program, mt.Unit, mt.Container, c)
	text, err := d.journalValue(msg)
	if err != "" && kind == Broker {
		// Another program's message that cannot be read is still another
		// program's; the broker's is reported.
		d.unreadable(r, Journal, "MESSAGE", off+int(msg.at), err)
		return true
	}
	r.Envelope = Journal
	r.Meta = mt
	r.Text = text
	r.Kind = kind
	return true
}

// journalValue reads MESSAGE: a string, an array of byte values (not
// UTF-8), or an array of values (the field repeated; the first is used).
func (d *Decoder) journalValue(m *member) (string, string) {
	switch {
	case m.str:
		return d.jsonString(m)
	case m.val == "null":
		return "", "null: journalctl writes values over 4096 bytes as null unless run with --all"
	case m.isArr:
		return d.journalArray(m.val)
	}
	return "", "not a string"
}

func (d *Decoder) journalArray(v string) (string, string) {
	it := objIter{s: v, i: 1}
	it.skipWS()
	if it.i < len(v) && v[it.i] == '"' { // several values: the first
		end, ok := it.str()
		if !ok {
			return "", "invalid string in array"
		}
		if strings.IndexByte(v[2:end], '\\') < 0 {
			return v[2:end], ""
		}
		return unescape(v[2:end], d.o.maxLine)
	}
	if it.i < len(v) && v[it.i] == '[' { // several values, the first binary
		return d.journalArray(v[it.i:])
	}
	b := make([]byte, 0, min(len(v)/3, d.o.maxLine))
	for it.i < len(v) && v[it.i] != ']' {
		start := it.i
		for it.i < len(v) && isDigit(v[it.i]) {
			it.i++
		}
		n, err := strconv.Atoi(v[start:it.i])
		if err != nil || n > 255 {
			return "", "not an array of bytes"
		}
		if len(b) < d.o.maxLine {
			b = append(b, byte(n))
		}
		it.skipWS()
		if it.i < len(v) && v[it.i] == ',' {
			it.i++
			it.skipWS()
		}
	}
	return string(b), ""
}

// escapedNewlineAtEnd reports whether a JSON string's raw content ends in
// the escape \n (and not in an escaped backslash followed by 'n').
func escapedNewlineAtEnd(v string) bool {
	if !strings.HasSuffix(v, `\n`) {
		return false
	}
	n := 0
	for i := len(v) - 2; i >= 0 && v[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// JournalFields are the journal fields a Decoder reads from a journalctl
// -o json entry, besides __CURSOR and __REALTIME_TIMESTAMP which
// journalctl always writes. A reader that runs journalctl can pass them as
// --output-fields: an entry is then about 370 bytes instead of 900, and
// decodes about twice as fast (BENCHMARKS.md).
func JournalFields() []string {
	return []string{"MESSAGE", "SYSLOG_IDENTIFIER", "_SYSTEMD_UNIT", "_SYSTEMD_USER_UNIT", "_PID", "SYSLOG_PID", "_COMM", "_HOSTNAME", "PRIORITY", "CONTAINER_NAME"}
}

// The members the two JSON envelopes use.
const (
	fLog = iota // Docker
	fStream
	fTime
	fMessage // journal
	fRealtime
	fCursor
	fHostname
	fIdentifier
	fUnit
	fUserUnit
	fPID
	fSyslogPID
	fComm
	fPriority
	fContainer
	numJSONFields
)

func jsonField(key string) int {
	// By length first: most of a journal entry's members are none of
	// these, and are told so by their length or a byte.
	switch len(key) {
	case 3:
		if key == "log" {
			return fLog
		}
	case 4:
		switch key {
		case "time":
			return fTime
		case "_PID":
			return fPID
		}
	case 5:
		if key == "_COMM" {
			return fComm
		}
	case 6:
		if key == "stream" {
			return fStream
		}
	case 7:
		if key == "MESSAGE" {
			return fMessage
		}
	case 8:
		switch key {
		case "__CURSOR":
			return fCursor
		case "PRIORITY":
			return fPriority
		}
	case 9:
		if key == "_HOSTNAME" {
			return fHostname
		}
	case 10:
		if key == "SYSLOG_PID" {
			return fSyslogPID
		}
	case 13:
		if key == "_SYSTEMD_UNIT" {
			return fUnit
		}
	case 14:
		if key == "CONTAINER_NAME" {
			return fContainer
		}
	case 17:
		if key == "SYSLOG_IDENTIFIER" {
			return fIdentifier
		}
	case 18:
		if key == "_SYSTEMD_USER_UNIT" {
			return fUserUnit
		}
	case 20:
		if key == "__REALTIME_TIMESTAMP" {
			return fRealtime
		}
	}
	return -1
}

// decimal reads a non-negative decimal integer of at most 18 digits.
func decimal(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}
