package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
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
	p.waitLog(t, "stopping: delivering what was read, then saving checkpoints", 10*time.Second)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, "SIGHUP ignored: mqttdiag is stopping", 10*time.Second)
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
