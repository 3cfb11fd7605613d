package report

import (
	"testing"
	"unicode/utf8"
)

// The sequences of shared/repro/09_terminal_escape.sh and their kin come
// out as visible escapes; ordinary text, tabs and non-ASCII letters stay.
func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"Client c1 already connected":          "Client c1 already connected",
		"esc\x1b]0;PWNED-TITLE\x07\x1b[2J end": `esc\x1b]0;PWNED-TITLE\x07\x1b[2J end`,
		"\x1b]52;c;ZWNobyBwd25lZA==\x07":       `\x1b]52;c;ZWNobyBwd25lZA==\x07`,
		"a\tb":                                 "a\tb",
		"line\nforged: ok\r":                   `line\x0aforged: ok\x0d`,
		"del\x7f c1\u009b[2J":                  `del\x7f c1\u009b[2J`,
		"user\u202egnp.exe":                    `user\u202egnp.exe`,
		"bad \xff\xfe utf8":                    `bad \xff\xfe utf8`,
		"客户端 ümlaut":                           "客户端 ümlaut",
		"":                                     "",
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzPrintable(f *testing.F) {
	for _, s := range []string{"plain", "\x1b[31mred\x1b[0m", "\xff", "\u202e", "\u009b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Printable(s)
		if !utf8.ValidString(out) {
			t.Fatalf("Printable(%q) = %q is not UTF-8", s, out)
		}
		for _, r := range out {
			if unsafeRune(r, utf8.RuneLen(r)) {
				t.Fatalf("Printable(%q) = %q keeps %U", s, out, r)
			}
		}
	})
}
