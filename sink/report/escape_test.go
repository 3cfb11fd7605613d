package report

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/sink"
)

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain ASCII, kept":                     "plain ASCII, kept",
		"sensor 42/ä 中文":                        "sensor 42/ä 中文",
		"esc\x1b]0;PWNED-TITLE\x07\x1b[2J done": `esc\x1b]0;PWNED-TITLE\x07\x1b[2J done`,
		"tab\there\r\nnext":                     `tab\there\r\nnext`,
		"del\x7f c1\u009b[31m nul\x00":          `del\x7f c1\u009b[31m nul\x00`,
		"bidi \u202eevil\u202c \u2066x\u2069":   `bidi \u202eevil\u202c \u2066x\u2069`,
		"not utf-8 \xff\xfe end":                `not utf-8 \xff\xfe end`,
		"":                                      "",
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}

// Text from a log line, however it got into the report (a client id, an
// unexplained line, its wording, the file name), reaches the terminal
// escaped: no byte of it can start a control sequence.
func TestWriteTextEscapesLogText(t *testing.T) {
	at := time.Date(2026, 11, 22, 4, 33, 18, 0, time.UTC)
	c := NewCollector()
	_, _ = c.Notify(context.Background(), []*sink.Diagnosis{
		{ID: "1", SignatureID: "takeover", Title: "Client id takeover", Severity: "warning",
			Line: "Client esc\x1b]0;PWNED-TITLE\x07\x1b[2J already connected", Fields: map[string]string{"client_id": "esc\x1b]0;PWNED-TITLE\x07\x1b[2J"}, LogTime: &at},
		{ID: "2", SignatureID: UnknownID, Severity: "error", Line: "1795321999: Error: \x1b]52;c;ZWNobyBwd25lZA==\x07 oops",
			Fields: map[string]string{"shape": "Error: \x1b]52;c;* oops"}, LogTime: &at},
	})
	for _, color := range []bool{false, true} {
		var out bytes.Buffer
		if err := c.Report([]string{"odd\x1b[31mname.log"}, 2).WriteText(&out, TextOptions{Color: color}); err != nil {
			t.Fatal(err)
		}
		text := out.String()
		if color {
			// Our own colours are the only escapes left.
			for _, code := range []string{"\x1b[0m", "\x1b[1m", "\x1b[2m", "\x1b[33m", "\x1b[1;31m"} {
				text = strings.ReplaceAll(text, code, "")
			}
		}
		if i := strings.IndexFunc(text, func(r rune) bool { return r < 0x20 && r != '\n' || r == 0x7f }); i >= 0 {
			t.Errorf("color=%v: a control character reaches the terminal at %d: %q", color, i, text[max(0, i-20):min(len(text), i+20)])
		}
		for _, want := range []string{`client_id: esc\x1b]0;PWNED-TITLE\x07\x1b[2J (1)`, `e.g. 1795321999: Error: \x1b]52;c;ZWNobyBwd25lZA==\x07 oops`, `Read odd\x1b[31mname.log`} {
			if !strings.Contains(text, want) {
				t.Errorf("color=%v: report lacks %q:\n%s", color, want, text)
			}
		}
	}
}
