package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/testutil/brokertest"
	"github.com/mqttdiag/mqttdiag/internal/testutil/journaltest"
	"github.com/mqttdiag/mqttdiag/sink"
)

// Home Assistant's Mosquitto add-on (slug core_mosquitto), as far as this
// machine can run it. What the test takes from the add-on's sources:
//
//   - home-assistant/addons mosquitto/rootfs/usr/share/tempio/mosquitto.gtpl:
//     log_dest stdout, log_type error, warning, notice and information,
//     log_timestamp_format %Y-%m-%d %H:%M:%S;
//   - mosquitto/rootfs/etc/services.d/mosquitto/run: bashio logs "Starting
//     mosquitto MQTT broker..." before exec'ing mosquitto; bashio's default
//     format is "[{TIMESTAMP}] {LEVEL}: {MESSAGE}" with %T (hassio-addons/
//     bashio lib/log.sh, lib/const.sh), printed on stderr;
//   - home-assistant/operating-system buildroot-external/rootfs-overlay/
//     etc/docker/daemon.json: Docker's journald log driver with tag
//     {{.Name}}; Supervisor names the container addon_<slug>;
//   - moby daemon/logger/journald/journald.go: each line is an entry with
//     CONTAINER_NAME, CONTAINER_TAG and SYSLOG_IDENTIFIER (the tag),
//     CONTAINER_ID (12 hex digits), CONTAINER_ID_FULL, IMAGE_NAME, PRIORITY
//     6 for stdout and 3 for stderr, sent by dockerd (so _COMM=dockerd,
//     _SYSTEMD_UNIT=docker.service);
//   - home-assistant/supervisor supervisor/utils/systemd_journal.py: the
//     add-on log the Supervisor serves (`ha addons logs`) is each entry's
//     MESSAGE alone (journal_plain_formatter).
//
// The broker is the real mosquitto with the add-on's log settings, refusing
// a real client; its output reaches mqttdiag both ways: through the journal
// (a real journal written by systemd-journal-remote, read with
// journald:CONTAINER_NAME=addon_core_mosquitto) and as `ha addons logs`
// prints it (the MESSAGEs, into `scan -`). Not run here: Home Assistant,
// its Supervisor and Docker.
func TestHomeAssistantAddon(t *testing.T) {
	t.Parallel()
	j := journaltest.New(t)
	port := brokertest.FreePort(t)
	conf := "log_dest stdout\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\n" +
		"log_timestamp_format %Y-%m-%d %H:%M:%S\n" +
		fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous false\n", port)
	if os.Getuid() == 0 {
		conf = "user root\n" + conf // the add-on's template starts with it too
	}
	b := brokertest.Launch(t, t.TempDir(), conf)
	// mosquitto 2.0.11 does not flush log_dest stdout after a line (src/
	// logging.c): into a pipe, as in the add-on, its lines come out in
	// blocks or at exit. So the client's refusal is what says the broker
	// is up, and its lines are taken once it has stopped.
	pubBin := brokertest.RequireTool(t, "mosquitto_pub")
	for deadline := time.Now().Add(30 * time.Second); ; {
		out, err := exec.Command(pubBin, "-h", "127.0.0.1", "-p", fmt.Sprint(port), "-i", "ha-sensor-1", "-t", "homeassistant/status", "-m", "online").CombinedOutput()
		if err == nil {
			t.Fatalf("an anonymous client was let in: %s", out)
		}
		if bytes.Contains(out, []byte("not authorised")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto_pub never reached the broker: %s", out)
		}
	}
	b.Stop()
	stdout := journaltest.Lines(b.Stderr())
	if !strings.Contains(b.Stderr(), "Client <unknown> disconnected, not authorised.") { // 2.0.11 logs no id for a refused CONNECT
		t.Fatalf("mosquitto did not log the refused client:\n%s", b.Stderr())
	}
	if !bytes.HasPrefix(stdout[0], []byte(time.Now().Format("2006-"))) {
		t.Fatalf("mosquitto's first line %q does not start with the add-on's %%Y-%%m-%%d timestamp", stdout[0])
	}

	start := time.Now()
	bashio := fmt.Sprintf("[%s] INFO: Starting mosquitto MQTT broker...", start.Format("15:04:05"))
	docker := func(msg []byte, name, priority string, i int) journaltest.Entry {
		id := fmt.Sprintf("%064x", len(name))
		return journaltest.Entry{Message: msg, Unit: "docker.service", Identifier: name, PID: 612, Time: start.Add(time.Duration(i) * time.Millisecond),
			Fields: map[string]string{"_COMM": "dockerd", "_TRANSPORT": "journal", "PRIORITY": priority, "CONTAINER_NAME": name, "CONTAINER_TAG": name,
				"CONTAINER_ID": id[:12], "CONTAINER_ID_FULL": id, "IMAGE_NAME": "ghcr.io/home-assistant/amd64-addon-mosquitto:6.5.1"}}
	}
	es := []journaltest.Entry{docker([]byte(bashio), "addon_core_mosquitto", "3", 0)}
	for i, l := range stdout {
		es = append(es, docker(l, "addon_core_mosquitto", "6", i+1))
	}
	// A second broker's line (a local copy of the add-on: Supervisor's
	// slug local_<name>), which the whole journal would have diagnosed.
	es = append(es, docker([]byte(`Error: Unknown configuration variable "other_addon".`), "addon_local_mosquitto", "3", len(stdout)+1))
	j.Write(t, es...)

	p := startMqttdiag(t, nil, "run", "--from-beginning", "--journal-dir", j.Dir, "journald:CONTAINER_NAME=addon_core_mosquitto")
	d, before := p.waitDiag(t, 60*time.Second, func(d *sink.Diagnosis) bool {
		return d.SignatureID == "mosquitto/client-not-authorised"
	})
	if d.Fields["client_id"] != "<unknown>" {
		t.Errorf("fields %v, want client_id <unknown>", d.Fields)
	}
	if e := d.Envelope; e == nil || e.Format != "journal" || e.Container != "addon_core_mosquitto" || e.Program != "addon_core_mosquitto" {
		t.Errorf("envelope %+v, want the add-on's container and tag", d.Envelope)
	}
	if d.LogTime == nil || d.LogTime.Before(start.Add(-time.Minute)) || d.LogTime.After(time.Now()) {
		t.Errorf("log_time %v, want the broker's %%Y-%%m-%%d %%H:%%M:%%S time of the run (local zone)", d.LogTime)
	}
	if err := p.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	journal := append(before, d)
	for d := range p.diags {
		journal = append(journal, d)
	}
	for _, d := range journal {
		if d.Envelope == nil || d.Envelope.Container != "addon_core_mosquitto" {
			t.Errorf("an entry of another container was read: %s from %+v", d.SignatureID, d.Envelope)
		}
	}

	// `ha addons logs core_mosquitto | mqttdiag scan -`: the MESSAGEs.
	var plain bytes.Buffer
	plain.WriteString(bashio + "\n")
	for _, l := range stdout {
		plain.Write(l)
		plain.WriteByte('\n')
	}
	if got, want := keys(scanStdin(t, plain.String())), keys(journal); !slices.Equal(got, want) {
		t.Errorf("scan of the add-on log:\n%q\nwant what the journal gave:\n%q", got, want)
	}
}
