package signatures_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/matcher"
	"github.com/mqttdiag/mqttdiag/signatures"
)

// mosquittoFields: the exact named captures the real matcher reports for
// Mosquitto lines whose target is an IP address on some paths and a
// client id on others, so that an address never lands in client_id and a
// client id never in address.
var mosquittoFields = []struct {
	id     string
	line   string
	fields map[string]string
}{
	{"mosquitto/connack-bad-username-password", "1795323027: Sending CONNACK to no-identity (0, 4)", map[string]string{"client_id": "no-identity", "reason_code": "4"}},
	{"mosquitto/connack-bad-username-password", "1795323027: Sending CONNACK to no-identity-5 (0, 134)", map[string]string{"client_id": "no-identity-5", "reason_code": "134"}},
	{"mosquitto/connack-not-authorised", "1795323037: Sending CONNACK to 127.0.0.1 (0, 5)", map[string]string{"address": "127.0.0.1", "reason_code": "5"}},
	{"mosquitto/connack-not-authorised", "1795320306: Sending CONNACK to ::1 (0, 5)", map[string]string{"address": "::1", "reason_code": "5"}},
	{"mosquitto/connack-not-authorised", "1795320306: Sending CONNACK to ::ffff:10.0.0.7 (0, 135)", map[string]string{"address": "::ffff:10.0.0.7", "reason_code": "135"}},
	{"mosquitto/connack-not-authorised", "1795320306: Sending CONNACK to sensor-1 (0, 5)", map[string]string{"client_id": "sensor-1", "reason_code": "5"}},
	{"mosquitto/connack-not-authorised", "1795320306: Sending CONNACK to sensor 42/ä (0, 135)", map[string]string{"client_id": "sensor 42/ä", "reason_code": "135"}},
	{"mosquitto/connack-not-authorised", "1795320306: Sending CONNACK to 10.0.0.7x (0, 5)", map[string]string{"client_id": "10.0.0.7x", "reason_code": "5"}},
	{"mosquitto/subscribe-invalid", "1795323033: Invalid subscription string from 127.0.0.1, disconnecting.", map[string]string{"address": "127.0.0.1", "kind": "subscription"}},
	{"mosquitto/subscribe-invalid", "1795323033: Invalid QoS in subscription command from 127.0.0.1, disconnecting.", map[string]string{"address": "127.0.0.1", "kind": "subscription"}},
	{"mosquitto/subscribe-invalid", "1795320306: Empty subscription string from 10.0.0.7, disconnecting.", map[string]string{"address": "10.0.0.7", "kind": "subscription"}},
	{"mosquitto/subscribe-invalid", "1795323033: Invalid unsubscription string from bad-filter-unsub, disconnecting.", map[string]string{"client_id": "bad-filter-unsub", "kind": "unsubscription"}},
}

func TestMosquittoAddressOrClientID(t *testing.T) {
	all, err := signatures.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	m, err := matcher.New(all)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range mosquittoFields {
		h, ok := hitOf(m, c.id, c.line)
		if !ok {
			t.Errorf("%s does not fire on %q", c.id, c.line)
			continue
		}
		if !reflect.DeepEqual(h.Fields, c.fields) {
			t.Errorf("%s on %q: fields %v, want %v", c.id, c.line, h.Fields, c.fields)
		}
	}
}

// A 2.0.x broker gets the version note on acl-deny-subscribe: its line is
// only printed from 2.1 (src/handle_subscribe.c@develop).
func TestACLDenySubscribeOnlyFrom21(t *testing.T) {
	all, err := signatures.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all {
		if s.ID != "mosquitto/acl-deny-subscribe" {
			continue
		}
		for _, v := range []string{"2.0.0", "2.0.11", "2.0.20"} {
			if c, k := s.CoversVersion("mosquitto", v); c || !k {
				t.Errorf("covers %s: covered=%v known=%v, want false true", v, c, k)
			}
		}
		if c, _ := s.CoversVersion("mosquitto", "2.1.0"); !c {
			t.Error("does not cover 2.1.0")
		}
		return
	}
	t.Fatal("mosquitto/acl-deny-subscribe is not in the pack")
}

// TestBuiltinThresholds: the per-client disconnects that are noise one at
// a time carry the 50-in-5-minutes threshold the README promises, and the
// faults that matter once carry none.
func TestBuiltinThresholds(t *testing.T) {
	all, err := signatures.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"mosquitto/keepalive-timeout":      true,
		"mosquitto/client-connection-lost": true,
		"mosquitto/client-socket-error":    true,
		"emqx/keepalive-timeout":           true,
		"emqx/socket-error":                true,
		// the same kind of per-client disconnect in the other systems
		"hivemq/keepalive-timeout":                true,
		"hivemq/client-disconnected-ungracefully": true,
		"vernemq/keepalive-expired":               true,
		"awsiot/keepalive-timeout":                true,
		"awsiot/connection-lost":                  true,
	}
	for _, s := range all {
		th := s.Threshold
		switch {
		case want[s.ID] && (th == nil || th.Count != 50 || th.WindowDuration() != 5*time.Minute):
			t.Errorf("%s: threshold %+v, want 50 in 5m", s.ID, th)
		case !want[s.ID] && th != nil:
			t.Errorf("%s: threshold %+v, want none (not in the README's list)", s.ID, th)
		}
	}
}
