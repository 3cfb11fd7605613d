package envelope

import (
	"strconv"
	"strings"
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
	plain bool // a string seen to hold no backslash (flatObject)
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
	if !it.colon() {
		return "", false
	}
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

// maxDepth bounds nested arrays and objects in a value the envelope does
// not use (Docker's "attrs"): deeper is no log record.
const maxDepth = 64

// colon reads the ':' between a member's name and its value, and the
// white space around it.
func (it *objIter) colon() bool {
	it.skipWS()
	if it.i >= len(it.s) || it.s[it.i] != ':' {
		it.fail("expected ':' after a member name")
		return false
	}
	it.i++
	it.skipWS()
	return true
}

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
				if !it.colon() {
					return false
				}
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
	ok := true
	if i < len(s) && s[i] == '.' {
		if i, ok = it.digits(i + 1); !ok {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i, ok = it.digits(i); !ok {
			return false
		}
	}
	it.i = i
	return true
}

// digits skips the one or more digits a number's fraction or exponent
// must have at i, and fails where there is none.
func (it *objIter) digits(i int) (int, bool) {
	s := it.s
	if i >= len(s) || !isDigit(s[i]) {
		it.i = i
		it.fail("invalid number")
		return i, false
	}
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i, true
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
