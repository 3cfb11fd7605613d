package envelope

import (
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// flatObject reads the common shape of both envelopes fast: an object of
// string members, no white space, no escape in a name. It reports false
// for anything else, which the general walker then reads (and judges).
// It is the general walker's reading of such an object, member for member
// (TestFlatObjectIsTheWalker), with one more fact: plain, a value seen to
// hold no escape, which then needs no search for one.
func flatObject(s string, f *[numJSONFields]member, have *uint32) bool {
	i := 1
	if len(s) < 2 || s[0] != '{' || s[1] == '}' {
		return false
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return false
		}
		kEnd := nameEnd(s, i+1)
		v := kEnd + 2
		if kEnd < 0 || v >= len(s) || s[kEnd+1] != ':' || s[v] != '"' {
			return false
		}
		vEnd, plain := valueEnd(s, v+1)
		if vEnd < 0 || vEnd+1 >= len(s) {
			return false
		}
		if k := jsonField(s[i+1 : kEnd]); k >= 0 {
			setString(&f[k], s, v+1, vEnd)
			f[k].plain = plain
			*have |= 1 << k
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

// SWAR constants: a byte's flag in a word (the zero-byte test of "Bit
// Twiddling Hacks": the lowest flag is exact, the ones above it may not
// be), and the words of '"' and '\\'.
const (
	ones, highs         = 0x0101010101010101, 0x8080808080808080
	quotes, backslashes = 0x2222222222222222, 0x5c5c5c5c5c5c5c5c
)

// word is the first eight bytes of s as a little-endian word: one load,
// and one bounds check, where s[i+7] and an offset would cost eight.
func word(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// quoteOrBackslash flags the bytes of x that are '"' or '\\'; the lowest
// flag is exact (each test's lowest is).
func quoteOrBackslash(x uint64) uint64 {
	q, b := x^quotes, x^backslashes
	return ((q-ones)&^q | (b-ones)&^b) & highs
}

// nameEnd is the offset of the quote that ends the member name starting
// at from, or -1 when the name holds a backslash (an escaped name may be
// one of ours: the general walker unescapes it) or does not end.
func nameEnd(s string, from int) int {
	i := from
	for ; i+8 <= len(s); i += 8 {
		if t := quoteOrBackslash(word(s[i:])); t != 0 {
			i += bits.TrailingZeros64(t) >> 3
			if s[i] == '"' {
				return i
			}
			return -1
		}
	}
	for ; i < len(s); i++ {
		switch s[i] {
		case '"':
			return i
		case '\\':
			return -1
		}
	}
	return -1
}

// valueEnd is the offset of the quote that ends the string whose content
// starts at from, or -1; plain reports the content seen to hold no
// backslash. A journal entry's values are mostly short (ids of 32 hex
// digits, numbers, names): the first 40 bytes are read a word at a time,
// for both bytes, before the vector search for the quote alone.
func valueEnd(s string, from int) (end int, plain bool) {
	i := from
	for ; i+8 <= len(s) && i-from < 40; i += 8 {
		if t := quoteOrBackslash(word(s[i:])); t != 0 {
			i += bits.TrailingZeros64(t) >> 3
			if s[i] == '"' {
				return i, true
			}
			return endQuote(s, from, i), false
		}
	}
	if i-from < 40 {
		for ; i < len(s); i++ {
			switch s[i] {
			case '"':
				return i, true
			case '\\':
				return endQuote(s, from, i), false
			}
		}
		return -1, false
	}
	return endQuote(s, from, i), false
}

// dockerFlat reads the layout moby writes when a container has no log
// attributes, {"log":"…","stream":"…","time":"…"}, with one search per
// value (none for the stream when it is stdout or stderr); anything else
// is left to the general reader.
func dockerFlat(s string, lg, stream, tm *member) bool {
	i := len(`{"log":"`)
	q := endQuote(s, i, i)
	if q < 0 || !strings.HasPrefix(s[q:], `","stream":"`) {
		return false
	}
	setString(lg, s, i, q)
	i = q + len(`","stream":"`)
	if q = i + len("stdout"); q >= len(s) || s[q] != '"' || s[i:q] != "stdout" && s[i:q] != "stderr" {
		if q = endQuote(s, i, i); q < 0 {
			return false
		}
	}
	if !strings.HasPrefix(s[q:], `","time":"`) {
		return false
	}
	setString(stream, s, i, q)
	i = q + len(`","time":"`)
	q = endQuote(s, i, i)
	if q < 0 || s[q:] != `"}` {
		return false
	}
	setString(tm, s, i, q)
	return true
}

// setString makes m the string member whose content is s[from:to].
// Field by field: a whole member built and copied is written as small
// stores read back as wider loads, which stall.
func setString(m *member, s string, from, to int) {
	m.val, m.at, m.str, m.isArr, m.plain = s[from:to], int32(from-1), true, false, false
}

// endQuote is the offset of the quote that ends the string whose content
// starts at from (a quote after an odd number of backslashes is escaped),
// searching from at (no quote lies between from and at), or -1.
func endQuote(s string, from, at int) int {
	for i := at; ; {
		rel := strings.IndexByte(s[i:], '"')
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

// jsonString returns a string member's value, unescaped when it must be.
func (d *Decoder) jsonString(m *member) (string, string) {
	if m.plain || strings.IndexByte(m.val, '\\') < 0 {
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
		var lg, st, tm member
		if dockerFlat(s, &lg, &st, &tm) {
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
	if kind == Other && mt.Program == "systemd" {
		// systemd about a unit of the broker's: UNIT (USER_UNIT from a
		// user's manager) names it (log_unit_struct in src/core).
		u := str(&f[fAboutUnit])
		if u == "" {
			u = str(&f[fAboutUserUnit])
		}
		if u != "" && d.isProgram(u) {
			kind, mt.Unit = Broker, u
		}
	}
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

// JournalCursor is the __CURSOR of one journalctl --output=json entry,
// read with the Decoder's own JSON reader, for a reader that checkpoints
// it: the object's syntax is checked as Decode checks it (an escape only
// where a value is used), nothing else is built, and the last __CURSOR
// wins, as with encoding/json. encoding/json took about 3.4 µs and 8
// allocations an entry, ten times what Decode takes on the same entry.
func JournalCursor(line string) (string, error) {
	it := newObjIter(line)
	var m, cur member
	found := false
	for key, ok := it.next(&m); ok; key, ok = it.next(&m) {
		if key == "__CURSOR" {
			cur, found = m, true
		}
	}
	switch {
	case it.err != nil:
		return "", fmt.Errorf("not a JSON object: %s at byte %d", it.err.reason, it.err.at)
	case !found:
		return "", errors.New("the entry has no __CURSOR")
	case !cur.str:
		return "", errors.New("the entry's __CURSOR is not a string")
	}
	v := cur.val
	if strings.IndexByte(v, '\\') >= 0 {
		u, reason := unescape(v, len(v))
		if reason != "" {
			return "", fmt.Errorf("the entry's __CURSOR: %s", reason)
		}
		v = u
	}
	return strings.Clone(v), nil // not the line's: the line's buffer is reused
}

// JournalFields are the journal fields a Decoder reads from a journalctl
// -o json entry, besides __CURSOR and __REALTIME_TIMESTAMP which
// journalctl always writes. A reader that runs journalctl can pass them as
// --output-fields: an entry is then about 370 bytes instead of 900, and
// decodes about twice as fast (BENCHMARKS.md).
func JournalFields() []string {
	return []string{"MESSAGE", "SYSLOG_IDENTIFIER", "_SYSTEMD_UNIT", "_SYSTEMD_USER_UNIT", "_PID", "SYSLOG_PID", "_COMM", "_HOSTNAME", "PRIORITY", "CONTAINER_NAME", "UNIT", "USER_UNIT"}
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
	fAboutUnit     // UNIT: the unit a message of systemd is about
	fAboutUserUnit // USER_UNIT
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
		case "UNIT":
			return fAboutUnit
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
		switch key {
		case "_HOSTNAME":
			return fHostname
		case "USER_UNIT":
			return fAboutUserUnit
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
