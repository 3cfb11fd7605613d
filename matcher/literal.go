package matcher

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// A literal is a string a regex requires verbatim, rune by rune, each rune
// either exact or case-folded (Go's (?i) folds by Unicode simple folding,
// so k also matches the Kelvin sign U+212A and s the long s U+017F).
type literal []litRune

type litRune struct {
	r    rune
	fold bool
}

func (l literal) String() string {
	var b strings.Builder
	for _, lr := range l {
		b.WriteRune(lr.r)
	}
	return b.String()
}

// The prefilter runs over a normalised text: ASCII letters lowercased, the
// Kelvin sign and the long s (which Go's (?i) folds to k and s) read as k
// and s, every UTF-8 continuation byte read as nonASCII, and every lead
// byte as the representative of its group (leadGroup, generated: lead
// bytes that case folding links, such as Cyrillic's 0xD0 and 0xD1). So a
// line with UTF-8 client ids still goes through the automaton, a folded
// ASCII literal hits on it exactly when Go's (?i) would match it, and the
// automaton keeps few byte classes (the deadends.dev corpus needs about 75
// against 150 with every UTF-8 byte of its Cyrillic and CJK literals),
// which halves its tables. A literal with non-ASCII runes hits on any
// text of the same script and byte length: a candidate, verified on the
// message.
const nonASCII = 0x80

// normByte is the normalised form of a byte other than the Kelvin sign's
// and the long s's leads.
func normByte(c byte) byte {
	switch {
	case c < utf8.RuneSelf:
		return asciiLower(c)
	case c < 0xC0:
		return nonASCII
	}
	return leadGroup[c-0xC0]
}

// asciiFold returns the lowercase ASCII letter a non-ASCII rune folds to.
func asciiFold(r rune) (byte, bool) {
	switch r {
	case '\u212A': // Kelvin sign
		return 'k', true
	case '\u017F': // long s
		return 's', true
	}
	return 0, false
}

// hasCase reports whether r has other runes in its simple-folding orbit.
func hasCase(r rune) bool { return unicode.SimpleFold(r) != r }

// key appends the normalised bytes of rune lr to dst, and reports whether
// the automaton can use the rune at all (usable) and whether a hit on the
// normalised text decides the rune exactly (exact).
//
// A folded ASCII letter is exact: every rune of its orbit normalises to
// it. A case-sensitive letter hits on either case, and a non-ASCII rune on
// any non-ASCII rune of its length: candidates. A folded non-ASCII rune
// whose orbit mixes UTF-8 lengths (ß, ẞ) is not usable: the text's rune may
// be longer or shorter than the key. Nor is U+FFFD: the regex engine reads
// every invalid byte as U+FFFD, the automaton sees the byte.
func (lr litRune) key(dst []byte) (out []byte, usable, exact bool) {
	r := lr.r
	switch {
	case r == utf8.RuneError:
		return dst, false, false
	case r < utf8.RuneSelf:
		c := byte(r)
		return append(dst, asciiLower(c)), true, lr.fold || !isLetter(c)
	}
	if a, ok := asciiFold(r); ok {
		return append(dst, a), true, lr.fold
	}
	n := utf8.RuneLen(r)
	if lr.fold {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if utf8.RuneLen(f) != n {
				return dst, false, false
			}
		}
	}
	var buf [utf8.UTFMax]byte
	utf8.EncodeRune(buf[:], r)
	dst = append(dst, normByte(buf[0]))
	for ; n > 1; n-- {
		dst = append(dst, nonASCII)
	}
	return dst, true, false
}

// equalRune reports whether text rune t matches literal rune lr as Go's
// regexp does.
func (lr litRune) equalRune(t rune) bool {
	if t == lr.r {
		return true
	}
	if !lr.fold {
		return false
	}
	for f := unicode.SimpleFold(lr.r); f != lr.r; f = unicode.SimpleFold(f) {
		if f == t {
			return true
		}
	}
	return false
}

// matchAt reports whether l occurs in s at byte i, and where it ends.
func (l literal) matchAt(s string, i int) (end int, ok bool) {
	for _, lr := range l {
		if i >= len(s) {
			return 0, false
		}
		c := s[i]
		if c < utf8.RuneSelf && lr.r < utf8.RuneSelf {
			// Fast path, both ASCII.
			if c != byte(lr.r) && !(lr.fold && asciiLower(c) == asciiLower(byte(lr.r)) && isLetter(c)) {
				return 0, false
			}
			i++
			continue
		}
		t, w := utf8.DecodeRuneInString(s[i:])
		if !lr.equalRune(t) {
			return 0, false
		}
		i += w
	}
	return i, true
}

func asciiLower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// index returns the first byte offset at or after from where l occurs in
// s, and where that occurrence ends; -1 if none. from must be a rune
// boundary as the regex engine decodes s (0, or the end of a match).
//
// The engine decodes s rune by rune from its start, an invalid byte as
// U+FFFD of width 1, so every byte that is not a UTF-8 continuation byte
// starts a rune. A plain literal starts with such a byte, so a byte search
// finds exactly the engine's occurrences; other literals (U+FFFD matches
// any invalid byte) are tried at each rune boundary.
func (n *needle) index(s string, from int) (start, end int) {
	l := n.lit
	if len(l) == 0 {
		return from, from
	}
	if from > len(s) {
		return -1, -1
	}
	if n.plain {
		str := n.str
		i := strings.Index(s[from:], str)
		if i < 0 {
			return -1, -1
		}
		return from + i, from + i + len(str)
	}
	for i := from; i < len(s); {
		if e, ok := l.matchAt(s, i); ok {
			return i, e
		}
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
	}
	return -1, -1
}

// suffixFrom reports whether s ends with l, the occurrence starting at a
// rune boundary at or after from (itself a boundary).
func (n *needle) suffixFrom(s string, from int) bool {
	l := n.lit
	if n.plain {
		return len(s)-len(n.str) >= from && strings.HasSuffix(s, n.str)
	}
	// A folded rune takes 1 to 3 bytes (k, K, Kelvin sign): only starts
	// this close to the end can end exactly at len(s).
	lo := len(s) - utf8.UTFMax*len(l)
	for i := from; i < len(s); {
		if i >= lo {
			if e, ok := l.matchAt(s, i); ok && e == len(s) {
				return true
			}
		}
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
	}
	return false
}

// skipRunes returns the offset n runes after the boundary i, as the regex
// engine decodes s, or -1 if s has fewer.
func skipRunes(s string, i, n int) int {
	for ; n > 0; n-- {
		if i >= len(s) {
			return -1
		}
		if s[i] < utf8.RuneSelf {
			i++
			continue
		}
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
	}
	return i
}

// needle is a literal prepared for searching.
type needle struct {
	lit literal
	// plain: every rune must match exactly, so a byte search for str
	// finds it. U+FFFD is never plain: the regex engine reads any invalid
	// byte as U+FFFD.
	plain bool
	str   string
}

func newNeedle(l literal) needle {
	n := needle{lit: l, plain: true, str: l.String()}
	for _, lr := range l {
		if lr.fold && hasCase(lr.r) || lr.r == utf8.RuneError {
			n.plain = false
		}
	}
	return n
}

// normalize appends the normalised form of text to dst, as the automaton
// sees it (tests use it; the scanner normalises on the fly).
func normalize(dst []byte, text string) []byte {
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case strings.HasPrefix(text[i:], "\u212A"):
			dst = append(dst, 'k')
			i += 2
		case strings.HasPrefix(text[i:], "\u017F"):
			dst = append(dst, 's')
			i++
		default:
			dst = append(dst, normByte(c))
		}
	}
	return dst
}
