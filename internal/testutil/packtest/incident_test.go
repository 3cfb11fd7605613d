package packtest

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/mqttdiag/mqttdiag/signatures"
	"github.com/mqttdiag/mqttdiag/sink"
)

// captureSection is one provoker's run in the committed capture: its
// log file and its stderr, two sources.
type captureSection struct {
	id          string
	log, stderr string
}

// captureSections splits examples/logs/mosquitto-2.0.11-faults.log into
// its sections, in order (each provoker ran twice).
func captureSections(t testing.TB) []captureSection {
	t.Helper()
	b, err := os.ReadFile("../../../examples/logs/mosquitto-2.0.11-faults.log")
	if err != nil {
		t.Fatal(err)
	}
	var out []captureSection
	var cur *captureSection
	part := ""
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(l, "# == "):
			id, _, _ := strings.Cut(strings.TrimPrefix(l, "# == "), ": ")
			out = append(out, captureSection{id: id})
			cur = &out[len(out)-1]
		case l == "# -- log" || l == "# -- stderr":
			part = strings.TrimPrefix(l, "# -- ")
		case cur == nil || l == "" || strings.HasPrefix(l, "#"):
		case part == "log":
			cur.log += l + "\n"
		default:
			cur.stderr += l + "\n"
		}
	}
	return out
}

// incidentDiagnoses runs a broker's log and stderr through the whole
// pipeline, one batch, each its own source, as `mqttdiag run` would with
// both files.
func incidentDiagnoses(t testing.TB, log, stderr string) []*sink.Diagnosis {
	t.Helper()
	_, m := builtin(t)
	lines := append(sourceLines("mosquitto.log", "mosquitto.log", log), sourceLines("stderr", "stderr", stderr)...)
	return runLines(t, m, lines)
}

// alerts are the diagnoses that raise an alert: warning or worse, not a
// detail of another, and not the root warning every broker of these
// tests prints when they run as root (a fault of the test host, not of
// the provoked scenario).
func alerts(ds []*sink.Diagnosis) []*sink.Diagnosis {
	var out []*sink.Diagnosis
	for _, d := range ds {
		if d.PartOf != "" || d.Severity == signatures.SeverityInfo || d.SignatureID == "mosquitto/startup-running-as-root" {
			continue
		}
		out = append(out, d)
	}
	return out
}

// oneIncident is a provoked scenario of single-cause faults: how many
// faults it provoked (one alert each), the signature of their cause, and
// the facts of neighbouring lines the cause must carry (in its fields).
type oneIncident struct {
	faults int
	cause  string
	facts  map[string]string
}

// The faults of issue 14's "done when", by the provoker that provokes
// them (see each provoker's desc for what it does).
var oneIncidentFaults = map[string]oneIncident{
	// bad password, unknown user, anonymous refused
	"mosquitto/client-not-authorised":  {3, "mosquitto/connack-not-authorised", map[string]string{"address": "127.0.0.1", "port": "", "listener_port": "", "client_id": "<unknown>"}},
	"mosquitto/connack-not-authorised": {3, "mosquitto/connack-not-authorised", map[string]string{"address": "127.0.0.1", "port": "", "listener_port": "", "client_id": "<unknown>"}},
	// plain client on a TLS port: mosquitto_pub, a raw CONNECT, HTTP, an HTTP proxy
	"mosquitto/tls-plain-client-on-tls-listener": {4, "mosquitto/tls-plain-client-on-tls-listener", nil},
	// unknown CA
	"mosquitto/tls-alert-unknown-ca": {1, "mosquitto/tls-alert-unknown-ca", map[string]string{"reason": "tlsv1 alert unknown ca", "client_id": "<unknown>", "address": "127.0.0.1", "port": "", "listener_port": ""}},
	// bad protocol: level 9, MQIsdp at level 4, protocol name MQTX
	"mosquitto/connect-invalid-protocol": {3, "mosquitto/connect-invalid-protocol", map[string]string{"address": "127.0.0.1", "port": "", "listener_port": "", "client_id": "<unknown>"}},
	// double CONNECT
	"mosquitto/multiple-connect": {1, "mosquitto/multiple-connect", map[string]string{"client_id": "twice"}},
	// missing certfile, keyfile of another certificate, missing cafile
	"mosquitto/tls-listener-file-load-failed": {3, "mosquitto/tls-listener-file-load-failed", map[string]string{"openssl_code": "", "reason": "", "option": ""}},
	// unwritable persistence
	"mosquitto/persistence-save-failed": {1, "mosquitto/persistence-save-failed", map[string]string{"file": "missing-dir//mosquitto.db.new", "reason": "No such file or directory"}},
	"mosquitto/persistence-errno":       {1, "mosquitto/persistence-save-failed", map[string]string{"reason": "No such file or directory"}},
	// missing password file, missing ACL file, both
	"mosquitto/password-file-unreadable":  {1, "mosquitto/password-file-unreadable", map[string]string{"file": "missing.passwd", "kind": "password"}},
	"mosquitto/acl-file-unreadable":       {1, "mosquitto/acl-file-unreadable", map[string]string{"file": "missing.acl", "kind": "acl"}},
	"mosquitto/security-file-load-failed": {2, "", map[string]string{"kind": ""}},
	// the neighbouring line names what the fault's own line does not:
	// the port that is in use, the bridge that cannot connect
	"mosquitto/startup-address-in-use": {1, "mosquitto/startup-address-in-use", map[string]string{"port": ""}},
	"mosquitto/bridge-connect-failed":  {1, "mosquitto/bridge-connect-failed", map[string]string{"bridge": "br-down"}},
	// a config error and where it is
	"mosquitto/config-error-location": {1, "mosquitto/config-unknown-variable", map[string]string{"option": "allow_anonymus", "file": "mosquitto.conf", "line": "5"}},
}

// checkOneIncident asserts that ds, the diagnoses of one provoked
// scenario, hold one alert per fault, each the cause with its facts.
func checkOneIncident(t *testing.T, id string, want oneIncident, ds []*sink.Diagnosis) {
	t.Helper()
	as := alerts(ds)
	if len(as) != want.faults {
		var b strings.Builder
		for _, d := range ds {
			b.WriteString("\n  " + d.Severity + " " + d.SignatureID + " part_of=" + d.PartOf + ": " + d.Line)
		}
		t.Errorf("%s: %d alerts, want %d (one per fault); diagnoses:%s", id, len(as), want.faults, b.String())
		return
	}
	for _, a := range as {
		if want.cause != "" && a.SignatureID != want.cause {
			t.Errorf("%s: alert %s on %q, want the cause %s", id, a.SignatureID, a.Line, want.cause)
		}
		for k, v := range want.facts {
			if got, ok := a.Fields[k]; !ok || (v != "" && got != v) {
				t.Errorf("%s: alert %s fields %v: want %s=%q from its lines", id, a.SignatureID, a.Fields, k, v)
			}
		}
	}
	// Every other line of the scenario is accounted for: a detail of one
	// of the alerts, recorded at info.
	ids := map[string]bool{}
	for _, a := range as {
		ids[a.ID] = true
	}
	for _, d := range ds {
		if d.PartOf != "" && (!ids[d.PartOf] || d.Severity != signatures.SeverityInfo) {
			t.Errorf("%s: detail %q: part_of %s severity %s, want one of the alerts at info", id, d.Line, d.PartOf, d.Severity)
		}
	}
}

// Each single-cause fault provoked on a real mosquitto 2.0.11 (the
// committed capture of the provokers' runs, each run twice) yields one
// alert per fault through the whole pipeline, and the alert carries the
// facts of the lines that came with it.
func TestOneIncidentOneAlertOnTheCapture(t *testing.T) {
	seen := map[string]int{}
	for _, s := range captureSections(t) {
		want, ok := oneIncidentFaults[s.id]
		if !ok {
			continue
		}
		seen[s.id]++
		checkOneIncident(t, s.id, want, incidentDiagnoses(t, s.log, s.stderr))
	}
	for id := range oneIncidentFaults {
		if seen[id] == 0 {
			t.Errorf("no section of %s in the capture", id)
		}
	}
}

// The same, live: faults provoked now on a real mosquitto by the
// provokers, through the pipeline.
func TestOneIncidentOneAlertLive(t *testing.T) {
	for _, id := range []string{"mosquitto/connack-not-authorised", "mosquitto/tls-plain-client-on-tls-listener", "mosquitto/tls-listener-file-load-failed"} {
		t.Run(strings.TrimPrefix(id, "mosquitto/"), func(t *testing.T) {
			i := slices.IndexFunc(provokers, func(p provoker) bool { return p.id == id })
			if i < 0 {
				t.Fatalf("no provoker for %s", id)
			}
			out := provokers[i].run(t)
			checkOneIncident(t, id, oneIncidentFaults[id], incidentDiagnoses(t, out.Log, out.Stderr))
		})
	}
}

// A failed start under systemd logs up to three lines about one failure
// (src/core/service.c's process exit and result, then src/core/job.c's
// "Failed to start DESCRIPTION."), here as rsyslog writes them (RFC 3164
// header, rsyslog's traditional file format). They are one alert, the
// unit's, and a description line pasted on its own is one alert too; another
// unit's failure is none.
func TestSystemdFailedStartOneAlert(t *testing.T) {
	cases := []struct {
		name, log string
		alerts    int
		unit      string
	}{
		{"mosquitto, systemd 241", "Feb 18 18:54:47 raspberrypi systemd[1]: mosquitto.service: Main process exited, code=exited, status=1/FAILURE\n" +
			"Feb 18 18:54:47 raspberrypi systemd[1]: mosquitto.service: Failed with result 'exit-code'.\n" +
			"Feb 18 18:54:47 raspberrypi systemd[1]: Failed to start Mosquitto MQTT Broker.\n", 1, "mosquitto.service"},
		{"emqx 4.3's init script", "Jul 15 11:28:25 debian10-emqx systemd[1]: emqx.service: Control process exited, code=exited, status=1/FAILURE\n" +
			"Jul 15 11:28:25 debian10-emqx systemd[1]: emqx.service: Failed with result 'exit-code'.\n" +
			"Jul 15 11:28:25 debian10-emqx systemd[1]: Failed to start LSB: Erlang MQTT Broker.\n", 1, "emqx.service"},
		{"systemd 252", "Dec  6 07:00:00 h systemd[1]: mosquitto.service: Main process exited, code=exited, status=3/NOTIMPLEMENTED\n" +
			"Dec  6 07:00:00 h systemd[1]: mosquitto.service: Failed with result 'exit-code'.\n" +
			"Dec  6 07:00:00 h systemd[1]: Failed to start mosquitto.service - Mosquitto MQTT Broker.\n", 1, "mosquitto.service"},
		{"the summary alone", "Jul 15 11:28:25 debian10-emqx systemd[1]: Failed to start LSB: Erlang MQTT Broker.\n", 1, ""},
		{"another unit", "Jul 15 11:28:25 h systemd[1]: nginx.service: Failed with result 'exit-code'.\n" +
			"Jul 15 11:28:25 h systemd[1]: Failed to start A high performance web server.\n" +
			"Jul 15 11:28:26 h systemd[1]: Failed to start PostgreSQL RDBMS.\n", 0, ""},
	}
	_, m := builtin(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ds := runLines(t, m, sourceLines("syslog", "syslog", c.log))
			as := alerts(ds)
			if len(as) != c.alerts {
				for _, d := range ds {
					t.Logf("%s %s part_of=%s %v: %s", d.Severity, d.SignatureID, d.PartOf, d.Fields, d.Line)
				}
				t.Fatalf("%d alerts, want %d", len(as), c.alerts)
			}
			for _, a := range as {
				if a.SignatureID != "systemd/unit-failed" || a.Fields["unit"] != c.unit {
					t.Errorf("alert %s %v, want systemd/unit-failed of %q", a.SignatureID, a.Fields, c.unit)
				}
			}
			for _, d := range ds {
				if d.PartOf != "" && d.Severity != signatures.SeverityInfo {
					t.Errorf("detail %q at %s, want info", d.Line, d.Severity)
				}
			}
		})
	}
}
