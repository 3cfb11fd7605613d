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
// (addon_core_mosquitto), and the other brokers the pack knows (VerneMQ,
// HiveMQ), whose compose services and units carry their names.
func DefaultPrograms() []string { return []string{"mosquitto", "emqx", "vernemq", "hivemq"} }

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
// whole word, case-insensitively, optionally numbered ("mosquitto" in
// "mosquitto[42]", "snap.mosquitto.mosquitto.service", "mosquitto-1" and
// "mosquitto2_1", not in "mosquittoctl"). The name "*" makes every program the broker. Envelopes
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
