package brokertest

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var captureTo = flag.String("capture", "", "also write the sample log captured from the real mosquitto to this file (make sample-log)")

// TestSampleLogScenario runs the scenario behind examples/logs: normal
// traffic with the seed signatures' faults among it, on a real mosquitto.
// It checks that each fault was logged as expected and, with -capture,
// saves the broker's log as the sample.
func TestSampleLogScenario(t *testing.T) {
	m := StartMosquitto(t)
	m.NormalTraffic(t, 40)
	takeover := m.Takeover(t, "sensor 42/ä")
	m.NormalTraffic(t, 20)
	rejected := m.IdentifierRejected(t)
	inUse := m.PacketIDInUse(t, "historian-v5b")
	m.PacketIDInUse(t, "meter 9/ü")
	m.Takeover(t, "dup")
	m.NormalTraffic(t, 20)

	for _, want := range []struct{ line, suffix string }{
		{takeover, ": Client sensor 42/ä already connected, closing old connection."},
		{rejected, ": Sending CONNACK to 127.0.0.1 (0, 2)"},
		{inUse, ": Received PUBACK from historian-v5b (Mid: 1, RC:145)"},
	} {
		if !strings.HasSuffix(want.line, want.suffix) {
			t.Errorf("broker logged %q, want a line ending in %q", want.line, want.suffix)
		}
	}
	if *captureTo == "" {
		return
	}
	data, err := os.ReadFile(m.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(*captureTo, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d bytes of mosquitto %s log to %s", len(data), m.Version, *captureTo)
}
