// Package brokerlog knows the shapes of broker log lines: it splits a line
// into the broker's timestamp prefix and the message that signatures are
// matched against, and parses the time.
//
// Signatures match the message only. A timestamp such as Mosquitto's
// "1700000503: " would otherwise let a pattern containing "503" fire on
// every line of one second, and would make identical messages look
// different to a cache.
package brokerlog

import (
	"strconv"
	"strings"
	"time"
)

// Split returns the message of line without its timestamp prefix, and the
// time the prefix gives. ok is false when no known prefix was found; then
// msg is the whole line. Split does not allocate.
//
// Known prefixes:
//
//	1700000000: msg                                  Mosquitto, log_timestamp true (default)
//	0: msg                                           the same when the broker's clock read 0 (no time)
//	2024-01-02T03:04:05: msg                         Mosquitto, log_timestamp_format %Y-%m-%dT%H:%M:%S
//	2024-01-02T03:04:05.123456+00:00 [warning] msg   EMQX text formatter (level kept in msg)
//	2024-01-02T03:04:05.123Z msg                     RFC 3339 / ISO 8601, also "2024-01-02 03:04:05,123 msg"
//	1741944413123456 [warning] msg                   EMQX 5.6+ text, timestamp_format = epoch (µs)
//	{"time":1741944413123456,"level":...}            EMQX 5.3+ JSON: msg is `"level":...}`, the object
//	{"time":"2025-03-14T17:26:53.123456+08:00",...}  without `{"time":...,`; the time is µs or RFC 3339
//	Mar 14 09:26:53: msg                             Mosquitto with another log_timestamp_format, e.g.
//	Fri Mar 14 09:26:53 2025: msg                    %b %d %H:%M:%S, %c, %d/%m/%Y %H:%M:%S, %H:%M:%S
//
// The last kind is recognised by its shape: text before the first ": "
// that holds a clock time (H:MM:SS) and nothing but numbers, month and day
// names, time zone names and date punctuation. Its time is parsed where
// the layout is unambiguous (month names, year first); a date without a
// year is taken in the current year, as syslog readers do, and a clock
// time alone or a day/month order that cannot be told gives no time.
//
// EMQX's JSON formatter writes "time" first from 5.3.0 on; the older
// 5.0.4-5.2 layout, `<RFC 3339> warning: {json}`, loses only its leading
// timestamp (the "time" member inside stays part of the message).
//
// A leading RFC 3339 timestamp added by `kubectl logs --timestamps` or
// `docker logs -t` is removed first.
//
// Timestamps without a zone are read as UTC; SplitIn reads them in the
// broker's zone.
func Split(line string) (msg string, t time.Time, ok bool) { return SplitIn(line, time.UTC) }

func splitIn(line string, loc *time.Location) (msg string, t time.Time, ok bool) {
	rest := line
	// Container runtimes prefix RFC 3339 with nanoseconds and a space;
	// the broker's own prefix may follow.
	if ts, n, good := parseISO(rest, loc); good && n < len(rest) && rest[n] == ' ' && looksPrefixed(rest[n+1:]) {
		t, rest, ok = ts, rest[n+1:], true
	}
	if n := erlPrompt(rest); n > 0 && looksPrefixed(rest[n:]) {
		rest = rest[n:]
	}
	if m, ts, good := splitBroker(rest, loc); good {
		return m, ts, true
	}
	if ok {
		return rest, t, true
	}
	return line, time.Time{}, false
}

// looksPrefixed reports whether s starts with something splitBroker knows,
// cheaply.
func looksPrefixed(s string) bool {
	return len(s) > 0 && s[0] >= '0' && s[0] <= '9' || strings.HasPrefix(s, `{"time":`)
}

func splitBroker(s string, loc *time.Location) (msg string, t time.Time, ok bool) {
	if strings.HasPrefix(s, `{"time":`) {
		return splitEMQXJSON(s, loc)
	}
	if len(s) == 0 || s[0] < '0' || s[0] > '9' {
		if m, ts, good := splitSystemText(s); good {
			return m, ts, true
		}
		return splitStrftime(s, loc)
	}
	// Mosquitto unix seconds: "1700000000: ".
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i >= 9 && i <= 12 && i+1 < len(s) && s[i] == ':' && s[i+1] == ' ' {
		sec, err := strconv.ParseInt(s[:i], 10, 64)
		if err == nil {
			return s[i+2:], time.Unix(sec, 0).UTC(), true
		}
	}
	// Mosquitto's unix seconds when its clock read 0: "0: " (a 32-bit
	// container whose clock_gettime64 the runtime refused, eclipse/mosquitto
	// issues 2323 and 2495: every line of 2.0.12 and 2.0.14 in the official
	// images on ARM, closed as fixed in 2.0.18). Only the single zero, as
	// log__vprintf's "%d" prints it; no time is read from it, so the envelope's or the reader's
	// time stands. Other short numbers ("12345: ") stay part of the message.
	if i == 1 && s[0] == '0' && len(s) > 2 && s[1] == ':' && s[2] == ' ' {
		return s[3:], time.Time{}, true
	}
	// EMQX epoch microseconds before the level: "1741944413123456 [warning] ".
	if i == 16 && i+1 < len(s) && s[i] == ' ' && s[i+1] == '[' {
		us, err := strconv.ParseInt(s[:i], 10, 64)
		if err == nil {
			return s[i+1:], time.UnixMicro(us).UTC(), true
		}
	}
	if m, ts, good := splitSystemDigits(s, i, loc); good {
		return m, ts, true
	}
	ts, n, good := parseISO(s, loc)
	if !good {
		return splitStrftime(s, loc)
	}
	rest := s[n:]
	if m, t, good := splitAfterISO(rest, ts); good {
		return m, t, true
	}
	switch {
	case strings.HasPrefix(rest, ": "): // Mosquitto with log_timestamp_format
		return rest[2:], ts, true
	case strings.HasPrefix(rest, " "):
		return rest[1:], ts, true
	case rest == "":
		return rest, ts, true
	}
	return s, time.Time{}, false
}

// splitStrftime strips a timestamp prefix of another strftime layout
// (see Split).
func splitStrftime(s string, loc *time.Location) (msg string, t time.Time, ok bool) {
	end := strings.Index(s, ": ")
	if end < 8 || end > 48 {
		return s, time.Time{}, false
	}
	p := s[:end]
	if !hasClock(p) {
		return s, time.Time{}, false
	}
	for _, w := range strings.FieldsFunc(p, func(r rune) bool { return strings.ContainsRune(" ,/-.:+", r) }) {
		if !allDigits(w) && !dateWord(w) {
			return s, time.Time{}, false
		}
	}
	return s[end+2:], parseStrftime(p, loc), true
}

// hasClock reports whether p holds H:MM:SS or HH:MM:SS.
func hasClock(p string) bool {
	for i := 0; i+7 <= len(p); i++ {
		c := p[i:]
		if len(c) >= 8 && isDigit(c[0]) && isDigit(c[1]) && c[2] == ':' && isDigit(c[3]) && isDigit(c[4]) && c[5] == ':' && isDigit(c[6]) && isDigit(c[7]) {
			return true
		}
		if isDigit(c[0]) && c[1] == ':' && isDigit(c[2]) && isDigit(c[3]) && c[4] == ':' && isDigit(c[5]) && isDigit(c[6]) && (i == 0 || !isDigit(p[i-1])) {
			return true
		}
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func allDigits(w string) bool {
	for i := 0; i < len(w); i++ {
		if !isDigit(w[i]) {
			return false
		}
	}
	return w != ""
}

// dateWord reports whether w is a month or day name (English, as the C
// locale prints them), AM/PM or a common time zone name.
func dateWord(w string) bool {
	switch strings.ToLower(w) {
	case "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
		"january", "february", "march", "april", "june", "july", "august", "september", "october", "november", "december",
		"mon", "tue", "wed", "thu", "fri", "sat", "sun",
		"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
		"am", "pm", "utc", "gmt", "z", "cet", "cest", "eet", "eest", "wet", "west", "bst", "ist", "jst", "cst", "est", "edt", "pst", "pdt", "mst", "mdt", "cdt":
		return true
	}
	return false
}

func parseStrftime(p string, loc *time.Location) time.Time {
	// Unambiguous layouts only, with and without a year.
	layouts := [...]string{
		"Mon Jan _2 15:04:05 2006", "Mon Jan 2 15:04:05 2006", "Mon _2 Jan 2006 15:04:05",
		"2006/01/02 15:04:05", "Jan _2 2006 15:04:05", "_2 Jan 2006 15:04:05",
		"Jan _2 15:04:05", "Jan 2 15:04:05", "_2 Jan 15:04:05",
	}
	for _, layout := range layouts {
		t, err := time.ParseInLocation(layout, p, loc)
		if err != nil {
			continue
		}
		if t.Year() == 0 {
			t = t.AddDate(time.Now().UTC().Year(), 0, 0)
		}
		return t
	}
	return time.Time{}
}

// splitEMQXJSON strips the leading "time" member of an EMQX JSON line:
// an integer of microseconds, or an RFC 3339 string.
func splitEMQXJSON(s string, loc *time.Location) (msg string, t time.Time, ok bool) {
	v := s[len(`{"time":`):]
	var n int
	if len(v) > 0 && v[0] == '"' {
		ts, m, good := parseISO(v[1:], loc)
		if !good || m+1 >= len(v) || v[m+1] != '"' {
			return s, time.Time{}, false
		}
		t, n = ts, m+2
	} else {
		for n < len(v) && v[n] >= '0' && v[n] <= '9' {
			n++
		}
		us, err := strconv.ParseInt(v[:n], 10, 64)
		if n == 0 || err != nil {
			return s, time.Time{}, false
		}
		t = time.UnixMicro(us).UTC()
	}
	if n >= len(v) || v[n] != ',' {
		return s, time.Time{}, false
	}
	return v[n+1:], t, true
}

// parseISO parses "YYYY-MM-DD[T ]HH:MM:SS[.,fraction][Z|±HH:MM|±HHMM]" at
// the start of s and reports how many bytes it used. Without a zone the
// time is read in loc (see SplitIn).
func parseISO(s string, loc *time.Location) (t time.Time, n int, ok bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':' {
		return t, 0, false
	}
	year, ok1 := atoi(s[0:4])
	mon, ok2 := atoi(s[5:7])
	day, ok3 := atoi(s[8:10])
	hh, ok4 := atoi(s[11:13])
	mm, ok5 := atoi(s[14:16])
	ss, ok6 := atoi(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mon < 1 || mon > 12 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 {
		return t, 0, false
	}
	n = 19
	nsec := 0
	if n < len(s) && (s[n] == '.' || s[n] == ',') {
		j := n + 1
		scale := 100000000
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			if scale > 0 {
				nsec += int(s[j]-'0') * scale
				scale /= 10
			}
			j++
		}
		if j == n+1 {
			return t, 0, false
		}
		n = j
	}
	if n < len(s) {
		switch s[n] {
		case 'Z':
			n++
			loc = time.UTC
		case '+', '-':
			sign := 1
			if s[n] == '-' {
				sign = -1
			}
			var zh, zm int
			var zok bool
			switch {
			case len(s) >= n+6 && s[n+3] == ':':
				zh, zok = atoi(s[n+1 : n+3])
				if zok {
					zm, zok = atoi(s[n+4 : n+6])
				}
				if zok {
					n += 6
				}
			case len(s) >= n+5:
				zh, zok = atoi(s[n+1 : n+3])
				if zok {
					zm, zok = atoi(s[n+3 : n+5])
				}
				if zok {
					n += 5
				}
			}
			if !zok {
				return t, 0, false
			}
			loc = time.UTC
			if off := sign * (zh*3600 + zm*60); off != 0 {
				loc = time.FixedZone("", off)
			}
		}
	}
	t = time.Date(year, time.Month(mon), day, hh, mm, ss, nsec, loc)
	return t, n, true
}

func atoi(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// Banner recognises a broker's startup line in a message and returns the
// broker ("mosquitto" or "emqx") and its version:
//
//	mosquitto version 2.0.11 starting         Mosquitto
//	mosquitto version 2.0.11 running
//	EMQX 5.8.9 is running now!                EMQX (console only: containers, or stdin)
//	EMQX Enterprise 5.8.9 is running now!
//	EMQ X Broker 4.2.14 is running now!       EMQX 4.x (see emqxBanner)
func Banner(msg string) (broker, version string, ok bool) {
	switch {
	case strings.HasPrefix(msg, "mosquitto version "):
		rest := msg[len("mosquitto version "):]
		if v, tail, found := strings.Cut(rest, " "); found && (tail == "starting" || tail == "running") && validVersion(v) {
			return "mosquitto", v, true
		}
	case strings.HasPrefix(msg, "EMQX "), strings.HasPrefix(msg, "EMQ X "):
		if v, ok := emqxBanner(msg); ok {
			return "emqx", v, true
		}
	}
	return systemBanner(msg)
}

func validVersion(v string) bool {
	if v == "" || len(v) > 40 || v[0] < '0' || v[0] > '9' {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '-' || c == '+' || c == '~') {
			return false
		}
	}
	return true
}

// erlPrompt is the length of the Erlang shell's prompt at the start of s,
// "(NODE)N> ", or 0. A broker run in the foreground with a shell
// (`emqx console`, `vernemq console`) prints its log lines after the prompt
// of a distributed node (erlang/otp lib/stdlib/src/shell.erl,
// default_prompt/1: io_lib:format("(~s)~w> ", [node(), N])); the node's
// name holds an '@'.
func erlPrompt(s string) int {
	if len(s) < 6 || s[0] != '(' {
		return 0
	}
	at := false
	i := 1
	for ; i < len(s) && i < 256 && s[i] != ')'; i++ {
		switch c := s[i]; {
		case c == '@':
			at = true
		case c == ' ' || c == '(':
			return 0
		}
	}
	if !at || i >= len(s) || i == 1 {
		return 0
	}
	j := i + 1
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	if j == i+1 || !strings.HasPrefix(s[j:], "> ") {
		return 0
	}
	return j + 2
}
