package report

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/sink"
)

// A diagnosis is one line: time, severity, title, count, the facts with a
// file and line joined, where it was read and the best fix; text from the
// log cannot reach the terminal raw.
func TestLinesOneLinePerDiagnosis(t *testing.T) {
	at := time.Date(2026, 11, 22, 4, 5, 6, 0, time.UTC)
	ds := []*sink.Diagnosis{{
		Severity: "critical", Title: "Broker could not start",
		Fields: map[string]string{"port": "1883", "file": "/etc/mosquitto/mosquitto.conf", "line": "12", "client_id": "dev\x1b[2J 1"},
		Source: sink.Source{File: "/var/log/mosquitto/mosquitto.log", LineNumber: 57}, LogTime: &at,
		Workarounds: []sink.Workaround{{Action: "Free the port"}, {Action: "second best"}},
		Count:       3,
	}, {
		Severity: "info", Title: "no facts", ObservedAt: at,
	}, {
		Severity: "info", Title: "Client not authorised", ObservedAt: at, PartOf: "3faa896cb2054d281bf9f28c",
	}}
	var b bytes.Buffer
	if retry, err := NewLines(&b).Notify(context.Background(), ds); err != nil || retry {
		t.Fatal(retry, err)
	}
	got := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	want := []string{
		`2026-11-22 04:05:06Z CRITICAL Broker could not start ×3 — client_id="dev\x1b[2J 1" port=1883 file=/etc/mosquitto/mosquitto.conf:12 (mosquitto.log:57) — fix: Free the port`,
		`2026-11-22 04:05:06Z INFO     no facts`,
		`2026-11-22 04:05:06Z INFO     Client not authorised (part of 3faa896cb2054d281bf9f28c)`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(got), len(want), b.String())
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
	if strings.Contains(b.String(), "\x1b") {
		t.Error("a control character from the log was written raw")
	}
}
