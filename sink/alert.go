package sink

import (
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// alert maps a diagnosis to an alert; times are set by the caller. keyed
// tells whether log content chose its label set (a label from
// LabelFields).
func (a *Alertmanager) alert(d *Diagnosis) (al Alert, keyed bool) {
	// A threshold or overflow summary is about many clients: one alert.
	labels, keyed := a.labels(d, d.Summary != "threshold" && d.Summary != "overflow")
	ann := map[string]string{
		"summary":      d.Title,
		"description":  description(d),
		"diagnosis_id": d.ID,
		"line":         d.Line,
	}
	if d.DocURL != "" {
		ann["runbook_url"] = d.DocURL
	}
	if d.Count > 0 {
		ann["count"] = strconv.Itoa(d.Count)
	}
	if len(d.Clients) > 0 {
		ann["clients"] = strings.Join(d.Clients, ", ")
	}
	return Alert{Labels: labels, Annotations: ann, StartsAt: d.ObservedAt, GeneratorURL: a.generatorURL(d)}, keyed
}

// labels are an alert's labels for d; with who, the LabelFields too, and
// keyed tells whether d had one of them.
func (a *Alertmanager) labels(d *Diagnosis, who bool) (labels map[string]string, keyed bool) {
	labels = map[string]string{
		"alertname":    AlertName(d.SignatureID),
		"signature_id": d.SignatureID,
		"severity":     d.Severity,
		"broker":       d.Broker,
		"instance":     a.cfg.Instance,
	}
	if who {
		for _, f := range a.cfg.LabelFields {
			if v := d.Fields[f]; v != "" {
				labels[LabelName(f)] = v
				keyed = true
			}
		}
	}
	for k, v := range labels {
		if v == "" {
			delete(labels, k) // an empty label is no label in Alertmanager
		}
	}
	return labels, keyed
}

// description is the root cause, the best workaround, and for summaries
// how many occurrences and which clients.
func description(d *Diagnosis) string {
	var b strings.Builder
	b.WriteString(d.RootCause)
	b.WriteString(advice(d))
	if d.Count > 1 && d.FirstSeen != nil && d.LastSeen != nil {
		fmt.Fprintf(&b, "\n\n%d occurrences from %s to %s.", d.Count, d.FirstSeen.UTC().Format(time.RFC3339), d.LastSeen.UTC().Format(time.RFC3339))
	}
	if d.ClientCount > 0 {
		fmt.Fprintf(&b, " Clients involved: %d (%s", d.ClientCount, strings.Join(d.Clients, ", "))
		if d.ClientCount > len(d.Clients) {
			b.WriteString(", ...")
		}
		b.WriteString(").")
	}
	return b.String()
}

// knowledge is the root cause, the best workaround and the first dead
// end, as a paragraph after another.
func knowledge(d *Diagnosis) string {
	return "\n\n" + d.RootCause + advice(d)
}

// advice is the best workaround and how, and the first dead end.
func advice(d *Diagnosis) string {
	var b strings.Builder
	if len(d.Workarounds) > 0 {
		w := d.Workarounds[0] // ranked: the best first
		if w.SuccessRate != nil {
			fmt.Fprintf(&b, "\n\nBest workaround (works %.0f%% of the time, per %s): %s.", 100**w.SuccessRate, strings.Join(w.Sources, ", "), strings.TrimSuffix(w.Action, "."))
		} else { // null: nothing measured it
			fmt.Fprintf(&b, "\n\nBest workaround: %s.", strings.TrimSuffix(w.Action, "."))
		}
		if w.How != "" {
			b.WriteString(" ")
			b.WriteString(w.How)
		}
	}
	if len(d.DeadEnds) > 0 && d.DeadEnds[0].Action != "" {
		fmt.Fprintf(&b, "\n\nDoes not help: %s.", strings.TrimSuffix(d.DeadEnds[0].Action, "."))
	}
	return b.String()
}

// generatorURL points at what produced the alert: the configured base
// with the signature and diagnosis ids, else the log line as a file URL.
func (a *Alertmanager) generatorURL(d *Diagnosis) string {
	if a.cfg.GeneratorURL != "" {
		u, _ := url.Parse(a.cfg.GeneratorURL) // checked in NewAlertmanager
		q := u.Query()
		q.Set("signature_id", d.SignatureID)
		q.Set("diagnosis_id", d.ID)
		u.RawQuery = q.Encode()
		return u.String()
	}
	// Standard input and the journal (tailer's "journald:UNIT" inputs)
	// have no file to point at.
	if d.Source.File == "" || d.Source.File == "-" || strings.HasPrefix(d.Source.File, "journald:") {
		return ""
	}
	p, err := filepath.Abs(d.Source.File)
	if err != nil {
		return ""
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(p), Fragment: "L" + strconv.FormatInt(d.Source.LineNumber, 10)}
	return u.String()
}

// AlertName is the alertname for a signature id: "Mqttdiag" and the id's
// words in CamelCase, e.g. communication/mqtt-publish-identifier-in-use
// becomes MqttdiagCommunicationMqttPublishIdentifierInUse.
func AlertName(signatureID string) string {
	var b strings.Builder
	b.WriteString("Mqttdiag")
	up := true
	for _, r := range signatureID {
		if !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r))) {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// LabelName makes a field name a valid Prometheus label name.
func LabelName(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '_' || r < unicode.MaxASCII && unicode.IsLetter(r):
			b.WriteRune(r)
		case r < unicode.MaxASCII && unicode.IsDigit(r) && i > 0:
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

func labelKey(l map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(l)) {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(l[k])
		b.WriteByte(0)
	}
	return b.String()
}
