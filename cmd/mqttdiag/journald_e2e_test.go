package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/testutil/brokertest"
	"github.com/mqttdiag/mqttdiag/internal/testutil/journaltest"
	"github.com/mqttdiag/mqttdiag/sink"
)

// mosquittoStderr runs a real mosquitto on a config with an unknown
// option and returns what it printed on stderr: under systemd these lines
// reach the journal, never the log file (the broker stops before it opens
// it).
func mosquittoStderr(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nbogus_journal_option true\n", brokertest.FreePort(t))
	p := brokertest.Launch(t, dir, conf)
	if code := p.WaitExit(t); code == 0 {
		t.Fatalf("mosquitto accepted an unknown option; stderr:\n%s", p.Stderr())
	}
	out := p.Stderr()
	if !strings.Contains(out, `Unknown configuration variable "bogus_journal_option"`) {
		t.Fatalf("mosquitto's stderr lacks the unknown option:\n%s", out)
	}
	return out
}

// The case: mosquitto.service fails at start, its stderr is in the
// journal; `run journald:mosquitto.service --journal-dir DIR` diagnoses it,
// with the journal's facts (unit, program, pid, time) on the diagnosis.
// The lines go in as journald writes a unit's stderr, one entry a line,
// plus an entry whose MESSAGE is not UTF-8 (journalctl prints it as an
// array of bytes) and a line of systemd about the unit (another program's:
// skipped).
func TestRunJournaldDiagnosesMosquittoStderr(t *testing.T) {
	j := journaltest.New(t)
	stderr := mosquittoStderr(t)
	at := time.Date(2026, 12, 5, 9, 10, 11, 123456000, time.UTC)
	var es []journaltest.Entry
	for i, l := range journaltest.Lines(stderr) {
		es = append(es, journaltest.Entry{Message: l, Unit: "mosquitto.service", Identifier: "mosquitto", PID: 4242, Time: at.Add(time.Duration(i) * time.Millisecond)})
	}
	es = append(es,
		journaltest.Entry{Message: []byte("Error: Unknown configuration variable \"caf\xe9\"."), Unit: "mosquitto.service", Identifier: "mosquitto", PID: 4243, Time: at.Add(time.Second)},
		journaltest.Entry{Message: []byte("Error: Unknown configuration variable \"other_unit\"."), Unit: "nginx.service", Identifier: "mosquitto", PID: 99, Time: at.Add(time.Second)},
		// Over 4096 bytes: journalctl writes MESSAGE as null unless --all.
		journaltest.Entry{Message: []byte("Error: Unknown configuration variable \"" + strings.Repeat("x", 5000) + "\"."), Unit: "mosquitto.service", Identifier: "mosquitto", PID: 4244, Time: at.Add(2 * time.Second)},
	)
	j.Write(t, es...)

	// --envelope none (for other inputs) does not apply to journald: ones.
	p := startMqttdiag(t, nil, "run", "--from-beginning", "--envelope", "none", "--journal-dir", j.Dir, "journald:mosquitto.service")
	d, _ := p.waitDiag(t, 60*time.Second, func(d *sink.Diagnosis) bool {
		return d.SignatureID == "mosquitto/config-unknown-variable" && d.Fields["option"] == "bogus_journal_option"
	})
	if d.Source.File != "journald:mosquitto.service" {
		t.Errorf("source %q, want the input journald:mosquitto.service", d.Source.File)
	}
	e := d.Envelope
	if e == nil || e.Format != "journal" || e.Unit != "mosquitto.service" || e.Program != "mosquitto" || e.PID != "4242" {
		t.Fatalf("envelope %+v, want the journal's unit, program and pid", e)
	}
	if e.Time == nil || !e.Time.Equal(at) {
		t.Errorf("envelope time %v, want __REALTIME_TIMESTAMP %v", e.Time, at)
	}
	// The entry written as bytes (MESSAGE an array in journalctl's JSON).
	d2, _ := p.waitDiag(t, 60*time.Second, func(d *sink.Diagnosis) bool {
		return d.SignatureID == "mosquitto/config-unknown-variable" && d.Envelope != nil && d.Envelope.PID == "4243"
	})
	if d2.Fields["option"] != "caf\xe9" && d2.Fields["option"] != "caf\ufffd" {
		t.Errorf("option from a byte-array MESSAGE: %q", d2.Fields["option"])
	}
	if d2.ID == d.ID {
		t.Errorf("two entries share the diagnosis id %s", d.ID)
	}
	d3, _ := p.waitDiag(t, 60*time.Second, func(d *sink.Diagnosis) bool {
		return d.SignatureID == "mosquitto/config-unknown-variable" && d.Envelope != nil && d.Envelope.PID == "4244"
	})
	if len(d3.Fields["option"]) != 5000 {
		t.Errorf("a 5000-byte option came out as %d bytes", len(d3.Fields["option"]))
	}
	if err := p.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	for d := range p.diags {
		if d.Envelope != nil && d.Envelope.Unit == "nginx.service" {
			t.Errorf("an entry of another unit was read: %+v", d)
		}
	}
}

// journalNumbered writes numbered lines [from, to) as entries of
// mosquitto.service.
func journalNumbered(t *testing.T, j *journaltest.Journal, from, to int) {
	t.Helper()
	var es []journaltest.Entry
	for n := from; n < to; n++ {
		es = append(es, journaltest.Entry{Message: []byte(strings.TrimSuffix(numberedLine(n), "\n")), Unit: "mosquitto.service", Identifier: "mosquitto", PID: 7})
	}
	j.Write(t, es...)
}

// The restart contract of files, for the journal: killed (SIGKILL) while
// entries come in, restarted from --state, every entry is diagnosed, a
// repeat only under its first id; after a clean stop, none twice.
func TestRunJournaldKilledAndRestartedFromState(t *testing.T) {
	t.Parallel() // a subprocess and its own temp dir, ports and state: independent of the others
	j := journaltest.New(t)
	state := filepath.Join(t.TempDir(), "state.json")
	args := []string{"run", "--no-builtin", "--signatures", writePack(t), "--state", state,
		"--journal-dir", j.Dir, "--log-level", "debug", "journald:mosquitto.service"}
	journalNumbered(t, j, 900, 905) // before the first start: not read (starts at the end)

	p1 := startMqttdiag(t, nil, args...)
	c1 := collectDiags(t, p1)
	waitState(t, state, `"cursor"`) // the tail's cursor is saved at start
	journalNumbered(t, j, 0, 300)
	waitCount(t, c1, 100)
	journalNumbered(t, j, 300, 400)
	if err := p1.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p1.done
	<-c1.done
	journalNumbered(t, j, 400, 600) // while it is down

	p2 := startMqttdiag(t, nil, args...)
	c2 := collectDiags(t, p2)
	journalNumbered(t, j, 600, 700)
	c2.waitAll3(t, 700, 60*time.Second, c1)
	if err := p2.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	<-c2.done
	journalNumbered(t, j, 700, 800)
	p3 := startMqttdiag(t, nil, args...)
	c3 := collectDiags(t, p3)
	c3.waitAll3(t, 800, 60*time.Second, c1, c2)
	if err := p3.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	<-c3.done

	repeated := checkRestartContract(t, 800, "entry", c1, c2, c3)
	for i := 900; i < 905; i++ {
		if n := len(c1.byNum[i]) + len(c2.byNum[i]) + len(c3.byNum[i]); n > 0 {
			t.Errorf("entry %d, in the journal before the first start, was read %d times", i, n)
		}
	}
	t.Logf("800 entries; %d diagnosed twice across the SIGKILL (same ids), none across the SIGTERM", repeated)
}

// waitState waits for the state file to hold want.
func waitState(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		if b, err := os.ReadFile(path); err == nil && strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(path)
			t.Fatalf("state file never held %s:\n%s", want, b)
		}
	}
}

// Without journalctl, run says what to install and /readyz is not ready:
// never a silent "all clear" on an input it cannot read.
func TestRunJournaldWithoutJournalctl(t *testing.T) {
	j := journaltest.New(t)
	bin := t.TempDir() // a PATH without journalctl
	t.Setenv("PATH", bin)
	addr := fmt.Sprintf("127.0.0.1:%d", brokertest.FreePort(t))
	p := startMqttdiag(t, nil, "run", "--metrics-addr", addr, "--journal-dir", j.Dir, "journald:mosquitto.service")
	deadline := time.Now().Add(30 * time.Second)
	for {
		rec := <-p.logs
		if rec == nil {
			t.Fatal("mqttdiag exited without saying journalctl is missing")
		}
		if err, _ := rec["error"].(string); strings.Contains(err, "journalctl") {
			if !strings.Contains(err, "apt-get install systemd") {
				t.Errorf("the error does not say what to do: %s", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no error about journalctl within 30s")
		}
	}
	code, ready := getReady(t, addr)
	if code != 503 || !strings.Contains(fmt.Sprint(ready["problems"]), "journalctl") {
		t.Errorf("/readyz %d %v, want 503 naming journalctl", code, ready)
	}
	if err := p.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}

// A journal read in part must not look whole: journalctl 252 skips a
// journal file it may not open without a word and exits 0. scan, run by a
// user who may read one file of the directory but not the other (nobody,
// when the test runs as root), diagnoses what it can read, says which
// file it could not and what to do (the systemd-journal group), and exits
// non-zero.
func TestScanJournaldPartlyUnreadable(t *testing.T) {
	j := journaltest.New(t)
	lines := journaltest.Lines(mosquittoStderr(t))
	var es []journaltest.Entry
	for _, l := range lines {
		es = append(es, journaltest.Entry{Message: l, Unit: "mosquitto.service", Identifier: "mosquitto", PID: 11})
	}
	j.Write(t, es...)
	hidden := filepath.Join(j.Dir, "archived.journal")
	if err := os.Rename(filepath.Join(j.Dir, "remote.journal"), hidden); err != nil {
		t.Fatal(err)
	}
	j.Write(t, es...) // a new file, readable by all
	mode := os.FileMode(0o600)
	if os.Getuid() != 0 {
		mode = 0 // not even its owner
	}
	must(t, os.Chmod(hidden, mode))
	must(t, os.Chmod(filepath.Join(j.Dir, "remote.journal"), 0o644))
	for d := j.Dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		must(t, os.Chmod(d, 0o755))
	}
	bin := os.Args[0]
	if os.Getuid() == 0 {
		// nobody runs a copy of the test binary (its build directory is
		// root's alone).
		dir := t.TempDir()
		must(t, os.Chmod(dir, 0o755))
		bin = filepath.Join(dir, "mqttdiag.test")
		data, err := os.ReadFile(os.Args[0])
		must(t, err)
		must(t, os.WriteFile(bin, data, 0o755))
	}
	cmd := exec.Command(bin, "scan", "--format", "json", "--journal-dir", j.Dir, "journald:mosquitto.service")
	cmd.Env = append(os.Environ(), "MQTTDIAG_BE_MAIN=1")
	cmd.Dir = filepath.Dir(bin)
	if os.Getuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		t.Fatalf("scan of a journal read in part exited 0; stderr:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), hidden) || !strings.Contains(stderr.String(), "systemd-journal") {
		t.Errorf("stderr does not name the unread file and the group:\n%s", stderr.String())
	}
	if !strings.Contains(stdout.String(), `"mosquitto/config-unknown-variable"`) {
		t.Errorf("what could be read was not diagnosed; stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// systemd's own lines about mosquitto.service — PID 1 writes them with
// UNIT=mosquitto.service (log_unit_struct in src/core), and `journalctl
// --unit` matches them too — reach the diagnosis: the broker's unit
// failed. The broker's real stderr comes first, as when it fails to start.
func TestRunJournaldUnitFailed(t *testing.T) {
	t.Parallel()
	j := journaltest.New(t)
	at := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	var es []journaltest.Entry
	for i, l := range journaltest.Lines(mosquittoStderr(t)) {
		es = append(es, journaltest.Entry{Message: l, Unit: "mosquitto.service", Identifier: "mosquitto", PID: 4242, Time: at.Add(time.Duration(i) * time.Millisecond)})
	}
	pid1 := func(msg, unit string, ms int) journaltest.Entry {
		return journaltest.Entry{Message: []byte(msg), Unit: "init.scope", Identifier: "systemd", PID: 1, Time: at.Add(time.Duration(ms) * time.Millisecond),
			Fields: map[string]string{"UNIT": unit, "_TRANSPORT": "journal", "PRIORITY": "4"}}
	}
	es = append(es,
		pid1("mosquitto.service: Main process exited, code=exited, status=3/NOTIMPLEMENTED", "mosquitto.service", 500),
		pid1("mosquitto.service: Failed with result 'exit-code'.", "mosquitto.service", 501),
		// systemd 247 and later name the unit in the start job's summary
		// too (src/core/job.c), as Debian 12's 252 prints it.
		pid1("Failed to start mosquitto.service - Mosquitto MQTT Broker.", "mosquitto.service", 502),
		pid1("nginx.service: Failed with result 'exit-code'.", "nginx.service", 503),
	)
	j.Write(t, es...)
	p := startMqttdiag(t, nil, "run", "--from-beginning", "--journal-dir", j.Dir, "journald:mosquitto.service")
	d, _ := p.waitDiag(t, 60*time.Second, func(d *sink.Diagnosis) bool { return d.SignatureID == "systemd/unit-failed" })
	if d.Fields["unit"] != "mosquitto.service" || d.Fields["result"] != "exit-code" || d.Severity != "critical" {
		t.Errorf("diagnosis %s %v, want mosquitto.service's exit-code, critical", d.Severity, d.Fields)
	}
	// The process's exit and the unit's result are one failure: one
	// diagnosis carries both (part_of naming the signature itself).
	if d.Fields["status"] != "3" || d.Fields["status_name"] != "NOTIMPLEMENTED" || d.PartOf != "" {
		t.Errorf("diagnosis %v (part of %q), want the main process's status 3/NOTIMPLEMENTED on the failure's own diagnosis", d.Fields, d.PartOf)
	}
	if e := d.Envelope; e == nil || e.Program != "systemd" || e.Unit != "mosquitto.service" {
		t.Errorf("envelope %+v, want systemd about mosquitto.service", d.Envelope)
	}
	if err := p.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	details := 0
	for d := range p.diags {
		if d.Fields["unit"] == "nginx.service" {
			t.Errorf("another unit's failure was diagnosed: %+v", d.Fields)
		}
		if d.SignatureID == "systemd/unit-failed" {
			if d.PartOf == "" {
				t.Errorf("a second alert for one failure: %q", d.Line)
			}
			details++
		}
	}
	if details != 2 {
		t.Errorf("%d details of the failure, want 2 (its result and its start job's summary)", details)
	}
}
