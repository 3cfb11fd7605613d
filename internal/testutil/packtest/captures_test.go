package packtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mqttdiag/mqttdiag/internal/brokerlog"
	"github.com/mqttdiag/mqttdiag/signatures"
)

// Every example line of a Mosquitto signature is real: its message (the
// line after the timestamp prefix) occurs byte for byte in a capture
// committed under examples/logs/. Lines that only later releases print
// belong in source_examples instead.
func TestExamplesOccurInCommittedCaptures(t *testing.T) {
	files, err := filepath.Glob("../../../examples/logs/*.log")
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures under examples/logs: %v", err)
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
	p, _ := builtin(t)
	for _, s := range p.Signatures() {
		if s.Broker != signatures.BrokerMosquitto {
			continue
		}
		// The seeds (communication/...) keep the examples they came with.
		if strings.HasPrefix(s.ID, "mosquitto/") && s.VerificationTier == "verified_real_broker" && len(s.Examples) < 2 {
			t.Errorf("%s: verified on a real broker but has %d examples, want at least 2", s.ID, len(s.Examples))
		}
		for _, ex := range s.Examples {
			msg, _, _ := brokerlog.Split(ex)
			if !real[msg] {
				t.Errorf("%s: example %q is in no capture under examples/logs/", s.ID, ex)
			}
		}
	}
}
