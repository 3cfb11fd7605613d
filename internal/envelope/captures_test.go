package envelope

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // America/New_York, should the machine have no zone database

	"github.com/mqttdiag/mqttdiag/internal/brokerlog"
	"github.com/mqttdiag/mqttdiag/matcher"
	"github.com/mqttdiag/mqttdiag/signatures"
)

func regexpMust(expr string) *regexp.Regexp { return regexp.MustCompile(expr) }

func errorsAs(err error, target any) bool { return errors.As(err, target) }

var (
	builtinOnce sync.Once
	builtinM    *matcher.Matcher
	builtinErr  error
)

// builtinMatcher is the matcher over the built-in pack, as mqttdiag runs it.
func builtinMatcher(t testing.TB) *matcher.Matcher {
	t.Helper()
	builtinOnce.Do(func() {
		var sigs []*signatures.Signature
		if sigs, builtinErr = signatures.Builtin(); builtinErr == nil {
			builtinM, builtinErr = matcher.New(sigs)
		}
	})
	if builtinErr != nil {
		t.Fatal(builtinErr)
	}
	return builtinM
}

// diagnosis is what the matcher made of one broker line: the line and the
// signatures that fired, with their captures.
type diagnosis struct {
	line string
	ids  []string
}

func diagnose(m *matcher.Matcher, line, msg string) diagnosis {
	d := diagnosis{line: line}
	for _, h := range m.MatchBroker(signatures.BrokerMosquitto, msg) {
		id := h.Signature.ID
		keys := make([]string, 0, len(h.Fields))
		for k := range h.Fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			id += " " + k + "=" + h.Fields[k]
		}
		d.ids = append(d.ids, id)
	}
	return d
}

func splitLines(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<16), 1<<22)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// faultsInScenario are signatures the scenario provokes; each must be
// diagnosed from the plain log and from every capture.
var faultsInScenario = []string{
	"mosquitto/client-not-authorised",
	"mosquitto/acl-deny-publish",
	"mosquitto/oversize-packet",
	"mosquitto/tls-plain-client-on-tls-listener",
	"mosquitto/startup-address-in-use",
}

// checkCaptures decodes every capture in files and checks it against
// plain.log, the same broker's lines written plain in the same run: the
// broker's records, in order, are the plain lines (stderr may add the
// lines mosquitto prints before it opens its log), with the same
// diagnoses; the envelope's time agrees with the broker's own; other
// programs' lines are Other; nothing is Unreadable.
func checkCaptures(t *testing.T, files map[string][]byte, meta captureMeta) {
	t.Helper()
	loc, err := time.LoadLocation(meta.TimeZone)
	if err != nil {
		t.Fatal(err)
	}
	m := builtinMatcher(t)
	plain := splitLines(files["plain.log"])
	if len(plain) < 50 || meta.BrokerPID == "" {
		t.Fatalf("plain.log has %d lines, broker pid %q; the scenario did not run", len(plain), meta.BrokerPID)
	}
	fired := map[string]bool{}
	diagnoseAll := func(lines []string) []diagnosis {
		var ds []diagnosis
		for _, l := range lines {
			msg, _, _ := brokerlog.Split(l)
			d := diagnose(m, l, msg)
			ds = append(ds, d)
			for _, id := range d.ids {
				fired[strings.Fields(id)[0]] = true
			}
		}
		return ds
	}
	want := diagnoseAll(plain)
	want2 := diagnoseAll(splitLines(files["second.log"]))
	for _, id := range faultsInScenario {
		if !fired[id] {
			t.Errorf("plain.log: %s never fired; the scenario did not provoke it", id)
		}
	}
	for name, b := range files {
		if name == "plain.log" || name == "second.log" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			d := NewDecoder(Location(loc), Clock(func() time.Time { return meta.Captured }))
			var got, got2 []diagnosis // the broker's, the second's
			var others, units []string
			for i, line := range splitLines(b) {
				r := d.Decode(line)
				switch r.Kind {
				case Broker:
					if r.Meta.Program == "systemd" {
						// systemd about the broker's unit: not in its log.
						units = append(units, r.Meta.Unit)
						continue
					}
					if r.Meta.PID == meta.BrokerPID {
						got = append(got, diagnose(m, r.Text, r.Msg))
					} else {
						got2 = append(got2, diagnose(m, r.Text, r.Msg))
					}
					checkBrokerMeta(t, name, i+1, r)
				case Other:
					others = append(others, r.Meta.Program)
				default:
					t.Errorf("%s:%d: %v record, %v: %q", name, i+1, r.Kind, r.Err, line)
				}
			}
			// plain is a subsequence of got; what stderr adds is the
			// warning mosquitto prints before opening its log.
			// journalctl's short modes print a tab as 8 spaces (systemd
			// 252; -o json keeps it), so those compare with tabs expanded.
			expand := func(s string) string { return s }
			if strings.HasPrefix(name, "journal-short") {
				expand = func(s string) string { return strings.ReplaceAll(s, "\t", "        ") }
			}
			sameLines(t, name, "plain.log", got, want, expand)
			sameLines(t, name, "second.log", got2, want2, expand)
			// The rsyslog files hold what other programs sent to
			// /dev/log and rsyslogd's own start; the journal what they
			// wrote to journald and journald's own lines.
			// systemd's lines there are about mosquitto.service: the
			// broker's (Decoder.aboutUnit).
			progs := []string{"CRON", "rsyslogd"}
			if strings.HasPrefix(name, "journal") {
				progs = []string{"nginx", "systemd-journald", "edgecase"}
			} else if len(units) == 0 || slices.IndexFunc(units, func(u string) bool { return u != "mosquitto.service" }) >= 0 {
				t.Errorf("%s: systemd's lines read as about the units %v, want mosquitto.service", name, units)
			}
			for _, prog := range progs {
				if !slices.Contains(others, prog) {
					t.Errorf("%s: no line of %s read as another program's (others: %v)", name, prog, others)
				}
			}
			st := d.Stats()
			if st.Unreadable != 0 || st.Broker != int64(len(got)+len(got2)+len(units)) || st.Other != int64(len(others)) {
				t.Errorf("%s: stats %+v, counted %d broker, %d about its unit and %d other", name, st, len(got)+len(got2), len(units), len(others))
			}
		})
	}
}

// sameLines checks that the plain lines (want) are, in order, among the
// broker lines of a capture (got), with the same diagnoses; the only
// lines stderr may add are the warning mosquitto prints before it opens
// its log file.
func sameLines(t *testing.T, name, plainName string, got, want []diagnosis, expand func(string) string) {
	t.Helper()
	if len(want) == 0 {
		t.Errorf("%s is empty", plainName)
		return
	}
	j := 0
	for _, g := range got {
		if j < len(want) && g.line == expand(want[j].line) {
			if !slices.Equal(g.ids, want[j].ids) {
				t.Errorf("%s: %q diagnosed %v, %s %v", name, g.line, g.ids, plainName, want[j].ids)
			}
			j++
			continue
		}
		if !strings.Contains(g.line, "Warning: Mosquitto should not be run as root/administrator.") {
			t.Errorf("%s: broker line %q is not in %s (after its line %d)", name, g.line, plainName, j)
		}
	}
	if j != len(want) {
		t.Errorf("%s: %d of %d lines of %s found in order; the first missing: %q", name, j, len(want), plainName, want[j].line)
	}
}

// checkBrokerMeta checks what the envelope said about a broker line of
// the run: the host and program, and a time that is the broker's own
// within the second the broker wrote (so a zone-less syslog time read in
// the wrong zone, or in the wrong year, is caught).
func checkBrokerMeta(t *testing.T, name string, n int, r Record) {
	t.Helper()
	if r.Envelope == None {
		t.Errorf("%s:%d: read as a plain line: %q", name, n, r.Text)
		return
	}
	if r.Meta.Host != "broker-host" || r.Meta.Program != "mosquitto" || r.Meta.PID == "" {
		t.Errorf("%s:%d: meta %+v", name, n, r.Meta)
	}
	if r.Meta.Time.IsZero() || r.Time.IsZero() {
		t.Errorf("%s:%d: no time (envelope %v, record %v)", name, n, r.Meta.Time, r.Time)
		return
	}
	// The broker's time has whole seconds; the envelope's is taken a
	// moment later (rsyslog, journald receive the line after mosquitto
	// formatted it).
	if dt := r.Meta.Time.Sub(r.Time); dt < 0 || dt >= 2*time.Second {
		t.Errorf("%s:%d: envelope time %v is %v from the broker's %v", name, n, r.Meta.Time, dt, r.Time)
	}
}

// TestCaptures checks the committed captures of the real producers
// (testdata/README.md says how they were made).
func TestCaptures(t *testing.T) {
	files := map[string][]byte{}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	files["plain.log"] = read("plain.log")
	files["second.log"] = read("second.log")
	for _, name := range []string{"rsyslog-traditional.log", "rsyslog-rfc3339.log", "rsyslog-rfc5424.log"} {
		files[name] = read(name)
	}
	for _, jm := range journalModes {
		files[jm.file] = read(jm.file)
	}
	var meta captureMeta
	if err := json.Unmarshal(read("capture.json"), &meta); err != nil {
		t.Fatal(err)
	}
	checkCaptures(t, files, meta)
}

// TestJournalCaptureEncodings reads what journalctl -o json made of two
// real entries of the capture: a message that is not UTF-8 (an array of
// its bytes) and one over 4096 bytes (null).
func TestJournalCaptureEncodings(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "journal-json.txt"))
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecoder(Programs("edgecase"))
	var texts []string
	var errs []error
	for _, line := range splitLines(b) {
		if !strings.Contains(line, `"SYSLOG_IDENTIFIER":"edgecase"`) {
			continue
		}
		switch r := d.Decode(line); r.Kind {
		case Broker:
			texts = append(texts, r.Text)
		case Unreadable:
			errs = append(errs, r.Err)
		default:
			t.Errorf("%v record", r.Kind)
		}
	}
	if len(texts) != 1 || texts[0] != "not utf-8: \xff\xfe end" {
		t.Errorf("binary message read as %q", texts)
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "MESSAGE at byte") || !strings.Contains(errs[0].Error(), "--all") {
		t.Errorf("null message: %v", errs)
	}
}
