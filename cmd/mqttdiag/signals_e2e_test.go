package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/sink"
)

// A SIGHUP (systemctl reload) that lands while run drains after SIGTERM
// must not kill it: it is ignored with a self-log, the drain goes on to
// --shutdown-timeout with the webhook down, the checkpoint of what was
// delivered is saved and the exit status is 0.
func TestSIGHUPDuringShutdownDrain(t *testing.T) {
	h := newHook(t)
	// The receiver takes the first three, then is down (503) for good.
	h.answer = func(n int, w http.ResponseWriter, _ *http.Request) bool {
		if n <= 3 {
			return false
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "mosquitto.log")
	state := filepath.Join(dir, "state.json")
	client := func(i int) string { return fmt.Sprintf("c%d", i) }
	first := takeovers(0, 3, client)
	writeLines(t, log, first)
	p := startMqttdiag(t, nil, "run", "--from-beginning", "--state", state, "--webhook", h.url(),
		"--batch-max", "1", "--batch-wait", "0s", "--dedup-window", "0s", "--shutdown-timeout", "2s", log)
	h.waitUntil(t, 10*time.Second, "the first 3 diagnoses", func(ds []*sink.Diagnosis) bool { return len(ds) >= 3 })
	writeLines(t, log, takeovers(3, 3, client))
	p.collect(t, 6, 10*time.Second)

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, "stopping: delivering what was read, then saving checkpoints", 60*time.Second)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, "SIGHUP ignored: mqttdiag is stopping", 60*time.Second)
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("exit: %v, want status 0", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("mqttdiag did not exit after SIGTERM")
	}
	p.mu.Lock()
	stderr := p.stderr.String()
	p.mu.Unlock()
	if !strings.Contains(stderr, `"mqttdiag stopped"`) {
		t.Errorf("no final self-log:\n%s", stderr)
	}
	data, err := os.ReadFile(state)
	if err != nil {
		t.Fatalf("no checkpoint saved: %v", err)
	}
	var st struct {
		Files []struct {
			Path   string `json:"path"`
			Offset int64  `json:"offset"`
		} `json:"files"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("state file: %v\n%s", err, data)
	}
	want := int64(len(strings.Join(first, "\n")) + 1)
	if len(st.Files) != 1 || st.Files[0].Path != log || st.Files[0].Offset != want {
		t.Errorf("checkpoint %s, want %s at offset %d (the delivered lines)", data, log, want)
	}
}

// exitCode is the exit status of a finished mqttdiag, -1 when a signal
// killed it (no handler ran).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -2
}

// waitExit waits for the process to end.
func (p *proc) waitExit(t *testing.T, timeout time.Duration, what string) int {
	t.Helper()
	select {
	case err := <-p.done:
		return exitCode(err)
	case <-time.After(timeout):
		t.Fatalf("mqttdiag still running %v after %s", timeout, what)
		return 0
	}
}

// A drain that cannot finish (the webhook is down, --shutdown-timeout is
// an hour) ends at the second SIGTERM, at once, with status 130 and a
// word on stderr (shared/repro/10_shutdown_timeout_zero.sh).
func TestSecondSignalEndsTheDrain(t *testing.T) {
	h := newHook(t)
	h.down()
	log := filepath.Join(t.TempDir(), "mosquitto.log")
	writeLines(t, log, takeovers(0, 3, func(i int) string { return fmt.Sprintf("c%d", i) }))
	p := startMqttdiag(t, nil, "run", "--from-beginning", "--webhook", h.url(), "--shutdown-timeout", "1h", log)
	p.collect(t, 3, 10*time.Second)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, "stopping: delivering what was read, then saving checkpoints", 60*time.Second)
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := p.waitExit(t, 10*time.Second, "the second signal"); code != 130 {
		t.Errorf("exit status %d, want 130", code)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !strings.Contains(p.stderr.String(), "second stop signal: exiting now") {
		t.Errorf("no word of the second signal:\n%s", p.stderr.String())
	}
}

// scan with a webhook that refuses connections ends within
// --shutdown-timeout of the end of its input, exits 1 and says what it
// did not deliver; no talk of a restart, which scan does not have.
func TestScanWithRefusingWebhookEnds(t *testing.T) {
	h := newHook(t)
	h.down()
	log := filepath.Join(t.TempDir(), "mosquitto.log")
	writeLines(t, log, takeovers(0, 5, func(i int) string { return fmt.Sprintf("c%d", i) }))
	p := startMqttdiag(t, nil, "scan", "--format", "json", "--webhook", h.url(), "--dedup-window", "0", "--shutdown-timeout", "1s", log)
	if code := p.waitExit(t, 20*time.Second, "the end of its input, with --shutdown-timeout 1s"); code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	stderr := p.stderr.String()
	if !strings.Contains(stderr, "mqttdiag: scan could not deliver everything: 5 diagnoses not delivered within the shutdown timeout (1s): "+sinkName(t, h.url())+": 5 pending (last error: ") {
		t.Errorf("no statement of what was not delivered:\n%s", stderr)
	}
	if !strings.Contains(stderr, `"failed_attempts":`) || !regexp.MustCompile(`"sink":"webhook [^"]*",[^\n]*"undelivered":5,`).MatchString(stderr) ||
		strings.Contains(stderr, "restart") {
		t.Errorf("scan's closing words are not honest:\n%s", stderr)
	}
}

// scan of an input that never ends a read (a FIFO without a writer: open
// blocks; /dev/zero: a line without end) still ends on SIGTERM
// (shared/repro/11_scan_unkillable.sh).
func TestScanStuckInputObeysSIGTERM(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{fifo, "/dev/zero"} {
		t.Run(filepath.Base(in), func(t *testing.T) {
			// A sink makes scan log "alerting" once its signal handling is
			// set up and just before it opens the input.
			p := startMqttdiag(t, nil, "scan", "--format", "json", "--webhook", "http://127.0.0.1:1/", in)
			p.waitLog(t, "alerting", 60*time.Second)
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if code := p.waitExit(t, 15*time.Second, "SIGTERM"); code < 0 {
				t.Errorf("killed by the signal (status %d), not stopped by it", code)
			}
		})
	}
}
