package report

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/sink"
)

// However many wordings a log holds, the collector keeps 1,000 apart and
// counts the rest together: every line is still counted.
func TestCollectorBoundsWordings(t *testing.T) {
	c := NewCollector()
	at := time.Date(2026, 11, 22, 4, 33, 18, 0, time.UTC)
	for i := range 5000 {
		shape := fmt.Sprintf("Error: odd wording %c%c%c.", 'a'+i%26, 'a'+i/26%26, 'a'+i/676)
		_, _ = c.Notify(context.Background(), []*sink.Diagnosis{{ID: fmt.Sprint(i), SignatureID: UnknownID, Severity: "error",
			Line: "1795321999: " + shape, Fields: map[string]string{"shape": shape}, LogTime: &at}})
	}
	r := c.Report(nil, 5000)
	total := 0
	for _, g := range r.Unknown {
		total += g.Count
	}
	if len(r.Unknown) != maxWordings+1 || total != 5000 || r.Unknown[0].Shape != OtherWordings || r.Unknown[0].Count != 4000 {
		t.Errorf("%d wordings counting %d, the first %q ×%d; want %d counting 5000, the other wordings first with 4000",
			len(r.Unknown), total, r.Unknown[0].Shape, r.Unknown[0].Count, maxWordings+1)
	}
}
