package signatures_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/mqttdiag/mqttdiag/internal/catalogue"
)

// Timestamps of the layouts EMQX writes, for rendered lines:
//   - 4.2: emqx_logger_formatter.erl format_time/1@v4.2.14, local time
//     with milliseconds;
//   - 4.3 and 4.4: OTP logger_formatter's RFC 3339 with microseconds and
//     offset (emqx_logger_textfmt.erl date_format rfc3339@v4.4.19);
//   - 5.x text: RFC 3339 with microseconds (emqx_logger_textfmt.erl@v5.8.9);
//   - 5.3+ JSON: "time" in microseconds first (emqx_logger_jsonfmt.erl@v5.8.9).
const (
	emqx42Stamp   = "2021-12-06 18:00:00.123 "
	emqx43Stamp   = "2022-01-04T20:29:29.018046+08:00 "
	emqx5Stamp    = "2025-03-14T09:26:53.123456+00:00 "
	emqx5JSONTime = "1741944413123456"
	// emqx4Client is the logger metadata prefix 4.x prints for a
	// connection's process: clientid@peername (priv/emqx.schema
	// kernel.logger template@v4.4.19).
	emqx4Client = "sensor-1@10.0.0.5:52344 "
)

// emqxReport is the prefix of an entry that is a report's msg (EMQX 5's
// ?SLOG, snabbkaffe's ?tp, ?TRACE) rather than an io_lib format string.
const emqxReport = "msg: "

// renderEMQX renders an EMQX catalogue entry as EMQX prints it, in every
// layout of the versions that hold it:
//
//   - a report (format "msg: <msg>"): 5.x text "[level] msg: <msg>, k: v"
//     and 5.3+ JSON {"time":...,"level":...,"msg":...,"k":"v"}, where
//     args are the entry's other "key: value" pairs; 4.x (4.4's ?tp)
//     text "[level] msg: <msg>";
//   - an io_lib format: the format rendered with plausible values (or
//     args), after "[level] " in 4.2's layout (a multi-line message goes
//     on over lines without a prefix), after "[level] clientid@peer " in
//     4.3-4.4's single-line layout (log.single_line joins lines with
//     ", "), and after "[level] " in 5.x's;
//   - level stderr: the text alone, as printed to the console.
//
// A level the caller passes in ("variable") is rendered as warning.
func renderEMQX(e catalogue.Entry) ([]string, error) {
	level := e.Level
	if level == "variable" {
		level = "warning"
	}
	has4, has42, has5 := false, false, false
	for _, v := range e.Versions {
		switch {
		case v == "4.2":
			has4, has42 = true, true
		case strings.HasPrefix(v, "4."):
			has4 = true
		case strings.HasPrefix(v, "5."):
			has5 = true
		default:
			return nil, fmt.Errorf("version %q: want 4.2-4.4 or 5.x", v)
		}
	}
	if msg, ok := strings.CutPrefix(e.Format, emqxReport); ok {
		var text, js strings.Builder
		text.WriteString("[" + level + "] " + emqxReport + msg)
		m, _ := json.Marshal(msg)
		js.WriteString(`{"time":` + emqx5JSONTime + `,"level":"` + level + `","msg":` + string(m))
		for _, a := range e.Args {
			k, v, ok := strings.Cut(a, ": ")
			if !ok {
				return nil, fmt.Errorf("arg %q of a report: want \"key: value\"", a)
			}
			text.WriteString(", " + a)
			kj, _ := json.Marshal(k)
			vj, _ := json.Marshal(v)
			js.WriteString("," + string(kj) + ":" + string(vj))
		}
		js.WriteString("}")
		var lines []string
		if has5 {
			lines = append(lines, emqx5Stamp+text.String(), js.String())
		}
		if has4 {
			lines = append(lines, emqx43Stamp+text.String())
		}
		return lines, nil
	}
	text, err := catalogue.RenderIOLib(e.Format, e.Args)
	if err != nil {
		return nil, err
	}
	text = strings.TrimRight(text, "\n")
	if e.Level == "stderr" {
		return splitLines("", text), nil
	}
	var lines []string
	if has42 {
		lines = append(lines, splitLines(emqx42Stamp+"["+level+"] ", text)...)
	}
	single := singleLine(text)
	if has4 && (!has42 || len(e.Versions) > 1) {
		lines = append(lines, emqx43Stamp+"["+level+"] "+emqx4Client+single)
	}
	if has5 {
		lines = append(lines, emqx5Stamp+"["+level+"] "+single)
	}
	return lines, nil
}

// singleLine is what log.single_line = true makes of a multi-line
// message: OTP's logger_formatter replaces ",?\r?\n\s*" with ", ".
var newlines = regexp.MustCompile(`,?\r?\n\s*`)

func singleLine(s string) string { return newlines.ReplaceAllString(s, ", ") }

// TestCatalogueEMQX: every log format and report msg EMQX 4.2-4.4 and
// 5.0-5.8 writes at notice and above, and the lower-level ones that reveal
// a fault, is explained by a signature or judged benign
// (signatures/catalogue/README.md).
func TestCatalogueEMQX(t *testing.T) {
	checkCatalogue(t, "emqx", renderEMQX)
}

func TestRenderEMQX(t *testing.T) {
	lines, err := renderEMQX(catalogue.Entry{Format: "msg: failed_to_start_listener", Level: "error", Versions: []string{"5.8"},
		Args: []string{"listener: tcp:default", "reason: eaddrinuse"}})
	want := []string{
		emqx5Stamp + "[error] msg: failed_to_start_listener, listener: tcp:default, reason: eaddrinuse",
		`{"time":` + emqx5JSONTime + `,"level":"error","msg":"failed_to_start_listener","listener":"tcp:default","reason":"eaddrinuse"}`,
	}
	if err != nil || strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("report: %q, %v\nwant %q", lines, err, want)
	}
	lines, err = renderEMQX(catalogue.Entry{Format: "[Channel] Client ~s refused:~n~p~n", Level: "warning", Versions: []string{"4.2", "4.4"}})
	want = []string{
		emqx42Stamp + "[warning] [Channel] Client sensor-1 refused:",
		"econnrefused",
		emqx43Stamp + "[warning] " + emqx4Client + "[Channel] Client sensor-1 refused:, econnrefused",
	}
	if err != nil || strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("format: %q, %v\nwant %q", lines, err, want)
	}
	if _, err := renderEMQX(catalogue.Entry{Format: "x", Level: "error", Versions: []string{"3.2"}}); err == nil {
		t.Error("a 3.x version rendered")
	}
}
