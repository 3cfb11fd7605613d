package main

import (
	"fmt"
	"strconv"
	"strings"
)

// A token of C source, as much of C as finding log calls needs.
type token struct {
	kind byte // 'i' identifier or number, 's' string literal (text decoded), 'p' punctuation, '#' directive
	text string
	line int
}

// lex splits C source into tokens, dropping comments and character
// literals, and the tokens of `#if 0` blocks.
func lex(src []byte) []token {
	var toks []token
	line := 1
	atLineStart := true
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			line++
			atLineStart = true
			i++
			continue
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
			continue
		case c == '#' && atLineStart:
			start, startLine := i, line
			for i < len(src) && src[i] != '\n' {
				if src[i] == '\\' && i+1 < len(src) && src[i+1] == '\n' {
					line++
					i++
				}
				i++
			}
			toks = append(toks, token{'#', strings.Join(strings.Fields(string(src[start:i])), " "), startLine})
			continue
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			continue
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			i += 2
			for i+1 < len(src) && !(src[i] == '*' && src[i+1] == '/') {
				if src[i] == '\n' {
					line++
				}
				i++
			}
			i += 2
			continue
		}
		atLineStart = false
		switch {
		case c == '"' || c == '\'':
			startLine := line
			var b strings.Builder
			i++
			for i < len(src) && src[i] != c && src[i] != '\n' {
				if src[i] == '\\' && i+1 < len(src) {
					n := unescape(src[i+1:], &b)
					i += 1 + n
					continue
				}
				b.WriteByte(src[i])
				i++
			}
			i++
			if c == '"' {
				toks = append(toks, token{'s', b.String(), startLine})
			}
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
			start := i
			for i < len(src) && (src[i] == '_' || src[i] == '.' && src[start] >= '0' && src[start] <= '9' ||
				src[i] >= 'a' && src[i] <= 'z' || src[i] >= 'A' && src[i] <= 'Z' || src[i] >= '0' && src[i] <= '9') {
				i++
			}
			toks = append(toks, token{'i', string(src[start:i]), line})
		default:
			toks = append(toks, token{'p', string(c), line})
			i++
		}
	}
	return dropIf0(toks)
}

// unescape decodes the escape after a backslash into b and returns how
// many bytes of s it used.
func unescape(s []byte, b *strings.Builder) int {
	simple := map[byte]byte{'n': '\n', 't': '\t', 'r': '\r', '\\': '\\', '"': '"', '\'': '\'', 'a': '\a', 'b': '\b', 'f': '\f', 'v': '\v', 'e': 0x1b, '?': '?'}
	if r, ok := simple[s[0]]; ok {
		b.WriteByte(r)
		return 1
	}
	if s[0] == '\n' { // line continuation
		return 1
	}
	base, n, max := 8, 0, 3
	if s[0] == 'x' {
		base, n, max = 16, 1, 3
	}
	end := n
	for end < len(s) && end < max && strings.IndexByte("0123456789abcdefABCDEF"[:base+(base/16)*6], s[end]) >= 0 {
		end++
	}
	v, err := strconv.ParseUint(string(s[n:end]), base, 8)
	if err != nil || end == n {
		b.WriteByte(s[0])
		return 1
	}
	b.WriteByte(byte(v))
	return end
}

// defined are the macros whose value decides a conditional block: the
// broker is built WITH_BROKER, and not for Windows. Blocks on any other
// condition are kept, both branches.
var defined = map[string]bool{"WITH_BROKER": true, "WIN32": false, "_WIN32": false, "__APPLE__": false, "__CYGWIN__": false, "__QNX__": false, "__ANDROID__": false}

// condition is what a conditional directive's test is known to be.
func condition(d string) (value, known bool) {
	d = strings.TrimSpace(d)
	switch {
	case d == "if 0":
		return false, true
	case d == "if 1":
		return true, true
	case strings.HasPrefix(d, "ifdef "):
		v, ok := defined[strings.TrimSpace(d[6:])]
		return v, ok
	case strings.HasPrefix(d, "ifndef "):
		v, ok := defined[strings.TrimSpace(d[7:])]
		return !v, ok
	case strings.HasPrefix(d, "if "):
		return disjunction(strings.TrimSpace(d[3:]))
	}
	return false, false
}

// disjunction evaluates "[!]defined(X) || [!]defined(Y) ..." when every X
// is in defined.
func disjunction(expr string) (value, known bool) {
	for _, term := range strings.Split(expr, "||") {
		term = strings.TrimSpace(term)
		neg := strings.HasPrefix(term, "!")
		term = strings.TrimPrefix(term, "!")
		if !strings.HasPrefix(term, "defined(") || !strings.HasSuffix(term, ")") {
			return false, false
		}
		name := strings.TrimSpace(term[len("defined(") : len(term)-1])
		v, ok := defined[name]
		if !ok {
			return false, false
		}
		value = value || v != neg
	}
	return value, true
}

// dropIf0 removes the tokens of conditional branches that are not
// compiled into the broker (see defined); other directives are kept as
// tokens.
func dropIf0(toks []token) []token {
	type frame struct {
		known, taking bool // known: the condition was evaluated; taking: this branch is compiled
		parentOn      bool
	}
	var stack []frame
	on := true
	var out []token
	for _, t := range toks {
		if t.kind == '#' {
			d := strings.TrimSpace(strings.TrimPrefix(t.text, "#"))
			word, _, _ := strings.Cut(d, " ")
			switch word {
			case "if", "ifdef", "ifndef":
				v, known := condition(d)
				f := frame{known: known, taking: !known || v, parentOn: on}
				stack = append(stack, f)
				on = on && f.taking
				if known {
					continue
				}
			case "else", "elif":
				if n := len(stack); n > 0 && stack[n-1].known {
					f := &stack[n-1]
					f.taking = word == "else" && !f.taking
					on = f.parentOn && f.taking
					continue
				}
			case "endif":
				if n := len(stack); n > 0 {
					f := stack[n-1]
					stack = stack[:n-1]
					on = f.parentOn
					if f.known {
						continue
					}
				}
			}
		}
		if on {
			out = append(out, t)
		}
	}
	return out
}

// callees are the functions whose calls print a line: where their level
// and format arguments are (level -1: the line goes to stderr).
var callees = map[string]struct{ level, format int }{
	"_mosquitto_log_printf": {1, 2}, // 1.4
	"log__printf":           {1, 2}, // 1.5 on
	"mosquitto_log_printf":  {0, 1}, // the plugin API, also used by the broker
	"fprintf":               {-1, 1},
	"net__print_error":      {0, 1}, // src/net.c: the format's %s is strerror(errno)
}

// macros are the format-string macros the broker uses, as glibc on
// x86-64 defines them.
var macros = map[string]string{
	"PRIu64": "lu", "PRId64": "ld", "PRIx64": "lx", "PRIu32": "u", "PRId32": "d", "PRIu16": "u", "PRIu8": "u",
}

// parse finds the log calls of one file. skipped describes calls whose
// format is not a literal (the line is whatever the variable holds).
func parse(file string, src []byte) (calls []call, skipped []string) {
	toks := lex(src)
	for i := 0; i+1 < len(toks); i++ {
		t := toks[i]
		spec, ok := callees[t.text]
		if t.kind != 'i' || !ok || toks[i+1].text != "(" {
			continue
		}
		args, directive, end := callArgs(toks, i+2)
		i = end
		if len(args) <= spec.format {
			continue
		}
		level := "stderr"
		if spec.level >= 0 {
			lt := joinIdents(args[spec.level])
			if l, ok := levels[lt]; ok {
				level = l
			} else if isDecl(args[spec.level]) {
				continue // the function's own declaration
			} else {
				level = "variable"
			}
		} else if joinIdents(args[0]) != "stderr" {
			continue
		}
		where := fmt.Sprintf("%s:%d", file, t.line)
		format, ok := literal(args[spec.format])
		if !ok {
			if !isDecl(args[spec.format]) {
				skipped = append(skipped, fmt.Sprintf("%s: %s(...) with format %q", where, t.text, joinText(args[spec.format])))
			}
			continue
		}
		if directive {
			skipped = append(skipped, fmt.Sprintf("%s: %s(...) has a preprocessor directive in its arguments; check by hand", where, t.text))
		}
		format = strings.TrimRight(format, "\n")
		if format == "" {
			continue
		}
		calls = append(calls, call{format: format, level: level, file: file, line: t.line})
	}
	return calls, skipped
}

// callArgs splits the tokens of a call's arguments, from just after its
// "(", at the top-level commas. It returns the index of the closing ")".
func callArgs(toks []token, from int) (args [][]token, directive bool, end int) {
	depth := 1
	var cur []token
	for i := from; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.kind == '#':
			directive = true
			continue
		case t.kind == 'p' && (t.text == "(" || t.text == "[" || t.text == "{"):
			depth++
		case t.kind == 'p' && (t.text == ")" || t.text == "]" || t.text == "}"):
			depth--
			if depth == 0 {
				return append(args, cur), directive, i
			}
		case t.kind == 'p' && t.text == "," && depth == 1:
			args = append(args, cur)
			cur = nil
			continue
		}
		cur = append(cur, t)
	}
	return append(args, cur), directive, len(toks) - 1
}

// literal is the value of an argument made of adjacent string literals and
// known macros.
func literal(arg []token) (string, bool) {
	var b strings.Builder
	strs := 0
	for _, t := range arg {
		switch {
		case t.kind == 's':
			b.WriteString(t.text)
			strs++
		case t.kind == 'i' && macros[t.text] != "":
			b.WriteString(macros[t.text])
		default:
			return "", false
		}
	}
	return b.String(), strs > 0
}

func isDecl(arg []token) bool {
	for _, t := range arg {
		if t.text == "const" || t.text == "char" || t.text == "int" || t.text == "unsigned" || t.text == "struct" {
			return true
		}
	}
	return false
}

func joinIdents(arg []token) string {
	if len(arg) == 1 && arg[0].kind == 'i' {
		return arg[0].text
	}
	return ""
}

func joinText(arg []token) string {
	var parts []string
	for _, t := range arg {
		if t.kind == 's' {
			parts = append(parts, strconv.Quote(t.text))
		} else {
			parts = append(parts, t.text)
		}
	}
	return strings.Join(parts, " ")
}
