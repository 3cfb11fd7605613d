package envelope

import (
	"fmt"
	"strings"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/brokerlog"
)

// Stats counts what a Decoder saw.
type Stats struct {
	// Lines is how many physical lines Decode was given.
	Lines int64
	// Broker, Other, Partial and Unreadable count Records by Kind
	// (Flush's included).
	Broker, Other, Partial, Unreadable int64
	// Joined counts records joined from several pieces, Truncated those cut
	// at MaxLineBytes, Unfinished those Flush handed over incomplete.
	Joined, Truncated, Unfinished int64
	// Envelopes counts complete records by the envelope they were read as.
	Envelopes map[Format]int64
	// OtherPrograms counts Other records by the program name the envelope
	// gave, for at most maxOtherNames distinct names.
	OtherPrograms map[string]int64
}

const maxOtherNames = 16

// A Decoder decodes the lines of one source, in order. It is not safe for
// concurrent use; each source needs its own, since split lines are joined
// per source and stream.
type Decoder struct {
	o       options
	anyProg bool
	pending [numStreams]pending
	stats   Stats
	byEnv   [numFormats]int64
	others  map[string]int64
	ycache  yearCache
	iso     isoCache
	prog    programCache
	header  headerCache
	// header5424 is headerCache for RFC 5424 lines.
	header5424 headerCache
}

// NewDecoder returns a Decoder.
func NewDecoder(opts ...Option) *Decoder {
	o := options{format: Auto, loc: time.Local, programs: DefaultPrograms(), maxLine: DefaultMaxLineBytes, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if o.loc == nil {
		o.loc = time.Local
	}
	d := &Decoder{o: o, prog: programCache{n: -1}}
	for i, p := range o.programs {
		if p == "*" {
			d.anyProg = true
		}
		o.programs[i] = strings.ToLower(p)
	}
	return d
}

// Decode reads one physical line (without its terminator).
//
// Text, Msg and Meta's strings share line's memory, except where the
// envelope escaped or split the line: those are new strings. A Record
// stays valid after the next call.
func (d *Decoder) Decode(line string) Record {
	d.stats.Lines++
	var r Record
	r.Parts = 1
	switch d.o.format {
	case Auto:
		d.auto(line, &r)
	case None:
		r.Kind, r.Envelope, r.Text = Broker, None, line
	case Syslog:
		if !d.syslog(line, &r, true, "") && !d.rfc5424(line, &r) {
			d.unreadable(&r, Syslog, "timestamp", 0, "not a syslog line (\"TIME HOST TAG[PID]: MSG\" or RFC 5424)")
		}
	case RFC5424:
		if !d.rfc5424(line, &r) {
			d.unreadable(&r, RFC5424, "header", 0, "not an RFC 5424 line (\"<PRI>1 TIME HOST APP PROCID MSGID SD MSG\")")
		}
	case Journal:
		if !d.json(line, &r, Journal) && !d.syslog(line, &r, true, "") {
			d.unreadable(&r, Journal, "entry", 0, "not a journalctl -o json entry nor a short line")
		}
	case Docker:
		if !d.json(line, &r, Docker) {
			d.unreadable(&r, Docker, "record", 0, `not a Docker json-file record ({"log":…,"stream":…,"time":…})`)
		}
	case CRI:
		if !d.cri(line, &r, true) {
			d.unreadable(&r, CRI, "timestamp", 0, `not a CRI log line ("TIME stdout|stderr P|F MSG")`)
		}
	case Compose:
		if !d.compose(line, &r) {
			d.unreadable(&r, Compose, "prefix", 0, `no "SERVICE  | " prefix`)
		}
	case Kubectl:
		if !d.kubectl(line, &r) {
			d.unreadable(&r, Kubectl, "prefix", 0, `no "[pod/POD/CONTAINER] " prefix`)
		}
	}
	d.finish(&r)
	return r
}

// auto recognises the line's envelope by its first bytes; a line in none
// is a plain broker line.
func (d *Decoder) auto(line string, r *Record) {
	if line != "" {
		c := line[0]
		switch {
		case c == '{' || c == 0x1e:
			if d.json(line, r, Auto) {
				return
			}
		case c == '<':
			if d.rfc5424(line, r) || d.syslogPRI(line, r) {
				return
			}
		case c == '[':
			if d.kubectl(line, r) {
				return
			}
		case c == 0x1b:
			if d.compose(line, r) {
				return
			}
		case c >= '0' && c <= '9':
			if unixPrefix(line) {
				break // Mosquitto's default "1700000000: ", the most common line
			}
			// An RFC 3339 time starts CRI and syslog lines: read it once.
			if t, n, ok := d.isoTime(line); ok && (len(line) <= 10 || line[10] == 'T') {
				// (a space between date and time is an application's own
				// log time, see syslogTime, never CRI's or syslog's)
				if d.criAt(line, t, n, r, false) || d.syslogAt(line, t, n, formISO, r, false, "") {
					return
				}
			} else if d.syslog(line, r, false, "") { // short-unix
				return
			}
			if d.compose(line, r) {
				return
			}
		default:
			if d.syslog(line, r, false, "") || d.compose(line, r) {
				return
			}
		}
	}
	r.Kind, r.Envelope, r.Text = Broker, None, line
}

// finish splits the broker's timestamp off a complete broker record and
// counts the record.
func (d *Decoder) finish(r *Record) {
	// A plain line is as long as the reader let it be; what an envelope
	// held is cut at the bound, as a joined line is.
	if r.Envelope != None && len(r.Text) > d.o.maxLine && (r.Kind == Broker || r.Kind == Other) {
		r.Text, r.Truncated = r.Text[:d.o.maxLine], true
	}
	switch r.Kind {
	case Broker:
		msg, t, ok := brokerlog.SplitIn(r.Text, d.o.loc)
		r.Msg = msg
		if ok && !t.IsZero() {
			r.Time = t
		} else {
			r.Time = r.Meta.Time
		}
		d.stats.Broker++
	case Other:
		r.Msg = r.Text
		r.Time = r.Meta.Time
		d.stats.Other++
		d.countOther(r.Meta)
	case Partial:
		d.stats.Partial++
		return
	case Unreadable:
		d.stats.Unreadable++
		return
	}
	d.byEnv[r.Envelope]++
	if r.Parts > 1 {
		d.stats.Joined++
	}
	if r.Truncated {
		d.stats.Truncated++
	}
	if r.Unfinished {
		d.stats.Unfinished++
	}
}

func (d *Decoder) countOther(m Meta) {
	name := m.Program
	if name == "" {
		name = m.Unit
	}
	if name == "" {
		name = m.Container
	}
	if d.others == nil {
		d.others = make(map[string]int64)
	}
	if _, seen := d.others[name]; seen || len(d.others) < maxOtherNames {
		if !seen {
			name = strings.Clone(name) // keep no line's memory alive
		}
		d.others[name]++
	}
}

// Stats returns what the Decoder has counted so far.
func (d *Decoder) Stats() Stats {
	s := d.stats
	s.Envelopes = make(map[Format]int64)
	for f, n := range d.byEnv {
		if n > 0 {
			s.Envelopes[Format(f)] = n
		}
	}
	s.OtherPrograms = make(map[string]int64, len(d.others))
	for k, v := range d.others {
		s.OtherPrograms[k] = v
	}
	return s
}

// unreadable makes r an Unreadable record.
func (d *Decoder) unreadable(r *Record, f Format, field string, at int, reason string) {
	*r = Record{Kind: Unreadable, Envelope: f, Parts: 1, Err: &Error{Envelope: f, Field: field, At: at, Reason: reason}}
}

// Error says why a line could not be read.
type Error struct {
	// Envelope is the envelope the line was read as.
	Envelope Format
	// Field is the part of the line that could not be read: "log",
	// "MESSAGE", "timestamp", "stream", "tag", "prefix"...
	Field string
	// At is the byte offset in the line where reading failed.
	At int
	// Reason says what was wrong.
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s envelope, %s at byte %d: %s", e.Envelope, e.Field, e.At, e.Reason)
}

// owner classifies a record whose envelope names the program(s) that
// wrote it: Broker when one of the names is a configured program.
func (d *Decoder) owner(names ...string) Kind {
	if d.anyProg {
		return Broker
	}
	for _, n := range names {
		if n != "" && d.isProgram(n) {
			return Broker
		}
	}
	return Other
}

// isProgram reports whether one of the configured program names occurs in
// name as a whole word (bounded by the ends or by bytes that are neither
// letters nor digits; digits may follow the name), ignoring case. The last answer is remembered: a
// log's lines name the same few programs over and over.
func (d *Decoder) isProgram(name string) bool {
	c := &d.prog
	if c.n == len(name) && string(c.name[:c.n]) == name {
		return c.ok
	}
	ok := false
	for _, p := range d.o.programs {
		if ok = hasWord(name, p); ok {
			break
		}
	}
	if len(name) <= len(c.name) {
		c.n = copy(c.name[:], name)
		c.ok = ok
	}
	return ok
}

// hasWord reports whether lower-case word occurs in s as a whole word,
// ignoring case: bounded by the ends or by bytes that are neither letters
// nor digits, except that digits may follow it.
func hasWord(s, word string) bool {
	if word == "" {
		return false
	}
	for i := indexFold(s, word[0]); i >= 0 && i+len(word) <= len(s); {
		// A number may follow the name: clustered compose files call
		// their services emqx1, emqx2 (EMQX's docker-compose cluster
		// example), and compose v1 adds "_1".
		end := i + len(word)
		for end < len(s) && isDigit(s[end]) {
			end++
		}
		if (i == 0 || !isAlnum(s[i-1])) && (end == len(s) || !isAlnum(s[end])) && strings.EqualFold(s[i:i+len(word)], word) {
			return true
		}
		j := indexFold(s[i+1:], word[0])
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}

// indexFold is the index of the first byte of s equal to lower-case c in
// either case.
func indexFold(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i]|0x20 == c {
			return i
		}
	}
	return -1
}

// programCache is the last name isProgram judged.
type programCache struct {
	name [64]byte
	n    int
	ok   bool
}

// unixPrefix reports whether s starts with Mosquitto's default timestamp,
// 9 to 12 digits and ':', which starts no envelope.
func unixPrefix(s string) bool {
	i := 0
	for i < len(s) && i <= 12 && isDigit(s[i]) {
		i++
	}
	return i >= 9 && i <= 12 && i < len(s) && s[i] == ':'
}

func isAlnum(c byte) bool { return c-'0' < 10 || (c|0x20)-'a' < 26 }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// severity is the RFC 5424 severity name of n (table 2).
func severity(n int) string {
	switch n {
	case 0:
		return "emerg"
	case 1:
		return "alert"
	case 2:
		return "crit"
	case 3:
		return "err"
	case 4:
		return "warning"
	case 5:
		return "notice"
	case 6:
		return "info"
	case 7:
		return "debug"
	}
	return ""
}
