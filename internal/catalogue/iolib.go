package catalogue

import (
	"fmt"
	"regexp"
	"strings"
)

// IOLibDefaults are the values RenderIOLib gives an Erlang io_lib control
// sequence that Args leave unset, by control character. ~s is a client-id
// -like token and ~p/~w an atom, the commonest values EMQX prints with
// them (a reason such as econnrefused).
var IOLibDefaults = map[byte]string{
	's': "sensor-1",
	'p': "econnrefused", 'P': "econnrefused", 'w': "econnrefused", 'W': "econnrefused",
	'b': "42", 'B': "42", 'x': "2a", 'X': "2A", '#': "16#2A", '+': "16#2A",
	'c': "x",
	'f': "1.5", 'e': "1.50000e+0", 'g': "1.5",
}

// RenderIOLib renders an Erlang io_lib:format/2 format string with
// plausible values, as io_lib does for a message of EMQX 4.x's ?LOG and of
// logger:Level/2: args[i] is the text of the i-th control sequence that
// takes an argument (~s, ~p, ~0p, ~ts, ~.16B...); an absent or empty one
// takes IOLibDefaults. ~n is a newline, ~~ a tilde, and ~i consumes an
// argument and prints nothing. A * field width or precision takes an
// argument of its own and gets none here. It fails on a control sequence
// it does not know, so that a format io_lib would reject is caught.
func RenderIOLib(format string, args []string) (string, error) {
	var b strings.Builder
	n := 0
	err := scanIOLib(format, func(lit string) { b.WriteString(lit) }, func(cc byte) error {
		switch cc {
		case 'n':
			b.WriteByte('\n')
		case 'i':
			n++
		default:
			def, ok := IOLibDefaults[cc]
			if !ok {
				return fmt.Errorf("unknown control sequence ~%c", cc)
			}
			if n < len(args) && args[n] != "" {
				def = args[n]
			}
			n++
			b.WriteString(def)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if n < len(args) {
		return "", fmt.Errorf("format %q: %d arguments but %d args", format, n, len(args))
	}
	return b.String(), nil
}

// IOLibRegex returns a regular expression (RE2 syntax) for what format
// prints whatever its arguments: literal text quoted, an argument as a
// lazy .*?, and a newline (~n or a literal one) as ,?\s+, which holds
// both the multi-line message and what single-line logging makes of it
// (OTP's logger_formatter replaces ",?\r?\n\s*" with ", "). Trailing
// newlines are dropped. fixed is the longest run of literal text between
// arguments and newlines, spaces trimmed: what a prefilter can key on.
// The regex holds no alternation, so that a matcher distributing
// alternations sees one branch per format.
func IOLibRegex(format string) (re string, fixed string, err error) {
	var b, run strings.Builder
	pendingNL := false
	endRun := func() {
		if t := strings.TrimSpace(run.String()); len(t) > len(fixed) {
			fixed = t
		}
		run.Reset()
	}
	lit := func(s string) {
		for len(s) > 0 {
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				i = len(s)
			}
			if pendingNL {
				// \s+ holds the indent of the next line too.
				t := strings.TrimLeft(s[:i], " \t\r")
				s, i = t+s[i:], len(t)
			}
			if i > 0 {
				if pendingNL {
					b.WriteString(`,?\s+`)
					pendingNL = false
				}
				b.WriteString(QuoteKeyed(s[:i]))
				run.WriteString(s[:i])
			}
			if i < len(s) {
				endRun()
				pendingNL = true
				i++
			}
			s = s[i:]
		}
	}
	err = scanIOLib(format, lit, func(cc byte) error {
		switch cc {
		case 'n':
			lit("\n")
		case 'i':
		default:
			if _, ok := IOLibDefaults[cc]; !ok {
				return fmt.Errorf("unknown control sequence ~%c", cc)
			}
			endRun()
			if pendingNL {
				b.WriteString(`,?\s+`)
				pendingNL = false
			}
			if !strings.HasSuffix(b.String(), ".*?") {
				b.WriteString(".*?")
			}
		}
		return nil
	})
	endRun()
	return b.String(), fixed, err
}

// scanIOLib splits an io_lib format into literal text (lit, ~~ included)
// and the control characters of its control sequences (ctrl).
func scanIOLib(format string, lit func(string), ctrl func(byte) error) error {
	start := 0
	for i := 0; i < len(format); i++ {
		if format[i] != '~' {
			continue
		}
		if i > start {
			lit(format[start:i])
		}
		seq := i
		i++
		// ~F.P.PadModC: field width, precision, pad character, modifiers
		for i < len(format) && (format[i] >= '0' && format[i] <= '9' || format[i] == '-' || format[i] == '*') {
			i++
		}
		for k := 0; k < 2 && i < len(format) && format[i] == '.'; k++ {
			i++
			if k == 1 && i < len(format) { // the pad character, any byte
				i++
				continue
			}
			for i < len(format) && (format[i] >= '0' && format[i] <= '9' || format[i] == '*') {
				i++
			}
		}
		for i < len(format) && (format[i] == 't' || format[i] == 'l' || format[i] == 'k' || format[i] == 'K') {
			i++
		}
		if i >= len(format) {
			return fmt.Errorf("format %q: control sequence at byte %d has no character", format, seq)
		}
		if format[i] == '~' {
			lit("~")
		} else if err := ctrl(format[i]); err != nil {
			return fmt.Errorf("format %q: %w at byte %d", format, err, seq)
		}
		start = i + 1
	}
	if start < len(format) {
		lit(format[start:])
	}
	return nil
}

// MaxKey bounds the literal runs QuoteKeyed leaves: the matcher keys a
// branch on one whole literal run of its regex, and every byte of a key
// is a state of its automaton, whose table the scan of every line walks.
// Keys of whole EMQX msgs and formats (1,800 of them, 20-40 bytes) made
// it 35,000 states and 8.9 MB against 7,900 and 1.8 MB without them.
const MaxKey = 12

// minKey is the shortest run QuoteKeyed cuts off at the end: a short
// tail such as "_body" would be a poor key.
const minKey = 6

func isWord(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// QuoteKeyed is regexp.QuoteMeta of s, with \B (not at a word boundary:
// always true between two word characters) inserted between two word
// characters wherever a literal run would grow past MaxKey bytes and at
// least minKey bytes remain. The regex matches exactly what the quoted
// text matches; its literal runs, which the matcher keys its prefilter
// on, stay short.
func QuoteKeyed(s string) string {
	var b strings.Builder
	run := 0
	for i := 0; i < len(s); i++ {
		if run >= MaxKey && len(s)-i >= minKey && isWord(s[i-1]) && isWord(s[i]) {
			b.WriteString(`\B`)
			run = 0
		}
		b.WriteString(regexp.QuoteMeta(s[i : i+1]))
		run++
	}
	return b.String()
}
