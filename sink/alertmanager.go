package sink

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

// Defaults of an Alertmanager sink.
const (
	// DefaultResolveTimeout is how long after a fault was last seen its
	// alert resolves.
	DefaultResolveTimeout = 5 * time.Minute
	// DefaultResendInterval is how often active alerts are sent again, as
	// Prometheus' --rules.alert.resend-delay.
	DefaultResendInterval = time.Minute
)

// DefaultLabelFields returns the diagnosis fields that become alert
// labels: who is affected. They split alerts per client, user or topic; a
// threshold summary, which is about many clients, names them in its
// annotations instead.
func DefaultLabelFields() []string { return []string{"client_id", "username", "topic"} }

// AlertmanagerConfig is what an Alertmanager sink needs beyond its URL.
type AlertmanagerConfig struct {
	HTTPOptions
	// Instance is the instance label: which mqttdiag saw the fault.
	Instance string
	// ResolveTimeout: an alert's endsAt is its fault's last sighting plus
	// this, so it resolves when the fault stops recurring.
	ResolveTimeout time.Duration
	// ResendInterval is how often active alerts are sent again.
	ResendInterval time.Duration
	// GeneratorURL, when set, is the base of each alert's generatorURL
	// (signature_id and diagnosis_id are added as query parameters);
	// otherwise the generatorURL is a file:// URL of the log line.
	GeneratorURL string
	// LabelFields are the diagnosis fields that become labels
	// (DefaultLabelFields() when nil).
	LabelFields []string
}

// Alertmanager sends diagnoses as alerts to one Alertmanager's API v2.
// Give each replica of a cluster its own sink: every replica must get
// every alert, as Prometheus does.
type Alertmanager struct {
	target string
	name   string
	client *http.Client
	header http.Header
	cfg    AlertmanagerConfig

	mu     sync.Mutex
	active map[string]*activeAlert // by label set
}

// Alert is an alert as Alertmanager's POST /api/v2/alerts takes it.
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

type activeAlert struct {
	Alert
	lastSeen time.Time
}

// NewAlertmanager returns a sink for the Alertmanager at url (its base,
// such as http://alertmanager:9093; /api/v2/alerts is added).
func NewAlertmanager(rawURL string, cfg AlertmanagerConfig) (*Alertmanager, error) {
	u, name, err := parseTarget("alertmanager", rawURL)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(u.Path, "/api/v2/alerts") {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v2/alerts"
	}
	if cfg.ResolveTimeout <= 0 {
		cfg.ResolveTimeout = DefaultResolveTimeout
	}
	if cfg.ResendInterval <= 0 {
		cfg.ResendInterval = DefaultResendInterval
	}
	if cfg.LabelFields == nil {
		cfg.LabelFields = DefaultLabelFields()
	}
	for _, f := range cfg.LabelFields {
		switch LabelName(f) {
		case "":
			return nil, fmt.Errorf("label field %q: want a field name", f)
		case "alertname", "signature_id", "severity", "broker", "instance":
			return nil, fmt.Errorf("label field %q: the alert has that label already", f)
		}
	}
	if cfg.GeneratorURL != "" {
		if _, err := url.Parse(cfg.GeneratorURL); err != nil {
			return nil, fmt.Errorf("generator URL: %w", err)
		}
	}
	h := make(http.Header)
	h.Set("Content-Type", "application/json")
	if cfg.UserAgent != "" {
		h.Set("User-Agent", cfg.UserAgent)
	}
	return &Alertmanager{target: u.String(), name: name, client: cfg.client(), header: h, cfg: cfg, active: make(map[string]*activeAlert)}, nil
}

// String names the sink in logs, without credentials.
func (a *Alertmanager) String() string { return a.name }

// Notify turns ds into alerts, one per label set, and posts them.
// Alertmanager answers 400 or 422 to an alert it will never take (a bad
// label); that is not worth retrying.
func (a *Alertmanager) Notify(ctx context.Context, ds []*Diagnosis) (bool, error) {
	a.mu.Lock()
	batch := make(map[string]Alert, len(ds))
	for _, d := range ds {
		al := a.alert(d)
		key := labelKey(al.Labels)
		seen := d.ObservedAt
		if act := a.active[key]; act != nil {
			al.StartsAt = act.StartsAt
			if act.lastSeen.After(seen) {
				seen = act.lastSeen
			}
		}
		if al.StartsAt.After(seen) {
			al.StartsAt = seen
		}
		al.EndsAt = seen.Add(a.cfg.ResolveTimeout)
		a.active[key] = &activeAlert{Alert: al, lastSeen: seen}
		batch[key] = al
	}
	a.mu.Unlock()
	alerts := make([]Alert, 0, len(batch))
	for _, k := range slices.Sorted(maps.Keys(batch)) {
		alerts = append(alerts, batch[k])
	}
	return a.post(ctx, alerts)
}

// RefreshInterval is how often Refresh should run.
func (a *Alertmanager) RefreshInterval() time.Duration { return a.cfg.ResendInterval }

// Refresh sends every alert that is still active again, so that an
// Alertmanager that restarted (it keeps alerts in memory) learns of them,
// and forgets those whose endsAt passed: Alertmanager resolved them. It
// returns how many alerts it sent (0 when none is active: no request).
func (a *Alertmanager) Refresh(ctx context.Context) (int, error) {
	now := a.cfg.now()
	a.mu.Lock()
	var alerts []Alert
	for _, k := range slices.Sorted(maps.Keys(a.active)) {
		act := a.active[k]
		if !act.EndsAt.After(now) {
			delete(a.active, k)
			continue
		}
		alerts = append(alerts, act.Alert)
	}
	a.mu.Unlock()
	if len(alerts) == 0 {
		return 0, nil
	}
	_, err := a.post(ctx, alerts)
	return len(alerts), err
}

// Active returns the alerts the sink considers active (tests, metrics).
func (a *Alertmanager) Active() []Alert {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []Alert
	for _, k := range slices.Sorted(maps.Keys(a.active)) {
		out = append(out, a.active[k].Alert)
	}
	return out
}

func (a *Alertmanager) post(ctx context.Context, alerts []Alert) (bool, error) {
	body, err := json.Marshal(alerts)
	if err != nil {
		return false, fmt.Errorf("%s: encode alerts: %w", a.name, err)
	}
	return post(ctx, a.client, a.name, a.target, a.header.Clone(), body, a.cfg.now())
}

// alert maps a diagnosis to an alert; times are set by the caller.
func (a *Alertmanager) alert(d *Diagnosis) Alert {
	labels := map[string]string{
		"alertname":    AlertName(d.SignatureID),
		"signature_id": d.SignatureID,
		"severity":     d.Severity,
		"broker":       d.Broker,
		"instance":     a.cfg.Instance,
	}
	if d.Summary != "threshold" {
		for _, f := range a.cfg.LabelFields {
			labels[LabelName(f)] = d.Fields[f]
		}
	}
	for k, v := range labels {
		if v == "" {
			delete(labels, k) // an empty label is no label in Alertmanager
		}
	}
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
	return Alert{Labels: labels, Annotations: ann, StartsAt: d.ObservedAt, GeneratorURL: a.generatorURL(d)}
}

// description is the root cause, the best workaround, and for summaries
// how many occurrences and which clients.
func description(d *Diagnosis) string {
	var b strings.Builder
	b.WriteString(d.RootCause)
	if len(d.Workarounds) > 0 {
		w := d.Workarounds[0] // ranked: the best first
		fmt.Fprintf(&b, "\n\nBest workaround (works %.0f%% of the time): %s.", 100*w.SuccessRate, strings.TrimSuffix(w.Action, "."))
		if w.How != "" {
			b.WriteString(" ")
			b.WriteString(w.How)
		}
	}
	if len(d.DeadEnds) > 0 && d.DeadEnds[0].Action != "" {
		fmt.Fprintf(&b, "\n\nDoes not help: %s.", strings.TrimSuffix(d.DeadEnds[0].Action, "."))
	}
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
	if d.Source.File == "" || d.Source.File == "-" {
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
