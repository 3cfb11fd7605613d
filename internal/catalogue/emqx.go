package catalogue

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// EMQXFamilies are the EMQX family signatures: each stands for the log
// calls of one subsystem that the catalogue gives its id, one regex
// branch a call, and is written by cmd/emqx-families. A family with more
// calls than a signature may have branches is split into parts
// "<family>-2", "<family>-3", ...
var EMQXFamilies = []string{
	"emqx/auth-backend-error", "emqx/broker-core-error", "emqx/cluster-error",
	"emqx/config-error", "emqx/data-integration-error", "emqx/durable-storage-error",
	"emqx/file-transfer-error", "emqx/gateway-error", "emqx/license-event",
	"emqx/management-error", "emqx/plugin-module-error", "emqx/tls-certificate-error",
	"emqx/unexpected-internal-message", "emqx/vm-monitor-warning",
}

// EMQXFamilyOf returns the family a signature id is, or is a part of, or
// "".
func EMQXFamilyOf(id string) string {
	for _, fam := range EMQXFamilies {
		if id == fam {
			return fam
		}
		if n, ok := strings.CutPrefix(id, fam+"-"); ok {
			if _, err := strconv.Atoi(n); err == nil {
				return fam
			}
		}
	}
	return ""
}

// Timestamps of the layouts EMQX writes, for rendered lines:
//   - 4.2: emqx_logger_formatter.erl format_time/1@v4.2.14, local time
//     with milliseconds;
//   - 4.3 and 4.4: OTP logger_formatter's RFC 3339 with microseconds and
//     offset (emqx_logger_textfmt.erl date_format rfc3339@v4.4.19);
//   - 5.x text: RFC 3339 with microseconds (emqx_logger_textfmt.erl@v5.8.9);
//   - 5.3+ JSON: "time" in microseconds first (emqx_logger_jsonfmt.erl@v5.8.9).
const (
	EMQX42Stamp   = "2021-12-06 18:00:00.123 "
	EMQX43Stamp   = "2022-01-04T20:29:29.018046+08:00 "
	EMQX5Stamp    = "2025-03-14T09:26:53.123456+00:00 "
	EMQX5JSONTime = "1741944413123456"
	// EMQX4Client is the logger metadata prefix 4.x prints for a
	// connection's process: clientid@peername (priv/emqx.schema
	// kernel.logger template@v4.4.19).
	EMQX4Client = "sensor-1@10.0.0.5:52344 "
)

// EMQXReport is the prefix of an EMQX entry that is a report's msg (EMQX
// 5's ?SLOG, snabbkaffe's ?tp, ?TRACE) rather than an io_lib format string.
const EMQXReport = "msg: "

// RenderEMQX renders an EMQX catalogue entry as EMQX prints it, in every
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
func RenderEMQX(e Entry) ([]string, error) {
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
	if msg, ok := strings.CutPrefix(e.Format, EMQXReport); ok {
		var text, js strings.Builder
		text.WriteString("[" + level + "] " + EMQXReport + msg)
		m, _ := json.Marshal(msg)
		js.WriteString(`{"time":` + EMQX5JSONTime + `,"level":"` + level + `","msg":` + string(m))
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
			lines = append(lines, EMQX5Stamp+text.String(), js.String())
		}
		if has4 {
			lines = append(lines, EMQX43Stamp+text.String())
		}
		return lines, nil
	}
	text, err := RenderIOLib(e.Format, e.Args)
	if err != nil {
		return nil, err
	}
	text = strings.TrimRight(text, "\n")
	if e.Level == "stderr" {
		return splitLines("", text), nil
	}
	var lines []string
	if has42 {
		lines = append(lines, splitLines(EMQX42Stamp+"["+level+"] ", text)...)
	}
	single := singleLine(text)
	if has4 && (!has42 || len(e.Versions) > 1) {
		lines = append(lines, EMQX43Stamp+"["+level+"] "+EMQX4Client+single)
	}
	if has5 {
		lines = append(lines, EMQX5Stamp+"["+level+"] "+single)
	}
	return lines, nil
}

// singleLine is what log.single_line = true makes of a multi-line
// message: OTP's logger_formatter replaces ",?\r?\n\s*" with ", ".
var newlines = regexp.MustCompile(`,?\r?\n\s*`)

func singleLine(s string) string { return newlines.ReplaceAllString(s, ", ") }

// splitLines is the physical lines of a rendered message that holds
// newlines, as a log reader sees them; only the first carries the
// prefix.
func splitLines(prefix, text string) []string {
	parts := strings.Split(text, "\n")
	parts[0] = prefix + parts[0]
	return parts
}

// emqx4Prefix is what may stand between "[level] " and an io_lib message
// in EMQX 4.3-4.4: the connection's clientid@peername, a peername alone,
// or another process's metadata token (priv/emqx.schema kernel.logger
// template@v4.4.19).
const emqx4Prefix = `(?:(?P<client_id>[^ \[]+?)@(?P<address>[0-9a-fA-F.:]+:\d+) |(?P<address>[0-9.]+:\d+) |[^ \[]+ )?`

// emqxReportStart is how a line that holds a report begins once
// brokerlog.Split took its timestamp: 5.x (and 4.4 ?tp) text "[level] ",
// 5.3+ JSON "\"level\":\"" (Split drops {"time":...,), 5.0.4-5.2
// "level: {". The {1} keeps the three apart from
// the matcher's expansion of alternations, so that a report stays one
// branch keyed on its msg.
const emqxReportStart = `^(?:\[[a-z]+\] |"level":"|[a-z]+: \{){1}`

// EMQXBranch returns one regex branch (RE2 syntax, no top-level
// alternation, so that the matcher keys it on one literal) that matches
// every line RenderEMQX renders for e, and the fixed text a prefilter can
// key it on:
//
//   - a report: a line of EMQX's text or JSON layouts (emqxReportStart)
//     whose msg, after "msg: " (text) or "msg":" (JSON) and ending where
//     the value ends, is the entry's; the msg is captured as event;
//   - an io_lib format: "[level] ", 4.x's optional metadata prefix, then
//     IOLibRegex of the format; on the console (level stderr), the
//     format's first line at the start of the line.
func EMQXBranch(e Entry) (re, fixed string, err error) {
	if msg, ok := strings.CutPrefix(e.Format, EMQXReport); ok {
		return emqxReportStart + `.*?\bmsg"?: ?"?(?P<event>` + QuoteKeyed(msg) + `)(?:[,"].*)?$`, msg, nil
	}
	format := e.Format
	if e.Level == "stderr" {
		format, _, _ = strings.Cut(strings.ReplaceAll(format, "~n", "\n"), "\n")
		body, fixed, err := IOLibRegex(format)
		return `^` + body, fixed, err
	}
	body, fixed, err := IOLibRegex(format)
	return `^\[[a-z]+\] ` + emqx4Prefix + body, fixed, err
}
