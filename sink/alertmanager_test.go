package sink

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/clock"
)

func TestAlertName(t *testing.T) {
	for id, want := range map[string]string{
		"communication/mqtt-publish-identifier-already-in-use": "MqttdiagCommunicationMqttPublishIdentifierAlreadyInUse",
		"unknown":               "MqttdiagUnknown",
		"mosquitto/tls_error.2": "MqttdiagMosquittoTlsError2",
		"emqx/ä-odd":            "MqttdiagEmqxOdd",
	} {
		if got := AlertName(id); got != want {
			t.Errorf("AlertName(%q) = %q, want %q", id, got, want)
		}
	}
	if got := LabelName("2client-id"); got != "_client_id" {
		t.Errorf("LabelName = %q", got)
	}
}

// A diagnosis becomes an alert with the labels and annotations the README
// promises; a recurrence keeps startsAt and moves endsAt; a threshold
// summary is one alert for all its clients; Refresh re-sends what is
// active and forgets what resolved.
func TestAlertmanagerAlerts(t *testing.T) {
	srv, got := receiver(t, func(int, http.ResponseWriter) {})
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	fc := clock.NewFake(now)
	am, err := NewAlertmanager(srv.URL+"/", AlertmanagerConfig{
		HTTPOptions: HTTPOptions{Clock: fc}, Instance: "edge-1", ResolveTimeout: 5 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	d := &Diagnosis{
		ID: "abc", SignatureID: "communication/mqtt-publish-identifier-already-in-use", Title: "Client id takeover",
		Severity: "warning", Broker: "mosquitto", RootCause: "Two connections share a client id.",
		Workarounds: []Workaround{{Action: "Give every device a unique client id", How: "Derive it from the serial number.", SuccessRate: 0.95}},
		DeadEnds:    []DeadEnd{{Action: "Restart the broker", WhyFails: "they reconnect", FailRate: 0.9}},
		DocURL:      "https://docs.oasis-open.org/mqtt/x.html#takeover", Line: "Client sensor-1 already connected, closing old connection.",
		Fields: map[string]string{"client_id": "sensor-1"}, Source: Source{File: "/var/log/mosquitto/mosquitto.log", LineNumber: 697},
		ObservedAt: now,
	}
	post := func(ds ...*Diagnosis) []Alert {
		t.Helper()
		if retry, err := am.Notify(context.Background(), ds); err != nil {
			t.Fatalf("retry=%v err=%v", retry, err)
		}
		r := <-got
		var alerts []Alert
		if err := json.Unmarshal(r.body, &alerts); err != nil {
			t.Fatal(err)
		}
		return alerts
	}
	alerts := post(d)
	if len(alerts) != 1 {
		t.Fatalf("got %d alerts", len(alerts))
	}
	a := alerts[0]
	wantLabels := map[string]string{"alertname": "MqttdiagCommunicationMqttPublishIdentifierAlreadyInUse", "signature_id": d.SignatureID,
		"severity": "warning", "broker": "mosquitto", "instance": "edge-1", "client_id": "sensor-1"}
	if !equalMaps(a.Labels, wantLabels) {
		t.Errorf("labels %v, want %v", a.Labels, wantLabels)
	}
	if a.Annotations["summary"] != "Client id takeover" || a.Annotations["runbook_url"] != d.DocURL ||
		!strings.Contains(a.Annotations["description"], "Two connections share a client id.") ||
		!strings.Contains(a.Annotations["description"], "Best workaround (works 95% of the time): Give every device a unique client id. Derive it") ||
		!strings.Contains(a.Annotations["description"], "Does not help: Restart the broker.") {
		t.Errorf("annotations %v", a.Annotations)
	}
	if !a.StartsAt.Equal(now) || !a.EndsAt.Equal(now.Add(5*time.Minute)) || a.GeneratorURL != "file:///var/log/mosquitto/mosquitto.log#L697" {
		t.Errorf("times %v..%v, generator %q", a.StartsAt, a.EndsAt, a.GeneratorURL)
	}

	// It recurs two minutes later: same alert, startsAt kept, endsAt moved.
	later := *d
	later.ID, later.ObservedAt = "def", now.Add(2*time.Minute)
	a = post(&later)[0]
	if !a.StartsAt.Equal(now) || !a.EndsAt.Equal(now.Add(7*time.Minute)) {
		t.Errorf("recurrence: %v..%v", a.StartsAt, a.EndsAt)
	}

	// A threshold summary: one alert across clients, who are annotated.
	th := *d
	th.SignatureID, th.Summary, th.Count, th.Clients, th.ClientCount = "mosquitto/keepalive", "threshold", 50, []string{"a", "b"}, 2
	first, last := now.Add(-time.Minute), now
	th.FirstSeen, th.LastSeen = &first, &last
	a = post(&th)[0]
	if _, ok := a.Labels["client_id"]; ok || a.Annotations["count"] != "50" || a.Annotations["clients"] != "a, b" ||
		!strings.Contains(a.Annotations["description"], "50 occurrences from") {
		t.Errorf("threshold alert %v %v", a.Labels, a.Annotations)
	}

	// Refresh re-sends the active ones; after endsAt they are forgotten.
	if n, err := am.Refresh(context.Background()); err != nil || n != 2 {
		t.Fatal(n, err)
	}
	var re []Alert
	if err := json.Unmarshal((<-got).body, &re); err != nil || len(re) != 2 {
		t.Fatalf("refresh sent %d alerts (%v)", len(re), err)
	}
	fc.Advance(6 * time.Minute)
	if n, err := am.Refresh(context.Background()); err != nil || n != 1 {
		t.Fatal(n, err)
	}
	if err := json.Unmarshal((<-got).body, &re); err != nil || len(re) != 1 || re[0].Labels["client_id"] != "sensor-1" {
		t.Fatalf("refresh after 6m sent %v (%v), want only the alert seen 2m later", re, err)
	}
	fc.Advance(2 * time.Minute)
	if n, err := am.Refresh(context.Background()); err != nil || n != 0 || len(am.Active()) != 0 {
		t.Errorf("after every endsAt: %d active (%v)", len(am.Active()), err)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
