package envelope

import (
	"strings"
	"time"
)

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
		d.aboutUnit(r)
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
	d.aboutUnit(r) // by the message, after the header's owner is cached
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
