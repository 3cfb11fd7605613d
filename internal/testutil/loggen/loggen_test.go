package loggen

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mqttdiag/mqttdiag/internal/brokerlog"
)

// faultWords mark the fault lines the generator writes.
var faultWords = []string{"already connected", "taken over", "exceeded timeout", "not authorised", "(0, 5)", "(0, 2)",
	"protocol error", "oversize", "being dropped", "Denied PUBLISH", "max_connections", "OpenSSL", "RC:145",
	"Invalid protocol", "Socket error", "Error saving", "Protocol error", "Dropped too large"}

func TestWriteIsDeterministicAndRealistic(t *testing.T) {
	const n = 200_000
	var a, b bytes.Buffer
	if err := Write(&a, n); err != nil {
		t.Fatal(err)
	}
	if err := Write(&b, n); err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(a.Bytes()) != sha256.Sum256(b.Bytes()) {
		t.Fatal("the same seed gave different logs")
	}
	lines := strings.Split(strings.TrimSuffix(a.String(), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("got %d lines, want %d", len(lines), n)
	}
	faults, nonASCII := 0, 0
	distinct := map[string]bool{}
	for _, l := range lines {
		msg, _, ok := brokerlog.Split(l)
		if !ok {
			t.Fatalf("line without a Mosquitto timestamp: %q", l)
		}
		distinct[msg] = true
		for _, w := range faultWords {
			if strings.Contains(msg, w) {
				faults++
				break
			}
		}
		for i := 0; i < len(msg); i++ {
			if msg[i] >= utf8.RuneSelf {
				nonASCII++
				break
			}
		}
	}
	pct := func(k int) float64 { return 100 * float64(k) / float64(n) }
	t.Logf("faults %.2f %%, UTF-8 %.2f %%, distinct messages %.1f %%", pct(faults), pct(nonASCII), pct(len(distinct)))
	if p := pct(faults); p < 0.5 || p > 2 {
		t.Errorf("faults are %.2f %% of lines, want about 1 %%", p)
	}
	if p := pct(nonASCII); p < 0.5 || p > 2 {
		t.Errorf("UTF-8 lines are %.2f %%, want about 1 %%", p)
	}
	if p := pct(len(distinct)); p > 95 {
		t.Errorf("%.1f %% of messages are distinct: a broker log repeats itself", p)
	}
}
