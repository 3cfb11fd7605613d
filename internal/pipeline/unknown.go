package pipeline

import (
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/mqttdiag/mqttdiag/internal/brokerlog"
	"github.com/mqttdiag/mqttdiag/sink"
	"github.com/mqttdiag/mqttdiag/tailer"
)

// UnknownID is the signature id of diagnoses for fault-looking lines that
// no signature explains.
const UnknownID = "unknown"

// unknowns turns fault-looking lines that matched no signature into
// diagnoses, so operators see the gaps in their pack, at most one per
// wording (Shape) per interval, so that one chatty unknown fault cannot
// flood the sinks.
type unknowns struct {
	interval time.Duration
	// last emission per shape; bounded, the least recently seen shapes go
	// first.
	last *lru.Cache[string, time.Time]
}

func newUnknowns(interval time.Duration) *unknowns {
	c, _ := lru.New[string, time.Time](1024) // cannot fail for a positive size
	return &unknowns{interval: interval, last: c}
}

// check returns a diagnosis for l when its message looks like a fault and
// its shape was not reported within the interval. at is the line's own
// time when it has one (so a scan of an old log is limited by log time),
// else now. fault tells whether the message looks like a fault, reported
// or not.
func (u *unknowns) check(l *tailer.Line, msg string, logTime, now time.Time, broker, version string) (d *sink.Diagnosis, fault bool) {
	severity, ok := brokerlog.Fault(msg)
	if !ok {
		return nil, false
	}
	at := logTime
	if at.IsZero() {
		at = now
	}
	shape := brokerlog.Shape(msg)
	if prev, seen := u.last.Get(shape); seen && at.Sub(prev) < u.interval && at.Sub(prev) >= 0 {
		return nil, true
	}
	u.last.Add(shape, at)
	d = &sink.Diagnosis{
		ID:            DiagnosisID(l.Stream, l.Offset, UnknownID),
		SignatureID:   UnknownID,
		Title:         "Fault-looking line that no signature explains",
		Category:      "unknown",
		Severity:      severity,
		Broker:        broker,
		BrokerVersion: version,
		RootCause:     "The broker reported this at " + severity + " level, but no signature in the loaded packs recognises it, so mqttdiag cannot say why it happened. Lines of the same wording are reported once per interval.",
		Workarounds: []sink.Workaround{
			{Action: "Read the lines before it in the broker log", How: "Brokers often print the cause on the line before the error (the port before 'Address already in use', the OpenSSL error before a disconnect)."},
			{Action: "Add a signature for it", How: "Write a signature with this line as an example, check it with `mqttdiag signatures lint` and `mqttdiag signatures test LOG`, and load it with --signatures."},
		},
		DeadEnds:   []sink.DeadEnd{},
		Line:       strings.Clone(l.Text),
		Fields:     map[string]string{"shape": shape},
		Source:     sink.Source{File: l.Source, Offset: l.Offset, LineNumber: l.Number},
		ObservedAt: now,
	}
	if !logTime.IsZero() {
		t := logTime
		d.LogTime = &t
	}
	return d, true
}
