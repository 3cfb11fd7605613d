package packtest

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/mqttdiag/mqttdiag/internal/pipeline"
	"github.com/mqttdiag/mqttdiag/matcher"
	"github.com/mqttdiag/mqttdiag/sink"
	"github.com/mqttdiag/mqttdiag/tailer"
)

// keep is a sink that keeps every diagnosis.
type keep struct {
	mu sync.Mutex
	ds []*sink.Diagnosis
}

func (k *keep) Notify(_ context.Context, ds []*sink.Diagnosis) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.ds = append(k.ds, ds...)
	return false, nil
}

// pipelineDiagnoses runs a log through the whole pipeline as run and scan
// do, with the diagnoses of fault-looking lines no signature explains on
// and not rate-limited: what a user of the pack would be shown.
func pipelineDiagnoses(t testing.TB, text string) []*sink.Diagnosis {
	t.Helper()
	_, m := builtin(t)
	return runLines(t, m, sourceLines("mosquitto.log", "s", text))
}

// sourceLines cuts text into the lines the tailer would hand over from
// one source.
func sourceLines(source, stream, text string) []tailer.Line {
	var lines []tailer.Line
	var off int64
	for i, l := range strings.SplitAfter(text, "\n") {
		if l == "" {
			continue
		}
		lines = append(lines, tailer.Line{Source: source, Stream: stream, Offset: off, End: off + int64(len(l)), Number: int64(i + 1), Text: strings.TrimSuffix(l, "\n")})
		off += int64(len(l))
	}
	return lines
}

// runLines runs lines through the whole pipeline in one batch, with the
// diagnoses of fault-looking lines no signature explains on.
func runLines(t testing.TB, m *matcher.Matcher, lines []tailer.Line) []*sink.Diagnosis {
	t.Helper()
	in := make(chan tailer.Batch, 1)
	in <- tailer.Batch{Lines: lines}
	close(in)
	k := &keep{}
	if err := pipeline.New(m, []sink.Notifier{k}, pipeline.Unknown(true, 0)).Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	return k.ds
}

// The check above is only worth something if the same path diagnoses
// faults: on the captured fault log it must find every provoked kind.
func TestPipelineDiagnosesTheFaultLog(t *testing.T) {
	b, err := os.ReadFile("../../../examples/logs/mosquitto-2.0.11-faults.log")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, d := range pipelineDiagnoses(t, string(b)) {
		kinds[d.SignatureID] = true
	}
	if len(kinds) < 40 {
		t.Errorf("the pipeline found %d kinds of fault in the fault log, want the 40 or more provoked there", len(kinds))
	}
}
