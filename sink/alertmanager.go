package sink

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of an Alertmanager sink.
const (
	// DefaultResolveTimeout is how long after a fault was last seen its
	// alert resolves.
	DefaultResolveTimeout = 5 * time.Minute
	// DefaultResendInterval is how often active alerts are sent again, as
	// Prometheus' --rules.alert.resend-delay.
	DefaultResendInterval = time.Minute
	// DefaultMaxActive is how many alerts a sink keeps active at once
	// unless AlertmanagerConfig.MaxActive sets another. An active alert
	// costs about 2.9 KB of live heap (BenchmarkActiveAlertMemory: its
	// annotations carry the root cause and the best workaround), so the
	// default holds about 3 MB.
	DefaultMaxActive = 1000
	// DefaultResendBatch is how many alerts one re-send request carries
	// unless AlertmanagerConfig.BatchMax sets another.
	DefaultResendBatch = 100
)

// FoldedLabel is the label of the aggregate alert into which a sink folds
// what has no room among its active alerts; its value is "true".
const FoldedLabel = "folded"

// DefaultLabelFields returns the diagnosis fields that become alert
// labels: who is affected. They split alerts per client, user or topic; a
// threshold or overflow summary, which is about many clients, names them
// in its annotations instead.
func DefaultLabelFields() []string { return []string{"client_id", "username", "topic"} }

// AlertmanagerConfig is what an Alertmanager sink needs beyond its URL.
type AlertmanagerConfig struct {
	HTTPOptions
	// Instance is the instance label: which mqttdiag saw the fault.
	Instance string
	// ResolveTimeout: an alert's endsAt is its fault's last sighting plus
	// this, so it resolves when the fault stops recurring. An open fault
	// (Diagnosis.Open: its signature says which line ends it) instead
	// stays firing, re-sent every ResendInterval, until a notification
	// with EndedAt resolves it.
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
	// MaxActive bounds the active alerts whose label set log content
	// chose, that is alerts with a label from LabelFields
	// (DefaultMaxActive when 0). While that many are active, a
	// notification for another such label set is folded into one aggregate
	// alert per signature, labelled FoldedLabel="true", that says how many
	// were folded. Alerts without such a label (threshold and overflow
	// summaries, faults that name no client) are one per signature,
	// severity and broker, and not limited.
	MaxActive int
	// BatchMax is how many alerts one re-send request carries at most
	// (DefaultResendBatch when 0).
	BatchMax int
}

// Alertmanager sends diagnoses as alerts to one Alertmanager's API v2.
// Give each replica of a cluster its own sink: every replica must get
// every alert, as Prometheus does.
//
// What it keeps is bounded whatever the log holds: at most MaxActive
// alerts keyed by log content, and per signature (and severity and
// broker) one alert without such a key and one aggregate of what found
// no room.
type Alertmanager struct {
	target string
	name   string
	client *http.Client
	header http.Header
	scrub  []string // credentials of the URL, kept out of logged answers
	cfg    AlertmanagerConfig

	mu        sync.Mutex
	active    map[string]*activeAlert // by label set
	keyed     int                     // active alerts keyed by log content: at most cfg.MaxActive
	folded    map[string]*foldedAlert // aggregates, by label set
	lastPrune time.Time

	nActive     atomic.Int64 // keyed, for Usage
	nFolded     atomic.Int64 // notifications folded, ever
	nAggregates atomic.Int64 // len(folded)
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
	keyed    bool // has a label from LabelFields
	// open: the fault lasts until its ending line (Diagnosis.Open), so
	// every re-send moves endsAt on instead of letting it pass.
	open bool
}

// openUntil is the endsAt of an open alert sent at now: four re-send
// intervals on, as Prometheus stamps a firing alert (rules/alerting.go
// sendAlerts: ValidUntil = ts + 4*max(interval, resendDelay), "allow for
// two Eval or Alertmanager send failures"), so that a lost re-send does
// not resolve it, while an mqttdiag that died stops holding it firing.
func (a *Alertmanager) openUntil(now time.Time) time.Time {
	return now.Add(4 * a.cfg.ResendInterval)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// foldedAlert is an aggregate: what was folded into it while it was active.
type foldedAlert struct {
	activeAlert
	notifications int      // folded into it
	occurrences   int      // they stand for
	clients       []string // named by them, sorted, at most MaxClients
	moreClients   bool     // more were named than clients holds
	added         int      // notifications folded by the Notify in progress
}

// Usage is how much of its bound a sink that keeps state per label set
// uses, for metrics.
type Usage struct {
	// Active is the alerts held now whose label set log content chose,
	// of Limit; Aggregates the aggregate alerts holding what found no
	// room.
	Active, Limit, Aggregates int
	// Folded counts the notifications folded into aggregates, ever.
	Folded int64
}

// Bounded is a sink that keeps state per label set up to a limit.
type Bounded interface {
	Usage() Usage
}

// NewAlertmanager returns a sink for the Alertmanager at url (its base,
// such as http://alertmanager:9093; /api/v2/alerts is added).
func NewAlertmanager(rawURL string, cfg AlertmanagerConfig) (*Alertmanager, error) {
	u, _, err := parseTarget("alertmanager", rawURL)
	if err != nil {
		return nil, err
	}
	base := *u
	base.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/api/v2/alerts"), "/")
	name := "alertmanager " + SafeURL(&base) // as given: the API path adds nothing
	scrub := urlCredentials(&base)
	u.Path = base.Path + "/api/v2/alerts"
	if cfg.ResolveTimeout <= 0 {
		cfg.ResolveTimeout = DefaultResolveTimeout
	}
	if cfg.ResendInterval <= 0 {
		cfg.ResendInterval = DefaultResendInterval
	}
	if cfg.MaxActive <= 0 {
		cfg.MaxActive = DefaultMaxActive
	}
	if cfg.BatchMax <= 0 {
		cfg.BatchMax = DefaultResendBatch
	}
	if cfg.LabelFields == nil {
		cfg.LabelFields = DefaultLabelFields()
	}
	for _, f := range cfg.LabelFields {
		switch LabelName(f) {
		case "":
			return nil, fmt.Errorf("label field %q: want a field name", f)
		case "alertname", "signature_id", "severity", "broker", "instance", FoldedLabel:
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
	return &Alertmanager{target: u.String(), name: name, client: cfg.client(), header: h, scrub: scrub, cfg: cfg,
		active: make(map[string]*activeAlert), folded: make(map[string]*foldedAlert)}, nil
}

// String names the sink in logs, without credentials.
func (a *Alertmanager) String() string { return a.name }

// Usage reports the active alerts against the limit; safe at any time.
func (a *Alertmanager) Usage() Usage {
	return Usage{Active: int(a.nActive.Load()), Limit: a.cfg.MaxActive, Aggregates: int(a.nAggregates.Load()), Folded: a.nFolded.Load()}
}

// Notify turns ds into alerts, one per label set, and posts them.
// Alertmanager answers 400 or 422 to an alert it will never take (a bad
// label); that is not worth retrying.
//
// A diagnosis whose label set is not active while MaxActive are is folded
// into its signature's aggregate, which is posted in its place. The fold
// is kept once the request was accepted (or refused for good, which the
// delivery loop takes as accepted), so that a retried batch is not
// counted twice.
func (a *Alertmanager) Notify(ctx context.Context, ds []*Diagnosis) (bool, error) {
	a.mu.Lock()
	now := a.cfg.now()
	batch := make(map[string]Alert, len(ds))
	var pending map[string]*foldedAlert
	for _, d := range ds {
		al, keyed := a.alert(d)
		key := labelKey(al.Labels)
		act := a.active[key]
		if d.EndedAt != nil {
			// The fault's ending line came: resolve its alert now. An
			// alert this sink does not hold (folded, or never sent: a
			// threshold not crossed) has nothing to resolve.
			if act != nil {
				act.open = false
				act.EndsAt = now
				batch[key] = act.Alert
			}
			continue
		}
		if act == nil && keyed && a.keyed >= a.cfg.MaxActive {
			a.prune(now)
		}
		if act == nil && keyed && a.keyed >= a.cfg.MaxActive {
			if pending == nil {
				pending = make(map[string]*foldedAlert)
			}
			fk, f := a.fold(d, pending)
			batch[fk] = f.Alert
			continue
		}
		seen := d.ObservedAt
		if act != nil {
			al.StartsAt = act.StartsAt
			if act.lastSeen.After(seen) {
				seen = act.lastSeen
			}
		}
		if al.StartsAt.After(seen) {
			al.StartsAt = seen
		}
		al.EndsAt = seen.Add(a.cfg.ResolveTimeout)
		if d.Open {
			al.EndsAt = later(al.EndsAt, a.openUntil(now))
		}
		if act == nil && keyed {
			a.keyed++
		}
		a.active[key] = &activeAlert{Alert: al, lastSeen: seen, keyed: keyed, open: d.Open}
		batch[key] = al
	}
	a.nActive.Store(int64(a.keyed))
	a.mu.Unlock()
	if len(batch) == 0 {
		return false, nil // only endings of alerts not held: nothing to say
	}
	alerts := make([]Alert, 0, len(batch))
	for _, k := range slices.Sorted(maps.Keys(batch)) {
		alerts = append(alerts, batch[k])
	}
	retry, err := a.post(ctx, alerts)
	if len(pending) > 0 && (err == nil || !retry) {
		a.mu.Lock()
		for k, f := range pending {
			a.nFolded.Add(int64(f.added))
			f.added = 0
			a.folded[k] = f
		}
		a.nAggregates.Store(int64(len(a.folded)))
		a.mu.Unlock()
	}
	return retry, err
}

// prune forgets the alerts whose endsAt passed, to make room; at most
// once a second, since it looks at every active alert.
func (a *Alertmanager) prune(now time.Time) {
	if !a.lastPrune.IsZero() && now.Sub(a.lastPrune) < time.Second && now.After(a.lastPrune) {
		return
	}
	a.lastPrune = now
	for k, act := range a.active {
		if !act.EndsAt.After(now) {
			a.forget(k, act)
		}
	}
}

// forget drops an active alert whose endsAt passed.
func (a *Alertmanager) forget(key string, act *activeAlert) {
	delete(a.active, key)
	if act.keyed {
		a.keyed--
	}
}

// fold adds d to its signature's aggregate: a copy, in pending, of the
// one kept (or a new one), which Notify keeps once it was delivered.
func (a *Alertmanager) fold(d *Diagnosis, pending map[string]*foldedAlert) (string, *foldedAlert) {
	labels, _ := a.labels(d, false)
	labels[FoldedLabel] = "true"
	key := labelKey(labels)
	f := pending[key]
	if f == nil {
		f = &foldedAlert{}
		if cur := a.folded[key]; cur != nil && cur.EndsAt.After(d.ObservedAt) {
			*f = *cur
			f.clients = slices.Clone(cur.clients)
		} else {
			f.StartsAt = d.ObservedAt
		}
		pending[key] = f
	}
	f.added++
	f.notifications++
	f.occurrences += d.Occurrences()
	for _, c := range append([]string{d.Fields["client_id"]}, d.Clients...) {
		if c == "" {
			continue
		}
		if i, found := slices.BinarySearch(f.clients, c); !found {
			if len(f.clients) < MaxClients {
				f.clients = slices.Insert(f.clients, i, c)
			} else {
				f.moreClients = true
			}
		}
	}
	if d.ClientCount > len(d.Clients) {
		f.moreClients = true
	}
	seen := d.ObservedAt
	if f.lastSeen.After(seen) {
		seen = f.lastSeen
	}
	if f.StartsAt.After(seen) {
		f.StartsAt = seen
	}
	f.lastSeen = seen
	f.EndsAt = seen.Add(a.cfg.ResolveTimeout)
	f.Labels = labels
	f.GeneratorURL = a.generatorURL(d)
	clients := strings.Join(f.clients, ", ")
	if f.moreClients {
		clients += ", ..."
	}
	ann := map[string]string{
		"summary": d.Title,
		"description": fmt.Sprintf("This sink keeps at most %d alerts active, and that many were: %d notifications of this fault for other label sets were folded into this one alert, standing for %d occurrences.",
			a.cfg.MaxActive, f.notifications, f.occurrences) + knowledge(d),
		"diagnosis_id": d.ID,
		"line":         d.Line,
		"count":        strconv.Itoa(f.occurrences),
		"folded":       strconv.Itoa(f.notifications),
	}
	if clients != "" {
		ann["clients"] = clients
		ann["description"] += " Clients among them: " + clients + "."
	}
	if d.DocURL != "" {
		ann["runbook_url"] = d.DocURL
	}
	f.Annotations = ann
	return key, f
}

// RefreshInterval is how often Refresh should run.
func (a *Alertmanager) RefreshInterval() time.Duration { return a.cfg.ResendInterval }

// Refresh sends every alert that is still active again, so that an
// Alertmanager that restarted (it keeps alerts in memory) learns of them,
// and forgets those whose endsAt passed: Alertmanager resolved them. It
// sends at most BatchMax alerts per request, stops at the first that
// fails, and returns how many alerts were due (0 when none is active: no
// request).
func (a *Alertmanager) Refresh(ctx context.Context) (int, error) {
	now := a.cfg.now()
	a.mu.Lock()
	alerts := make([]Alert, 0, len(a.active)+len(a.folded))
	for _, k := range slices.Sorted(maps.Keys(a.active)) {
		act := a.active[k]
		if act.open {
			act.EndsAt = later(act.EndsAt, a.openUntil(now))
		}
		if !act.EndsAt.After(now) {
			a.forget(k, act)
			continue
		}
		alerts = append(alerts, act.Alert)
	}
	for _, k := range slices.Sorted(maps.Keys(a.folded)) {
		f := a.folded[k]
		if !f.EndsAt.After(now) {
			delete(a.folded, k)
			continue
		}
		alerts = append(alerts, f.Alert)
	}
	a.nActive.Store(int64(a.keyed))
	a.nAggregates.Store(int64(len(a.folded)))
	a.mu.Unlock()
	for chunk := range slices.Chunk(alerts, a.cfg.BatchMax) {
		if _, err := a.post(ctx, chunk); err != nil {
			// The rest waits for the next interval, as a whole re-send
			// that failed would.
			return len(alerts), err
		}
	}
	return len(alerts), nil
}

// Active returns the alerts the sink considers active, aggregates last
// (tests, metrics).
func (a *Alertmanager) Active() []Alert {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []Alert
	for _, k := range slices.Sorted(maps.Keys(a.active)) {
		out = append(out, a.active[k].Alert)
	}
	for _, k := range slices.Sorted(maps.Keys(a.folded)) {
		out = append(out, a.folded[k].Alert)
	}
	return out
}

func (a *Alertmanager) post(ctx context.Context, alerts []Alert) (bool, error) {
	body, err := json.Marshal(alerts)
	if err != nil {
		return false, fmt.Errorf("%s: encode alerts: %w", a.name, err)
	}
	return post(ctx, a.client, a.name, a.target, a.header.Clone(), body, a.cfg.now(), a.scrub...)
}
