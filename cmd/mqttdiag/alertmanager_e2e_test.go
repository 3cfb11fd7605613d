package main

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/testutil/brokertest"
	"github.com/mqttdiag/mqttdiag/sink"
)

// A client-id takeover provoked on a real mosquitto reaches two real
// Alertmanagers (every replica gets every alert) with the right labels and
// annotations, stays firing while the two clients keep taking each other
// over, and resolves once they stop.
func TestAlertmanagerRealTakeover(t *testing.T) {
	t.Parallel() // a subprocess and its own temp dir, ports and state: independent of the others
	ams := []*brokertest.Alertmanager{brokertest.StartAlertmanager(t), brokertest.StartAlertmanager(t)}
	m := brokertest.StartMosquitto(t)
	const resolve = 3 * time.Second
	p := startMqttdiag(t, nil, "run", "--log-level", "debug",
		"--alertmanager", ams[0].URL, "--alertmanager", ams[1].URL+"/",
		"--instance", "e2e-host", "--alert-resolve-timeout", resolve.String(), "--alert-resend-interval", "1s",
		"--dedup-window", "1s", "--batch-wait", "50ms", m.LogPath)
	p.waitLog(t, "following", 60*time.Second)

	// Two mosquitto_sub with one client id take each other over about
	// once a second: a fault that recurs until they are stopped.
	victim := "meter-9/ä"
	from := m.LogSize(t)
	a := m.Sub(t, "-i", victim, "-t", "cmd/#")
	m.WaitLog(t, from, `New client connected .* as meter-9/ä `)
	b := m.Sub(t, "-i", victim, "-t", "cmd/#")
	m.WaitLog(t, from, `Client meter-9/ä already connected, closing old connection\.`)
	diag, _ := p.waitDiag(t, 10*time.Second, func(d *sink.Diagnosis) bool { return d.SignatureID == takeoverID })

	const name = "MqttdiagCommunicationMqttPublishIdentifierAlreadyInUse"
	firing := func(alerts []brokertest.AMAlert) *brokertest.AMAlert {
		for i := range alerts {
			if alerts[i].Labels["alertname"] == name && alerts[i].Labels["client_id"] == victim {
				return &alerts[i]
			}
		}
		return nil
	}
	var first []time.Time
	for _, am := range ams {
		al := firing(am.WaitAlerts(t, 20*time.Second, "the takeover alert", func(as []brokertest.AMAlert) bool { return firing(as) != nil }))
		want := map[string]string{"alertname": name, "signature_id": takeoverID, "severity": "warning",
			"broker": "mosquitto", "instance": "e2e-host", "client_id": victim}
		for k, v := range want {
			if al.Labels[k] != v {
				t.Errorf("%s: label %s = %q, want %q", am.URL, k, al.Labels[k], v)
			}
		}
		if al.Status.State != "active" {
			t.Errorf("state %q", al.Status.State)
		}
		if al.Annotations["summary"] != diag.Title || al.Annotations["runbook_url"] != diag.DocURL ||
			!strings.HasPrefix(al.Annotations["description"], diag.RootCause) ||
			!strings.Contains(al.Annotations["description"], "Best workaround") ||
			!strings.Contains(al.Annotations["description"], diag.Workarounds[0].Action) {
			t.Errorf("annotations %+v", al.Annotations)
		}
		if u, err := url.Parse(al.GeneratorURL); err != nil || u.Scheme != "file" || u.Path != m.LogPath || !strings.HasPrefix(u.Fragment, "L") {
			t.Errorf("generatorURL %q, want file://%s#L<line>", al.GeneratorURL, m.LogPath)
		}
		if !al.EndsAt.After(al.StartsAt) {
			t.Errorf("endsAt %v not after startsAt %v", al.EndsAt, al.StartsAt)
		}
		first = append(first, al.EndsAt)
	}

	// While the fault recurs the alert is re-sent: endsAt moves on, past
	// the first resolve deadline, and it stays active.
	for i, am := range ams {
		am.WaitAlerts(t, 20*time.Second, "endsAt moving past the first deadline", func(as []brokertest.AMAlert) bool {
			al := firing(as)
			return al != nil && al.EndsAt.After(first[i].Add(resolve))
		})
	}

	// The fault stops: the alert resolves within the resolve timeout of
	// the last takeover.
	_ = a.Process.Signal(syscall.SIGKILL)
	_ = b.Process.Signal(syscall.SIGKILL)
	stopped := time.Now()
	for _, am := range ams {
		am.WaitAlerts(t, 20*time.Second, "the alert resolving", func(as []brokertest.AMAlert) bool { return firing(as) == nil })
	}
	t.Logf("resolved %v after the clients stopped (resolve timeout %v, dedup window 1s)", time.Since(stopped).Round(100*time.Millisecond), resolve)
	if err := p.stop(t); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
}

// --alert-label-field chooses which diagnosis fields become labels: the
// given ones replace the default list.
func TestAlertLabelFields(t *testing.T) {
	am := brokertest.StartAlertmanager(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "site.log")
	sigs := filepath.Join(dir, "site.json")
	if err := os.WriteFile(sigs, []byte(`[{"id": "site/pump", "signature": "Pump fault", "severity": "warning",
		"regex": "^Pump (?P<pump>\\S+) of (?P<client_id>\\S+) failed$"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	writeLines(t, log, []string{"1795320306: Pump p-7 of meter-3 failed"})
	p := startMqttdiag(t, nil, "run", "--no-builtin", "--signatures", sigs, "--from-beginning", "--alertmanager", am.URL,
		"--alert-label-field", "pump", "--alert-label-field", "topic", "--instance", "e2e", log)
	p.waitDiag(t, 10*time.Second, func(d *sink.Diagnosis) bool { return d.SignatureID == "site/pump" })
	alerts := am.WaitAlerts(t, 20*time.Second, "the pump alert", func(as []brokertest.AMAlert) bool { return len(as) > 0 })
	l := alerts[0].Labels
	if l["pump"] != "p-7" || l["signature_id"] != "site/pump" {
		t.Errorf("labels %v: want pump=p-7", l)
	}
	if _, ok := l["client_id"]; ok {
		t.Errorf("labels %v: client_id is not among the label fields given", l)
	}
	if err := p.stop(t); err != nil {
		t.Errorf("exit: %v", err)
	}
}
