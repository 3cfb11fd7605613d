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

// call is one log call found in one file.
type call struct {
	file  string
	line  int
	level string // an EMQX level, "variable" (passed in) or "stderr"
	// style is "format" for an io_lib format string (EMQX 4.x ?LOG and
	// logger:Level/2) or "report" for a report whose msg names the event
	// (EMQX 5.x ?SLOG, ?tp, ?TRACE).
	style  string
	format string   // the format string, module header included; or the msg
	keys   []string // a report's other keys, in source order
}

// skip is a log call whose format or msg is not a literal, so that no
// entry can be made for it.
type skip struct {
	file string
	line int
	why  string
}

var levelNames = map[string]string{
	"debug": "debug", "info": "info", "notice": "notice", "warning": "warning", "error": "error",
	"critical": "critical", "alert": "alert", "emergency": "emergency",
}

// macroLevels are EMQX 4.x's level macros (include/logger.hrl) and OTP's
// (kernel/include/logger.hrl).
var macroLevels = map[string]string{
	"DEBUG": "debug", "INFO": "info", "NOTICE": "notice", "WARN": "warning", "ERROR": "error",
	"CRITICAL": "critical", "ALERT": "alert",
	"LOG_DEBUG": "debug", "LOG_INFO": "info", "LOG_NOTICE": "notice", "LOG_WARNING": "warning",
	"LOG_ERROR": "error", "LOG_CRITICAL": "critical", "LOG_ALERT": "alert", "LOG_EMERGENCY": "emergency",
}

// parseErlang finds the log calls of one Erlang source file. includes
// resolves an -include'd file's base name to its tokens, for a LOG macro
// defined there.
func parseErlang(path, src string, includes func(base string) []token) ([]call, []skip) {
	toks := lex(src)
	header := ""
	prefix, hasLocalLOG := "", false
	mapLOG := false
	inDefine := make([]bool, len(toks))
	var scanDefines func(ts []token, mark bool)
	scanDefines = func(ts []token, mark bool) {
		for i := 0; i+3 < len(ts); i++ {
			if ts[i].kind != tkPunct || ts[i].text != "-" || ts[i+1].kind != tkAtom || ts[i+2].text != "(" {
				continue
			}
			switch ts[i+1].text {
			case "logger_header":
				if mark && ts[i+3].kind == tkString {
					header = ts[i+3].text + " "
				}
			case "define":
				end := matching(ts, i+2)
				if mark {
					for k := i; k <= end && k < len(inDefine); k++ {
						inDefine[k] = true
					}
				}
				if i+4 < len(ts) && ts[i+3].text == "LOG" && ts[i+4].text == "(" {
					body := ts[i+3 : end]
					for k := 0; k+1 < len(body); k++ {
						if body[k].kind == tkString && body[k+1].text == "++" {
							prefix, hasLocalLOG = body[k].text, true
						}
						if body[k].text == "SLOG" {
							mapLOG = true
						}
					}
				}
			case "include", "include_lib":
				if includes != nil && ts[i+3].kind == tkString {
					base := ts[i+3].text[strings.LastIndexByte(ts[i+3].text, '/')+1:]
					if base != "logger.hrl" {
						inc := includes(base)
						saved := inDefine
						inDefine = make([]bool, len(inc))
						scanDefines(inc, false)
						inDefine = saved
					}
				}
			}
		}
	}
	scanDefines(toks, true)

	var calls []call
	var skips []skip
	add := func(c call) {
		c.file = path
		calls = append(calls, c)
	}
	for i := 0; i+2 < len(toks); i++ {
		if inDefine[i] {
			continue
		}
		var name, module string
		var open int
		switch {
		case toks[i].text == "?" && toks[i].kind == tkPunct && (toks[i+1].kind == tkVar || toks[i+1].kind == tkAtom) && toks[i+2].text == "(":
			name, open = toks[i+1].text, i+2
		case toks[i].kind == tkAtom && i+3 < len(toks) && toks[i+1].text == ":" && toks[i+2].kind == tkAtom && toks[i+3].text == "(" &&
			(i == 0 || toks[i-1].text != "?" && toks[i-1].text != "fun"):
			module, name, open = toks[i].text, toks[i+2].text, i+3
		default:
			continue
		}
		args := splitArgs(toks, open)
		line := toks[i].line
		sk := func(why string) { skips = append(skips, skip{path, line, why}) }
		lvl := func(a []token) string {
			if len(a) == 1 && a[0].kind == tkAtom {
				if l, ok := levelNames[a[0].text]; ok {
					return l
				}
			}
			return "variable"
		}
		report := func(level string, data []token, what string) {
			if s, ok := literal(data); ok && data[0].kind != tkAtom {
				// ?SLOG(Level, "text", Meta): logger:log/3 with a
				// string prints the string as a format.
				add(call{line: line, level: level, style: "format", format: s})
				return
			}
			msg, keys, ok := reportMsg(data)
			if !ok && len(data) > 0 && data[0].kind == tkVar {
				// LogMeta#{...} where LogMeta = #{msg => ...} earlier in
				// the same function.
				msg, keys, ok = boundMsg(toks, i, data[0].text)
			}
			if !ok {
				sk(what + ": msg is not a literal")
				return
			}
			add(call{line: line, level: level, style: "report", format: msg, keys: keys})
		}
		format := func(level, pre string, f []token, what string) {
			s, ok := literal(f)
			if !ok {
				if len(f) > 0 && f[0].text == "#" {
					report(level, f, what)
					return
				}
				sk(what + ": format is not a literal")
				return
			}
			add(call{line: line, level: level, style: "format", format: pre + s})
		}
		if module != "" {
			switch module {
			case "logger", "emqx_logger":
				if l, ok := levelNames[name]; ok && len(args) >= 1 {
					format(l, "", args[0], module+":"+name)
				} else if name == "log" && len(args) >= 2 {
					format(lvl(args[0]), "", args[1], module+":log")
				}
			case "error_logger":
				switch name {
				case "error_msg", "error_report":
					if len(args) >= 1 {
						format("error", "", args[0], "error_logger:"+name)
					}
				case "warning_msg", "warning_report":
					if len(args) >= 1 {
						format("warning", "", args[0], "error_logger:"+name)
					}
				}
			case "io":
				if (name == "format" || name == "fwrite") && len(args) >= 2 && len(args[0]) == 1 && args[0][0].text == "standard_error" {
					format("stderr", "", args[1], "io:format(standard_error)")
				}
			}
			continue
		}
		switch name {
		case "SLOG", "SLOG_THROTTLE":
			switch {
			case len(args) == 4:
				report(lvl(args[0]), args[2], "?"+name)
			case len(args) >= 2:
				report(lvl(args[0]), args[1], "?"+name)
			}
		case "LOG", "LOG_SENSITIVE":
			if len(args) < 2 {
				continue
			}
			switch {
			case name == "LOG" && hasLocalLOG:
				format(lvl(args[0]), prefix, args[1], "?LOG")
			case len(args) == 2 && (mapLOG || len(args[1]) > 0 && args[1][0].text != "#" && !isLiteral(args[1])):
				report(lvl(args[0]), args[1], "?LOG")
			default:
				format(lvl(args[0]), header, args[1], "?"+name)
			}
		case "tp":
			if len(args) == 3 {
				l := lvl(args[0])
				if s, ok := literal(args[1]); ok {
					_, keys, _ := reportMsg(args[2])
					add(call{line: line, level: l, style: "report", format: s, keys: keys})
				} else {
					sk("?tp: kind is not a literal")
				}
			}
		case "TRACE", "TRACE_AUTHN", "TRACE_AUTHN_PROVIDER":
			// ?TRACE(Tag, Msg, Meta), ?TRACE(Level, Tag, Msg, Meta);
			// ?TRACE_AUTHN(Msg, Meta), ?TRACE_AUTHN(Level, Msg, Meta);
			// ?TRACE_AUTHN_PROVIDER(Msg[, Meta]), (Level, Msg, Meta).
			l, mi := "debug", -1
			switch {
			case name == "TRACE" && len(args) == 3:
				mi = 1
			case name == "TRACE" && len(args) == 4:
				l, mi = lvl(args[0]), 2
			case name != "TRACE" && len(args) <= 2 && len(args) >= 1:
				mi = 0
			case name != "TRACE" && len(args) == 3:
				l, mi = lvl(args[0]), 1
			}
			if mi < 0 {
				continue
			}
			s, ok := literal(args[mi])
			if !ok {
				sk("?" + name + ": msg is not a literal")
				continue
			}
			var keys []string
			if mi+1 < len(args) {
				_, keys, _ = reportMsg(args[mi+1])
			}
			add(call{line: line, level: l, style: "report", format: s, keys: keys})
		case "ELOG":
			if len(args) >= 1 {
				format("stderr", "", args[0], "?ELOG")
			}
		default:
			l, ok := macroLevels[name]
			if !ok || len(args) == 0 {
				continue
			}
			pre := header
			if strings.HasPrefix(name, "LOG_") {
				pre = "" // OTP's macros: no EMQX module header
			}
			if isLiteral(args[0]) {
				format(l, pre, args[0], "?"+name)
			} else if len(args[0]) > 0 && args[0][0].text == "#" {
				report(l, args[0], "?"+name)
			}
		}
	}
	return calls, skips
}

// matching returns the index of the bracket closing the one at open, or
// the last token.
func matching(ts []token, open int) int {
	depth := 0
	for k := open; k < len(ts); k++ {
		if ts[k].kind != tkPunct {
			continue
		}
		switch ts[k].text {
		case "(", "[", "{", "<<":
			depth++
		case ")", "]", "}", ">>":
			depth--
			if depth == 0 {
				return k
			}
		}
	}
	return len(ts) - 1
}

// splitArgs splits the arguments of the call whose "(" is at open.
func splitArgs(ts []token, open int) [][]token {
	end := matching(ts, open)
	var args [][]token
	depth, start := 0, open+1
	for k := open + 1; k < end; k++ {
		if ts[k].kind != tkPunct {
			continue
		}
		switch ts[k].text {
		case "(", "[", "{", "<<":
			depth++
		case ")", "]", "}", ">>":
			depth--
		case ",":
			if depth == 0 {
				args = append(args, ts[start:k])
				start = k + 1
			}
		}
	}
	if end > open+1 {
		args = append(args, ts[start:end])
	}
	return args
}

// literal returns the text of a string literal (adjacent strings joined,
// "a" ++ "b" too), a binary of one string, or an atom.
func literal(ts []token) (string, bool) {
	if len(ts) == 1 && (ts[0].kind == tkAtom || ts[0].kind == tkString) {
		return ts[0].text, true
	}
	// <<"text">>, <<"text"/utf8>>
	if len(ts) >= 3 && ts[0].text == "<<" && ts[1].kind == tkString && ts[len(ts)-1].text == ">>" &&
		(len(ts) == 3 || len(ts) == 5 && ts[2].text == "/" && ts[3].text == "utf8") {
		return ts[1].text, true
	}
	var b strings.Builder
	for k, t := range ts {
		switch {
		case t.kind == tkString:
			b.WriteString(t.text)
		case t.text == "++" && k > 0 && k+1 < len(ts):
		default:
			return "", false
		}
	}
	return b.String(), len(ts) > 0
}

func isLiteral(ts []token) bool {
	if len(ts) == 1 && ts[0].kind == tkAtom {
		return false // an atom is a report key or a variable level, not a format
	}
	_, ok := literal(ts)
	return ok
}

// reportMsg finds the msg of a report map among data's tokens
// (#{msg => "x", ...}, Data#{msg => x}, maps:merge(#{msg => ...}, M))
// and the map's other keys.
func reportMsg(data []token) (msg string, keys []string, ok bool) {
	for k := 0; k+1 < len(data); k++ {
		if data[k].kind != tkPunct || data[k].text != "#" || data[k+1].text != "{" {
			continue
		}
		end := matching(data, k+1)
		if end < k+2 {
			break // unterminated
		}
		m, ks, found := mapPairs(data[k+2 : end])
		if found {
			return m, ks, true
		}
		if keys == nil {
			keys = ks
		}
	}
	return "", keys, false
}

// mapPairs reads the key => value pairs of a map's inside.
func mapPairs(in []token) (msg string, keys []string, found bool) {
	depth, start := 0, 0
	flush := func(end int) {
		p := in[start:end]
		if len(p) >= 3 && (p[1].text == "=>" || p[1].text == ":=") {
			key := p[0].text
			if p[0].kind != tkAtom && p[0].kind != tkString {
				return
			}
			if key == "msg" {
				if s, ok := literal(p[2:]); ok {
					msg, found = s, true
				}
				return
			}
			keys = append(keys, key)
		}
	}
	for k := 0; k < len(in); k++ {
		if in[k].kind != tkPunct {
			continue
		}
		switch in[k].text {
		case "(", "[", "{", "<<":
			depth++
		case ")", "]", "}", ">>":
			depth--
		case ",":
			if depth == 0 {
				flush(k)
				start = k + 1
			}
		}
	}
	if start < len(in) {
		flush(len(in))
	}
	return msg, keys, found
}

// boundMsg finds, going back from toks[at] to the start of the function
// clause, the binding `name = #{msg => ...}` (or `name = X#{msg => ...}`)
// and returns that map's msg and keys.
func boundMsg(toks []token, at int, name string) (string, []string, bool) {
	for k := at - 1; k >= 1; k-- {
		t := toks[k]
		if t.kind == tkPunct && t.text == "." {
			break
		}
		if t.kind == tkVar && t.text == name && k+1 < len(toks) && toks[k+1].kind == tkPunct && toks[k+1].text == "=" {
			end := k + 2
			for end < at && !(toks[end].kind == tkPunct && (toks[end].text == "," || toks[end].text == ";")) {
				if toks[end].kind == tkPunct && (toks[end].text == "{" || toks[end].text == "(" || toks[end].text == "[") {
					end = matching(toks, end)
				}
				end++
			}
			return reportMsg(toks[k+2 : end])
		}
	}
	return "", nil, false
}
