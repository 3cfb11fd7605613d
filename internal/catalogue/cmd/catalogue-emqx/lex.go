package main

import (
	"fmt"
	"strings"
)

// tokKind is the kind of an Erlang token, as far as finding log calls
// needs it.
type tokKind int

const (
	tkAtom   tokKind = iota // foo, 'quoted atom'
	tkVar                   // Foo, _Foo
	tkString                // "text" (escapes decoded)
	tkChar                  // $x
	tkNumber                // 42, 16#ff, 1.5e3
	tkPunct                 // ( ) [ ] { } , . ; : ? # => := -> << >> ++ ...
)

type token struct {
	kind tokKind
	text string // atom name, variable name, decoded string, punctuation
	line int
}

// lex splits Erlang source into tokens, dropping comments and white
// space. It never fails: a construct it does not know becomes one
// punctuation token, and an unterminated string or quoted atom runs to
// the end of the input, so that a file it misreads costs that file's
// calls and nothing else.
func lex(src string) []token {
	var out []token
	line := 1
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '%':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'':
			start := line
			s, n, nl := quoted(src[i:], c)
			line += nl
			i += n
			k := tkString
			if c == '\'' {
				k = tkAtom
			}
			out = append(out, token{k, s, start})
		case c == '$':
			// A character literal: $x, $\n, $\\, $\", $\x{41}, $\101.
			j := i + 1
			if j < len(src) && src[j] == '\\' {
				_, n := escape(src[j:])
				j += n
			} else if j < len(src) {
				if src[j] == '\n' {
					line++
				}
				j++
			}
			out = append(out, token{tkChar, src[i:j], line})
			i = j
		case isDigit(c):
			j := i
			for j < len(src) && (isAlnum(src[j]) || src[j] == '#' || src[j] == '_' ||
				src[j] == '.' && j+1 < len(src) && isDigit(src[j+1]) ||
				(src[j] == '-' || src[j] == '+') && (src[j-1] == 'e' || src[j-1] == 'E') && strings.ContainsRune(src[i:j], '.')) {
				j++
			}
			out = append(out, token{tkNumber, src[i:j], line})
			i = j
		case isLower(c):
			j := i
			for j < len(src) && (isAlnum(src[j]) || src[j] == '_' || src[j] == '@') {
				j++
			}
			out = append(out, token{tkAtom, src[i:j], line})
			i = j
		case isUpper(c) || c == '_':
			j := i
			for j < len(src) && (isAlnum(src[j]) || src[j] == '_' || src[j] == '@') {
				j++
			}
			out = append(out, token{tkVar, src[i:j], line})
			i = j
		default:
			n := 1
			for _, p := range [...]string{"=:=", "=/=", "...", "=>", ":=", "->", "<-", "<=", ">=", "=<", "<<", ">>", "++", "--", "==", "/=", "||", "::"} {
				if strings.HasPrefix(src[i:], p) {
					n = len(p)
					break
				}
			}
			if c >= 0x80 {
				n = 1
			}
			out = append(out, token{tkPunct, src[i : i+n], line})
			i += n
		}
	}
	return out
}

// quoted reads a string or quoted atom starting at s[0] (the quote) and
// returns its decoded text, the bytes used and the newlines crossed.
func quoted(s string, q byte) (text string, n, newlines int) {
	var b strings.Builder
	i := 1
	for i < len(s) {
		c := s[i]
		switch {
		case c == q:
			return b.String(), i + 1, newlines
		case c == '\\':
			r, m := escape(s[i:])
			b.WriteString(r)
			if strings.Contains(s[i:i+m], "\n") {
				newlines++
			}
			i += m
		default:
			if c == '\n' {
				newlines++
			}
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), i, newlines
}

// escape decodes one Erlang escape sequence at s[0] == '\\' and returns
// it and its length.
func escape(s string) (string, int) {
	if len(s) < 2 {
		return "", len(s)
	}
	switch c := s[1]; c {
	case 'n':
		return "\n", 2
	case 't':
		return "\t", 2
	case 'r':
		return "\r", 2
	case 's':
		return " ", 2
	case 'e':
		return "\x1b", 2
	case 'b':
		return "\b", 2
	case 'd':
		return "\x7f", 2
	case 'f':
		return "\f", 2
	case 'v':
		return "\v", 2
	case 'x':
		if len(s) > 2 && s[2] == '{' {
			end := strings.IndexByte(s, '}')
			if end < 0 {
				return "", len(s)
			}
			var r rune
			if _, err := fmt.Sscanf(s[3:end], "%x", &r); err != nil {
				return "", end + 1
			}
			return string(r), end + 1
		}
		j := 2
		for j < len(s) && j < 4 && isHex(s[j]) {
			j++
		}
		var r rune
		_, _ = fmt.Sscanf(s[2:j], "%x", &r)
		return string(r), j
	case '^':
		if len(s) > 2 {
			return string(rune(s[2] & 31)), 3
		}
		return "", 2
	default:
		if c >= '0' && c <= '7' {
			j := 1
			v := 0
			for j < len(s) && j < 4 && s[j] >= '0' && s[j] <= '7' {
				v = v*8 + int(s[j]-'0')
				j++
			}
			return string(rune(v)), j
		}
		return string(c), 2
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool { return isDigit(c) || isLower(c) || isUpper(c) }
func isHex(c byte) bool   { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
