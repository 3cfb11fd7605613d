// Package telemetry serves what operators watch mqttdiag with: Prometheus
// metrics on /metrics, /healthz (the process is alive) and /readyz (the
// pack is loaded, the inputs are open and readable, no sink has been
// failing for long).
//
// Metrics are read from the stages' own counters at scrape time rather
// than updated on the hot path: a line costs the matcher and tailer an
// atomic add, not a Prometheus label lookup.
package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mqttdiag/mqttdiag/internal/clock"
	"github.com/mqttdiag/mqttdiag/internal/pipeline"
	"github.com/mqttdiag/mqttdiag/matcher"
	"github.com/mqttdiag/mqttdiag/tailer"
)

// Tailer is what the tailer reports.
type Tailer interface {
	Stats() []tailer.FileStats
	Waiting() []string
	Problems() []tailer.InputProblem
	CheckpointAge() (time.Duration, bool)
}

// Pipeline is what the pipeline reports.
type Pipeline interface {
	Stats() pipeline.Stats
	SinkStats() []pipeline.SinkStats
	SignatureCounts() []pipeline.SignatureCount
	CurrentPack() *pipeline.Pack
	MatcherStats() (matcher.Stats, []matcher.SignatureStats)
	UnknownLines() int64
}

// Server is the metrics and health endpoint.
type Server struct {
	tl      Tailer
	pl      Pipeline
	version string
	// failingAfter is how long a sink may fail before /readyz says so.
	failingAfter time.Duration
	clock        clock.Clock
	reg          *prometheus.Registry
	d            descs
	// LoadErrors counts signature packs rejected on reload.
	loadErrors atomic.Int64
	started    atomic.Bool
}

// Option configures a Server.
type Option func(*Server)

// FailingAfter sets how long a sink may keep failing before the server
// reports itself not ready (default 2 minutes).
func FailingAfter(d time.Duration) Option { return func(s *Server) { s.failingAfter = d } }

// Clock sets the clock that a sink's failing time is measured against
// (tests pass a clock.Fake).
func Clock(c clock.Clock) Option { return func(s *Server) { s.clock = c } }

// New returns a Server reading tl and pl. version is mqttdiag's version,
// for the build info metric.
func New(tl Tailer, pl Pipeline, version string, opts ...Option) *Server {
	s := &Server{tl: tl, pl: pl, version: version, failingAfter: 2 * time.Minute, clock: clock.Real{}, reg: prometheus.NewRegistry(), d: newDescs()}
	for _, o := range opts {
		o(s)
	}
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), (*collector)(s))
	return s
}

// LoadError counts a signature pack that failed to load on reload.
func (s *Server) LoadError() { s.loadErrors.Add(1) }

// Started marks the inputs as opened by the tailer (it is running).
func (s *Server) Started() { s.started.Store(true) }

// Handler serves /metrics, /healthz and /readyz.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", s.readyz)
	return mux
}

// Readiness is the body of /readyz.
type Readiness struct {
	Ready       bool     `json:"ready"`
	Problems    []string `json:"problems,omitempty"`
	PackVersion string   `json:"pack_version"`
	PackHash    string   `json:"pack_hash"`
	Signatures  int      `json:"signatures"`
	Waiting     []string `json:"waiting_for,omitempty"`
}

// Ready reports whether mqttdiag is doing its job, and if not, why.
func (s *Server) Ready() Readiness {
	r := Readiness{Ready: true}
	fail := func(format string, args ...any) {
		r.Ready = false
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
	if pk := s.pl.CurrentPack(); pk == nil || pk.Matcher == nil {
		fail("no signature pack loaded")
	} else {
		r.PackVersion, r.PackHash, r.Signatures = pk.Version, pk.Hash, len(pk.Signatures)
	}
	if !s.started.Load() {
		fail("inputs not opened yet")
	}
	if r.Waiting = s.tl.Waiting(); len(r.Waiting) > 0 {
		fail("waiting for inputs to appear: %v", r.Waiting)
	}
	for _, p := range s.tl.Problems() {
		fail("cannot follow input %s: %s", p.Path, p.Problem)
	}
	now := s.clock.Now()
	for _, st := range s.pl.SinkStats() {
		if !st.FailingSince.IsZero() && now.Sub(st.FailingSince) >= s.failingAfter {
			fail("sink %s failing since %s", st.Name, st.FailingSince.UTC().Format(time.RFC3339))
		}
	}
	return r
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	r := s.Ready()
	w.Header().Set("Content-Type", "application/json")
	if !r.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(r)
}

// Serve listens on addr until ctx ends.
func (s *Server) Serve(ctx context.Context, addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics listener: %w", err)
	}
	return s.ServeListener(ctx, l)
}

// ServeListener serves on l until ctx ends.
func (s *Server) ServeListener(ctx context.Context, l net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// collector turns the stages' counters into metrics at scrape time.
type collector Server

// descs are the metrics' descriptions, made once per Server.
type descs struct {
	descLines        *prometheus.Desc
	descBytes        *prometheus.Desc
	descLag          *prometheus.Desc
	descDiagnoses    *prometheus.Desc
	descUnknown      *prometheus.Desc
	descUnknownRep   *prometheus.Desc
	descMatchLines   *prometheus.Desc
	descCandidates   *prometheus.Desc
	descRegexRuns    *prometheus.Desc
	descSigRegexRuns *prometheus.Desc
	descCacheHits    *prometheus.Desc
	descCacheMisses  *prometheus.Desc
	descCacheEntries *prometheus.Desc
	descSinkSent     *prometheus.Desc
	descSinkPoison   *prometheus.Desc
	descSinkFailed   *prometheus.Desc
	descSinkRetried  *prometheus.Desc
	descSinkResends  *prometheus.Desc
	descSinkResendFl *prometheus.Desc
	descSinkQueue    *prometheus.Desc
	descSinkQueueCap *prometheus.Desc
	descSinkFailing  *prometheus.Desc
	descCheckpoint   *prometheus.Desc
	descPackSize     *prometheus.Desc
	descLoadErrors   *prometheus.Desc
	descBuild        *prometheus.Desc
}

func newDescs() descs {
	return descs{
		descLines:        prometheus.NewDesc("mqttdiag_lines_read_total", "Lines read, per input path.", []string{"file"}, nil),
		descBytes:        prometheus.NewDesc("mqttdiag_bytes_read_total", "Bytes read, per input path.", []string{"file"}, nil),
		descLag:          prometheus.NewDesc("mqttdiag_tail_lag_bytes", "Bytes of the file a path names that are not read yet.", []string{"file"}, nil),
		descDiagnoses:    prometheus.NewDesc("mqttdiag_diagnoses_total", "Diagnoses made, by signature and severity (signature_id=\"unknown\" for fault-looking lines no signature explains).", []string{"signature_id", "severity"}, nil),
		descUnknown:      prometheus.NewDesc("mqttdiag_unknown_fault_lines_total", "Fault-looking lines no signature explains, every one of them.", nil, nil),
		descUnknownRep:   prometheus.NewDesc("mqttdiag_unknown_fault_reports_total", "Diagnoses made for fault-looking lines no signature explains: at most one per wording per minute.", nil, nil),
		descMatchLines:   prometheus.NewDesc("mqttdiag_matcher_lines_total", "Messages the matcher examined.", nil, nil),
		descCandidates:   prometheus.NewDesc("mqttdiag_matcher_candidates_total", "Signature branches whose trigger literal the prefilter hit; divide by mqttdiag_matcher_lines_total for candidates per line.", nil, nil),
		descRegexRuns:    prometheus.NewDesc("mqttdiag_matcher_regex_runs_total", "Regular expression evaluations.", nil, nil),
		descSigRegexRuns: prometheus.NewDesc("mqttdiag_matcher_signature_regex_runs_total", "Regular expression evaluations per signature (signatures never evaluated are left out).", []string{"signature_id"}, nil),
		descCacheHits:    prometheus.NewDesc("mqttdiag_matcher_cache_hits_total", "Matcher cache hits.", nil, nil),
		descCacheMisses:  prometheus.NewDesc("mqttdiag_matcher_cache_misses_total", "Matcher cache misses.", nil, nil),
		descCacheEntries: prometheus.NewDesc("mqttdiag_matcher_cache_entries", "Entries in the matcher cache.", nil, nil),
		descSinkSent:     prometheus.NewDesc("mqttdiag_sink_sent_total", "Diagnoses a sink accepted.", []string{"sink"}, nil),
		descSinkPoison:   prometheus.NewDesc("mqttdiag_sink_refused_total", "Diagnoses a sink refused for good (a 4xx other than 408 and 429).", []string{"sink"}, nil),
		descSinkFailed:   prometheus.NewDesc("mqttdiag_sink_failures_total", "Failed delivery attempts.", []string{"sink"}, nil),
		descSinkRetried:  prometheus.NewDesc("mqttdiag_sink_retries_total", "Delivery attempts repeated after a recoverable failure.", []string{"sink"}, nil),
		descSinkResends:  prometheus.NewDesc("mqttdiag_sink_resends_total", "Re-sends of what is still current (Alertmanager's active alerts), failed ones included.", []string{"sink"}, nil),
		descSinkResendFl: prometheus.NewDesc("mqttdiag_sink_resend_failures_total", "Re-sends that failed (the sink counts as failing until a delivery or re-send succeeds).", []string{"sink"}, nil),
		descSinkQueue:    prometheus.NewDesc("mqttdiag_sink_queue_depth", "Diagnoses waiting in a sink's queue.", []string{"sink"}, nil),
		descSinkQueueCap: prometheus.NewDesc("mqttdiag_sink_queue_capacity", "Size of a sink's queue.", []string{"sink"}, nil),
		descSinkFailing:  prometheus.NewDesc("mqttdiag_sink_failing_seconds", "How long a sink has been failing (0 when its last attempt succeeded).", []string{"sink"}, nil),
		descCheckpoint:   prometheus.NewDesc("mqttdiag_checkpoint_age_seconds", "Seconds since the state file was last known to hold every acknowledged position (absent without --state).", nil, nil),
		descPackSize:     prometheus.NewDesc("mqttdiag_signatures", "Signatures in the loaded pack.", []string{"pack_version", "pack_hash"}, nil),
		descLoadErrors:   prometheus.NewDesc("mqttdiag_signature_load_errors_total", "Signature packs rejected on reload (the previous pack stays in use).", nil, nil),
		descBuild:        prometheus.NewDesc("mqttdiag_build_info", "mqttdiag's version; always 1.", []string{"version", "goversion"}, nil),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	s := (*Server)(c)
	for _, d := range []*prometheus.Desc{s.d.descLines, s.d.descBytes, s.d.descLag, s.d.descDiagnoses, s.d.descUnknown, s.d.descUnknownRep, s.d.descMatchLines, s.d.descCandidates,
		s.d.descRegexRuns, s.d.descSigRegexRuns, s.d.descCacheHits, s.d.descCacheMisses, s.d.descCacheEntries, s.d.descSinkSent, s.d.descSinkPoison,
		s.d.descSinkFailed, s.d.descSinkRetried, s.d.descSinkResends, s.d.descSinkResendFl, s.d.descSinkQueue, s.d.descSinkQueueCap, s.d.descSinkFailing, s.d.descCheckpoint, s.d.descPackSize,
		s.d.descLoadErrors, s.d.descBuild} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := (*Server)(c)
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, f := range s.tl.Stats() {
		counter(s.d.descLines, float64(f.Lines), f.Path)
		counter(s.d.descBytes, float64(f.Bytes), f.Path)
		gauge(s.d.descLag, float64(f.Lag), f.Path)
	}
	var unknown int64
	for _, sc := range s.pl.SignatureCounts() {
		counter(s.d.descDiagnoses, float64(sc.N), sc.SignatureID, sc.Severity)
		if sc.SignatureID == pipeline.UnknownID {
			unknown += sc.N
		}
	}
	counter(s.d.descUnknown, float64(s.pl.UnknownLines()))
	counter(s.d.descUnknownRep, float64(unknown))
	// The matcher counters add up every pack matched with since start, so
	// that they do not go backwards when a reload swaps the matcher.
	ms, bySig := s.pl.MatcherStats()
	counter(s.d.descMatchLines, float64(ms.Lines))
	counter(s.d.descCandidates, float64(ms.Candidates))
	counter(s.d.descRegexRuns, float64(ms.RegexRuns))
	counter(s.d.descCacheHits, float64(ms.CacheHits))
	counter(s.d.descCacheMisses, float64(ms.CacheMisses))
	gauge(s.d.descCacheEntries, float64(ms.CacheEntries))
	for _, ss := range bySig {
		counter(s.d.descSigRegexRuns, float64(ss.RegexRuns), ss.ID)
	}
	if pk := s.pl.CurrentPack(); pk != nil && pk.Matcher != nil {
		gauge(s.d.descPackSize, float64(len(pk.Signatures)), pk.Version, pk.Hash)
	}
	now := s.clock.Now()
	for _, st := range s.pl.SinkStats() {
		counter(s.d.descSinkSent, float64(st.Sent), st.Name)
		counter(s.d.descSinkPoison, float64(st.Poisoned), st.Name)
		counter(s.d.descSinkFailed, float64(st.Failed), st.Name)
		counter(s.d.descSinkRetried, float64(st.Retried), st.Name)
		counter(s.d.descSinkResends, float64(st.Refreshes), st.Name)
		counter(s.d.descSinkResendFl, float64(st.RefreshFailures), st.Name)
		gauge(s.d.descSinkQueue, float64(st.QueueDepth), st.Name)
		gauge(s.d.descSinkQueueCap, float64(st.QueueCap), st.Name)
		failing := 0.0
		if !st.FailingSince.IsZero() {
			failing = now.Sub(st.FailingSince).Seconds()
		}
		gauge(s.d.descSinkFailing, failing, st.Name)
	}
	if age, ok := s.tl.CheckpointAge(); ok {
		gauge(s.d.descCheckpoint, age.Seconds())
	}
	counter(s.d.descLoadErrors, float64(s.loadErrors.Load()))
	gauge(s.d.descBuild, 1, s.version, runtime.Version())
}
