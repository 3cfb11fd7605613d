// Package envelope recognises and removes what deployments wrap around a
// broker's log lines before they reach a file or a pipe: syslog (RFC 3164
// as rsyslog writes files, rsyslog's RFC 3339 file format, RFC 5424),
// journalctl's short and JSON output, Docker's json-file driver, the
// Kubernetes CRI container log format, and the prefixes of `docker compose
// logs` and `kubectl logs --prefix`.
//
// A Decoder, one per source, turns each physical line into a Record: the
// broker's line as a plain log file would hold it, the message signatures
// are matched against (brokerlog.SplitIn), the log time, and what the
// envelope said (time, host, program, pid, unit, container, pod, stream).
// It joins what a container runtime split (Docker's 16 KiB pieces, CRI
// partial lines) within a bound, says which lines belong to another
// program (a syslog file or a journal holds every daemon's lines) and
// which could not be read, and counts both.
//
// It knows nothing of files, offsets, checkpoints, signatures or delivery:
// the caller reads the lines and decides what to do with each Kind.
package envelope

//go:generate go test -count=1 -run ^TestRealProducers$ . -args -capture=testdata

import (
	"fmt"
	"strings"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/brokerlog"
)

// Format names an envelope.
type Format uint8

// The envelopes a Decoder reads. Auto, the default, recognises each line's
// envelope by its shape; any other choice reads every line as that
// envelope only, and a line that is not in it is Unreadable.
const (
	Auto Format = iota
	// None: plain broker lines, nothing is removed.
	None
	// Syslog: "TIME HOST TAG[PID]: MSG" with the times of RFC 3164
	// ("Mmm dd hh:mm:ss", rsyslog's RSYSLOG_TraditionalFileFormat;
	// journalctl -o short, short-precise), RFC 3339 (RSYSLOG_FileFormat;
	// journalctl -o short-iso, short-iso-precise), journalctl -o short-full
	// ("Www YYYY-MM-DD hh:mm:ss ZONE") and -o short-unix (seconds since the
	// epoch). As a choice it also reads RFC 5424 lines.
	Syslog
	// RFC5424: "<PRI>1 TIME HOST APP PROCID MSGID SD MSG", as rsyslog's
	// RSYSLOG_SyslogProtocol23Format writes it.
	RFC5424
	// Journal: journalctl -o json (and json-seq), one entry per line. As a
	// choice it also reads journalctl's syslog-shaped short formats.
	Journal
	// Docker: the json-file logging driver, {"log":"…\n","stream":…,"time":…}.
	Docker
	// CRI: the Kubernetes container log format, "TIME STREAM P|F MSG".
	CRI
	// Compose: `docker compose logs` prefixes, "SERVICE-1  | MSG".
	Compose
	// Kubectl: `kubectl logs --prefix` prefixes, "[pod/POD/CONTAINER] MSG".
	Kubectl
	numFormats
)

// String is the name ParseFormat reads.
func (f Format) String() string {
	switch f {
	case Auto:
		return "auto"
	case None:
		return "none"
	case Syslog:
		return "syslog"
	case RFC5424:
		return "rfc5424"
	case Journal:
		return "journal"
	case Docker:
		return "docker"
	case CRI:
		return "cri"
	case Compose:
		return "compose"
	case Kubectl:
		return "kubectl"
	}
	return fmt.Sprintf("Format(%d)", uint8(f))
}

// Formats lists the names ParseFormat accepts, Auto first.
func Formats() []string {
	names := make([]string, 0, numFormats)
	for f := Auto; f < numFormats; f++ {
		names = append(names, f.String())
	}
	return names
}

// ParseFormat reads a Format by name (case-insensitive).
func ParseFormat(s string) (Format, error) {
	for f := Auto; f < numFormats; f++ {
		if strings.EqualFold(s, f.String()) {
			return f, nil
		}
	}
	return Auto, fmt.Errorf("unknown envelope %q: use one of %s", s, strings.Join(Formats(), ", "))
}

// Kind says what the caller should do with a Record.
type Kind uint8

const (
	// Broker: a complete line of the broker; match Msg.
	Broker Kind = iota + 1
	// Other: a complete line of another program in the same log (a syslog
	// file, a journal, a compose project); skip it, it is no fault.
	Other
	// Partial: a piece of a longer line, held until the rest arrives;
	// nothing to match yet.
	Partial
	// Unreadable: the line looks like an envelope (or the chosen one) but
	// could not be read; Err says why. Report it, never as "no fault".
	Unreadable
)

func (k Kind) String() string {
	switch k {
	case Broker:
		return "broker"
	case Other:
		return "other"
	case Partial:
		return "partial"
	case Unreadable:
		return "unreadable"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Record is one decoded line.
type Record struct {
	Kind Kind
	// Envelope is the envelope the line was read as; None for a plain line.
	Envelope Format
	// Text is the broker's line without the envelope, the pieces of a split
	// line joined: what a plain log file would hold.
	Text string
	// Msg is Text without the broker's own timestamp prefix: what
	// signatures are matched against.
	Msg string
	// Time is the broker's own timestamp when Text has one, else the
	// envelope's; zero when neither says.
	Time time.Time
	// Meta is what the envelope said about the line.
	Meta Meta
	// Parts is how many physical lines the record was joined from: 1
	// unless a container runtime split the line.
	Parts int
	// Truncated reports that the joined line was longer than MaxLineBytes;
	// Text holds its first MaxLineBytes bytes.
	Truncated bool
	// Unfinished reports a record handed over by Flush whose last piece
	// never came.
	Unfinished bool
	// Err says why a line is Unreadable; nil otherwise.
	Err error
}

// Meta is what an envelope tells about a line. Fields the envelope does
// not have are empty.
type Meta struct {
	// Time is the envelope's timestamp.
	Time time.Time
	// Host is the syslog HOSTNAME or the journal's _HOSTNAME.
	Host string
	// Program is the syslog tag or APP-NAME, the journal's
	// SYSLOG_IDENTIFIER (else _COMM), or the compose service.
	Program string
	// PID is the process id the envelope names.
	PID string
	// Unit is the journal's _SYSTEMD_UNIT (or _SYSTEMD_USER_UNIT).
	Unit string
	// Container is the container name: kubectl's, or the journal's
	// CONTAINER_NAME (Docker's journald driver).
	Container string
	// Pod is the pod kubectl names (not used to tell the broker's lines:
	// a pod also holds sidecars).
	Pod string
	// Stream is "stdout" or "stderr" where the envelope says.
	Stream string
	// Severity is the syslog severity name (RFC 5424 table 2: emerg,
	// alert, crit, err, warning, notice, info, debug) from a PRI or the
	// journal's PRIORITY.
	Severity string
	// Cursor is the journal entry's __CURSOR, for a reader that resumes.
	Cursor string
}

// DefaultMaxLineBytes bounds a joined line, as the tailer bounds a
// physical one (tailer.DefaultMaxLineBytes).
const DefaultMaxLineBytes = 64 << 10

// DefaultPrograms are the names that mark a line as the broker's where the
// envelope names a program: the syslog identifiers and units Mosquitto and
// EMQX run under, including snap's (mosquitto.mosquitto,
// snap.mosquitto.mosquitto.service) and Home Assistant's add-on
// (addon_core_mosquitto).
func DefaultPrograms() []string { return []string{"mosquitto", "emqx"} }

type options struct {
	format   Format
	loc      *time.Location
	programs []string
	maxLine  int
	now      func() time.Time
}

// Option configures a Decoder.
type Option func(*options)

// Envelope chooses the envelope; Auto (the default) recognises each line's.
func Envelope(f Format) Option { return func(o *options) { o.format = f } }

// Location is the zone of timestamps that carry none: the broker's
// log_timestamp_format times and the envelope's syslog or journalctl short
// times. The default is the machine's local zone (time.Local, from TZ).
func Location(loc *time.Location) Option { return func(o *options) { o.loc = loc } }

// Programs replaces DefaultPrograms: a line whose envelope names a program
// (syslog tag or APP-NAME; the journal's identifier, unit, container or
// command; compose service; kubectl container) is the broker's when one of names appears in that name as a
// whole word, case-insensitively ("mosquitto" in "mosquitto[42]",
// "snap.mosquitto.mosquitto.service" and "mosquitto-1", not in
// "mosquittoctl"). The name "*" makes every program the broker. Envelopes
// that name no program (Docker, CRI, plain) are always the broker's.
func Programs(names ...string) Option {
	return func(o *options) { o.programs = append([]string(nil), names...) }
}

// MaxLineBytes bounds the line a Decoder joins from pieces, and a value it
// unescapes; longer lines are cut and marked Truncated. n <= 0 keeps the
// default.
func MaxLineBytes(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxLine = n
		}
	}
}

// Clock sets what now is, for the year of year-less syslog times.
func Clock(now func() time.Time) Option { return func(o *options) { o.now = now } }

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
			if t, n, ok := d.isoTime(line); ok {
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
// letters nor digits), ignoring case. The last answer is remembered: a
// log's lines name the same few programs over and over.
func (d *Decoder) isProgram(name string) bool {
	c := &d.prog
	if c.n == len(name) && string(c.name[:c.n]) == name {
		return c.ok
	}
	ok := false
	for _, p := range d.o.programs {
		if p == "" {
			continue
		}
		for i := indexFold(name, p[0]); i >= 0 && i+len(p) <= len(name); {
			if (i == 0 || !isAlnum(name[i-1])) && (i+len(p) == len(name) || !isAlnum(name[i+len(p)])) && strings.EqualFold(name[i:i+len(p)], p) {
				ok = true
				break
			}
			j := indexFold(name[i+1:], p[0])
			if j < 0 {
				break
			}
			i += 1 + j
		}
		if ok {
			break
		}
	}
	if len(name) <= len(c.name) {
		c.n = copy(c.name[:], name)
		c.ok = ok
	}
	return ok
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
