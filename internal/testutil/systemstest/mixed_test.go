package systemstest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The mixed directory of the README: one log of every system, as a fleet
// with several brokers, a cloud endpoint and an application beside them
// would hand it over. Mosquitto's and Paho's are captured from real runs;
// EMQX's, HiveMQ's, VerneMQ's and AWS IoT's are derived from their source
// or published log reference (see README, "Built-in pack: HiveMQ, VerneMQ,
// AWS IoT Core, Paho").
var mixed = []struct {
	file, system string
	// takeovers: client ids the seed takeover diagnosis must name
	takeovers []string
}{
	{"mosquitto-2.0.11.log", "mosquitto", []string{"dup", "sensor 42/ä"}},
	{"emqx-5.8.9-derived-text.log", "emqx", nil},
	{"hivemq-ce-2025.5-derived-event.log", "hivemq", []string{"sensor-1"}},
	{"hivemq-ce-2025.5-derived-hivemq.log", "hivemq", nil},
	{"vernemq-1.13.0-derived-console.log", "vernemq", []string{"sensor-1"}},
	{"awsiot-derived-AWSIotLogsV2.log", "awsiot", []string{"pump-7"}},
	// the same entries as `aws logs tail --format json` prints them, over several lines each
	{"awsiot-derived-tail-json.log", "awsiot", []string{"pump-7"}},
	{"paho-mqtt-1.6.1-python.log", "paho", nil},
	{"paho-c-1.3.12.log", "paho", nil},
}

// diagnosis is what the test reads of mqttdiag's JSON output.
type diagnosis struct {
	SignatureID string            `json:"signature_id"`
	Broker      string            `json:"broker"`
	Fields      map[string]string `json:"fields"`
	Source      struct {
		File string `json:"file"`
	} `json:"source"`
}

// TestScanMixedDirectory runs the built binary's `scan` over a directory
// holding a log of each system and checks that every file is diagnosed,
// only with its own system's signatures (or the generic communication/
// ones), under its own system's name, and that the takeover diagnosis
// names the right client in each system that prints one.
func TestScanMixedDirectory(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "mqttdiag")
	build := exec.Command("go", "build", "-o", bin, "../../../cmd/mqttdiag")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	for _, f := range mixed {
		data, err := os.ReadFile(filepath.Join("../../../examples/logs", f.file))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.file), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "scan", "--format", "json", "--no-unknown", ".")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("mqttdiag scan: %v\n%s", err, stderr.String())
	}
	byFile := map[string][]diagnosis{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		var d diagnosis
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("a line of scan's output is no diagnosis: %v\n%s", err, sc.Text())
		}
		byFile[filepath.Base(d.Source.File)] = append(byFile[filepath.Base(d.Source.File)], d)
	}
	for _, f := range mixed {
		ds := byFile[f.file]
		if len(ds) == 0 {
			t.Errorf("%s: no diagnosis", f.file)
			continue
		}
		takeovers := map[string]bool{}
		for _, d := range ds {
			family, _, _ := strings.Cut(d.SignatureID, "/")
			if family != f.system && family != "communication" {
				t.Errorf("%s (%s): diagnosed with %s's signature %s %v", f.file, f.system, family, d.SignatureID, d.Fields)
			}
			if d.Broker != f.system {
				t.Errorf("%s: diagnosis %s says broker %q, want %q", f.file, d.SignatureID, d.Broker, f.system)
			}
			if d.SignatureID == "communication/mqtt-publish-identifier-already-in-use" {
				takeovers[d.Fields["client_id"]] = true
			}
		}
		for _, id := range f.takeovers {
			if !takeovers[id] {
				t.Errorf("%s: no takeover diagnosis for client %q (got %v)", f.file, id, takeovers)
			}
		}
		if len(f.takeovers) == 0 && len(takeovers) > 0 && f.system != "emqx" {
			t.Errorf("%s: takeover diagnoses %v, want none", f.file, takeovers)
		}
	}
}
