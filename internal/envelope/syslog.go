package envelope

import (
	"strings"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/brokerlog"
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

type timeForm uint8

const (
	formMonth timeForm = iota + 1 // Mmm dd hh:mm:ss[.ffffff], year-less
	formISO                       // RFC 3339
	formFull                      // Www YYYY-MM-DD hh:mm:ss ZONE
	formUnix                      // seconds.micros
)

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

func (d *Decoder) syslogTime(s string) (t time.Time, n int, form timeForm, ok bool) {
	if s == "" {
		return t, 0, 0, false
	}
	if isDigit(s[0]) {
		if t, n, ok = d.isoTime(s); ok {
			return t, n, formISO, true
		}
		t, n, ok = unixMicros(s)
		return t, n, formUnix, ok
	}
	if t, n, ok = d.monthTime(s); ok {
		return t, n, formMonth, true
	}
	t, n, ok = d.fullTime(s)
	return t, n, formFull, ok
}

// unixMicros reads journalctl -o short-unix's "1700000000.123456".
func unixMicros(s string) (time.Time, int, bool) {
	i, sec := 0, int64(0)
	for i < len(s) && isDigit(s[i]) && i < 12 {
		sec = sec*10 + int64(s[i]-'0')
		i++
	}
	if i < 9 || i >= len(s) || s[i] != '.' {
		return time.Time{}, 0, false
	}
	j, frac, scale := i+1, 0, 100000000
	for j < len(s) && isDigit(s[j]) {
		if scale > 0 {
			frac += int(s[j]-'0') * scale
			scale /= 10
		}
		j++
	}
	if j == i+1 {
		return time.Time{}, 0, false
	}
	return time.Unix(sec, int64(frac)).UTC(), j, true
}

func month(s string) time.Month {
	switch s {
	case "Jan":
		return time.January
	case "Feb":
		return time.February
	case "Mar":
		return time.March
	case "Apr":
		return time.April
	case "May":
		return time.May
	case "Jun":
		return time.June
	case "Jul":
		return time.July
	case "Aug":
		return time.August
	case "Sep":
		return time.September
	case "Oct":
		return time.October
	case "Nov":
		return time.November
	case "Dec":
		return time.December
	}
	return 0
}

// clock reads "hh:mm:ss" at the start of s.
func clock(s string) (h, m, sec int, ok bool) {
	if len(s) < 8 || s[2] != ':' || s[5] != ':' {
		return 0, 0, 0, false
	}
	if !isDigit(s[0]) || !isDigit(s[1]) || !isDigit(s[3]) || !isDigit(s[4]) || !isDigit(s[6]) || !isDigit(s[7]) {
		return 0, 0, 0, false
	}
	h = int(s[0]-'0')*10 + int(s[1]-'0')
	m = int(s[3]-'0')*10 + int(s[4]-'0')
	sec = int(s[6]-'0')*10 + int(s[7]-'0')
	return h, m, sec, h < 24 && m < 60 && sec <= 60
}

// yearCache remembers the last year-less time read, by its text: a log
// writes many lines per second, and placing a wall-clock time in a zone
// costs more than the rest of the envelope.
type yearCache struct {
	key  [16]byte
	klen int
	t    time.Time
}

// monthTime reads "Mmm dd hh:mm:ss[.ffffff]", the day padded with a space
// (RFC 3164) or a zero (journalctl), in the Decoder's zone. Syslog times
// have no year: the year is the one that puts the time no later than a
// day after now, as logs are not written in the future.
func (d *Decoder) monthTime(s string) (time.Time, int, bool) {
	if len(s) < 15 || s[3] != ' ' {
		return time.Time{}, 0, false
	}
	c := &d.ycache
	if c.klen > 0 && c.klen < len(s) && s[c.klen] != ':' && string(c.key[:c.klen]) == s[:c.klen] {
		return d.monthFrac(s, c.t, c.klen)
	}
	mon := month(s[:3])
	if mon == 0 {
		return time.Time{}, 0, false
	}
	var day, i int
	switch {
	case s[4] == ' ' && isDigit(s[5]):
		day, i = int(s[5]-'0'), 6
	case isDigit(s[4]) && isDigit(s[5]):
		day, i = int(s[4]-'0')*10+int(s[5]-'0'), 6
	case isDigit(s[4]) && s[5] == ' ':
		day, i = int(s[4]-'0'), 5
	default:
		return time.Time{}, 0, false
	}
	if i+9 > len(s) || s[i] != ' ' {
		return time.Time{}, 0, false
	}
	h, m, sec, ok := clock(s[i+1:])
	if !ok || day < 1 || day > 31 {
		return time.Time{}, 0, false
	}
	end := i + 9
	now := d.o.now().In(d.o.loc)
	t := time.Date(now.Year(), mon, day, h, m, sec, 0, d.o.loc)
	if t.After(now.Add(24 * time.Hour)) {
		t = time.Date(now.Year()-1, mon, day, h, m, sec, 0, d.o.loc)
	}
	if t.Day() != day { // Feb 30
		return time.Time{}, 0, false
	}
	c.klen = copy(c.key[:], s[:end])
	c.t = t
	return d.monthFrac(s, t, end)
}

// monthFrac reads the microseconds of journalctl -o short-precise after a
// syslog time.
func (d *Decoder) monthFrac(s string, t time.Time, end int) (time.Time, int, bool) {
	if end < len(s) && s[end] == '.' {
		j, frac, scale := end+1, 0, 100000000
		for j < len(s) && isDigit(s[j]) {
			if scale > 0 {
				frac += int(s[j]-'0') * scale
				scale /= 10
			}
			j++
		}
		if j == end+1 {
			return time.Time{}, 0, false
		}
		t, end = t.Add(time.Duration(frac)), j
	}
	return t, end, true
}

// fullTime reads journalctl -o short-full's "Www YYYY-MM-DD hh:mm:ss ZONE".
// The zone is an abbreviation (strftime %Z) journalctl printed in its own
// zone: UTC and numeric offsets are read as such, any other name as the
// Decoder's zone.
func (d *Decoder) fullTime(s string) (time.Time, int, bool) {
	if len(s) < 4+19+2 || s[3] != ' ' || !isWeekday(s[:3]) || !isDigit(s[4]) {
		return time.Time{}, 0, false
	}
	t, n, ok := brokerlog.ParseTime(s[4:], d.o.loc)
	n += 4
	if !ok || n >= len(s) || s[n] != ' ' || t.Location() != d.o.loc {
		return time.Time{}, 0, false
	}
	z := n + 1
	e := z
	for e < len(s) && e-z <= 8 && (isAlnum(s[e]) || s[e] == '+' || s[e] == '-') {
		e++
	}
	if e == z {
		return time.Time{}, 0, false
	}
	switch zone := s[z:e]; {
	case zone == "UTC" || zone == "GMT" || zone == "Z":
		y, mo, dd := t.Date()
		hh, mm, ss := t.Clock()
		t = time.Date(y, mo, dd, hh, mm, ss, t.Nanosecond(), time.UTC)
	case zone[0] == '+' || zone[0] == '-':
		if off, ok := numericZone(zone); ok {
			y, mo, dd := t.Date()
			hh, mm, ss := t.Clock()
			t = time.Date(y, mo, dd, hh, mm, ss, t.Nanosecond(), time.FixedZone("", off))
		}
	}
	return t, e, true
}

// numericZone reads "+05", "+0530" or "-08:00".
func numericZone(z string) (int, bool) {
	sign := 1
	if z[0] == '-' {
		sign = -1
	}
	digits := strings.ReplaceAll(z[1:], ":", "")
	if len(digits) != 2 && len(digits) != 4 {
		return 0, false
	}
	v := 0
	for i := 0; i < len(digits); i++ {
		if !isDigit(digits[i]) {
			return 0, false
		}
		v = v*10 + int(digits[i]-'0')
	}
	if len(digits) == 2 {
		v *= 100
	}
	return sign * (v/100*3600 + v%100*60), true
}

func isWeekday(s string) bool {
	switch s {
	case "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun":
		return true
	}
	return false
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

// rfc5424 reads RFC 5424 section 6:
//
//	SYSLOG-MSG = HEADER SP STRUCTURED-DATA [SP MSG]
//	HEADER     = PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID
//
// with "-" for a nil value, as rsyslog's RSYSLOG_SyslogProtocol23Format
// writes it ("<%PRI%>1 %TIMESTAMP:::date-rfc3339% %HOSTNAME% %APP-NAME%
// %PROCID% %MSGID% %STRUCTURED-DATA% %msg%"). rsyslog keeps the space
// that followed the tag in a local message, so leading spaces of MSG are
// dropped, as is the UTF-8 BOM that section 6.4 allows.
func (d *Decoder) rfc5424(s string, r *Record) bool {
	pri, i, ok := parsePRI(s)
	if !ok || i+2 > len(s) || s[i] != '1' || s[i+1] != ' ' {
		return false
	}
	i += 2
	var t time.Time
	if strings.HasPrefix(s[i:], "- ") {
		i++
	} else {
		var n int
		if t, n, ok = d.isoTime(s[i:]); !ok {
			return false
		}
		i += n
	}
	hs := i // the header after the time: " HOST APP PROCID MSGID SD "
	if c := &d.header5424; c.n > 0 && len(s)-hs >= c.n && string(c.text[:c.n]) == s[hs:hs+c.n] {
		h := s[hs:]
		r.Envelope, r.Kind = RFC5424, c.kind
		r.Meta = Meta{Time: t, Host: h[c.host[0]:c.host[1]], Program: h[c.tag[0]:c.tag[1]], PID: h[c.pid[0]:c.pid[1]], Severity: severity(pri % 8)}
		r.Text = unescapeControl(strings.TrimLeft(strings.TrimPrefix(h[c.n:], "\ufeff"), " "))
		return true
	}
	var f [4]string // HOSTNAME, APP-NAME, PROCID, MSGID
	var at [4][2]int
	for k := range f {
		if i >= len(s) || s[i] != ' ' {
			return false
		}
		i++
		e := i
		for e < len(s) && s[e] > ' ' && s[e] < 127 {
			e++
		}
		if e == i || e-i > 255 {
			return false
		}
		if v := s[i:e]; v != "-" {
			f[k], at[k] = v, [2]int{i - hs, e - hs}
		}
		i = e
	}
	if i >= len(s) || s[i] != ' ' {
		return false
	}
	i++
	if n, ok := structuredData(s[i:]); ok {
		i += n
	} else {
		return false
	}
	msg := ""
	if i < len(s) {
		if s[i] != ' ' {
			return false
		}
		msg = strings.TrimLeft(strings.TrimPrefix(s[i+1:], "\ufeff"), " ")
	}
	r.Envelope = RFC5424
	r.Meta = Meta{Time: t, Host: f[0], Program: f[1], PID: f[2], Severity: severity(pri % 8)}
	r.Text = unescapeControl(msg)
	r.Kind = d.owner(f[1])
	if n := i + 1 - hs; i < len(s) && n <= len(d.header5424.text) {
		c := &d.header5424
		c.n = copy(c.text[:], s[hs:i+1])
		c.kind, c.host, c.tag, c.pid = r.Kind, at[0], at[1], at[2]
	}
	return true
}

// structuredData reads "-" or one or more "[SD-ID PARAM=\"VALUE\"...]"
// (RFC 5424 section 6.3; '"', '\' and ']' are escaped with '\' inside a
// value) and reports its length.
func structuredData(s string) (int, bool) {
	if strings.HasPrefix(s, "-") {
		return 1, true
	}
	i := 0
	for i < len(s) && s[i] == '[' {
		i++
		inValue := false
		for {
			if i >= len(s) {
				return 0, false
			}
			c := s[i]
			switch {
			case inValue && c == '\\':
				i++
			case c == '"':
				inValue = !inValue
			case !inValue && c == ']':
				i++
				goto next
			}
			i++
		}
	next:
	}
	return i, i > 0
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

// isoCache remembers the last RFC 3339 time read, by its text without the
// fraction: an envelope's times change in the fraction from line to line,
// and placing a time in its zone costs more than the rest of the envelope.
type isoCache struct {
	key  [32]byte // "YYYY-MM-DDTHH:MM:SS" and the zone as written
	klen int
	base time.Time // the time without its fraction
}

// isoTime is brokerlog.ParseTime in the Decoder's zone, remembering the
// last time read.
func (d *Decoder) isoTime(s string) (time.Time, int, bool) {
	if len(s) < 19 || s[4] != '-' {
		return brokerlog.ParseTime(s, d.o.loc)
	}
	fracEnd := 19
	var ns, scale int = 0, 100000000
	if fracEnd < len(s) && (s[fracEnd] == '.' || s[fracEnd] == ',') {
		fracEnd++
		for fracEnd < len(s) && isDigit(s[fracEnd]) {
			if scale > 0 {
				ns += int(s[fracEnd]-'0') * scale
				scale /= 10
			}
			fracEnd++
		}
		if fracEnd == 20 {
			return brokerlog.ParseTime(s, d.o.loc)
		}
	}
	end := fracEnd
	if end < len(s) {
		switch s[end] {
		case 'Z':
			end++
		case '+', '-':
			if end+6 <= len(s) && s[end+3] == ':' {
				end += 6
			} else {
				end = min(end+5, len(s))
			}
		}
	}
	zone := s[fracEnd:end]
	c := &d.iso
	if c.klen == 19+len(zone) && string(c.key[:19]) == s[:19] && string(c.key[19:c.klen]) == zone {
		return c.base.Add(time.Duration(ns)), end, true
	}
	t, n, ok := brokerlog.ParseTime(s, d.o.loc)
	if !ok || n != end || 19+len(zone) > len(c.key) {
		return t, n, ok
	}
	c.klen = copy(c.key[:], s[:19])
	c.klen += copy(c.key[19:], zone)
	c.base = t.Add(-time.Duration(ns))
	return t, n, true
}
