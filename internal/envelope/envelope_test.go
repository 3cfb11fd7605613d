package envelope

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func newYork(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// decoder is a Decoder in New York whose now is 2025-03-14 12:00 there.
func decoder(t testing.TB, opts ...Option) *Decoder {
	ny := newYork(t)
	now := time.Date(2025, 3, 14, 12, 0, 0, 0, ny)
	return NewDecoder(append([]Option{Location(ny), Clock(func() time.Time { return now })}, opts...)...)
}

type want struct {
	kind    Kind
	env     Format
	text    string
	msg     string
	time    time.Time // zero: not checked
	meta    Meta      // checked field by field where set (Time excepted)
	metaT   time.Time // the envelope's time, zero: not checked
	errWhat string    // substring of Err
}

func check(t *testing.T, d *Decoder, line string, w want) Record {
	t.Helper()
	r := d.Decode(line)
	if r.Kind != w.kind || r.Envelope != w.env {
		t.Fatalf("Decode(%q) = %v %v (%v); want %v %v", line, r.Kind, r.Envelope, r.Err, w.kind, w.env)
	}
	if w.errWhat != "" {
		if r.Err == nil || !strings.Contains(r.Err.Error(), w.errWhat) {
			t.Fatalf("Decode(%q) error %v; want one saying %q", line, r.Err, w.errWhat)
		}
		var e *Error
		if !errors.As(r.Err, &e) {
			t.Fatalf("error %T is no *Error", r.Err)
		}
		return r
	}
	if r.Err != nil {
		t.Fatalf("Decode(%q) error %v", line, r.Err)
	}
	if r.Kind == Partial {
		return r
	}
	if r.Text != w.text {
		t.Errorf("Decode(%q) text %q; want %q", line, r.Text, w.text)
	}
	if w.msg != "" && r.Msg != w.msg {
		t.Errorf("Decode(%q) msg %q; want %q", line, r.Msg, w.msg)
	}
	if !w.time.IsZero() && !r.Time.Equal(w.time) {
		t.Errorf("Decode(%q) time %v; want %v", line, r.Time, w.time)
	}
	if !w.metaT.IsZero() && !r.Meta.Time.Equal(w.metaT) {
		t.Errorf("Decode(%q) envelope time %v; want %v", line, r.Meta.Time, w.metaT)
	}
	g, m := r.Meta, w.meta
	for _, f := range []struct{ name, got, want string }{
		{"host", g.Host, m.Host}, {"program", g.Program, m.Program}, {"pid", g.PID, m.PID}, {"unit", g.Unit, m.Unit},
		{"container", g.Container, m.Container}, {"pod", g.Pod, m.Pod}, {"stream", g.Stream, m.Stream},
		{"severity", g.Severity, m.Severity}, {"cursor", g.Cursor, m.Cursor},
	} {
		if f.want != "" && f.got != f.want {
			t.Errorf("Decode(%q) %s %q; want %q", line, f.name, f.got, f.want)
		}
	}
	return r
}

// TestRFC3164 decodes the examples of RFC 3164 section 5.4 and the shapes
// rsyslog's RSYSLOG_TraditionalFileFormat and journalctl -o short write.
func TestRFC3164(t *testing.T) {
	ny := newYork(t)
	d := decoder(t, Programs("su", "mosquitto"))
	// RFC 3164 5.4, example 1 (with PRI, as on the wire).
	check(t, d, "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8", want{
		kind: Broker, env: Syslog, text: "'su root' failed for lonvick on /dev/pts/8",
		meta:  Meta{Host: "mymachine", Program: "su", Severity: "crit"},
		metaT: time.Date(2024, 10, 11, 22, 14, 15, 0, ny), // October is after "now" (March 2025): last year
	})
	// A day padded with a space (RFC 3164 4.1.2), rsyslog's traditional format.
	check(t, d, "Mar  4 09:26:53 broker-host mosquitto[488]: 1741098413: Client c1 disconnected.", want{
		kind: Broker, env: Syslog, text: "1741098413: Client c1 disconnected.", msg: "Client c1 disconnected.",
		time: time.Unix(1741098413, 0), meta: Meta{Host: "broker-host", Program: "mosquitto", PID: "488"},
		metaT: time.Date(2025, 3, 4, 9, 26, 53, 0, ny),
	})
	// journalctl -o short: a zero-padded day; -o short-precise: microseconds.
	check(t, d, "Mar 04 09:26:53.123456 broker-host mosquitto[488]: Error: Address already in use", want{
		kind: Broker, env: Syslog, text: "Error: Address already in use",
		time:  time.Date(2025, 3, 4, 9, 26, 53, 123456000, ny),
		metaT: time.Date(2025, 3, 4, 9, 26, 53, 123456000, ny),
	})
	// A time a day ahead of now is last year's (a log read in January of
	// December's lines); today's is this year's.
	check(t, d, "Mar 15 13:00:00 h mosquitto[1]: x", want{kind: Broker, env: Syslog, text: "x", metaT: time.Date(2024, 3, 15, 13, 0, 0, 0, ny)})
	check(t, d, "Mar 14 13:00:00 h mosquitto[1]: x", want{kind: Broker, env: Syslog, text: "x", metaT: time.Date(2025, 3, 14, 13, 0, 0, 0, ny)})
	// systemd about the broker's unit (log_unit_*: "UNIT: MESSAGE") is
	// the broker's; about another unit, another program's, as are other
	// programs' lines in the same file, and a line with no tag.
	check(t, d, "Mar  4 09:26:53 broker-host systemd[1]: mosquitto.service: Main process exited, code=exited, status=3/NOTIMPLEMENTED", want{
		kind: Broker, env: Syslog, text: "mosquitto.service: Main process exited, code=exited, status=3/NOTIMPLEMENTED", meta: Meta{Program: "systemd", PID: "1", Unit: "mosquitto.service"},
	})
	check(t, d, "Mar  4 09:26:54 broker-host systemd[1]: nginx.service: Failed with result 'exit-code'.", want{
		kind: Other, env: Syslog, text: "nginx.service: Failed with result 'exit-code'.", meta: Meta{Program: "systemd", PID: "1"},
	})
	// systemd before log_unit_* prefixed the unit named it inside the
	// message (CentOS 7's 219, Raspbian's 215).
	check(t, d, "Jan 13 21:15:07 openHABianPi systemd[1]: Unit mosquitto.service entered failed state.", want{
		kind: Broker, env: Syslog, text: "Unit mosquitto.service entered failed state.", meta: Meta{Host: "openHABianPi", Program: "systemd", PID: "1", Unit: "mosquitto.service"},
	})
	check(t, d, "Jan 13 21:15:08 openHABianPi systemd[1]: mosquitto.service start request repeated too quickly, refusing to start.", want{
		kind: Broker, env: Syslog, text: "mosquitto.service start request repeated too quickly, refusing to start.", meta: Meta{Host: "openHABianPi", Program: "systemd", PID: "1", Unit: "mosquitto.service"},
	})
	check(t, d, "Jan 13 21:15:08 h systemd[1]: Unit nginx.service entered failed state.", want{
		kind: Other, env: Syslog, text: "Unit nginx.service entered failed state.", meta: Meta{Host: "h", Program: "systemd", PID: "1"},
	})
	check(t, d, "Jan 13 21:15:08 h systemd[1]: Stopping Mosquitto MQTT Broker...", want{
		kind: Other, env: Syslog, text: "Stopping Mosquitto MQTT Broker...", meta: Meta{Host: "h", Program: "systemd", PID: "1"},
	})
	check(t, d, "Jan 13 21:15:08 h systemd[1]: mosquitto.conf is not a unit.", want{
		kind: Other, env: Syslog, text: "mosquitto.conf is not a unit.", meta: Meta{Host: "h", Program: "systemd", PID: "1"},
	})
	// systemd's summary of a failed start names the unit by its
	// description (job.c's "Failed to start %s."): the broker's when the
	// description names a broker or MQTT, as the brokers' own units'
	// descriptions do (pasted in eclipse/mosquitto#672 and #1603 and
	// emqx/emqx#5238); another unit's failure stays another program's.
	dd := decoder(t) // the default programs, EMQX's among them
	for _, desc := range []string{"Mosquitto MQTT Broker", "Mosquitto MQTT v3.1/v3.1.1 Broker", "LSB: Erlang MQTT Broker", "emqx daemon"} {
		check(t, dd, "Jan 13 21:15:08 openHABianPi systemd[1]: Failed to start "+desc+".", want{
			kind: Broker, env: Syslog, text: "Failed to start " + desc + ".", meta: Meta{Host: "openHABianPi", Program: "systemd", PID: "1"},
		})
	}
	check(t, d, "Jan 13 21:15:08 h systemd[1]: Failed to start mosquitto.service - Mosquitto MQTT Broker.", want{
		kind: Broker, env: Syslog, text: "Failed to start mosquitto.service - Mosquitto MQTT Broker.", meta: Meta{Host: "h", Program: "systemd", PID: "1", Unit: "mosquitto.service"},
	})
	for _, text := range []string{
		"Failed to start PostgreSQL RDBMS.",
		"Failed to start zigbee2mqtt.",                          // "mqtt" inside a word
		"Failed to start nginx.service - MQTT dashboard proxy.", // the unit, not the description, decides
		"Failed to start Mosquitto MQTT Broker",                 // not systemd's sentence
		"Started Mosquitto MQTT Broker.",
	} {
		check(t, d, "Mar  4 09:26:55 broker-host systemd[1]: "+text, want{
			kind: Other, env: Syslog, text: text, meta: Meta{Host: "broker-host", Program: "systemd", PID: "1"},
		})
	}
	check(t, d, "Mar  4 09:26:53 broker-host -- MARK --", want{kind: Other, env: Syslog, text: "-- MARK --", meta: Meta{Host: "broker-host"}})
	// rsyslog escapes control characters as '#' and octal: a tab is #011.
	check(t, d, "Mar  4 09:26:53 h mosquitto[1]: 1741098413: #011plant/# (QoS 0)", want{kind: Broker, env: Syslog, text: "1741098413: \tplant/# (QoS 0)"})
	check(t, d, "Mar  4 09:26:53 h mosquitto[1]: topic #100 is #1", want{kind: Broker, env: Syslog, text: "topic #100 is #1"})
}

// TestLocalMonths: journalctl's short output names the month in the
// host's locale (strftime "%b", systemd src/shared/logs-show.c); glibc's
// abbreviations are read as the month they stand for, of any length and
// case, and a word that is no month's name leaves the line plain.
func TestLocalMonths(t *testing.T) {
	ny := newYork(t)
	d := decoder(t)
	for _, c := range []struct {
		line string
		mon  time.Month
		day  int
	}{
		{"gen 23 10:45:17 localhost.localdomain mosquitto[4046]: 1453542317: x", time.January, 23}, // it_IT
		{"ott 05 17:43:49 localhost.localdomain mosquitto[15050]: 1475682229: x", time.October, 5}, // it_IT
		{"Mär 04 09:26:53 h mosquitto[1]: x", time.March, 4},                                       // de_DE
		{"Okt  4 09:26:53 h mosquitto[1]: x", time.October, 4},                                     // de_DE, space-padded
		{"déc. 04 09:26:53 h mosquitto[1]: x", time.December, 4},                                   // fr_FR
		{"maalis 04 09:26:53 h mosquitto[1]: x", time.March, 4},                                    // fi_FI
		{"дек 04 09:26:53 h mosquitto[1]: x", time.December, 4},                                    // ru_RU
		{"mar 04 09:26:53 h mosquitto[1]: x", time.March, 4},                                       // es_ES, it_IT
		{"Şub 04 09:26:53 h mosquitto[1]: x", time.February, 4},                                    // tr_TR
	} {
		r := d.Decode(c.line)
		if r.Kind != Broker || r.Envelope != Syslog || r.Msg != "x" {
			t.Errorf("Decode(%q) = %v %v msg %q; want a syslog line of mosquitto, msg x", c.line, r.Kind, r.Envelope, r.Msg)
			continue
		}
		year := 2025
		if c.mon > time.March {
			year = 2024 // later than "now" (March 2025): last year
		}
		if want := time.Date(year, c.mon, c.day, r.Meta.Time.Hour(), r.Meta.Time.Minute(), r.Meta.Time.Second(), 0, ny); !r.Meta.Time.Equal(want) {
			t.Errorf("Decode(%q) envelope time %v; want %v", c.line, r.Meta.Time, want)
		}
	}
	for _, line := range []string{
		"foo 04 09:26:53 h mosquitto[1]: x",
		"gennaio 04 09:26:53 h mosquitto[1]: x", // a full name, not %b
		"set 4 09:26:53",
	} {
		if r := d.Decode(line); r.Envelope != None || r.Text != line {
			t.Errorf("Decode(%q) = %v %v %q; want a plain line", line, r.Kind, r.Envelope, r.Text)
		}
	}
}

// TestSyslogRFC3339 decodes rsyslog's RSYSLOG_FileFormat and journalctl's
// short-iso, short-iso-precise, short-full and short-unix.
func TestSyslogRFC3339(t *testing.T) {
	ny := newYork(t)
	d := decoder(t)
	at := time.Date(2026, 12, 5, 4, 10, 10, 497192000, ny)
	for _, line := range []string{
		"2026-12-05T04:10:10.497192-05:00 broker-host mosquitto[31496]: 1796461810: mosquitto version 2.0.11 starting", // rsyslog
		"2026-12-05T04:10:10.497192-0500 broker-host mosquitto[31496]: 1796461810: mosquitto version 2.0.11 starting",  // short-iso-precise
		"1796461810.497192 broker-host mosquitto[31496]: 1796461810: mosquitto version 2.0.11 starting",                // short-unix
	} {
		check(t, d, line, want{kind: Broker, env: Syslog, text: "1796461810: mosquitto version 2.0.11 starting", msg: "mosquitto version 2.0.11 starting",
			time: time.Unix(1796461810, 0), metaT: at, meta: Meta{Host: "broker-host", Program: "mosquitto", PID: "31496"}})
	}
	// short-full prints the zone's abbreviation: New York's is read in
	// the Decoder's zone, UTC as UTC.
	check(t, d, "Sat 2026-12-05 04:10:10 EST broker-host mosquitto[31496]: hello", want{kind: Broker, env: Syslog, text: "hello", metaT: time.Date(2026, 12, 5, 9, 10, 10, 0, time.UTC)})
	check(t, d, "Sat 2026-12-05 09:10:10 UTC broker-host mosquitto[31496]: hello", want{kind: Broker, env: Syslog, text: "hello", metaT: time.Date(2026, 12, 5, 9, 10, 10, 0, time.UTC)})
	check(t, d, "Sat 2026-12-05 14:40:10 +0530 broker-host mosquitto[31496]: hello", want{kind: Broker, env: Syslog, text: "hello", metaT: time.Date(2026, 12, 5, 9, 10, 10, 0, time.UTC)})
}

// TestRFC5424 decodes the examples of RFC 5424 section 6.5 and rsyslog's
// RSYSLOG_SyslogProtocol23Format.
func TestRFC5424(t *testing.T) {
	d := decoder(t, Programs("su", "myproc", "evntslog", "mosquitto"))
	check(t, d, "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \ufeff'su root' failed for lonvick on /dev/pts/8", want{
		kind: Broker, env: RFC5424, text: "'su root' failed for lonvick on /dev/pts/8",
		metaT: time.Date(2003, 10, 11, 22, 14, 15, 3e6, time.UTC), meta: Meta{Host: "mymachine.example.com", Program: "su", Severity: "crit"},
	})
	check(t, d, "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.", want{
		kind: Broker, env: RFC5424, text: "%% It's time to make the do-nuts.",
		metaT: time.Date(2003, 8, 24, 12, 14, 15, 3000, time.UTC), meta: Meta{Host: "192.0.2.1", Program: "myproc", PID: "8710", Severity: "notice"},
	})
	check(t, d, `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] `+"\ufeff"+`An application event log entry...`, want{
		kind: Broker, env: RFC5424, text: "An application event log entry...",
	})
	// Structured data only, no MSG; and an escaped ']' in a value.
	check(t, d, `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]`, want{kind: Broker, env: RFC5424, text: ""})
	check(t, d, `<165>1 - - evntslog - - [a@1 x="a\]b\"c"] hi`, want{kind: Broker, env: RFC5424, text: "hi"})
	// rsyslog keeps the space after the tag of a local message.
	check(t, d, "<30>1 2026-12-05T04:10:10.497561-05:00 broker-host mosquitto 31496 - -  1796461810: Config loaded from mosquitto.conf.", want{
		kind: Broker, env: RFC5424, text: "1796461810: Config loaded from mosquitto.conf.", meta: Meta{PID: "31496", Severity: "info"},
	})
	check(t, d, "<46>1 2026-12-05T04:10:10.288187-05:00 broker-host rsyslogd - - -  [origin software=\"rsyslogd\"] start", want{kind: Other, env: RFC5424, text: `[origin software="rsyslogd"] start`})
}

// TestJournalJSON decodes journalctl -o json entries (systemd.io
// JOURNAL_EXPORT_FORMATS, "Journal JSON Format"), as systemd 252 wrote
// them in testdata/journal-json.txt.
func TestJournalJSON(t *testing.T) {
	d := decoder(t)
	line := `{"_UID":"0","_PID":"31496","PRIORITY":"6","_TRANSPORT":"stdout","SYSLOG_IDENTIFIER":"mosquitto","_HOSTNAME":"broker-host","MESSAGE":"1796461810: Client \u003cunknown\u003e disconnected, not authorised.","__CURSOR":"s=f7;i=dc","__REALTIME_TIMESTAMP":"1796461810497192","_COMM":"mosquitto","_SYSTEMD_UNIT":"mosquitto.service"}`
	check(t, d, line, want{kind: Broker, env: Journal, text: "1796461810: Client <unknown> disconnected, not authorised.", msg: "Client <unknown> disconnected, not authorised.",
		time: time.Unix(1796461810, 0), metaT: time.UnixMicro(1796461810497192),
		meta: Meta{Host: "broker-host", Program: "mosquitto", PID: "31496", Unit: "mosquitto.service", Severity: "info", Cursor: "s=f7;i=dc"}})
	// json-seq: RFC 7464's record separator in front.
	check(t, d, "\x1e"+line, want{kind: Broker, env: Journal, text: "1796461810: Client <unknown> disconnected, not authorised."})
	// The unit alone can name the broker (a snap's); _COMM too.
	check(t, d, `{"MESSAGE":"x","__CURSOR":"c","_SYSTEMD_UNIT":"snap.mosquitto.mosquitto.service","SYSLOG_IDENTIFIER":"sh"}`, want{kind: Broker, env: Journal, text: "x"})
	check(t, d, `{"MESSAGE":"Started mosquitto.service.","__CURSOR":"c","SYSLOG_IDENTIFIER":"systemd","_SYSTEMD_UNIT":"init.scope"}`, want{kind: Other, env: Journal, text: "Started mosquitto.service."})
	// systemd 252 about a unit: UNIT names it (log_unit_struct).
	check(t, d, `{"MESSAGE":"mosquitto.service: Failed with result 'exit-code'.","UNIT":"mosquitto.service","__CURSOR":"c","SYSLOG_IDENTIFIER":"systemd","_SYSTEMD_UNIT":"init.scope"}`, want{kind: Broker, env: Journal, text: "mosquitto.service: Failed with result 'exit-code'.", meta: Meta{Program: "systemd", Unit: "mosquitto.service"}})
	check(t, d, `{"MESSAGE":"Failed to start mosquitto.service - Mosquitto MQTT Broker.","UNIT":"mosquitto.service","__CURSOR":"c","SYSLOG_IDENTIFIER":"systemd","_SYSTEMD_UNIT":"init.scope"}`, want{kind: Broker, env: Journal, text: "Failed to start mosquitto.service - Mosquitto MQTT Broker.", meta: Meta{Program: "systemd", Unit: "mosquitto.service"}})
	check(t, d, `{"MESSAGE":"nginx.service: Failed with result 'exit-code'.","UNIT":"nginx.service","__CURSOR":"c","SYSLOG_IDENTIFIER":"systemd","_SYSTEMD_UNIT":"init.scope"}`, want{kind: Other, env: Journal, text: "nginx.service: Failed with result 'exit-code'."})
	// A value that is not UTF-8 is an array of bytes; a field with several
	// values an array of them.
	check(t, d, `{"MESSAGE":[110,111,116,32,255,254],"__CURSOR":"c","SYSLOG_IDENTIFIER":"mosquitto"}`, want{kind: Broker, env: Journal, text: "not \xff\xfe"})
	check(t, d, `{"MESSAGE":["first","second"],"__CURSOR":"c","SYSLOG_IDENTIFIER":"mosquitto"}`, want{kind: Broker, env: Journal, text: "first"})
	// Over 4096 bytes journalctl writes null: the broker's is reported,
	// another program's skipped.
	check(t, d, `{"MESSAGE":null,"__CURSOR":"c","SYSLOG_IDENTIFIER":"mosquitto"}`, want{kind: Unreadable, env: Journal, errWhat: "--all"})
	check(t, d, `{"MESSAGE":null,"__CURSOR":"c","SYSLOG_IDENTIFIER":"kernel"}`, want{kind: Other, env: Journal})
	// A broken entry is Unreadable; an object that is neither envelope
	// (EMQX's own JSON log) is a plain line.
	check(t, d, `{"MESSAGE":"x","__CURSOR":"c","SYSLOG_IDENTIFIER":"mosquitto"`, want{kind: Unreadable, env: Journal, errWhat: "invalid JSON"})
	emqx := `{"time":1741944413123456,"level":"warning","msg":"authentication_failure","clientid":"sensor-42"}`
	check(t, d, emqx, want{kind: Broker, env: None, text: emqx, msg: `"level":"warning","msg":"authentication_failure","clientid":"sensor-42"}`})
}

// TestDockerJSONFile decodes json-file records as moby's jsonfilelog
// writes them (daemon/logger/jsonfilelog/jsonlog/jsonlogbytes.go: '<',
// '>' and '&' as \u003c..., a complete line ends in "\n").
func TestDockerJSONFile(t *testing.T) {
	d := decoder(t)
	at := time.Date(2025, 3, 14, 9, 26, 53, 123456789, time.UTC)
	r := check(t, d, `{"log":"1741944413: Client \u003cunknown\u003e disconnected due to protocol error.\n","stream":"stderr","time":"2025-03-14T09:26:53.123456789Z"}`, want{
		kind: Broker, env: Docker, text: "1741944413: Client <unknown> disconnected due to protocol error.", msg: "Client <unknown> disconnected due to protocol error.",
		time: time.Unix(1741944413, 0), metaT: at, meta: Meta{Stream: "stderr"},
	})
	if r.Parts != 1 {
		t.Errorf("parts %d", r.Parts)
	}
	// attrs (labels, env, tag) between stream and time.
	check(t, d, `{"log":"hello\r\n","stream":"stdout","attrs":{"tag":"mosquitto","n":[1,2.5e3,true,null,{}]},"time":"2025-03-14T09:26:53Z"}`, want{kind: Broker, env: Docker, text: "hello", meta: Meta{Stream: "stdout"}})
	// Escapes other than the final newline are decoded.
	check(t, d, `{"log":"a\"b\\c\ttab \u00e9 \ud83d\ude00 \u2028\n","stream":"stdout","time":"2025-03-14T09:26:53Z"}`, want{kind: Broker, env: Docker, text: "a\"b\\c\ttab é 😀 \u2028"})
	// Broken records are Unreadable, naming the field.
	check(t, d, `{"log":"abc`, want{kind: Unreadable, env: Docker, errWhat: "unterminated string"})
	check(t, d, `{"log":"a\qb\n","stream":"stdout","time":"2025-03-14T09:26:53Z"}`, want{kind: Unreadable, env: Docker, errWhat: "log at byte 7: invalid escape"})
	check(t, d, `{"log":"x\n","stream":"stdout","time":"yesterday"}`, want{kind: Unreadable, env: Docker, errWhat: "time at byte"})
	check(t, d, `{"log":"x\n","stream":"stdout","time":"2025-03-14T09:26:53Z"} trailing`, want{kind: Unreadable, env: Docker, errWhat: "data after the JSON object"})
}

// TestDockerSplitLine: moby's copier (daemon/logger/copier.go) cuts a line
// longer than its 16 KiB buffer into records without "\n", the last one
// with it; stdout and stderr are cut separately and interleave.
func TestDockerSplitLine(t *testing.T) {
	d := decoder(t)
	long := "1741944413: Received PUBLISH from c (d0, q0, r0, m0, '" + strings.Repeat("t", 40000) + "', ... (1 bytes))"
	recs := dockerRecords(long, "stderr", time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC))
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
	}
	check(t, d, recs[0], want{kind: Partial, env: Docker})
	check(t, d, `{"log":"1741944413: on stdout meanwhile\n","stream":"stdout","time":"2025-03-14T09:26:54Z"}`, want{kind: Broker, env: Docker, text: "1741944413: on stdout meanwhile"})
	check(t, d, recs[1], want{kind: Partial, env: Docker})
	if d.Pending() != 2 {
		t.Errorf("pending %d", d.Pending())
	}
	r := check(t, d, recs[2], want{kind: Broker, env: Docker, text: long, metaT: time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC), meta: Meta{Stream: "stderr"}})
	if r.Parts != 3 || r.Truncated || d.Pending() != 0 {
		t.Errorf("parts %d truncated %v pending %d", r.Parts, r.Truncated, d.Pending())
	}
	st := d.Stats()
	if st.Partial != 2 || st.Joined != 1 || st.Broker != 2 {
		t.Errorf("stats %+v", st)
	}
}

// TestCRI decodes the Kubernetes container log format (kubelet's
// parseCRILog; containerd's internal/cri/io/logger.go writes it).
func TestCRI(t *testing.T) {
	d := decoder(t)
	at := time.Date(2016, 10, 6, 0, 17, 9, 669794202, time.UTC)
	check(t, d, "2016-10-06T00:17:09.669794202Z stdout F 1475713029: Client c1 disconnected.", want{
		kind: Broker, env: CRI, text: "1475713029: Client c1 disconnected.", msg: "Client c1 disconnected.", time: time.Unix(1475713029, 0), metaT: at, meta: Meta{Stream: "stdout"},
	})
	// CRI-O writes the node's offset; an empty line; tags after ':'.
	check(t, d, "2016-10-06T02:17:09.669794202+02:00 stderr F:x Error: Unable to open config file /x.", want{kind: Broker, env: CRI, text: "Error: Unable to open config file /x.", metaT: at, meta: Meta{Stream: "stderr"}})
	check(t, d, "2016-10-06T00:17:09.669794202Z stdout F ", want{kind: Broker, env: CRI, text: ""})
	check(t, d, "2016-10-06T00:17:09.669794202Z stdout F", want{kind: Broker, env: CRI, text: ""})
	// P pieces up to the F record, per stream.
	check(t, d, "2016-10-06T00:17:09.669794202Z stderr P 1475713029: Client ", want{kind: Partial, env: CRI})
	check(t, d, "2016-10-06T00:17:09.7Z stdout F other stream", want{kind: Broker, env: CRI, text: "other stream"})
	check(t, d, "2016-10-06T00:17:09.8Z stderr P x has exceeded timeout", want{kind: Partial, env: CRI})
	r := check(t, d, "2016-10-06T00:17:09.9Z stderr F , disconnecting.", want{kind: Broker, env: CRI, text: "1475713029: Client x has exceeded timeout, disconnecting.", metaT: at, meta: Meta{Stream: "stderr"}})
	if r.Parts != 3 {
		t.Errorf("parts %d", r.Parts)
	}
	// A bad tag is Unreadable; a time followed by no stream is no CRI line.
	check(t, d, "2016-10-06T00:17:09.669794202Z stdout X hello", want{kind: Unreadable, env: CRI, errWhat: "tag"})
	check(t, d, "2016-10-06T00:17:09.669794202Z 1475713029: Client c1 disconnected.", want{kind: Broker, env: None, msg: "Client c1 disconnected.", text: "2016-10-06T00:17:09.669794202Z 1475713029: Client c1 disconnected."})
}

// TestPiecesBounded: pieces never finished are held up to MaxLineBytes
// and handed over by Flush; a joined line over the bound is cut.
func TestPiecesBounded(t *testing.T) {
	d := decoder(t, MaxLineBytes(100))
	piece := "2016-10-06T00:17:09Z stdout P " + strings.Repeat("a", 30)
	for range 1000 {
		check(t, d, piece, want{kind: Partial, env: CRI})
	}
	if n := cap(d.pending[streamStdout].buf); n > 200 {
		t.Errorf("pending buffer grew to %d bytes with MaxLineBytes 100", n)
	}
	r := check(t, d, "2016-10-06T00:17:10Z stdout F end", want{kind: Broker, env: CRI, text: strings.Repeat("a", 100)})
	if !r.Truncated || r.Parts != 1001 {
		t.Errorf("truncated %v parts %d", r.Truncated, r.Parts)
	}
	// The container's last output without a newline: a P never finished.
	check(t, d, "2016-10-06T00:17:11Z stderr P Error: last words", want{kind: Partial, env: CRI})
	f, ok := d.Flush()
	if !ok || f.Kind != Broker || f.Text != "Error: last words" || !f.Unfinished || f.Meta.Stream != "stderr" || f.Msg != "Error: last words" {
		t.Errorf("Flush = %+v, %v", f, ok)
	}
	if _, ok := d.Flush(); ok {
		t.Error("Flush handed over twice")
	}
	st := d.Stats()
	if st.Truncated != 1 || st.Unfinished != 1 || st.Partial != 1001 {
		t.Errorf("stats %+v", st)
	}
}

// TestComposeKubectl decodes the prefixes of `docker compose logs`
// (docker/compose cmd/formatter/logs.go) and `kubectl logs --prefix`
// (kubectl pkg/cmd/logs/logs.go).
func TestComposeKubectl(t *testing.T) {
	d := decoder(t)
	check(t, d, "mosquitto-1  | 1643995716: Client c disconnected.", want{kind: Broker, env: Compose, text: "1643995716: Client c disconnected.", msg: "Client c disconnected.", meta: Meta{Program: "mosquitto-1"}})
	check(t, d, "mosquitto | 1643995716: x", want{kind: Broker, env: Compose, text: "1643995716: x"}) // as pasted in a public thread
	check(t, d, "\x1b[36mmosquitto-1  | \x1b[0m1643995716: x", want{kind: Broker, env: Compose, text: "1643995716: x"})
	check(t, d, "mosquitto_1  | 2024-03-05T07:08:09.123456789Z 1709622489: x", want{kind: Broker, env: Compose, msg: "x", time: time.Unix(1709622489, 0), text: "2024-03-05T07:08:09.123456789Z 1709622489: x"})
	check(t, d, "grafana-1    | logger=sqlstore t=2024-03-05T07:08:09Z level=error msg=x", want{kind: Other, env: Compose, text: "logger=sqlstore t=2024-03-05T07:08:09Z level=error msg=x"})
	check(t, d, "mosquitto-1  |", want{kind: Broker, env: Compose, text: ""})
	// docker service logs (docker/cli cli/command/service/logs.go):
	// "SERVICE.SLOT.TASKID@NODE    | ", with --timestamps the time first.
	check(t, d, "owntracks_mosquitto.1.y674af75frvx@dm1.example.com    | 1553915657: x", want{kind: Broker, env: Compose, msg: "x", text: "1553915657: x", meta: Meta{Program: "owntracks_mosquitto.1.y674af75frvx", Host: "dm1.example.com"}})
	check(t, d, "2021-07-13T03:16:16.828504244Z iot_emqx.1.k5lo43mwwv37@iot-gateway    | 2021-07-13 03:16:16.072 [warning] x", want{
		kind: Broker, env: Compose, msg: "[warning] x", text: "2021-07-13 03:16:16.072 [warning] x",
		meta: Meta{Program: "iot_emqx.1.k5lo43mwwv37", Host: "iot-gateway"}, metaT: time.Date(2021, 7, 13, 3, 16, 16, 828504244, time.UTC),
	})
	check(t, d, "web.1.abc@node1    | GET / 200", want{kind: Other, env: Compose, text: "GET / 200", meta: Meta{Program: "web.1.abc", Host: "node1"}})
	// A service named by the user ("MQTT", "broker"): Mosquitto's default
	// time says the line is the broker's; other lines stay another's.
	check(t, d, composeLine("MQTT", 16, false, "1520899236: Error: x"), want{kind: Broker, env: Compose, msg: "Error: x", text: "1520899236: Error: x", meta: Meta{Program: "MQTT"}})
	check(t, d, composeLine("broker-1", 10, true, "2024-03-05T07:08:09.123456789Z 1709622489: x"), want{kind: Broker, env: Compose, msg: "x", time: time.Unix(1709622489, 0), text: "2024-03-05T07:08:09.123456789Z 1709622489: x", meta: Meta{Program: "broker-1"}})
	check(t, d, composeLine("nodered-1", 10, false, "6 Dec 05:00:00 - [error] x"), want{kind: Other, env: Compose, text: "6 Dec 05:00:00 - [error] x"})
	check(t, d, composeLine("app-1", 10, false, "2024-03-05T07:08:09Z level=error msg=x"), want{kind: Other, env: Compose, text: "2024-03-05T07:08:09Z level=error msg=x", meta: Meta{Program: "app-1"}})
	check(t, d, kubectlLine("broker-0", "broker", "1643995716: Client c disconnected."), want{kind: Broker, env: Kubectl, msg: "Client c disconnected.", text: "1643995716: Client c disconnected.", meta: Meta{Pod: "broker-0", Container: "broker"}})
	check(t, d, kubectlLine("broker-0", "exporter", "ts=2024-03-05T07:08:09Z level=info msg=x"), want{kind: Other, env: Kubectl, text: "ts=2024-03-05T07:08:09Z level=info msg=x", meta: Meta{Pod: "broker-0", Container: "exporter"}})
	for _, line := range []string{"a@b@c  | x", "mosquitto@  | x", "@node  | x"} {
		if r := d.Decode(line); r.Envelope != None {
			t.Errorf("Decode(%q) = %v %v; want a plain line", line, r.Kind, r.Envelope)
		}
	}
	check(t, d, "[pod/mosquitto-7d9f8c-x2x/mosquitto] 1643995716: x", want{kind: Broker, env: Kubectl, text: "1643995716: x", meta: Meta{Pod: "mosquitto-7d9f8c-x2x", Container: "mosquitto"}})
	check(t, d, "[pod/emqx-0/emqx] 2024-03-05T07:08:09.123456+00:00 [warning] msg: x", want{kind: Broker, env: Kubectl, msg: "[warning] msg: x", text: "2024-03-05T07:08:09.123456+00:00 [warning] msg: x"})
	check(t, d, "[pod/mosquitto-0/exporter] level=error msg=x", want{kind: Other, env: Kubectl, text: "level=error msg=x"})
	check(t, d, "[pod/web-1/nginx] GET / 200", want{kind: Other, env: Kubectl, text: "GET / 200"})
}

// TestPlainStaysPlain: broker lines of every timestamp shape, and what a
// broker writes before its log is open, are no envelope in auto mode.
func TestPlainStaysPlain(t *testing.T) {
	d := decoder(t)
	for _, line := range []string{
		"1700000000: Client c disconnected.",
		"2024-03-05T07:08:09: Client x disconnected.",
		"2024-03-05 07:08:09: Client x disconnected.",
		"Mar 14 09:26:53: Client x disconnected.",
		"Fri Mar 14 09:26:53 2025: Client x disconnected.",
		"2024-03-05T07:08:09.123456+08:00 [warning] msg: session_takeover",
		"2025-03-14T09:26:53.123456+00:00 warning: {\"msg\":\"cannot_publish_to_topic\"}",
		"2021-03-09 10:33:04.530 [warning] [MQTT] clientid: x",
		"2024-03-05T07:08:09.123456789Z 1709622489: Client x disconnected.",
		"1741944413123456 [warning] msg: alarm_is_activated",
		"Error: Unable to open config file /etc/mosquitto/mosquitto.conf.",
		"Warning: Mosquitto should not be run as root/administrator.",
		"[warning] msg: x",
		"",
		"\xff\xfe",
	} {
		r := d.Decode(line)
		if r.Kind != Broker || r.Envelope != None || r.Text != line {
			t.Errorf("Decode(%q) = %v %v %q", line, r.Kind, r.Envelope, r.Text)
		}
	}
}

// TestPastedLines are the envelopes of lines users pasted in public
// threads (issue 12).
func TestPastedLines(t *testing.T) {
	d := decoder(t)
	check(t, d, "Jan 08 20:22:13 mosquitto[488]: 1641673333: Socket error on client x, disconnecting.", want{kind: Broker, env: Syslog, msg: "Socket error on client x, disconnecting.", text: "1641673333: Socket error on client x, disconnecting.", meta: Meta{PID: "488"}})
	check(t, d, "2021-09-22T07:45:51Z mosquitto.mosquitto[32470]: Error: Address already in use", want{kind: Broker, env: Syslog, text: "Error: Address already in use", meta: Meta{Program: "mosquitto.mosquitto", PID: "32470"}})
}

// TestChosenEnvelope: a chosen envelope reads only its own lines; the
// rest are Unreadable, with an error that says which envelope.
func TestChosenEnvelope(t *testing.T) {
	plain := "1700000000: Client c disconnected."
	for _, f := range []Format{Syslog, RFC5424, Journal, Docker, CRI, Compose, Kubectl} {
		d := decoder(t, Envelope(f))
		check(t, d, plain, want{kind: Unreadable, env: f, errWhat: f.String() + " envelope"})
	}
	d := decoder(t, Envelope(None))
	check(t, d, "Mar  4 09:26:53 h mosquitto[1]: x", want{kind: Broker, env: None, text: "Mar  4 09:26:53 h mosquitto[1]: x"})
	// Chosen, syslog reads tag-less RFC 3339 lines too; journal reads short lines.
	check(t, decoder(t, Envelope(Syslog)), "2026-12-05T04:10:10Z host no tag here", want{kind: Other, env: Syslog, text: "no tag here"})
	check(t, decoder(t, Envelope(Journal)), "Dec 05 04:10:10 h mosquitto[1]: x", want{kind: Broker, env: Syslog, text: "x"})
	check(t, decoder(t, Envelope(CRI)), "2016-10-06T00:17:09Z stdin F x", want{kind: Unreadable, env: CRI, errWhat: "stream"})
	if _, err := ParseFormat("journald"); err == nil || !strings.Contains(err.Error(), "auto, none, syslog") {
		t.Errorf("ParseFormat error %v", err)
	}
	for _, name := range Formats() {
		if f, err := ParseFormat(strings.ToUpper(name)); err != nil || f.String() != name {
			t.Errorf("ParseFormat(%q) = %v, %v", name, f, err)
		}
	}
}

// TestPrograms: which names are the broker's.
func TestPrograms(t *testing.T) {
	d := NewDecoder()
	for name, ok := range map[string]bool{
		"mosquitto": true, "Mosquitto": true, "mosquitto.mosquitto": true, "snap.mosquitto.mosquitto.service": true,
		"addon_core_mosquitto": true, "eclipse-mosquitto": true, "mosquitto-1": true, "emqx": true, "emqx-0": true, "emqx.service": true,
		"vernemq": true, "vernemq-1": true, "hivemq": true, "hivemq-ce-1": true, "vernemq1_1": true, "emqx2": true, "mosquitto2x": false,
		"mosquittoctl": false, "systemd": false, "": false, "mqtt": false, "emqxx": false,
	} {
		if got := d.owner(name) == Broker; got != ok {
			t.Errorf("owner(%q) broker=%v; want %v", name, got, ok)
		}
	}
	d = NewDecoder(Programs("MQTT-Broker"))
	if d.owner("mqtt-broker-1") != Broker || d.owner("mosquitto") != Other {
		t.Error("configured programs")
	}
	if NewDecoder(Programs("*")).owner("anything") != Broker {
		t.Error("* is every program")
	}
	// Stats name the programs skipped.
	d = decoder(t)
	d.Decode("Mar  4 09:26:53 h systemd[1]: x")
	d.Decode("Mar  4 09:26:53 h systemd[1]: y")
	d.Decode("Mar  4 09:26:53 h CRON[2]: z")
	if st := d.Stats(); st.OtherPrograms["systemd"] != 2 || st.OtherPrograms["CRON"] != 1 || st.Envelopes[Syslog] != 3 {
		t.Errorf("stats %+v", st)
	}
}

// TestDecodeAllocs: the common lines of every envelope decode without
// allocating.
func TestDecodeAllocs(t *testing.T) {
	d := decoder(t)
	for _, line := range []string{
		"1700000000: Client c disconnected.",
		"Mar  4 09:26:53 broker-host mosquitto[488]: 1741098413: Client c1 disconnected.",
		"2026-12-05T04:10:10.497192-05:00 broker-host mosquitto[31496]: 1796461810: Client c1 disconnected.",
		"<30>1 2026-12-05T04:10:10.497561-05:00 broker-host mosquitto 31496 - -  1796461810: Client c1 disconnected.",
		`{"_UID":"0","_PID":"31496","PRIORITY":"6","SYSLOG_IDENTIFIER":"mosquitto","_HOSTNAME":"broker-host","MESSAGE":"1796461810: Client c1 disconnected.","__CURSOR":"s=f7;i=dc","__REALTIME_TIMESTAMP":"1796461810497192"}`,
		`{"log":"1741944413: Client c1 disconnected.\n","stream":"stderr","time":"2025-03-14T09:26:53.123456789Z"}`,
		"2016-10-06T00:17:09.669794202Z stdout F 1475713029: Client c1 disconnected.",
		"mosquitto-1  | 1643995716: Client c1 disconnected.",
		"[pod/mosquitto-0/mosquitto] 1643995716: Client c1 disconnected.",
		// Plain lines that start with a word are tried as local month names.
		"Error: Unable to open config file /etc/mosquitto/mosquitto.conf.",
		"gen 23 10:45:17 broker-host mosquitto[4046]: 1453542317: Client c1 disconnected.",
		"swarm_mosquitto.1.abc@node-1    | 1553915657: Client c1 disconnected.",
	} {
		if n := testing.AllocsPerRun(200, func() { d.Decode(line) }); n != 0 {
			t.Errorf("Decode(%.40q...) allocates %v times", line, n)
		}
	}
}

// TestSyslogHeaderRepeated: a header equal to the last line's is read from
// the cache; one that differs in any field is read again.
func TestSyslogHeaderRepeated(t *testing.T) {
	d := decoder(t)
	for _, c := range []struct {
		line, host, prog, pid, text string
		kind                        Kind
	}{
		{"Mar  4 09:26:53 h1 mosquitto[1]: a", "h1", "mosquitto", "1", "a", Broker},
		{"Mar  4 09:26:54 h1 mosquitto[1]: b c", "h1", "mosquitto", "1", "b c", Broker},
		{"Mar  4 09:26:54 h1 mosquitto[12]: c", "h1", "mosquitto", "12", "c", Broker},
		{"Mar  4 09:26:54 h1 mosquitto[1]: d", "h1", "mosquitto", "1", "d", Broker},
		{"Mar  4 09:26:54 h1 mosquitto[1]:x", "", "", "", "", Other}, // no space: no tag, not the cached header
		{"Mar  4 09:26:54 h1 systemd[1]: e", "h1", "systemd", "1", "e", Other},
		{"Mar  4 09:26:54 h1 systemd[1]: f", "h1", "systemd", "1", "f", Other},
		{"Mar  4 09:26:54 mosquitto[7]: g", "", "mosquitto", "7", "g", Broker},
		{"Mar  4 09:26:54 mosquitto[7]: h", "", "mosquitto", "7", "h", Broker},
		{"Mar  4 09:26:54 h2 mosquitto: i", "h2", "mosquitto", "", "i", Broker},
		{"Mar  4 09:26:54 h2 mosquitto: j", "h2", "mosquitto", "", "j", Broker},
	} {
		r := d.Decode(c.line)
		if r.Kind != c.kind || c.kind == Broker && (r.Meta.Host != c.host || r.Meta.Program != c.prog || r.Meta.PID != c.pid || r.Text != c.text) {
			t.Errorf("Decode(%q) = %v %+v %q", c.line, r.Kind, r.Meta, r.Text)
		}
	}
}

// TestRFC5424HeaderRepeated: as TestSyslogHeaderRepeated, for RFC 5424.
func TestRFC5424HeaderRepeated(t *testing.T) {
	d := decoder(t)
	for _, c := range []struct {
		line, host, prog, pid, text string
		kind                        Kind
	}{
		{"<30>1 2026-12-05T04:10:10.1-05:00 h1 mosquitto 31 - -  a", "h1", "mosquitto", "31", "a", Broker},
		{"<30>1 2026-12-05T04:10:10.2-05:00 h1 mosquitto 31 - -  b", "h1", "mosquitto", "31", "b", Broker},
		{"<30>1 2026-12-05T04:10:10.3-05:00 h1 mosquitto 32 - -  c", "h1", "mosquitto", "32", "c", Broker},
		{"<30>1 2026-12-05T04:10:10.4-05:00 h1 rsyslogd - - -  d", "h1", "rsyslogd", "", "d", Other},
		{"<30>1 2026-12-05T04:10:10.5-05:00 h1 rsyslogd - - -  e", "h1", "rsyslogd", "", "e", Other},
		{"<30>1 2026-12-05T04:10:10.6-05:00 h1 mosquitto 32 - - \ufefff", "h1", "mosquitto", "32", "f", Broker},
	} {
		r := d.Decode(c.line)
		if r.Kind != c.kind || r.Meta.Host != c.host || r.Meta.Program != c.prog || r.Meta.PID != c.pid || r.Text != c.text {
			t.Errorf("Decode(%q) = %v %+v %q", c.line, r.Kind, r.Meta, r.Text)
		}
	}
}
