package systemstest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mqttdiag/mqttdiag/internal/brokerlog"
	"github.com/mqttdiag/mqttdiag/signatures"
)

// Every example of a Paho signature is real: its message (the line after
// its timestamp) occurs byte for byte in a capture the Paho tests wrote
// (make paho-log, examples/logs/paho-*.log), and a signature verified on a
// real broker has examples. Lines no real run here produces belong in
// source_examples.
func TestPahoExamplesOccurInCaptures(t *testing.T) {
	files, err := filepath.Glob("../../../examples/logs/paho-*.log")
	if err != nil || len(files) < 2 {
		t.Fatalf("want the Python and C captures under examples/logs, found %v (%v); run make paho-log", files, err)
	}
	real := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			msg, _, _ := brokerlog.Split(line)
			real[msg] = true
		}
	}
	sigs, err := signatures.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sigs {
		if s.Broker != signatures.BrokerPaho {
			continue
		}
		if s.VerificationTier == "verified_real_broker" && len(s.Examples) == 0 {
			t.Errorf("%s: verified with real clients but has no examples", s.ID)
		}
		for _, ex := range s.Examples {
			msg, _, _ := brokerlog.Split(ex)
			if !real[msg] {
				t.Errorf("%s: example %q is in no capture under examples/logs/paho-*.log", s.ID, ex)
			}
		}
	}
}
