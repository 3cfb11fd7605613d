package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/testutil/brokertest"
)

// waitLogPrefix waits for a self-log record whose message starts with
// prefix.
func (p *proc) waitLogPrefix(t *testing.T, prefix string, timeout time.Duration) map[string]any {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case rec, ok := <-p.logs:
			if !ok {
				t.Fatalf("mqttdiag exited before logging %q…", prefix)
			}
			if msg, _ := rec["message"].(string); strings.HasPrefix(msg, prefix) {
				return rec
			}
		case <-deadline:
			t.Fatalf("mqttdiag did not log %q… within %v", prefix, timeout)
		}
	}
}

// Debian's stock layout with `log_type all` in conf.d, followed where
// the real broker writes: run reads the conf.d files, says no signature
// cannot fire and warns of nothing.
func TestRunBrokerConfigDebianLayout(t *testing.T) {
	d := brokertest.NewDebianTree(t)
	d.Write(t, "verbose.conf", "log_type all\n")
	d.Start(t)
	p := startMqttdiag(t, nil, "run", "--from-beginning", "--broker-config", d.Conf, d.LogPath)
	rec := p.waitLog(t, "broker configuration read", 60*time.Second)
	if files, _ := rec["files"].([]any); len(files) != 3 || files[2] != filepath.Join(d.ConfD, "verbose.conf") {
		t.Errorf("files read: %v", rec["files"])
	}
	p.waitLog(t, "broker detected from its startup banner", 60*time.Second)
	if err := p.stop(t); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	stderr := p.stderr.String()
	p.mu.Unlock()
	if strings.Contains(stderr, `"level":"warn"`) {
		t.Errorf("warnings for Debian's layout followed where the broker writes:\n%s", stderr)
	}
}

// The stock layout without settings in conf.d, followed at another file:
// run says the debug signatures cannot fire (naming include_dir as a
// place to enable them) and that the broker writes elsewhere.
func TestRunBrokerConfigWrongFile(t *testing.T) {
	d := brokertest.NewDebianTree(t)
	other := filepath.Join(t.TempDir(), "other.log")
	if err := os.WriteFile(other, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p := startMqttdiag(t, nil, "run", "--broker-config", d.Conf, other)
	rec := p.waitLogPrefix(t, "these signatures cannot fire", 30*time.Second)
	if sigs, _ := rec["signatures"].([]any); len(sigs) == 0 || !strings.Contains(sigs[0].(string), "or a file of its include_dir "+d.ConfD) {
		t.Errorf("cannot-fire warning: %v", rec)
	}
	rec = p.waitLogPrefix(t, "the broker writes its log to "+d.LogPath, 30*time.Second)
	if !strings.Contains(rec["message"].(string), "but mqttdiag follows "+other) || rec["level"] != "warn" {
		t.Errorf("input warning: %v", rec)
	}
	_ = p.stop(t)
}
