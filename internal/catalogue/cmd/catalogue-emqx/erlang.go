package main

import "strings"

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
