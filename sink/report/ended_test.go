package report

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/mqttdiag/mqttdiag/sink"
)

// The notification that a fault ended is not an occurrence: the report
// does not count it, and the line for people says ENDED, not its
// severity.
func TestEndingIsNoOccurrence(t *testing.T) {
	fault := diag("x/crit", "critical", "", 1)
	end := diag("x/crit", "critical", "", 5)
	end.EndedAt = end.LogTime
	r := collect(t, fault, end).Report([]string{"m.log"}, 10)
	if len(r.Signatures) != 1 || r.Signatures[0].Count != 1 {
		t.Errorf("signatures %+v: want x/crit counted once", r.Signatures)
	}
	var b bytes.Buffer
	if _, err := NewLines(&b).Notify(context.Background(), []*sink.Diagnosis{end}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), " ENDED    title of x/crit") || strings.Contains(b.String(), "CRITICAL") {
		t.Errorf("line %q: want ENDED in place of the severity", b.String())
	}
}
