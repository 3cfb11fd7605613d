package main

import (
	"reflect"
	"strings"
	"testing"
)

// The snippets below are written for this test in the shapes EMQX's
// logging macros take (apps/emqx/include/logger.hrl, include/logger.hrl
// of 4.x); they are not EMQX code.

func TestParseErlang(t *testing.T) {
	src := `-module(m).
-logger_header("[Demo]").
-define(LOG2(L, D), ?SLOG(L, D)). % a macro body is not a call site
f(X) ->
    ?LOG(warning, "Client ~s (Username: '~s') refused: ~0p", [A, B, C]),
    ?LOG(error, "line one "
                "and two ~p", [X]),
    ?SLOG(error, #{msg => "failed_to_start", reason => R, "port" => 1}),
    ?SLOG(warning, #{msg => <<"bin_msg">>, x => #{msg => inner}}, #{tag => "T"}),
    ?SLOG_THROTTLE(warning, Key, #{msg => throttled_one, k => v}, #{}),
    Meta = #{msg => "bound_msg", a => 1},
    ?SLOG(info, Meta#{b => 2}),
    ?SLOG(Level, #{msg => variable_level}),
    ?SLOG(error, #{msg => Msg}),
    ?tp(warning, tp_kind, #{node => N}),
    ?tp(debug_only, #{}),
    ?TRACE("AUTHN", "trace_msg", #{}),
    ?TRACE(warning, "AUTHZ", "trace_warn", #{topic => T}),
    ?WARN("old style ~p $\" not a string", [X]),
    io:format(standard_error, "to stderr~n", []),
    io:format("to the console~n", []),
    logger:error("plain ~p", [X]),
    logger:warning(#{msg => report_style}),
    S = "% not a comment",
    $%, $", ok.
`
	calls, skips := parseErlang("m.erl", src, nil)
	type got struct {
		line         int
		level, style string
		format       string
	}
	var g []got
	for _, c := range calls {
		g = append(g, got{c.line, c.level, c.style, c.format})
	}
	want := []got{
		{5, "warning", "format", "[Demo] Client ~s (Username: '~s') refused: ~0p"},
		{6, "error", "format", "[Demo] line one and two ~p"},
		{8, "error", "report", "failed_to_start"},
		{9, "warning", "report", "bin_msg"},
		{10, "warning", "report", "throttled_one"},
		{12, "info", "report", "bound_msg"},
		{13, "variable", "report", "variable_level"},
		{15, "warning", "report", "tp_kind"},
		{17, "debug", "report", "trace_msg"},
		{18, "warning", "report", "trace_warn"},
		{19, "warning", "format", "[Demo] old style ~p $\" not a string"},
		{20, "stderr", "format", "to stderr~n"},
		{22, "error", "format", "plain ~p"},
		{23, "warning", "report", "report_style"},
	}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("calls:\n got %v\nwant %v", g, want)
	}
	if !reflect.DeepEqual(calls[2].keys, []string{"reason", "port"}) {
		t.Errorf("keys of failed_to_start: %v", calls[2].keys)
	}
	if len(skips) != 1 || skips[0].line != 14 {
		t.Errorf("skips: %+v, want the call with msg => Msg at line 14", skips)
	}
}

// A module that defines its own LOG with a prefix string (4.x gateways)
// gets that prefix, not the logger header.
func TestParseErlangLocalLOG(t *testing.T) {
	src := `-module(m).
-define(LOG(Level, Format, Args), logger:Level("LwM2M: " ++ Format, Args)).
f() -> ?LOG(error, "bad ~p", [x]).
`
	calls, _ := parseErlang("m.erl", src, nil)
	if len(calls) != 1 || calls[0].format != "LwM2M: bad ~p" || calls[0].level != "error" {
		t.Fatalf("calls = %+v", calls)
	}
	// The same define in an included header.
	hrl := lex(`-define(LOG(Level, Format, Args), emqx_logger:Level("Lua Hook: " ++ Format, Args)).`)
	src = "-module(n).\n-include(\"lua.hrl\").\nf() -> ?LOG(warning, \"x\", []).\n"
	calls, _ = parseErlang("n.erl", src, func(base string) []token {
		if base == "lua.hrl" {
			return hrl
		}
		return nil
	})
	if len(calls) != 1 || calls[0].format != "Lua Hook: x" {
		t.Fatalf("calls with an included LOG = %+v", calls)
	}
}

func TestLexStrings(t *testing.T) {
	toks := lex(`"a\"b\n\x41\101" 'q a' $\\ $a % c "d"` + "\n" + `"e"`)
	var texts []string
	for _, tk := range toks {
		texts = append(texts, tk.text)
	}
	want := []string{"a\"b\nAA", "q a", `$\\`, "$a", "e"}
	if !reflect.DeepEqual(texts, want) {
		t.Errorf("lex = %q, want %q", texts, want)
	}
	if toks[len(toks)-1].line != 2 {
		t.Errorf("line of the last token = %d, want 2", toks[len(toks)-1].line)
	}
}

// FuzzParseErlang: any bytes lex and parse without panicking, and every
// call found lies on a line of the input.
func FuzzParseErlang(f *testing.F) {
	for _, s := range []string{
		`f() -> ?SLOG(error, #{msg => "x", k => v}).`,
		`?LOG(warning, "a ~p" "b", [X])`,
		`"unterminated`, `$`, `?tp(`, `-define(LOG(`, `#{msg => `, `<<"x"/utf8>>`, `"\x{`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		calls, skips := parseErlang("f.erl", src, nil)
		lines := strings.Count(src, "\n") + 1
		for _, c := range calls {
			if c.line < 1 || c.line > lines {
				t.Fatalf("call at line %d of %d", c.line, lines)
			}
		}
		for _, s := range skips {
			if s.line < 1 || s.line > lines {
				t.Fatalf("skip at line %d of %d", s.line, lines)
			}
		}
	})
}
