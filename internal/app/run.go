package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/mqttdiag/mqttdiag/internal/pipeline"
	"github.com/mqttdiag/mqttdiag/internal/telemetry"
	"github.com/mqttdiag/mqttdiag/signatures"
	"github.com/mqttdiag/mqttdiag/sink"
	"github.com/mqttdiag/mqttdiag/sink/report"
	"github.com/mqttdiag/mqttdiag/tailer"
)

// Run follows paths until ctx ends, delivering diagnoses, serving
// telemetry and reloading the signatures on every value of hangups (nil:
// Run catches SIGHUP itself while it runs). A shutdown deadline that
// abandons diagnoses is logged, not returned: with --state their lines are
// read again at the next start.
func Run(ctx context.Context, s Settings, paths []string, env Env, hangups <-chan os.Signal) error {
	if hangups == nil {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGHUP)
		defer signal.Stop(c)
		hangups = c
	}
	pr, err := prepare(s, "run", env, env.Stderr, func(log zerolog.Logger, pack *signatures.Pack) {
		log.Info().Int("signatures", pack.Len()).Strs("inputs", paths).Msg("mqttdiag starting")
	})
	if err != nil {
		return err
	}
	log := pr.log
	warnInputs(log, pr.brokerConf, paths)
	f := s.Follow
	opts := []tailer.Option{tailer.Follow(true), tailer.FromBeginning(f.FromBeginning),
		tailer.MaxLineBytes(s.Input.MaxLineBytes), tailer.Logger(log), tailer.StdinReader(env.Stdin),
		tailer.StateFile(f.State), tailer.Exclude(f.Exclude...), tailer.JournalDir(s.Input.JournalDir)}
	if f.Poll > 0 {
		opts = append(opts, tailer.Poll(f.Poll))
	} else {
		opts = append(opts, tailer.WakeGap(wakeGap), tailer.StreamWakeGap(streamWakeGap))
	}
	tl := tailer.New(paths, opts...)
	var out sink.Notifier = sink.NewWriter(env.Stdout)
	var lines *report.Lines
	if f.Format == "text" || f.Format == "" && isTerminal(env.Stdout) {
		lines = report.NewLines(env.Stdout)
		out = lines
	}
	p := pipeline.New(pr.m, []sink.Notifier{out}, pr.popts...)
	var tel *telemetry.Server
	if f.MetricsAddr != "" {
		tel = telemetry.New(tl, p, env.Version, telemetry.FailingAfter(f.ReadyFailingAfter))
		l, err := net.Listen("tcp", f.MetricsAddr)
		if err != nil {
			return wrapSetting("metrics-addr", fmt.Errorf("%s: %w", f.MetricsAddr, err))
		}
		log.Info().Str("addr", l.Addr().String()).Msg("serving /metrics, /healthz and /readyz")
		// Metrics stay up through the drain after SIGTERM.
		telCtx, stopTel := context.WithCancel(context.WithoutCancel(ctx))
		defer stopTel()
		go func() {
			if err := tel.ServeListener(telCtx, l); err != nil {
				log.Error().Err(err).Msg("metrics listener failed")
			}
		}()
		tel.Started()
	}
	r := &Reloader{Global: s.Global, ConfigPath: s.ConfigPath, Sources: s.sources, Matcher: pr.mopts,
		Pipeline: p, Log: log, Version: env.Version}
	if tel != nil {
		r.Rejected = tel.LoadError
	}
	r.DropEarly(hangups)
	done := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		r.Watch(ctx, hangups, done)
	}()
	st, err := RunPipeline(ctx, tl, p)
	var ab *pipeline.AbandonedError
	if errors.As(err, &ab) {
		logAbandoned(log, ab, f.State)
		err = errors.Join(removeAbandoned(err)...)
	}
	if errors.Is(err, ErrInputStuck) {
		log.Error().Msg("checkpoints not saved: an input is still being read")
	} else {
		// Every batch delivered has been acknowledged: save where to resume.
		err = errors.Join(err, tl.Close())
	}
	close(done)
	<-watched
	logMatcherStats(log, p)
	log.Info().Int64("lines", st.Lines).Int64("diagnoses", st.Diagnoses).Msg("mqttdiag stopped")
	if lines != nil && isTerminal(env.Stdout) {
		// A person at a terminal stopped it (SIGINT): what went by.
		lines.Summary(st.Lines)
	}
	return err
}

// logAbandoned says what a shutdown deadline left undelivered, and what
// becomes of it.
func logAbandoned(log zerolog.Logger, ab *pipeline.AbandonedError, state string) {
	ev := log.Error().Err(ab).Int64("undelivered", ab.Diagnoses)
	if state != "" {
		ev.Msg("undelivered at the shutdown timeout: their lines are not acknowledged, and the next start with this --state reads them again")
		return
	}
	ev.Msg("undelivered at the shutdown timeout, and lost: without --state nothing reads their lines again")
}

// removeAbandoned drops the *pipeline.AbandonedError from a joined error.
func removeAbandoned(err error) []error {
	var out []error
	var ab *pipeline.AbandonedError
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if !errors.As(e, &ab) {
				out = append(out, e)
			}
		}
		return out
	}
	if errors.As(err, &ab) {
		return nil
	}
	return []error{err}
}

// ErrInputStuck is returned when an input did not stop reading within
// inputStopGrace of the stop signal.
var ErrInputStuck = errors.New("an input did not stop within 2s of the stop signal (a FIFO without a writer, or a device such as /dev/zero whose line never ends); stopping without it")

// inputStopGrace is how long the tailer may take to return once ctx
// ended. It checks ctx between reads, so only an open or read blocked in
// the kernel (a FIFO without a writer) or a line that never ends
// (/dev/zero) outlasts it.
const inputStopGrace = 2 * time.Second

// RunPipeline runs a tailer into a pipeline until the tailer is done (its
// inputs ended, or ctx ended), then lets the pipeline deliver what was
// read. A tailer still reading inputStopGrace after ctx ended is left
// behind (ErrInputStuck): its goroutine ends with the process.
func RunPipeline(ctx context.Context, t *tailer.Tailer, p *pipeline.Pipeline) (pipeline.Stats, error) {
	lines := make(chan tailer.Batch, 16)
	in := make(chan tailer.Batch)
	tailErr := make(chan error, 1)
	tailDone := make(chan struct{})
	go func() {
		tailErr <- t.Run(ctx, lines)
		close(tailDone)
	}()
	stuck := make(chan struct{})
	stopWatch := context.AfterFunc(ctx, func() {
		select {
		case <-tailDone:
		case <-time.After(inputStopGrace):
			close(stuck)
		}
	})
	defer stopWatch()
	go func() {
		defer close(in)
		for {
			select {
			case b, ok := <-lines:
				if !ok {
					return
				}
				select {
				case in <- b:
				case <-stuck:
					return
				}
			case <-stuck:
				return
			}
		}
	}()
	perr := p.Run(ctx, in)
	select {
	case terr := <-tailErr:
		return p.Stats(), errors.Join(terr, perr)
	case <-stuck:
		return p.Stats(), errors.Join(ErrInputStuck, perr)
	}
}

// logMatcherStats logs the matcher's work at debug level, when a run ends:
// every pack's, across reloads.
func logMatcherStats(log zerolog.Logger, p *pipeline.Pipeline) {
	st, _ := p.MatcherStats()
	log.Debug().Int64("lines", st.Lines).Int64("candidates", st.Candidates).Int64("regex_runs", st.RegexRuns).
		Int64("cache_hits", st.CacheHits).Int64("cache_misses", st.CacheMisses).
		Int("cache_entries", st.CacheEntries).Int64("cache_bytes", st.CacheBytes).Msg("matcher")
}

// wakeGap is the least time between two reads of followed files that
// inotify starts (tailer.WakeGap): a broker writes its log a line at a
// time, and a read per write costs more than the lines do (issue 17's
// profile). A lone line still leaves at once; under a steady stream a
// line waits at most this long. 20 ms halved make bench-sidecar's cost
// but put BenchmarkRunLatency's p99 at 57 ms on a loaded machine, over
// the 50 ms goal; 10 ms kept it at 18 ms (BENCHMARKS.md, "Wake gap").
const wakeGap = 10 * time.Millisecond

// streamWakeGap is the least time between two reads while the log is a
// stream (each read brings two lines or more; tailer.StreamWakeGap): a
// read per 30 ms instead of per 10 ms about halved `run`'s CPU beside a
// writer of 1,000 lines/s (5.0-5.2 -> 2.4-2.9 % of a core) and of 10,000
// (5.7-7.3 -> 3.8-4.0 %), and put a streamed line's latency at p99 32-36
// ms instead of 11 (BenchmarkRunLatencyStream; BENCHMARKS.md, "Stream wake
// gap"). A line that comes alone is read as before (BenchmarkRunLatency).
const streamWakeGap = 30 * time.Millisecond
