package lint

import (
	"strings"
	"testing"

	"github.com/mqttdiag/mqttdiag/signatures"
)

func builtin(t *testing.T) []*signatures.Signature {
	t.Helper()
	sigs, err := signatures.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return sigs
}

func TestExplainMatch(t *testing.T) {
	e := Explain(builtin(t), "1795320306: Client sensor 42/ä already connected, closing old connection.", 3)
	if e.Message != "Client sensor 42/ä already connected, closing old connection." {
		t.Errorf("message %q", e.Message)
	}
	if len(e.Matches) != 1 || e.Matches[0].Signature.ID != "communication/mqtt-publish-identifier-already-in-use" || e.Matches[0].Fields["client_id"] != "sensor 42/ä" {
		t.Fatalf("matches %+v", e.Matches)
	}
	if len(e.Closest) != 0 {
		t.Errorf("near misses reported for a matching line: %+v", e.Closest)
	}
}

// A near miss names the literal text that is missing and the part of the
// regex where matching stops.
func TestExplainNearMiss(t *testing.T) {
	tests := []struct {
		line, sig, missing, failedAt string
	}{
		// A comma lost in the wording.
		{"Client dup already connected closing old connection.", "communication/mqtt-publish-identifier-already-in-use",
			"already connected, closing old connection.", `already connected, closing old connection\.`},
		// The right line shape with a return code no signature covers.
		{"1795320493: Sending CONNACK to 127.0.0.1 (0, 128)", "CONNACK",
			"", "(?P<reason_code>"},
	}
	for _, tt := range tests {
		e := Explain(builtin(t), tt.line, 3)
		if len(e.Matches) != 0 {
			t.Errorf("%q matched %v", tt.line, e.Matches[0].Signature.ID)
			continue
		}
		if len(e.Closest) == 0 || !strings.Contains(e.Closest[0].Signature.ID+" "+e.Closest[0].Signature.Regex, tt.sig) {
			t.Errorf("%q: closest %+v, want %s", tt.line, e.Closest, tt.sig)
			continue
		}
		nm := e.Closest[0]
		if tt.missing != "" && !strings.Contains(strings.Join(nm.Missing, "|"), tt.missing) {
			t.Errorf("%q: missing %q, want %q among them", tt.line, nm.Missing, tt.missing)
		}
		if !strings.HasPrefix(nm.FailedAt, tt.failedAt) {
			t.Errorf("%q: fails at %q, want %q", tt.line, nm.FailedAt, tt.failedAt)
		}
	}
}

func TestExplainUnrelated(t *testing.T) {
	e := Explain(builtin(t), "1795320306: Received PINGREQ from c1", 3)
	if len(e.Matches) != 0 || len(e.Closest) != 0 {
		t.Errorf("unrelated line: %+v", e)
	}
}
