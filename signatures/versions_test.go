package signatures

import "testing"

func TestCoversVersion(t *testing.T) {
	s := &Signature{Versions: []Version{
		{Version: "Mosquitto 2.0.0 - 2.0.20"},
		{Version: "Mosquitto 2.1 (develop)"},
		{Version: "EMQX 5.0+"},
		{Version: "Paho MQTT 1.6"},
	}}
	tests := []struct {
		broker, version string
		covered, known  bool
	}{
		{"mosquitto", "2.0.11", true, true},
		{"mosquitto", "2.0.20", true, true},
		{"mosquitto", "2.0.21", false, true},
		{"mosquitto", "2.1.0", true, true},
		{"mosquitto", "1.6.15", false, true},
		{"emqx", "5.8.9", true, true},
		{"emqx", "4.4.19", false, true},
		{"hivemq", "4.28", false, false},
		{"mosquitto", "", false, false},
	}
	for _, tt := range tests {
		c, k := s.CoversVersion(tt.broker, tt.version)
		if c != tt.covered || k != tt.known {
			t.Errorf("%s %s: covered=%v known=%v, want %v %v", tt.broker, tt.version, c, k, tt.covered, tt.known)
		}
	}
	x := &Signature{Versions: []Version{{Version: "Mosquitto 2.0.x"}}}
	if c, _ := x.CoversVersion("mosquitto", "2.0.11"); !c {
		t.Error("2.0.x does not cover 2.0.11")
	}
	if c, _ := x.CoversVersion("mosquitto", "2.1.0"); c {
		t.Error("2.0.x covers 2.1.0")
	}
}
