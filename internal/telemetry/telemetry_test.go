package telemetry

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/clock"
	"github.com/mqttdiag/mqttdiag/internal/pipeline"
	"github.com/mqttdiag/mqttdiag/internal/testutil/brokertest"
	"github.com/mqttdiag/mqttdiag/matcher"
	"github.com/mqttdiag/mqttdiag/signatures"
	"github.com/mqttdiag/mqttdiag/sink"
	"github.com/mqttdiag/mqttdiag/tailer"
)

// metric returns one sample from the server's registry: name with
// labels written as in the exposition format without quotes' escapes,
// e.g. `mqttdiag_sink_sent_total{sink="stdout"}`; ok is false when absent.
func metric(t *testing.T, s *Server, series string) (float64, bool) {
	t.Helper()
	mfs, err := s.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, lp := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
			}
			key := mf.GetName()
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			if key != series {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue(), true
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true
			}
		}
	}
	return 0, false
}

func takeoverMatcher(t *testing.T) (*matcher.Matcher, []*signatures.Signature) {
	t.Helper()
	s, err := signatures.Parse("p.json", []byte(`[{
		"id": "takeover", "signature": "Client id takeover", "category": "protocol_error", "severity": "warning",
		"root_cause": "two clients share an id", "regex": "^Client (?P<client_id>.+) already connected, closing old connection\\.$"
	}]`))
	if err != nil {
		t.Fatal(err)
	}
	m, err := matcher.New(s)
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}

// switchProxy forwards to a real receiver while up, and answers 503
// while down; each request is reported on seen with the answer's code.
type switchProxy struct {
	down atomic.Bool
	rp   *httputil.ReverseProxy
	seen chan int
}

func (p *switchProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.down.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		p.seen <- http.StatusServiceUnavailable
		return
	}
	rec := &statusWriter{ResponseWriter: w, code: http.StatusOK}
	p.rp.ServeHTTP(rec, r)
	p.seen <- rec.code
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) { w.code = code; w.ResponseWriter.WriteHeader(code) }

// Alertmanager re-sends are metrics, and a failing re-send makes the sink
// failing (mqttdiag_sink_failing_seconds, /readyz) until one succeeds.
func TestAlertmanagerResendMetricsAndReadiness(t *testing.T) {
	am := brokertest.StartAlertmanager(t)
	target, err := url.Parse(am.URL)
	if err != nil {
		t.Fatal(err)
	}
	px := &switchProxy{rp: httputil.NewSingleHostReverseProxy(target), seen: make(chan int, 100)}
	srv := httptest.NewServer(px)
	defer srv.Close()

	fc := clock.NewFake(time.Now())
	amSink, err := sink.NewAlertmanager(srv.URL, sink.AlertmanagerConfig{ResendInterval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := takeoverMatcher(t)
	p := pipeline.New(m, nil, pipeline.Alerting(amSink), pipeline.Clock(fc), pipeline.Unknown(false, 0),
		pipeline.Retry(pipeline.RetryPolicy{Min: time.Millisecond, Max: time.Millisecond}))
	tl := tailer.New([]string{filepath.Join(t.TempDir(), "m.log")})
	s := New(tl, p, "test", FailingAfter(30*time.Second), Clock(fc))
	s.Started()

	in := make(chan tailer.Batch)
	ran := make(chan error, 1)
	go func() { ran <- p.Run(context.Background(), in) }()
	acked := make(chan struct{})
	in <- tailer.Batch{Lines: []tailer.Line{{Source: "m.log", Stream: "s", Text: "1795320306: Client dev-1 already connected, closing old connection."}},
		Done: func() { close(acked) }}
	<-acked // Alertmanager took the alert
	if code := <-px.seen; code != http.StatusOK {
		t.Fatalf("Alertmanager answered %d", code)
	}
	name := `{sink="` + amSink.String() + `"}`
	get := func(series string) float64 {
		t.Helper()
		v, ok := metric(t, s, series)
		if !ok {
			t.Fatalf("%s missing", series)
		}
		return v
	}
	// The lane waits on its re-send timer now.
	if !fc.BlockUntil(1, 10*time.Second) {
		t.Fatal("no re-send timer")
	}
	px.down.Store(true)
	fc.Advance(time.Minute)
	if code := <-px.seen; code != http.StatusServiceUnavailable {
		t.Fatalf("re-send answered %d", code)
	}
	if !fc.BlockUntil(1, 10*time.Second) { // the next re-send is armed: the failure was handled
		t.Fatal("no re-send timer after the failure")
	}
	if r, f := get("mqttdiag_sink_resends_total"+name), get("mqttdiag_sink_resend_failures_total"+name); r != 1 || f != 1 {
		t.Errorf("after a failed re-send: resends %v, failures %v, want 1 and 1", r, f)
	}
	if r := s.Ready(); !r.Ready {
		t.Errorf("not ready right after one failure: %v", r.Problems)
	}
	fc.Advance(40 * time.Second)
	if v := get("mqttdiag_sink_failing_seconds" + name); v != 40 {
		t.Errorf("failing seconds %v, want 40", v)
	}
	if r := s.Ready(); r.Ready || !strings.Contains(strings.Join(r.Problems, " "), amSink.String()+" failing since") {
		t.Errorf("a sink whose re-sends fail for 40s: ready %v, problems %v", r.Ready, r.Problems)
	}

	// The receiver is back: the next re-send succeeds and clears it.
	px.down.Store(false)
	fc.Advance(20 * time.Second)
	if code := <-px.seen; code != http.StatusOK {
		t.Fatalf("re-send answered %d", code)
	}
	if !fc.BlockUntil(1, 10*time.Second) {
		t.Fatal("no re-send timer after the success")
	}
	if r, f := get("mqttdiag_sink_resends_total"+name), get("mqttdiag_sink_resend_failures_total"+name); r != 2 || f != 1 {
		t.Errorf("after a good re-send: resends %v, failures %v, want 2 and 1", r, f)
	}
	if v := get("mqttdiag_sink_failing_seconds" + name); v != 0 {
		t.Errorf("failing seconds %v after a good re-send", v)
	}
	if r := s.Ready(); !r.Ready {
		t.Errorf("not ready after a good re-send: %v", r.Problems)
	}
	if len(am.Alerts(t)) != 1 {
		t.Errorf("Alertmanager holds %d alerts, want 1", len(am.Alerts(t)))
	}
	close(in)
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
}

// The matcher counters add up across reloads: a new pack's matcher starts
// from zero, but the metrics never go backwards.
func TestMatcherCountersMonotonicAcrossReload(t *testing.T) {
	m1, s1 := takeoverMatcher(t)
	p := pipeline.New(m1, nil, pipeline.Unknown(false, 0))
	s := New(tailer.New([]string{filepath.Join(t.TempDir(), "m.log")}), p, "test")
	in := make(chan tailer.Batch)
	ran := make(chan error, 1)
	go func() { ran <- p.Run(context.Background(), in) }()
	batch := func(n int) {
		done := make(chan struct{})
		var lines []tailer.Line
		for i := range n {
			lines = append(lines, tailer.Line{Source: "m.log", Stream: "s", Offset: int64(i),
				Text: "1795320306: Client dev-1 already connected, closing old connection."})
		}
		in <- tailer.Batch{Lines: lines, Done: func() { close(done) }}
		<-done
	}
	series := []string{"mqttdiag_matcher_lines_total", "mqttdiag_matcher_candidates_total", "mqttdiag_matcher_regex_runs_total",
		"mqttdiag_matcher_cache_hits_total", "mqttdiag_matcher_cache_misses_total", `mqttdiag_matcher_signature_regex_runs_total{signature_id="takeover"}`}
	read := func() map[string]float64 {
		out := map[string]float64{}
		for _, k := range series {
			v, ok := metric(t, s, k)
			if !ok {
				t.Fatalf("%s missing", k)
			}
			out[k] = v
		}
		return out
	}
	batch(3)
	before := read()
	if before["mqttdiag_matcher_lines_total"] != 3 || before["mqttdiag_matcher_cache_hits_total"] < 1 || before["mqttdiag_matcher_cache_misses_total"] < 1 {
		t.Fatalf("before the reload: %v", before)
	}
	// The reload: a new matcher for the same signatures.
	m2, err := matcher.New(s1)
	if err != nil {
		t.Fatal(err)
	}
	p.SetPack(pipeline.NewPack(m2, s1, "v2", "222222222222"))
	swapped := read() // swapped, not yet matched with
	batch(2)
	after := read()
	for _, k := range series {
		if swapped[k] < before[k] || after[k] < swapped[k] {
			t.Errorf("%s went backwards across the reload: %v, %v, %v", k, before[k], swapped[k], after[k])
		}
	}
	if after["mqttdiag_matcher_lines_total"] != 5 {
		t.Errorf("lines %v, want 5 across both packs", after["mqttdiag_matcher_lines_total"])
	}
	if after["mqttdiag_matcher_cache_misses_total"] <= before["mqttdiag_matcher_cache_misses_total"] {
		t.Errorf("the new matcher's cold cache missed nothing: %v", after)
	}
	close(in)
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
}

// mqttdiag_unknown_fault_lines_total counts every unexplained
// fault-looking line; mqttdiag_unknown_fault_reports_total the diagnoses
// made of them, one per wording per minute.
func TestUnknownFaultLinesCountEveryLine(t *testing.T) {
	m, _ := takeoverMatcher(t)
	p := pipeline.New(m, nil)
	s := New(tailer.New([]string{filepath.Join(t.TempDir(), "m.log")}), p, "test")
	in := make(chan tailer.Batch, 1)
	var lines []tailer.Line
	for i := range 5 {
		lines = append(lines, tailer.Line{Source: "m.log", Stream: "s", Offset: int64(i) * 100,
			Text: fmt.Sprintf("1795320306: Error: Frobnicator %d overheated on bus /dev/fb7.", i)})
	}
	lines = append(lines, tailer.Line{Source: "m.log", Stream: "s", Offset: 600, Text: "1795320306: Client dev-1 already connected, closing old connection."},
		tailer.Line{Source: "m.log", Stream: "s", Offset: 700, Text: "1795320306: Sending PINGRESP to dev-1"})
	in <- tailer.Batch{Lines: lines}
	close(in)
	if err := p.Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	for series, want := range map[string]float64{
		"mqttdiag_unknown_fault_lines_total":                                5,
		"mqttdiag_unknown_fault_reports_total":                              1,
		`mqttdiag_diagnoses_total{severity="error",signature_id="unknown"}`: 1,
	} {
		if v, ok := metric(t, s, series); !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", series, v, ok, want)
		}
	}
}

// waitReady polls Ready until its verdict is want (the tailer retries
// inputs every second; there is no event to wait on).
func waitReady(t *testing.T, s *Server, want bool) Readiness {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := s.Ready()
		if r.Ready == want {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("readiness stays %v: %v", r.Ready, r.Problems)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// An input that exists but cannot be followed (here a FIFO where a log
// file is expected; a file without read permission when not root) makes
// /readyz fail with the reason, until it can be followed.
func TestReadinessFailsWhileAnInputCannotBeOpened(t *testing.T) {
	cases := map[string]func(t *testing.T, path string){
		"fifo": func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o644); err != nil {
				t.Fatalf("mkfifo: %v", err)
			}
		},
	}
	// Root reads a file of mode 000, so the case exists only for other
	// users; the FIFO provokes the same failure for everyone.
	if os.Geteuid() != 0 {
		cases["mode 000"] = func(t *testing.T, path string) {
			if err := os.WriteFile(path, nil, 0o000); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, provoke := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			good, bad := filepath.Join(dir, "good.log"), filepath.Join(dir, "bad.log")
			if err := os.WriteFile(good, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			provoke(t, bad)
			tl := tailer.New([]string{good, bad}, tailer.Follow(true))
			m, _ := takeoverMatcher(t)
			s := New(tl, pipeline.New(m, nil), "test")
			s.Started()
			ctx, cancel := context.WithCancel(context.Background())
			out := make(chan tailer.Batch)
			ran := make(chan error, 1)
			go func() { ran <- tl.Run(ctx, out) }()
			go func() {
				for b := range out {
					if b.Done != nil {
						b.Done()
					}
				}
			}()
			defer func() {
				cancel()
				if err := <-ran; err != nil {
					t.Error(err)
				}
			}()

			r := waitReady(t, s, false)
			if got := strings.Join(r.Problems, "; "); !strings.Contains(got, "cannot follow input "+bad) || strings.Contains(got, good) {
				t.Errorf("problems %q, want %s named and not %s", got, bad, good)
			}
			// The path becomes a readable log file: ready again.
			if err := os.Remove(bad); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(bad, []byte("1795320306: Client dev-1 already connected, closing old connection.\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			waitReady(t, s, true)
		})
	}
}

// File names need not be UTF-8, Prometheus label values must be: a
// followed directory holding such names is still scraped, every file a
// series of its own, its odd bytes written as \xNN. Two names that
// come out the same (one with the byte 0xff, one with the characters
// \xff) are one series, added up, not a failed scrape.
func TestMetricsWithFileNamesThatAreNotUTF8(t *testing.T) {
	dir := t.TempDir()
	line := "1795320306: Client dev-1 already connected, closing old connection.\n"
	for _, name := range []string{"good.log", "evil\xff.log", "evil\xfe.log", `evil\xff.log`} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tl := tailer.New([]string{dir}, tailer.FromBeginning(true))
	m, _ := takeoverMatcher(t)
	p := pipeline.New(m, nil, pipeline.Unknown(false, 0))
	s := New(tl, p, "test")
	out := make(chan tailer.Batch)
	ran := make(chan error, 1)
	go func() { ran <- tl.Run(context.Background(), out) }()
	if err := p.Run(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics answered %d: %.300s", rec.Code, rec.Body.String())
	}
	for name, want := range map[string]float64{"good.log": 1, `evil\xfe.log`: 1, `evil\xff.log`: 2} {
		series := fmt.Sprintf("mqttdiag_lines_read_total{file=%q}", filepath.Join(dir, name))
		if v, ok := metric(t, s, series); !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", series, v, ok, want)
		}
	}
}

// The bounds on what log content fills are metrics: their limits, their
// use, and what was folded for want of room.
func TestBoundMetrics(t *testing.T) {
	am := brokertest.StartAlertmanager(t)
	amSink, err := sink.NewAlertmanager(am.URL, sink.AlertmanagerConfig{MaxActive: 1})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := takeoverMatcher(t)
	p := pipeline.New(m, nil, pipeline.Alerting(amSink), pipeline.StormControl(time.Minute, nil), pipeline.MaxDedupKeys(2),
		pipeline.Clock(clock.NewFake(time.Now())), pipeline.Unknown(false, 0))
	s := New(tailer.New([]string{filepath.Join(t.TempDir(), "m.log")}), p, "test")
	in := make(chan tailer.Batch)
	ran := make(chan error, 1)
	go func() { ran <- p.Run(context.Background(), in) }()
	var lines []tailer.Line
	for i := range 5 {
		lines = append(lines, tailer.Line{Source: "m.log", Stream: "s", Offset: int64(i) * 100,
			Text: fmt.Sprintf("1795320306: Client dev-%d already connected, closing old connection.", i)})
	}
	in <- tailer.Batch{Lines: lines}
	// The two firsts are delivered (the third line on is folded, held
	// until its window closes), the second into the aggregate alert.
	am.WaitAlerts(t, 20*time.Second, "the alert and the aggregate", func(as []brokertest.AMAlert) bool { return len(as) == 2 })
	name := `{sink="` + amSink.String() + `"}`
	want := map[string]float64{
		"mqttdiag_storm_dedup_keys":                       2,
		"mqttdiag_storm_dedup_keys_limit":                 2,
		"mqttdiag_storm_overflow_occurrences_total":       3,
		"mqttdiag_sink_active_alerts" + name:              1,
		"mqttdiag_sink_active_alerts_limit" + name:        1,
		"mqttdiag_sink_folded_alerts" + name:              1,
		"mqttdiag_sink_folded_notifications_total" + name: 1,
	}
	// The sink counts the fold once Alertmanager's answer is in, a moment
	// after Alertmanager shows it: poll the metrics (no event to wait on).
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var wrong []string
		for series, w := range want {
			if v, ok := metric(t, s, series); !ok || v != w {
				wrong = append(wrong, fmt.Sprintf("%s = %v (present %v), want %v", series, v, ok, w))
			}
		}
		if len(wrong) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics after 20s:\n%s", strings.Join(wrong, "\n"))
		}
	}
	close(in)
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
}

// While the state file cannot be written (here its directory is gone)
// /readyz fails, saying so: the checkpoints on disk fall behind what was
// acknowledged. Once a write succeeds again, it is ready again.
func TestReadinessFailsWhileCheckpointsCannotBeWritten(t *testing.T) {
	dir := t.TempDir()
	log, stateDir := filepath.Join(dir, "m.log"), filepath.Join(dir, "state")
	if err := os.WriteFile(log, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(stateDir, 0o755); err != nil {
		t.Fatal(err)
	}
	tl := tailer.New([]string{log}, tailer.Follow(true), tailer.StateFile(filepath.Join(stateDir, "state.json")),
		tailer.FlushInterval(10*time.Millisecond))
	m, _ := takeoverMatcher(t)
	s := New(tl, pipeline.New(m, nil), "test")
	s.Started()
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan tailer.Batch)
	ran := make(chan error, 1)
	go func() { ran <- tl.Run(ctx, out) }()
	go func() {
		for b := range out {
			if b.Done != nil {
				b.Done()
			}
		}
	}()
	defer func() {
		cancel()
		if err := <-ran; err != nil {
			t.Error(err)
		}
	}()
	waitReady(t, s, true)
	if err := os.RemoveAll(stateDir); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintln(f, "1795320306: Client dev-1 already connected, closing old connection.")
	r := waitReady(t, s, false)
	if got := strings.Join(r.Problems, "; "); !strings.Contains(got, "cannot write checkpoints since") || !strings.Contains(got, stateDir) {
		t.Errorf("problems %q", got)
	}
	if err := os.Mkdir(stateDir, 0o755); err != nil {
		t.Fatal(err)
	}
	waitReady(t, s, true)
}
