package main

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/testutil/brokertest"
	"github.com/mqttdiag/mqttdiag/sink"
)

// Every distinct client id is a dedup key and an Alertmanager label set:
// with room for 5 keys and 3 active alerts, 40 client ids reach a real
// Alertmanager as 3 alerts of their own, one aggregate (folded="true")
// saying it folded the other 2 of the 5 sent at once, and one overflow
// alert for the 35 that found no dedup key; the webhook gets the 5 and
// the overflow summary, whose counts add up to the 40 lines.
func TestDistinctClientIDsAreBounded(t *testing.T) {
	am := brokertest.StartAlertmanager(t)
	h := newHook(t)
	log := filepath.Join(t.TempDir(), "mosquitto.log")
	writeLines(t, log, append([]string{"1795320000: mosquitto version 2.0.11 starting"},
		takeovers(0, 40, func(i int) string { return fmt.Sprintf("dev-%02d", i) })...))
	p := startMqttdiag(t, nil, "run", "--from-beginning", "--alertmanager", am.URL, "--webhook", h.url(),
		"--alert-max-active", "3", "--dedup-max-keys", "5", "--dedup-window", "2s", "--batch-wait", "50ms",
		"--alert-resend-interval", "1s", log)
	p.collect(t, 40, 30*time.Second)

	h.waitUntil(t, 30*time.Second, "40 occurrences", func(ds []*sink.Diagnosis) bool { return occurrences(ds) >= 40 })
	h.mu.Lock()
	var overflow *sink.Diagnosis
	for _, d := range h.accepted {
		if d.Summary == "overflow" {
			overflow = d
		}
	}
	n, total := len(h.accepted), occurrences(h.accepted)
	h.mu.Unlock()
	if n != 6 || total != 40 || overflow == nil || overflow.Count != 35 || overflow.ClientCount != 35 || len(overflow.Clients) != sink.MaxClients {
		t.Errorf("webhook: %d notifications counting %d, overflow summary %+v; want 6 counting 40, one overflow of 35 clients", n, total, overflow)
	}

	byKind := func(alerts []brokertest.AMAlert) (clients, folded, overflow []brokertest.AMAlert) {
		for _, a := range alerts {
			switch {
			case a.Labels["folded"] == "true":
				folded = append(folded, a)
			case a.Labels["client_id"] != "":
				clients = append(clients, a)
			default:
				overflow = append(overflow, a)
			}
		}
		return
	}
	alerts := am.WaitAlerts(t, 30*time.Second, "3 client alerts, the aggregate and the overflow alert", func(as []brokertest.AMAlert) bool {
		c, f, o := byKind(as)
		return len(c) == 3 && len(f) == 1 && len(o) == 1 && o[0].Annotations["count"] == "35"
	})
	if len(alerts) != 5 {
		t.Errorf("Alertmanager holds %d alerts, want 5", len(alerts))
	}
	_, f, _ := byKind(alerts)
	if f[0].Annotations["folded"] != "2" || f[0].Annotations["count"] != "2" || f[0].Labels["signature_id"] != takeoverID || f[0].Status.State != "active" {
		t.Errorf("aggregate alert: labels %v annotations %v state %s", f[0].Labels, f[0].Annotations, f[0].Status.State)
	}
	if err := p.stop(t); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
}
