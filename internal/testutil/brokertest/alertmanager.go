package brokertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Alertmanager is a running Prometheus Alertmanager (Debian's
// prometheus-alertmanager) on a free port of 127.0.0.1, with its cluster
// listener off and a configuration that routes every alert to a receiver
// that does nothing: tests look at its API, not at notifications.
type Alertmanager struct {
	URL string // base URL, e.g. http://127.0.0.1:40123
	Dir string
}

// StartAlertmanager starts Alertmanager and returns once /-/ready
// answers. It is stopped when the test ends.
func StartAlertmanager(t testing.TB) *Alertmanager {
	t.Helper()
	bin := RequireTool(t, "prometheus-alertmanager")
	dir := t.TempDir()
	conf := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(conf, []byte("route:\n  receiver: \"null\"\nreceivers:\n  - name: \"null\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	a := &Alertmanager{URL: "http://" + addr, Dir: dir}
	var out bytes.Buffer
	cmd := exec.Command(bin, "--config.file="+conf, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start alertmanager: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("alertmanager output:\n%s", tailOf(out.Bytes(), 4000))
		}
	})
	// Polling an HTTP endpoint: there is no event to wait on.
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(a.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return a
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("alertmanager exited: %v\n%s", err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager not ready within 15s\n%s", out.String())
		}
	}
}

// AMAlert is an alert as GET /api/v2/alerts returns it.
type AMAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Status       struct {
		State string `json:"state"`
	} `json:"status"`
}

// Alerts returns the alerts Alertmanager holds that have not resolved.
func (a *Alertmanager) Alerts(t testing.TB) []AMAlert {
	t.Helper()
	resp, err := http.Get(a.URL + "/api/v2/alerts")
	if err != nil {
		t.Fatalf("GET alerts: %v", err)
	}
	defer resp.Body.Close()
	var alerts []AMAlert
	if err := json.NewDecoder(resp.Body).Decode(&alerts); err != nil {
		t.Fatalf("decode alerts: %v", err)
	}
	return alerts
}

// WaitAlerts polls the alerts until ok holds, and returns them.
func (a *Alertmanager) WaitAlerts(t testing.TB, timeout time.Duration, what string, ok func([]AMAlert) bool) []AMAlert {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		alerts := a.Alerts(t)
		if ok(alerts) {
			return alerts
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager %s: %s not within %v; alerts: %+v", a.URL, what, timeout, alerts)
		}
		time.Sleep(100 * time.Millisecond) // HTTP polling interval
	}
}
