package matcher

import (
	"reflect"
	"testing"

	"github.com/mqttdiag/mqttdiag/signatures"
)

func sigs(t *testing.T, doc string) []*signatures.Signature {
	t.Helper()
	s, err := signatures.Parse("test.json", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMatch(t *testing.T) {
	m, err := New(sigs(t, `[
		{"id": "takeover", "regex": "^Client (?P<client_id>.+) already connected, closing old connection\\.$"},
		{"id": "refused", "regex": "^(?:Sending CONNACK to (?P<address>\\S+) \\([01], (?P<rc>[23])\\)|Client (?P<client_id>.+) disconnected, (?P<reason>client identifier not valid)\\.)$"},
		{"id": "any-client", "regex": "^Client "},
		{"id": "empty-group", "regex": "^x(?P<opt>y?)$"}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		msg  string
		want map[string]map[string]string // signature id -> fields
	}{
		{"Client a b already connected, closing old connection.", map[string]map[string]string{
			"takeover": {"client_id": "a b"}, "any-client": nil}},
		{"Sending CONNACK to 127.0.0.1 (0, 2)", map[string]map[string]string{
			"refused": {"address": "127.0.0.1", "rc": "2"}}},
		// The second alternative's client_id is reported, not the first
		// alternative's empty, non-participating address.
		{"Client dev-7 disconnected, client identifier not valid.", map[string]map[string]string{
			"refused": {"client_id": "dev-7", "reason": "client identifier not valid"}, "any-client": nil}},
		// A group that participates with an empty match is reported as "".
		{"x", map[string]map[string]string{"empty-group": {"opt": ""}}},
		{"Sending CONNACK to abc (0, 0)", map[string]map[string]string{}},
		{"", map[string]map[string]string{}},
	}
	for _, tt := range tests {
		got := map[string]map[string]string{}
		for _, h := range m.Match(tt.msg) {
			got[h.Signature.ID] = h.Fields
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Match(%q) = %v, want %v", tt.msg, got, tt.want)
		}
	}
}

func TestMatchNoHitDoesNotAllocate(t *testing.T) {
	m, err := New(sigs(t, `[{"id": "takeover", "regex": "^Client (?P<client_id>.+) already connected"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { m.Match("Received PINGREQ from c1") }); n != 0 {
		t.Errorf("a line without a hit allocates %v times", n)
	}
}
