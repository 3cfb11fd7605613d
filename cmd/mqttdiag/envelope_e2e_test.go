package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/sink"
)

// captures are real rsyslog and journalctl output of a real mosquitto run
// (internal/envelope/testdata/README.md says how they were made), beside
// plain.log and second.log: the same brokers' lines as their log_dest file.
const captures = "../../internal/envelope/testdata/"

// scanJSON runs `scan --format json` in-process and returns its diagnoses.
func scanJSON(t *testing.T, args ...string) []*sink.Diagnosis {
	t.Helper()
	return scanJSONIn(t, "", args...)
}

// scanStdin is `scan --format json -` of input.
func scanStdin(t *testing.T, input string) []*sink.Diagnosis {
	t.Helper()
	return scanJSONIn(t, input, "-")
}

func scanJSONIn(t *testing.T, stdin string, args ...string) []*sink.Diagnosis {
	t.Helper()
	var out, errb bytes.Buffer
	args = append([]string{"scan", "--format", "json", "--no-unknown"}, args...)
	if code := execute(context.Background(), args, strings.NewReader(stdin), &out, &errb); code != 0 {
		t.Fatalf("mqttdiag %v: exit %d: %s", args, code, errb.String())
	}
	var ds []*sink.Diagnosis
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		d := new(sink.Diagnosis)
		if err := json.Unmarshal(sc.Bytes(), d); err != nil {
			t.Fatalf("%v: %q", err, sc.Text())
		}
		ds = append(ds, d)
	}
	return ds
}

// keys are the diagnoses as signature id and captures, sorted: what must
// not depend on how the line was delivered.
func keys(ds []*sink.Diagnosis) []string {
	var out []string
	for _, d := range ds {
		k := d.SignatureID
		names := make([]string, 0, len(d.Fields))
		for n := range d.Fields {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			k += " " + n + "=" + d.Fields[n]
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestScanEnvelopeCapturesDiagnoseAsPlain scans each real capture and
// wants the diagnoses of the same broker lines written plain: same
// signatures, same captures, with the envelope's metadata added.
func TestScanEnvelopeCapturesDiagnoseAsPlain(t *testing.T) {
	want := keys(scanJSON(t, captures+"plain.log", captures+"second.log"))
	if len(want) < 5 {
		t.Fatalf("plain.log and second.log give %d diagnoses: %v", len(want), want)
	}
	for _, name := range []string{"rsyslog-traditional.log", "rsyslog-rfc3339.log", "rsyslog-rfc5424.log",
		"journal-json.txt", "journal-short.txt", "journal-short-iso.txt", "journal-short-full.txt"} {
		t.Run(name, func(t *testing.T) {
			ds := scanJSON(t, "--timezone", "America/New_York", captures+name)
			// systemd's lines about the broker's unit are the broker's
			// (log_unit_*: "mosquitto.service: Main process exited, ...")
			// but are not in its own log: they must give the unit's
			// failure, and are left out of the comparison.
			var broker []*sink.Diagnosis
			for _, d := range ds {
				if d.Envelope != nil && d.Envelope.Program == "systemd" {
					if d.SignatureID != "systemd/unit-failed" || d.Fields["unit"] != "mosquitto.service" {
						t.Errorf("systemd's line %q gave %s %v, want systemd/unit-failed of mosquitto.service", d.Line, d.SignatureID, d.Fields)
					}
					continue
				}
				broker = append(broker, d)
			}
			got := keys(broker)
			if strings.HasPrefix(name, "journal") {
				// The journal also holds mosquitto's stderr, where it warns
				// of running as root before it opens its log file (as
				// internal/envelope's TestCaptures allows): drop what that
				// line alone gave.
				var kept []*sink.Diagnosis
				for _, d := range broker {
					if !strings.Contains(d.Line, "should not be run as root") {
						kept = append(kept, d)
					}
				}
				got = keys(kept)
			}
			if !slices.Equal(got, want) {
				t.Errorf("diagnoses\n got %q\nwant %q (plain)", got, want)
			}
			for _, d := range ds {
				if d.Envelope == nil || d.Envelope.Host != "broker-host" || !strings.Contains(d.Envelope.Program+d.Envelope.Unit, "mosquitto") {
					t.Errorf("%s: envelope %+v, want host broker-host and program mosquitto", d.SignatureID, d.Envelope)
				}
			}
		})
	}
}

// TestScanTextNoCleanBillForUnreadable: lines that cannot be read as the
// chosen envelope make the verdict say so, never "No known faults".
func TestScanTextNoCleanBillForUnreadable(t *testing.T) {
	var out, errb bytes.Buffer
	// plain.log read as Docker json-file: not one line is a record.
	args := []string{"scan", "--format", "text", "--color", "never", "--envelope", "docker", captures + "plain.log"}
	if code := execute(context.Background(), args, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	s := out.String()
	verdict, _, _ := strings.Cut(s, "\n")
	if strings.HasPrefix(verdict, "No known faults") || !strings.Contains(verdict, "NOT A CLEAN BILL") ||
		!strings.Contains(verdict, "218 lines could not be read as broker lines (envelope: docker envelope") {
		t.Errorf("verdict %q", verdict)
	}
	if !strings.Contains(s, "Unreadable, e.g.: 1796466913: mosquitto version 2.0.11 starting") {
		t.Errorf("no example of an unreadable line:\n%s", s)
	}

	out.Reset()
	args = []string{"signatures", "test", "--envelope", "docker", captures + "plain.log"}
	if code := execute(context.Background(), args, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if s := out.String(); strings.Contains(s, "Every fault-looking line is explained by a signature.") ||
		!strings.Contains(s, "218 lines could not be read as broker lines") || !strings.Contains(s, "not a clean bill") {
		t.Errorf("signatures test:\n%s", s)
	}
}

// TestScanTimezone reads a zone-less log_timestamp_format time in
// --timezone, and in the host's zone (TZ) by default.
func TestScanTimezone(t *testing.T) {
	// Mosquitto's log_timestamp_format %Y-%m-%dT%H:%M:%S writes local time
	// without a zone (mosquitto.conf(5), log_timestamp_format).
	path := filepath.Join(t.TempDir(), "local.log")
	line := "2026-07-01T12:00:00: Client dup already connected, closing old connection.\n"
	if err := os.WriteFile(path, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 7, 1, 12, 0, 0, 0, ny) // 16:00 UTC, EDT
	if ds := scanJSON(t, "--timezone", "America/New_York", path); len(ds) != 1 || ds[0].LogTime == nil || !ds[0].LogTime.Equal(want) {
		t.Errorf("--timezone America/New_York: diagnoses %+v, want log_time %v", ds, want)
	}
	// The default is the host's zone: TZ, read once when a process starts,
	// so a process of its own.
	t.Setenv("TZ", "America/New_York")
	p := startMqttdiag(t, strings.NewReader(""), "scan", "--no-unknown", path)
	d, _ := p.waitDiag(t, 30*time.Second, func(d *sink.Diagnosis) bool { return d.SignatureID == takeoverID })
	if d.LogTime == nil || !d.LogTime.Equal(want) {
		t.Errorf("TZ=America/New_York: log_time %v, want %v", d.LogTime, want)
	}
	if err := <-p.done; err != nil {
		t.Errorf("scan exit: %v", err)
	}
	var errb bytes.Buffer
	code := execute(context.Background(), []string{"scan", "--timezone", "Mars/Olympus", path}, strings.NewReader(""), io.Discard, &errb)
	if code == 0 || !strings.Contains(errb.String(), `--timezone "Mars/Olympus": want an IANA zone name`) {
		t.Errorf("bad zone: exit %d, %q", code, errb.String())
	}
	errb.Reset()
	code = execute(context.Background(), []string{"scan", "--envelope", "gelf", path}, strings.NewReader(""), io.Discard, &errb)
	if code == 0 || !strings.Contains(errb.String(), `--envelope "gelf": want auto, none, syslog`) {
		t.Errorf("bad envelope: exit %d, %q", code, errb.String())
	}
}
