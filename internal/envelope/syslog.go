package envelope

import (
	"strings"
	"time"
)

// Syslog-shaped lines: RFC 3164 section 4.1.2 (HEADER: TIMESTAMP
// "Mmm dd hh:mm:ss", day padded with a space, then HOSTNAME) and 4.1.3
// (MSG: TAG, by convention "name[pid]:", then CONTENT), as rsyslog's
// templates write them (https://www.rsyslog.com/doc/reference/templates/templates-reserved-names.html):
//
//	RSYSLOG_TraditionalFileFormat  "%TIMESTAMP% %HOSTNAME% %syslogtag%%msg:::sp-if-no-1st-sp%%msg:::drop-last-lf%\n"
//	RSYSLOG_FileFormat             the same with timereported in RFC 3339
//
// and as journalctl(1) prints entries with -o short (a zero-padded day),
// short-precise (microseconds), short-iso, short-iso-precise, short-full
// ("Www YYYY-MM-DD hh:mm:ss ZONE") and short-unix ("seconds.micros").

// syslog reads "TIME [HOST] TAG[PID]: MSG". Lines that lack a tag are read
// only where the time is syslog's own ("Mmm dd", short-full) or the
// envelope was chosen: in auto mode an RFC 3339 or Unix time may start a
// broker's own line. A line without a tag is another program's.
func (d *Decoder) syslog(s string, r *Record, chosen bool, sev string) bool {
	t, n, form, ok := d.syslogTime(s)
	return ok && d.syslogAt(s, t, n, form, r, chosen, sev)
}

// syslogAt reads the rest of a syslog line whose time, t, ends at n.
func (d *Decoder) syslogAt(s string, t time.Time, n int, form timeForm, r *Record, chosen bool, sev string) bool {
	if n >= len(s) || s[n] != ' ' {
		return false
	}
	rest := s[n+1:]
	c := &d.header
	if c.n > 0 && len(rest) >= c.n && string(c.text[:c.n]) == rest[:c.n] {
		// The header of the last syslog line again: same host, tag and
		// pid, at the same offsets, and the same owner.
		r.Envelope, r.Kind = Syslog, c.kind
		r.Meta = Meta{Time: t, Host: rest[c.host[0]:c.host[1]], Program: rest[c.tag[0]:c.tag[1]], PID: rest[c.pid[0]:c.pid[1]], Severity: sev}
		r.Text = unescapeControl(rest[c.n:])
		d.aboutUnit(r)
		return true
	}
	host, tag, pid, msg, hasTag, ok := hostTag(rest)
	if !ok || !hasTag && !chosen && (form == formISO || form == formUnix) {
		return false
	}
	r.Envelope = Syslog
	r.Meta = Meta{Time: t, Host: host, Program: tag, PID: pid, Severity: sev}
	r.Text = unescapeControl(msg)
	r.Kind = Other
	if hasTag {
		r.Kind = d.owner(tag)
		if h := len(rest) - len(msg); h <= len(c.text) && rest[h-1] == ' ' {
			c.n = copy(c.text[:], rest[:h])
			c.kind = r.Kind
			c.host = [2]int{0, len(host)}
			t0 := 0
			if host != "" {
				t0 = len(host) + 1
			}
			c.tag = [2]int{t0, t0 + len(tag)}
			c.pid = [2]int{}
			if pid != "" {
				c.pid = [2]int{t0 + len(tag) + 1, t0 + len(tag) + 1 + len(pid)}
			}
		}
		d.aboutUnit(r)
	}
	return true
}

// aboutUnit makes a line of systemd (the service manager, PID 1 or a
// user's) about one of the broker's units the broker's: systemd starts
// its messages about a unit with the unit's name (log_unit_* in
// src/core, LOG_UNIT_MESSAGE: "UNIT: MESSAGE"), as in "mosquitto.service:
// Failed with result 'exit-code'.", and a broker logging to a file
// leaves its failure to start only there.
//
// systemd before log_unit_* prefixed the unit (up to about 226) put its
// name inside the message: "Unit mosquitto.service entered failed
// state.", "mosquitto.service start request repeated too quickly,
// refusing to start.", "mosquitto.service failed." (CentOS 7's 219):
// the unit is then the first word, or the word after "Unit ", and must
// end in a unit type.
func (d *Decoder) aboutUnit(r *Record) {
	if r.Kind != Other || r.Meta.Program != "systemd" {
		return
	}
	unit, _, ok := strings.Cut(r.Text, ": ")
	if !ok || !unitName(unit) {
		unit, ok = unitInMessage(r.Text)
	}
	if !ok {
		d.failedToStart(r)
		return
	}
	if d.isProgram(unit) {
		r.Kind, r.Meta.Unit = Broker, unit
	}
}

// failedToStart makes systemd's summary of a failed start job the
// broker's when the unit it names is: "Failed to start DESCRIPTION."
// (job_done_message's JOB_FAILED text, src/core/job.c), where the unit
// shows as its Description= (systemd 247 and later may print "UNIT -
// DESCRIPTION"). Syslog carries no UNIT= field, so the description is all
// there is: it is the broker's when it names one of the programs, or
// MQTT, as the brokers' own units do: "Mosquitto MQTT Broker" (Mosquitto
// 2.x service/systemd), "Mosquitto MQTT v3.1/v3.1.1 Broker" (1.5),
// "emqx daemon" (EMQX 4.4 and 5.x deploy/packages/emqx.service), and
// "LSB: Erlang MQTT Broker" (EMQX 4.3's deb init script's
// Short-Description, which systemd-sysv-generator prefixes with "LSB: ").
func (d *Decoder) failedToStart(r *Record) {
	desc, ok := strings.CutPrefix(r.Text, "Failed to start ")
	if !ok || !strings.HasSuffix(desc, ".") {
		return
	}
	desc = desc[:len(desc)-1]
	if unit, _, ok := strings.Cut(desc, " - "); ok && unitName(unit) {
		if d.isProgram(unit) {
			r.Kind, r.Meta.Unit = Broker, unit
		}
		return
	}
	if d.isProgram(desc) || hasWord(desc, "mqtt") {
		r.Kind = Broker
	}
}

// unitInMessage returns the unit an older systemd's message names first,
// "NAME ..." or "Unit NAME ...", when NAME is a unit name with its type.
func unitInMessage(s string) (string, bool) {
	s = strings.TrimPrefix(s, "Unit ")
	name, _, ok := strings.Cut(s, " ")
	if !ok || !unitName(name) {
		return "", false
	}
	switch name[strings.LastIndexByte(name, '.')+1:] {
	case "service", "socket", "target", "device", "mount", "automount", "swap", "timer", "path", "slice", "scope":
		return name, true
	}
	return "", false
}

// unitName reports whether s looks like a systemd unit name: NAME.TYPE of
// the characters unit names may hold (unit_name_is_valid in
// src/basic/unit-name.c: letters, digits, ":-_.\@"), at most 255 bytes.
func unitName(s string) bool {
	dot := strings.LastIndexByte(s, '.')
	if dot <= 0 || dot == len(s)-1 || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && !strings.ContainsRune(":-_.\\@", rune(c)) {
			return false
		}
	}
	return true
}

// headerCache is the last syslog header read ("HOST TAG[PID]: "), with
// where its fields are: a syslog file repeats the broker's header line
// after line, and reading it costs more than comparing it.
type headerCache struct {
	text           [128]byte
	n              int
	kind           Kind
	host, tag, pid [2]int
}

// syslogPRI reads "<PRI>" then a syslog-shaped line: RFC 3164 as sent on
// the wire, or rsyslog's RSYSLOG_TraditionalForwardFormat in a file.
func (d *Decoder) syslogPRI(s string, r *Record) bool {
	pri, n, ok := parsePRI(s)
	return ok && d.syslog(s[n:], r, false, severity(pri%8))
}

// parsePRI reads RFC 5424's PRI, "<" 1-3 digits ">", value 0-191.
func parsePRI(s string) (pri, n int, ok bool) {
	if len(s) < 3 || s[0] != '<' {
		return 0, 0, false
	}
	i := 1
	for i < len(s) && i <= 4 && isDigit(s[i]) {
		pri = pri*10 + int(s[i]-'0')
		i++
	}
	if i == 1 || i > 4 || i >= len(s) || s[i] != '>' || pri > 191 {
		return 0, 0, false
	}
	return pri, i + 1, true
}

// hostTag reads "[HOST ]TAG[PID]: MSG" after a syslog time. A line without
// a host must name a pid ("mosquitto[488]: "), as lines pasted without
// their host do: "warning: " alone is the start of a broker's message.
// ok is false when the first word is neither a host nor such a tag.
func hostTag(s string) (host, tag, pid, msg string, hasTag, ok bool) {
	sp := strings.IndexByte(s, ' ')
	first := s
	if sp >= 0 {
		first = s[:sp]
	}
	if strings.HasSuffix(first, ":") { // no host: "mosquitto[488]: "
		if tg, p, m, good := tagAt(s); good && p != "" {
			return "", tg, p, m, true, true
		}
		return "", "", "", "", false, false
	}
	if !isHost(first) {
		return "", "", "", "", false, false
	}
	if sp < 0 {
		return first, "", "", "", false, true
	}
	rest := s[sp+1:]
	if tg, p, m, good := tagAt(rest); good {
		return first, tg, p, m, true, true
	}
	return first, "", "", rest, false, true
}

// maxTag bounds a tag; RFC 3164 allows 32 characters, rsyslog and the
// journal more.
const maxTag = 128

// tagAt reads "NAME[PID]: " or "NAME: " at the start of s; the colon may
// end the line (an empty message).
func tagAt(s string) (tag, pid, msg string, ok bool) {
	if s == "" || !(isAlnum(s[0]) && !isDigit(s[0]) || s[0] == '_' || s[0] == '/' || s[0] == '(') {
		return "", "", "", false
	}
	i := 0
	for i < len(s) && i <= maxTag && s[i] != ' ' && s[i] != '[' && s[i] != ']' && s[i] != ':' {
		i++
	}
	if i > maxTag {
		return "", "", "", false
	}
	tag = s[:i]
	if i < len(s) && s[i] == '[' {
		j := i + 1
		for j < len(s) && isDigit(s[j]) && j-i <= 10 {
			j++
		}
		if j == i+1 || j >= len(s) || s[j] != ']' {
			return "", "", "", false
		}
		pid, i = s[i+1:j], j+1
	}
	if i >= len(s) || s[i] != ':' {
		return "", "", "", false
	}
	i++
	if i == len(s) {
		return tag, pid, "", true
	}
	if s[i] != ' ' {
		return "", "", "", false
	}
	return tag, pid, s[i+1:], true
}

// isHost reports whether s can be a HOSTNAME: a name or an IPv4 address
// (letters, digits, '.', '-', '_').
func isHost(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '.' && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// unescapeControl undoes rsyslog's escaping of control characters, on by
// default ($EscapeControlCharactersOnReceive; global parser options
// parser.escapeControlCharactersOnReceive and
// parser.controlCharacterEscapePrefix, '#'): a control character is
// written as '#' and its three octal digits, a tab as "#011" (Mosquitto
// indents the topics of a SUBSCRIBE with one). rsyslog leaves '#' itself
// alone, so only the codes of control characters are read back. The
// result is a new string only when there was something to undo.
func unescapeControl(s string) string {
	i := strings.IndexByte(s, '#')
	if i < 0 {
		return s
	}
	var b []byte
	last := 0
	for ; i >= 0 && i+4 <= len(s); i = nextHash(s, i+1) {
		c, ok := octalControl(s[i+1 : i+4])
		if !ok {
			continue
		}
		if b == nil {
			b = make([]byte, 0, len(s))
		}
		b = append(b, s[last:i]...)
		b = append(b, c)
		last = i + 4
		i += 3
	}
	if b == nil {
		return s
	}
	return string(append(b, s[last:]...))
}

func nextHash(s string, from int) int {
	if from >= len(s) {
		return -1
	}
	j := strings.IndexByte(s[from:], '#')
	if j < 0 {
		return -1
	}
	return from + j
}

// octalControl reads three octal digits that code a control character
// (0-037 or 0177).
func octalControl(o string) (byte, bool) {
	v := 0
	for i := 0; i < 3; i++ {
		if o[i] < '0' || o[i] > '7' {
			return 0, false
		}
		v = v*8 + int(o[i]-'0')
	}
	if v < 0o40 || v == 0o177 {
		return byte(v), true
	}
	return 0, false
}
