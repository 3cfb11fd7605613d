package report

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Printable makes text from a log line safe to print on a terminal: a
// line can carry escape sequences (ESC ] 0; sets the window title, ESC ]
// 52; writes the clipboard, ESC [ 2J clears the screen) that a terminal
// would obey. Control characters (C0 with tab and newline, DEL, C1) are
// written as Go escapes (\x1b, \t, \u009b), bidirectional controls too
// (they reorder what the eye reads), and bytes that are not UTF-8 as
// \xNN. Everything else, non-ASCII text included, is kept. It is for
// display: a backslash in s is not escaped, so it cannot be undone.
func Printable(s string) string {
	i := 0
	for i < len(s) && s[i] >= 0x20 && s[i] < 0x7f {
		i++ // plain printable ASCII needs nothing
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x80 && unicode.IsControl(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
