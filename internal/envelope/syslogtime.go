package envelope

import (
	"strings"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/brokerlog"
)

type timeForm uint8

const (
	formMonth timeForm = iota + 1 // Mmm dd hh:mm:ss[.ffffff], year-less
	formISO                       // RFC 3339
	formFull                      // Www YYYY-MM-DD hh:mm:ss ZONE
	formUnix                      // seconds.micros
)

func (d *Decoder) syslogTime(s string) (t time.Time, n int, form timeForm, ok bool) {
	if s == "" {
		return t, 0, 0, false
	}
	if isDigit(s[0]) {
		// RFC 3339 (RFC 5424 section 6.2.3, rsyslog's RSYSLOG_FileFormat,
		// journalctl -o short-iso) puts a 'T' between date and time; a
		// space there is an application's own log time (Python logging's
		// "2026-12-05 10:28:11,930 ERROR app: ..."), never a syslog header.
		if len(s) > 10 && s[4] == '-' && s[10] != 'T' {
			return t, 0, 0, false
		}
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
	frac, j := fraction(s, i+1)
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
	key  [24]byte
	klen int
	t    time.Time
}

// monthTime reads "Mmm dd hh:mm:ss[.ffffff]", the day padded with a space
// (RFC 3164) or a zero (journalctl), in the Decoder's zone. Syslog times
// have no year: the year is the one that puts the time no later than a
// day after now, as logs are not written in the future.
func (d *Decoder) monthTime(s string) (time.Time, int, bool) {
	if len(s) < 15 {
		return time.Time{}, 0, false
	}
	c := &d.ycache
	if c.klen > 0 && c.klen < len(s) && s[c.klen] != ':' && string(c.key[:c.klen]) == s[:c.klen] {
		return d.monthFrac(s, c.t, c.klen)
	}
	// The month is "Mmm" in the C locale, or journalctl's name for it in
	// the host's locale (see localMonths).
	mon, k := monthName(s)
	if mon == 0 || len(s) < k+12 {
		return time.Time{}, 0, false
	}
	var day, i int
	switch {
	case s[k+1] == ' ' && isDigit(s[k+2]):
		day, i = int(s[k+2]-'0'), k+3
	case isDigit(s[k+1]) && isDigit(s[k+2]):
		day, i = int(s[k+1]-'0')*10+int(s[k+2]-'0'), k+3
	case isDigit(s[k+1]) && s[k+2] == ' ':
		day, i = int(s[k+1]-'0'), k+2
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
	if end <= len(c.key) { // a long local month name is not remembered
		c.klen = copy(c.key[:], s[:end])
		c.t = t
	}
	return d.monthFrac(s, t, end)
}

// monthFrac reads the microseconds of journalctl -o short-precise after a
// syslog time.
func (d *Decoder) monthFrac(s string, t time.Time, end int) (time.Time, int, bool) {
	if end < len(s) && s[end] == '.' {
		frac, j := fraction(s, end+1)
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
	fracEnd, ns := 19, 0
	if fracEnd < len(s) && (s[fracEnd] == '.' || s[fracEnd] == ',') {
		ns, fracEnd = fraction(s, fracEnd+1)
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

// fraction reads the digits of a fraction of a second from s[from:]: ns is
// its value in nanoseconds (digits past the ninth are read and dropped),
// end the offset after the last digit (from where there is none).
func fraction(s string, from int) (ns, end int) {
	end, scale := from, 100000000
	if from >= 0 && from+8 <= len(s) {
		// Docker's and CRI's times have nine digits: eight at once.
		if v, ok := eightDigits(word(s[from:])); ok {
			ns, end, scale = int(v)*10, from+8, 1
		}
	}
	for end < len(s) && isDigit(s[end]) {
		if scale > 0 {
			ns += int(s[end]-'0') * scale
			scale /= 10
		}
		end++
	}
	return ns, end
}

// eightDigits reads a word of eight decimal digits, the first the most
// significant (simdjson's is_made_of_eight_digits_fast and
// parse_eight_digits_unrolled, Lemire's "Quickly parsing eight digits").
func eightDigits(x uint64) (uint64, bool) {
	if x&0xf0f0f0f0f0f0f0f0|(x+0x0606060606060606)&0xf0f0f0f0f0f0f0f0>>4 != 0x3333333333333333 {
		return 0, false
	}
	x -= 0x3030303030303030
	x = x*10 + x>>8 // pairs of digits
	const mask, mul1, mul2 = 0x000000ff000000ff, 100 + 1000000<<32, 1 + 10000<<32
	return (x&mask*mul1 + x>>16&mask*mul2) >> 32, true
}
