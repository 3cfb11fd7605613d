package catalogue

import (
	"fmt"
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
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '~' {
			b.WriteByte(c)
			continue
		}
		start := i
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
			return "", fmt.Errorf("format %q: control sequence at byte %d has no character", format, start)
		}
		switch cc := format[i]; cc {
		case '~':
			b.WriteByte('~')
		case 'n':
			b.WriteByte('\n')
		case 'i':
			n++
		default:
			def, ok := IOLibDefaults[cc]
			if !ok {
				return "", fmt.Errorf("format %q: unknown control sequence %q at byte %d", format, format[start:i+1], start)
			}
			if n < len(args) && args[n] != "" {
				def = args[n]
			}
			n++
			b.WriteString(def)
		}
	}
	if n < len(args) {
		return "", fmt.Errorf("format %q: %d arguments but %d args", format, n, len(args))
	}
	return b.String(), nil
}
