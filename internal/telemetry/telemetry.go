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
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

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
	CheckpointFailure() (time.Time, error)
}

// Pipeline is what the pipeline reports.
type Pipeline interface {
	Stats() pipeline.Stats
	SinkStats() []pipeline.SinkStats
	StormStats() pipeline.StormStats
	SignatureCounts() []pipeline.SignatureCount
	CurrentPack() *pipeline.Pack
	MatcherStats() (matcher.Stats, []matcher.SignatureStats)
	UnknownLines() int64
	EnvelopeStats() pipeline.EnvelopeStats
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
	if since, err := s.tl.CheckpointFailure(); err != nil {
		fail("cannot write checkpoints since %s: %v", since.UTC().Format(time.RFC3339), err)
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
	descUnreadable   *prometheus.Desc
	descOther        *prometheus.Desc
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
	descSinkActive   *prometheus.Desc
	descSinkActiveMx *prometheus.Desc
	descSinkAggr     *prometheus.Desc
	descSinkFolded   *prometheus.Desc
	descStormKeys    *prometheus.Desc
	descStormKeysMax *prometheus.Desc
	descStormFolded  *prometheus.Desc
	descFollowOpen   *prometheus.Desc
	descFollowPend   *prometheus.Desc
	descFollowMax    *prometheus.Desc
	descFollowDrop   *prometheus.Desc
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
		descUnreadable:   prometheus.NewDesc("mqttdiag_unreadable_lines_total", "Lines that could not be read as the broker's (their envelope could not be read): not diagnosed.", nil, nil),
		descOther:        prometheus.NewDesc("mqttdiag_other_program_lines_total", "Lines of other programs in the same log (syslog, journal), skipped.", nil, nil),
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
		descSinkActive:   prometheus.NewDesc("mqttdiag_sink_active_alerts", "Alerts an Alertmanager sink holds active (one per label set), of mqttdiag_sink_active_alerts_limit.", []string{"sink"}, nil),
		descSinkActiveMx: prometheus.NewDesc("mqttdiag_sink_active_alerts_limit", "Alerts an Alertmanager sink holds active at most (--alert-max-active); beyond it, notifications are folded into one aggregate alert per signature.", []string{"sink"}, nil),
		descSinkAggr:     prometheus.NewDesc("mqttdiag_sink_folded_alerts", "Aggregate alerts (label folded=\"true\") an Alertmanager sink holds active: one per signature that had notifications with no room.", []string{"sink"}, nil),
		descSinkFolded:   prometheus.NewDesc("mqttdiag_sink_folded_notifications_total", "Notifications an Alertmanager sink folded into an aggregate alert because mqttdiag_sink_active_alerts_limit alerts were active.", []string{"sink"}, nil),
		descStormKeys:    prometheus.NewDesc("mqttdiag_storm_dedup_keys", "Dedup windows storm control holds open (one per signature and key fields), of mqttdiag_storm_dedup_keys_limit.", nil, nil),
		descStormKeysMax: prometheus.NewDesc("mqttdiag_storm_dedup_keys_limit", "Dedup windows storm control holds open at most (--dedup-max-keys); beyond it, occurrences are folded into one overflow summary per signature and window.", nil, nil),
		descStormFolded:  prometheus.NewDesc("mqttdiag_storm_overflow_occurrences_total", "Occurrences folded into overflow summaries because mqttdiag_storm_dedup_keys_limit windows were open.", nil, nil),
		descFollowOpen:   prometheus.NewDesc("mqttdiag_open_incidents", "Faults held open until their ending line (ends_when), of mqttdiag_follow_limit.", nil, nil),
		descFollowPend:   prometheus.NewDesc("mqttdiag_pending_expectations", "Lines waiting for the line that must follow them (expects), of mqttdiag_follow_limit.", nil, nil),
		descFollowMax:    prometheus.NewDesc("mqttdiag_follow_limit", "Open incidents, and separately pending expectations, held at most.", nil, nil),
		descFollowDrop:   prometheus.NewDesc("mqttdiag_follow_dropped_total", "Incidents not held open and expectations not watched because mqttdiag_follow_limit were.", nil, nil),
		descCheckpoint:   prometheus.NewDesc("mqttdiag_checkpoint_age_seconds", "Seconds since the state file was last known to hold every acknowledged position (absent without --state).", nil, nil),
		descPackSize:     prometheus.NewDesc("mqttdiag_signatures", "Signatures in the loaded pack.", []string{"pack_version", "pack_hash"}, nil),
		descLoadErrors:   prometheus.NewDesc("mqttdiag_signature_load_errors_total", "Signature packs rejected on reload (the previous pack stays in use).", nil, nil),
		descBuild:        prometheus.NewDesc("mqttdiag_build_info", "mqttdiag's version; always 1.", []string{"version", "goversion"}, nil),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	s := (*Server)(c)
	for _, d := range []*prometheus.Desc{s.d.descLines, s.d.descBytes, s.d.descLag, s.d.descDiagnoses, s.d.descUnknown, s.d.descUnknownRep, s.d.descUnreadable, s.d.descOther, s.d.descMatchLines, s.d.descCandidates,
		s.d.descRegexRuns, s.d.descSigRegexRuns, s.d.descCacheHits, s.d.descCacheMisses, s.d.descCacheEntries, s.d.descSinkSent, s.d.descSinkPoison,
		s.d.descSinkFailed, s.d.descSinkRetried, s.d.descSinkResends, s.d.descSinkResendFl, s.d.descSinkQueue, s.d.descSinkQueueCap, s.d.descSinkFailing,
		s.d.descSinkActive, s.d.descSinkActiveMx, s.d.descSinkAggr, s.d.descSinkFolded, s.d.descStormKeys, s.d.descStormKeysMax, s.d.descStormFolded, s.d.descCheckpoint, s.d.descPackSize,
		s.d.descLoadErrors, s.d.descBuild, s.d.descFollowOpen, s.d.descFollowPend, s.d.descFollowMax, s.d.descFollowDrop} {
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
	for _, f := range fileStats(s.tl.Stats()) {
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
	es := s.pl.EnvelopeStats()
	counter(s.d.descUnreadable, float64(es.Unreadable))
	counter(s.d.descOther, float64(es.Other))
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
		st.Name = labelValue(st.Name)
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
		if u := st.Usage; u.Limit > 0 {
			gauge(s.d.descSinkActive, float64(u.Active), st.Name)
			gauge(s.d.descSinkActiveMx, float64(u.Limit), st.Name)
			gauge(s.d.descSinkAggr, float64(u.Aggregates), st.Name)
			counter(s.d.descSinkFolded, float64(u.Folded), st.Name)
		}
	}
	storm := s.pl.StormStats()
	gauge(s.d.descStormKeys, float64(storm.Keys))
	gauge(s.d.descStormKeysMax, float64(storm.MaxKeys))
	counter(s.d.descStormFolded, float64(storm.Folded))
	if fp, ok := s.pl.(interface{ FollowStats() pipeline.FollowStats }); ok {
		fs := fp.FollowStats()
		gauge(s.d.descFollowOpen, float64(fs.Open))
		gauge(s.d.descFollowPend, float64(fs.Pending))
		gauge(s.d.descFollowMax, float64(fs.Max))
		counter(s.d.descFollowDrop, float64(fs.Dropped))
	}
	if age, ok := s.tl.CheckpointAge(); ok {
		gauge(s.d.descCheckpoint, age.Seconds())
	}
	counter(s.d.descLoadErrors, float64(s.loadErrors.Load()))
	gauge(s.d.descBuild, 1, s.version, runtime.Version())
}

// labelValue makes s fit for a Prometheus label value, which must be
// UTF-8 (a value that is not fails the whole scrape): a file name need not
// be. Each byte that is not part of a UTF-8 sequence is written as \xNN,
// so that names that differ only there stay apart, and the name stays
// recognisable.
func labelValue(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			fmt.Fprintf(&b, `\x%02x`, s[i])
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// fileStats are the tailer's per-path counts with their paths made label
// values. Two paths that come out the same (a name with the bytes \xff
// written out beside one with the byte 0xff) are added up: a series
// collected twice would fail the scrape.
func fileStats(fs []tailer.FileStats) []tailer.FileStats {
	out := make([]tailer.FileStats, 0, len(fs))
	at := make(map[string]int, len(fs))
	for _, f := range fs {
		f.Path = labelValue(f.Path)
		if i, ok := at[f.Path]; ok {
			out[i].Lines += f.Lines
			out[i].Bytes += f.Bytes
			out[i].Lag += f.Lag
			continue
		}
		at[f.Path] = len(out)
		out = append(out, f)
	}
	return out
}
