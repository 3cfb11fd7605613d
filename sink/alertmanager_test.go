package sink

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/clock"
	"github.com/mqttdiag/mqttdiag/signatures"
)

func TestAlertName(t *testing.T) {
	for id, want := range map[string]string{
		"communication/mqtt-publish-identifier-already-in-use": "MqttdiagCommunicationMqttPublishIdentifierAlreadyInUse",
		"unknown":               "MqttdiagUnknown",
		"mosquitto/tls_error.2": "MqttdiagMosquittoTlsError2",
		"emqx/ä-odd":            "MqttdiagEmqxOdd",
	} {
		if got := AlertName(id); got != want {
			t.Errorf("AlertName(%q) = %q, want %q", id, got, want)
		}
	}
	if got := LabelName("2client-id"); got != "_client_id" {
		t.Errorf("LabelName = %q", got)
	}
}

// A diagnosis becomes an alert with the labels and annotations the README
// promises; a recurrence keeps startsAt and moves endsAt; a threshold
// summary is one alert for all its clients; Refresh re-sends what is
// active and forgets what resolved.
func TestAlertmanagerAlerts(t *testing.T) {
	srv, got := receiver(t, func(int, http.ResponseWriter) {})
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	fc := clock.NewFake(now)
	am, err := NewAlertmanager(srv.URL+"/", AlertmanagerConfig{
		HTTPOptions: HTTPOptions{Clock: fc}, Instance: "edge-1", ResolveTimeout: 5 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	d := &Diagnosis{
		ID: "abc", SignatureID: "communication/mqtt-publish-identifier-already-in-use", Title: "Client id takeover",
		Severity: "warning", Broker: "mosquitto", RootCause: "Two connections share a client id.",
		Workarounds: []Workaround{{Action: "Give every device a unique client id", How: "Derive it from the serial number.", SuccessRate: ptr(0.95), Sources: []string{"seed 001"}}},
		DeadEnds:    []DeadEnd{{Action: "Restart the broker", WhyFails: "they reconnect", FailRate: ptr(0.9)}},
		DocURL:      "https://docs.oasis-open.org/mqtt/x.html#takeover", Line: "Client sensor-1 already connected, closing old connection.",
		Fields: map[string]string{"client_id": "sensor-1"}, Source: Source{File: "/var/log/mosquitto/mosquitto.log", LineNumber: 697},
		ObservedAt: now,
	}
	post := func(ds ...*Diagnosis) []Alert {
		t.Helper()
		if retry, err := am.Notify(context.Background(), ds); err != nil {
			t.Fatalf("retry=%v err=%v", retry, err)
		}
		r := <-got
		var alerts []Alert
		if err := json.Unmarshal(r.body, &alerts); err != nil {
			t.Fatal(err)
		}
		return alerts
	}
	alerts := post(d)
	if len(alerts) != 1 {
		t.Fatalf("got %d alerts", len(alerts))
	}
	a := alerts[0]
	wantLabels := map[string]string{"alertname": "MqttdiagCommunicationMqttPublishIdentifierAlreadyInUse", "signature_id": d.SignatureID,
		"severity": "warning", "broker": "mosquitto", "instance": "edge-1", "client_id": "sensor-1"}
	if !equalMaps(a.Labels, wantLabels) {
		t.Errorf("labels %v, want %v", a.Labels, wantLabels)
	}
	if a.Annotations["summary"] != "Client id takeover" || a.Annotations["runbook_url"] != d.DocURL ||
		!strings.Contains(a.Annotations["description"], "Two connections share a client id.") ||
		!strings.Contains(a.Annotations["description"], "Best workaround (works 95% of the time, per seed 001): Give every device a unique client id. Derive it") ||
		!strings.Contains(a.Annotations["description"], "Does not help: Restart the broker.") {
		t.Errorf("annotations %v", a.Annotations)
	}
	if !a.StartsAt.Equal(now) || !a.EndsAt.Equal(now.Add(5*time.Minute)) || a.GeneratorURL != "file:///var/log/mosquitto/mosquitto.log#L697" {
		t.Errorf("times %v..%v, generator %q", a.StartsAt, a.EndsAt, a.GeneratorURL)
	}

	// It recurs two minutes later: same alert, startsAt kept, endsAt moved.
	later := *d
	later.ID, later.ObservedAt = "def", now.Add(2*time.Minute)
	a = post(&later)[0]
	if !a.StartsAt.Equal(now) || !a.EndsAt.Equal(now.Add(7*time.Minute)) {
		t.Errorf("recurrence: %v..%v", a.StartsAt, a.EndsAt)
	}

	// A threshold summary: one alert across clients, who are annotated.
	th := *d
	th.SignatureID, th.Summary, th.Count, th.Clients, th.ClientCount = "mosquitto/keepalive", "threshold", 50, []string{"a", "b"}, 2
	first, last := now.Add(-time.Minute), now
	th.FirstSeen, th.LastSeen = &first, &last
	a = post(&th)[0]
	if _, ok := a.Labels["client_id"]; ok || a.Annotations["count"] != "50" || a.Annotations["clients"] != "a, b" ||
		!strings.Contains(a.Annotations["description"], "50 occurrences from") {
		t.Errorf("threshold alert %v %v", a.Labels, a.Annotations)
	}

	// Refresh re-sends the active ones; after endsAt they are forgotten.
	if n, err := am.Refresh(context.Background()); err != nil || n != 2 {
		t.Fatal(n, err)
	}
	var re []Alert
	if err := json.Unmarshal((<-got).body, &re); err != nil || len(re) != 2 {
		t.Fatalf("refresh sent %d alerts (%v)", len(re), err)
	}
	fc.Advance(6 * time.Minute)
	if n, err := am.Refresh(context.Background()); err != nil || n != 1 {
		t.Fatal(n, err)
	}
	if err := json.Unmarshal((<-got).body, &re); err != nil || len(re) != 1 || re[0].Labels["client_id"] != "sensor-1" {
		t.Fatalf("refresh after 6m sent %v (%v), want only the alert seen 2m later", re, err)
	}
	fc.Advance(2 * time.Minute)
	if n, err := am.Refresh(context.Background()); err != nil || n != 0 || len(am.Active()) != 0 {
		t.Errorf("after every endsAt: %d active (%v)", len(am.Active()), err)
	}
}

// An open fault (its signature says which line ends it) stays firing past
// the resolve timeout: every re-send moves its endsAt four re-send
// intervals on. Its ending resolves it at once, and then it is forgotten.
func TestAlertmanagerOpenUntilEnded(t *testing.T) {
	srv, got := receiver(t, func(int, http.ResponseWriter) {})
	now := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	fc := clock.NewFake(now)
	am, err := NewAlertmanager(srv.URL, AlertmanagerConfig{
		HTTPOptions: HTTPOptions{Clock: fc}, ResolveTimeout: 2 * time.Second, ResendInterval: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	body := func() []Alert {
		t.Helper()
		var as []Alert
		if err := json.Unmarshal((<-got).body, &as); err != nil {
			t.Fatal(err)
		}
		return as
	}
	d := &Diagnosis{ID: "a", SignatureID: "mosquitto/startup-address-in-use", Severity: "critical", Broker: "mosquitto",
		Line: "Error: Address already in use", Fields: map[string]string{"reason": "Address already in use"}, ObservedAt: now, Open: true}
	if _, err := am.Notify(context.Background(), []*Diagnosis{d}); err != nil {
		t.Fatal(err)
	}
	if a := body()[0]; !a.EndsAt.Equal(now.Add(4 * time.Second)) {
		t.Errorf("endsAt %v, want four re-send intervals on (%v)", a.EndsAt, now.Add(4*time.Second))
	}
	for i := 1; i <= 10; i++ { // 10 s: five resolve timeouts
		fc.Advance(time.Second)
		if n, err := am.Refresh(context.Background()); err != nil || n != 1 {
			t.Fatalf("re-send %d: %d alerts (%v)", i, n, err)
		}
		if a := body()[0]; !a.EndsAt.Equal(fc.Now().Add(4 * time.Second)) {
			t.Fatalf("re-send %d: endsAt %v, want %v", i, a.EndsAt, fc.Now().Add(4*time.Second))
		}
	}
	end := *d
	ended := fc.Now()
	end.ID, end.Open, end.EndedAt, end.Line = "b", false, &ended, "mosquitto version 2.0.11 running"
	if _, err := am.Notify(context.Background(), []*Diagnosis{&end}); err != nil {
		t.Fatal(err)
	}
	as := body()
	if len(as) != 1 || !as[0].EndsAt.Equal(fc.Now()) || as[0].Labels["signature_id"] != d.SignatureID || !as[0].StartsAt.Equal(now) {
		t.Fatalf("ending sent %+v, want the alert with endsAt now (%v)", as, fc.Now())
	}
	fc.Advance(time.Second)
	if n, err := am.Refresh(context.Background()); err != nil || n != 0 || len(am.Active()) != 0 {
		t.Errorf("after the ending: %d re-sent, %d active (%v)", n, len(am.Active()), err)
	}
	// An ending of an alert the sink does not hold sends nothing.
	if _, err := am.Notify(context.Background(), []*Diagnosis{&end}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		t.Errorf("ending of an alert not held sent %s", r.body)
	default:
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Label sets come from log content: with room for 3 active alerts, ten
// client ids make 3 alerts and one aggregate per signature that says how
// many notifications it folded; a request that fails and is retried does
// not count them twice; re-sends go in requests of BatchMax alerts; an
// alert that resolved makes room again.
func TestAlertmanagerBoundsActiveAlerts(t *testing.T) {
	var fail atomic.Bool
	srv, got := receiver(t, func(_ int, w http.ResponseWriter) {
		if fail.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	fc := clock.NewFake(now)
	am, err := NewAlertmanager(srv.URL, AlertmanagerConfig{
		HTTPOptions: HTTPOptions{Clock: fc}, Instance: "edge-1", MaxActive: 3, BatchMax: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	takeover := func(client string) *Diagnosis {
		return &Diagnosis{ID: "id-" + client, SignatureID: "takeover", Title: "Client id takeover", Severity: "warning", Broker: "mosquitto",
			RootCause: "Two connections share a client id.", Fields: map[string]string{"client_id": client}, ObservedAt: now}
	}
	var ds []*Diagnosis
	for i := range 10 {
		ds = append(ds, takeover(fmt.Sprint("dev-", i)))
	}
	if _, err := am.Notify(context.Background(), ds); err != nil {
		t.Fatal(err)
	}
	var alerts []Alert
	if err := decodeAlerts((<-got).body, &alerts); err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 4 {
		t.Fatalf("posted %d alerts, want 3 and the aggregate", len(alerts))
	}
	var agg *Alert
	for i, a := range alerts {
		if a.Labels[FoldedLabel] == "true" {
			agg = &alerts[i]
		}
	}
	if agg == nil {
		t.Fatalf("no aggregate among %v", alerts)
	}
	if _, ok := agg.Labels["client_id"]; ok || agg.Labels["signature_id"] != "takeover" || agg.Annotations["folded"] != "7" || agg.Annotations["count"] != "7" ||
		!strings.Contains(agg.Annotations["description"], "at most 3 alerts active") || !strings.Contains(agg.Annotations["clients"], "dev-3") {
		t.Errorf("aggregate %v %v", agg.Labels, agg.Annotations)
	}
	if u := am.Usage(); u != (Usage{Active: 3, Limit: 3, Aggregates: 1, Folded: 7}) {
		t.Errorf("usage %+v", u)
	}

	// A failed request, retried: the fold is counted once.
	fail.Store(true)
	more := []*Diagnosis{takeover("dev-10"), takeover("dev-11")}
	if retry, err := am.Notify(context.Background(), more); err == nil || !retry {
		t.Fatalf("503: retry=%v err=%v", retry, err)
	}
	<-got
	fail.Store(false)
	if _, err := am.Notify(context.Background(), more); err != nil {
		t.Fatal(err)
	}
	if err := decodeAlerts((<-got).body, &alerts); err != nil || len(alerts) != 1 || alerts[0].Annotations["folded"] != "9" {
		t.Fatalf("after the retry posted %v (%v), want the aggregate at 9", alerts, err)
	}
	if u := am.Usage(); u.Folded != 9 {
		t.Errorf("folded %d after a retried request, want 9", u.Folded)
	}

	// A threshold summary has no label from log content: it is one alert
	// per signature, never folded.
	th := takeover("many")
	th.SignatureID, th.Summary, th.Count = "keepalive", "threshold", 50
	if _, err := am.Notify(context.Background(), []*Diagnosis{th}); err != nil {
		t.Fatal(err)
	}
	if err := decodeAlerts((<-got).body, &alerts); err != nil || len(alerts) != 1 || alerts[0].Labels[FoldedLabel] != "" || alerts[0].Labels["signature_id"] != "keepalive" {
		t.Fatalf("a threshold summary while full: posted %v (%v)", alerts, err)
	}
	if u := am.Usage(); u.Active != 3 || u.Aggregates != 1 {
		t.Errorf("usage %+v after a threshold summary", u)
	}

	// Re-sends: 5 alerts in requests of at most 2.
	n, err := am.Refresh(context.Background())
	if err != nil || n != 5 {
		t.Fatalf("refresh sent %d (%v)", n, err)
	}
	for _, want := range []int{2, 2, 1} {
		if err := decodeAlerts((<-got).body, &alerts); err != nil || len(alerts) != want {
			t.Fatalf("a re-send request carried %d alerts (%v), want %d", len(alerts), err, want)
		}
	}

	// Once they resolved, a new label set has room again.
	now = now.Add(6 * time.Minute)
	fc.Advance(6 * time.Minute)
	if _, err := am.Notify(context.Background(), []*Diagnosis{takeover("dev-new")}); err != nil {
		t.Fatal(err)
	}
	if err := decodeAlerts((<-got).body, &alerts); err != nil || len(alerts) != 1 || alerts[0].Labels["client_id"] != "dev-new" {
		t.Errorf("after every alert resolved: posted %v (%v)", alerts, err)
	}
}

// decodeAlerts decodes into a fresh slice: json.Unmarshal into a used one
// would merge into its maps.
func decodeAlerts(b []byte, out *[]Alert) error {
	*out = nil
	return json.Unmarshal(b, out)
}

// An Alertmanager is named by the base URL it was given (its API path
// adds nothing), its path hashed like any sink's.
func TestAlertmanagerName(t *testing.T) {
	for raw, want := range map[string]string{
		"http://am.example:9093":                "alertmanager http://am.example:9093",
		"http://am.example:9093/api/v2/alerts":  "alertmanager http://am.example:9093",
		"https://u:pw@am.example/am/?token=abc": "alertmanager https://am.example (path #",
	} {
		am, err := NewAlertmanager(raw, AlertmanagerConfig{})
		if err != nil || !strings.HasPrefix(am.String(), want) || strings.Contains(am.String(), "pw") || strings.Contains(am.String(), "abc") {
			t.Errorf("%s named %q (%v), want %q", raw, am.String(), err, want)
		}
	}
}

// BenchmarkActiveAlertMemory reports what an active alert costs (B/alert:
// live heap after a GC, divided by the alerts), with the built-in takeover
// signature's knowledge as a diagnosis carries it (the pipeline shares
// it between diagnoses; an alert's description is its own): the figure behind
// DefaultMaxActive.
func BenchmarkActiveAlertMemory(b *testing.B) {
	const n = 1000
	srv, got := receiver(b, func(int, http.ResponseWriter) {})
	go func() {
		for range got {
		}
	}()
	sigs, err := signatures.Builtin()
	if err != nil {
		b.Fatal(err)
	}
	var sig *signatures.Signature
	for _, s := range sigs {
		if s.ID == "communication/mqtt-publish-identifier-already-in-use" {
			sig = s
		}
	}
	if sig == nil {
		b.Fatal("no takeover signature in the built-in pack")
	}
	var was []Workaround
	for _, w := range sig.Workarounds {
		was = append(was, Workaround{Action: w.Action, How: w.How, SuccessRate: w.SuccessRate})
	}
	var des []DeadEnd
	for _, d := range sig.DeadEnds {
		des = append(des, DeadEnd{Action: d.Action, WhyFails: d.WhyFails, FailRate: d.FailRate})
	}
	for b.Loop() {
		am, err := NewAlertmanager(srv.URL, AlertmanagerConfig{Instance: "edge-1", MaxActive: n})
		if err != nil {
			b.Fatal(err)
		}
		var ms0, ms1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms0)
		for i := range n {
			d := &Diagnosis{ID: fmt.Sprint(i), SignatureID: sig.ID, Title: sig.Title, Severity: "warning", Broker: "mosquitto",
				RootCause: sig.RootCause, Workarounds: was, DeadEnds: des, DocURL: sig.OfficialDocURL,
				Line: fmt.Sprintf("1795321998: Client dev-%07d already connected, closing old connection.", i), Fields: map[string]string{"client_id": fmt.Sprintf("dev-%07d", i)},
				Source: Source{File: "/var/log/mosquitto/mosquitto.log", LineNumber: int64(i)}, ObservedAt: time.Now()}
			if _, err := am.Notify(context.Background(), []*Diagnosis{d}); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&ms1)
		b.ReportMetric(float64(ms1.HeapAlloc-ms0.HeapAlloc)/n, "B/alert")
		runtime.KeepAlive(am)
	}
}

func ptr(f float64) *float64 { return &f }

// A journal entry has no file: no file:// generatorURL that would name
// a file "journald:mosquitto.service" in the working directory.
func TestGeneratorURLJournal(t *testing.T) {
	a := &Alertmanager{}
	if u := a.generatorURL(&Diagnosis{Source: Source{File: "journald:mosquitto.service", LineNumber: 3}}); u != "" {
		t.Errorf("generatorURL of a journal entry %q, want none", u)
	}
	if u := a.generatorURL(&Diagnosis{Source: Source{File: "/var/log/m.log", LineNumber: 3}}); u != "file:///var/log/m.log#L3" {
		t.Errorf("generatorURL of a file line %q", u)
	}
}
