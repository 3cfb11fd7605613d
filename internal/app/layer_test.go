package app

import (
	"strings"
	"testing"
)

func TestMaskURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://hook.example/in":                      "https://hook.example/in",
		"https://u:p@hook.example:8443/in?a=1&b&c=2#f": "https://u:****@hook.example:8443/in?a=****&b=****&c=****#f",
		"https://tok@hook.example":                     "https://****@hook.example",
		"http://[::1:bad/?x=secret":                    "****",
		"not a url":                                    "not a url",
	} {
		if got := maskURL(in); got != want {
			t.Errorf("maskURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzConfigFile feeds arbitrary bytes as a YAML config: no panic, and
// every error names the file and a line, as a user needs to fix it.
func FuzzConfigFile(f *testing.F) {
	for _, seed := range []string{
		"log-format: console\nsignatures: [/etc/mqttdiag/signatures]\n",
		"webhook:\n  - https://a.example/hook\n  - https://b.example/hook\ndedup-window: 1m\n",
		"log-format: [json\n",
		"- a\n- b\n",
		"poll: 1s\npoll: 2s\n",
		"threshold: {a: 1}\n",
		"a: &x [1]\nb: *x\n",
		"\xff\xfe: \x00\n",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const path = "/etc/mqttdiag/c.yaml"
		named := func(err error) {
			if !strings.HasPrefix(err.Error(), path+":") {
				t.Fatalf("error does not start with file:line: %v", err)
			}
		}
		cf, err := ParseConfigFile(path, data)
		if err != nil {
			named(err)
			return
		}
		for name, n := range cf.keys {
			if _, err := cf.values(name, n); err != nil {
				named(err)
			}
		}
	})
}

// List settings in the environment: items separated by commas or
// newlines, "\\," a comma inside an item (a header value may have commas).
func TestEnvListSplitting(t *testing.T) {
	for in, want := range map[string][]string{
		"/a,/b":                             {"/a", "/b"},
		" /a , /b ,":                        {"/a", "/b"},
		`Accept: a\, b`:                     {"Accept: a, b"},
		"Accept: a, b\nX-Team: oncall\n":    {"Accept: a", "b", "X-Team: oncall"},
		"Accept: a\\, b\nX-Team: on\\,call": {"Accept: a, b", "X-Team: on,call"},
		`C:\dir\x,/b`:                       {`C:\dir\x`, "/b"},
		"":                                  nil,
	} {
		if got := SplitEnvList(in); strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Errorf("SplitEnvList(%q) = %q, want %q", in, got, want)
		}
	}
}

// A malformed file names the line where it stops being YAML, counted from
// 1 (issue 13, item 14: the parser's own line was one too low for an
// unclosed list further down).
func TestYAMLErrorLine(t *testing.T) {
	for content, want := range map[string]string{
		"log-format: [json\n":                              "c.yaml:1: did not find expected ',' or ']'",
		"a: 1\nb: 2\nc: [x\nd: 4\n":                        "c.yaml:3: did not find expected ',' or ']'",
		"x: [a,\n b]\ny: [c\n":                             "c.yaml:3: did not find expected ',' or ']'",
		"a: 1\nb: \"unterminated\nc: 3\n":                  "c.yaml:2: found unexpected end of stream",
		"a: 1\n\tb: 2\n":                                   "c.yaml:2: found a tab character that violates indentation",
		"a: 1\nb: x: y\n":                                  "c.yaml:2: mapping values are not allowed in this context",
		"signatures:\n  - /a\n  - /b\nlog-level: {debug\n": "c.yaml:4: did not find expected ',' or '}'",
	} {
		_, err := ParseConfigFile("c.yaml", []byte(content))
		if err == nil || err.Error() != want {
			t.Errorf("%q: %v, want %s", content, err, want)
		}
	}
}
