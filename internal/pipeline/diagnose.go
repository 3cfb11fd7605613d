package pipeline

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mqttdiag/mqttdiag/matcher"
	"github.com/mqttdiag/mqttdiag/signatures"
	"github.com/mqttdiag/mqttdiag/sink"
	"github.com/mqttdiag/mqttdiag/tailer"
)

// DiagnosisID derives a diagnosis id from where the line is and which
// signature matched. Re-reading the same stream after a crash yields the
// same ids, so receivers can drop re-deliveries; two different lines
// never share (stream, offset).
func DiagnosisID(stream string, offset int64, signatureID string) string {
	h := sha256.New()
	h.Write([]byte(stream))
	h.Write([]byte{0})
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(offset))
	h.Write(b[:])
	h.Write([]byte(signatureID))
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// knowledge is the part of a diagnosis that depends only on the
// signature, computed once per signature and shared (read-only) by every
// diagnosis it produces.
type knowledge struct {
	title, rootCause string
	workarounds      []sink.Workaround
	deadEnds         []sink.DeadEnd
	errorCode        string
}

func newKnowledge(s *signatures.Signature, lang string) *knowledge {
	k := &knowledge{
		title:       s.Title,
		rootCause:   s.RootCause,
		workarounds: make([]sink.Workaround, 0, len(s.Workarounds)),
		deadEnds:    make([]sink.DeadEnd, 0, len(s.DeadEnds)),
	}
	zh := lang == "zh"
	if zh && s.SignatureZh != "" {
		k.title = s.SignatureZh
	}
	if zh && s.RootCauseZh != "" {
		k.rootCause = s.RootCauseZh
	}
	for i, w := range s.Workarounds {
		action, how := w.Action, w.How
		if how == action {
			how = "" // the seeds repeat the action as its how
		}
		if zh && i < len(s.WorkaroundsZh) && s.WorkaroundsZh[i] != "" {
			// One translated text per workaround, action and how together.
			action, how = s.WorkaroundsZh[i], ""
		}
		k.workarounds = append(k.workarounds, sink.Workaround{Action: action, How: how, SuccessRate: w.SuccessRate, Sources: w.Sources})
	}
	// What is known to work first, best first; then the rest in the
	// signature's own order, which is its author's judgement.
	sort.SliceStable(k.workarounds, func(i, j int) bool {
		a, b := k.workarounds[i].SuccessRate, k.workarounds[j].SuccessRate
		return a != nil && (b == nil || *a > *b)
	})
	for _, d := range s.DeadEnds {
		k.deadEnds = append(k.deadEnds, sink.DeadEnd{Action: d.Action, WhyFails: d.WhyFails, FailRate: d.FailRate, Sources: d.Sources})
	}
	if s.ErrorCode != nil {
		k.errorCode = *s.ErrorCode
	}
	return k
}

// diagnoser turns matches into diagnoses.
type diagnoser struct {
	lang  string
	known map[*signatures.Signature]*knowledge
}

// reset forgets the knowledge of the previous pack.
func (d *diagnoser) reset(*Pack) { d.known = make(map[*signatures.Signature]*knowledge) }

// diagnose builds the diagnosis for hit h on line l. broker and version
// are what the source's startup banner said, if it was seen.
func (d *diagnoser) diagnose(l *tailer.Line, h matcher.Hit, logTime, now time.Time, broker, version string) *sink.Diagnosis {
	s := h.Signature
	k := d.known[s]
	if k == nil {
		k = newKnowledge(s, d.lang)
		d.known[s] = k
	}
	diag := &sink.Diagnosis{
		ID:            DiagnosisID(l.Stream, l.Offset, s.ID),
		SignatureID:   s.ID,
		Title:         k.title,
		Category:      s.Category,
		Severity:      s.EffectiveSeverity(),
		Broker:        s.Broker,
		BrokerVersion: version,
		RootCause:     k.rootCause,
		Workarounds:   k.workarounds,
		DeadEnds:      k.deadEnds,
		DocURL:        s.OfficialDocURL,
		ErrorCode:     k.errorCode,
		// The line's text shares memory with its read batch; a diagnosis
		// may outlive the batch (queues, storm windows), so copy it.
		Line:       strings.Clone(l.Text),
		Fields:     cloneFields(h.Fields),
		Source:     sink.Source{File: l.Source, Offset: l.Offset, LineNumber: l.Number},
		ObservedAt: now,
	}
	if broker != "" {
		diag.Broker = broker
		if covered, known := s.CoversVersion(broker, version); known && !covered {
			diag.VersionNote = fmt.Sprintf("the signature's versions do not list %s %s; the wording matched, but check the knowledge against this release", broker, version)
		}
	}
	if !logTime.IsZero() {
		t := logTime
		diag.LogTime = &t
	}
	return diag
}

// cloneFields copies the captures: the matcher's cache shares one map
// between every hit of a message, and the diagnosis must own its strings.
func cloneFields(f map[string]string) map[string]string {
	if f == nil {
		return map[string]string{} // "fields": {} rather than null
	}
	out := make(map[string]string, len(f))
	for k, v := range f {
		out[k] = strings.Clone(v)
	}
	return out
}
