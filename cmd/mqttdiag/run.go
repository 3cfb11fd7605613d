package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/mqttdiag/mqttdiag/internal/pipeline"
	"github.com/mqttdiag/mqttdiag/internal/telemetry"
	"github.com/mqttdiag/mqttdiag/matcher"
	"github.com/mqttdiag/mqttdiag/signatures"
	"github.com/mqttdiag/mqttdiag/sink"
	"github.com/mqttdiag/mqttdiag/tailer"
)

type inputFlags struct {
	maxLineBytes int
	cacheSize    int
	cacheBytes   int64
	broker       string
}

func (in *inputFlags) register(c *cobra.Command) {
	c.Flags().IntVar(&in.maxLineBytes, "max-line-bytes", tailer.DefaultMaxLineBytes, "cut lines longer than this many bytes (the kept part is still matched)")
	c.Flags().IntVar(&in.cacheSize, "cache-size", matcher.DefaultCacheEntries, "entries of the matcher's result cache for lines that need regex work (0: off)")
	c.Flags().Int64Var(&in.cacheBytes, "cache-bytes", matcher.DefaultCacheBytes, "bytes of messages and captures the matcher's result cache may hold")
	c.Flags().StringVar(&in.broker, "broker", "", "the logs' system, mosquitto, emqx, hivemq, vernemq, awsiot or paho: apply only its signatures from the first line (default: from the startup banner or the lines' shape)")
}

// options validates the flags and returns the matcher's and pipeline's options.
func (in *inputFlags) options() ([]matcher.Option, []pipeline.Option, error) {
	switch in.broker {
	case "", signatures.BrokerMosquitto, signatures.BrokerEMQX, signatures.BrokerHiveMQ, signatures.BrokerVerneMQ, signatures.BrokerAWSIoT, signatures.BrokerPaho:
	default:
		return nil, nil, fmt.Errorf("--broker %q: want mosquitto, emqx, hivemq, vernemq, awsiot or paho", in.broker)
	}
	if in.cacheSize < 0 {
		return nil, nil, fmt.Errorf("--cache-size %d: want 0 (off) or more", in.cacheSize)
	}
	if in.cacheBytes < 0 {
		return nil, nil, fmt.Errorf("--cache-bytes %d: want 0 (no cache) or more", in.cacheBytes)
	}
	return []matcher.Option{matcher.CacheSize(in.cacheSize), matcher.CacheBytes(in.cacheBytes)}, []pipeline.Option{pipeline.Broker(in.broker)}, nil
}

func newRunCmd(g *globalFlags) *cobra.Command {
	var in inputFlags
	var df diagFlags
	var fromBeginning bool
	var poll time.Duration
	var state string
	var exclude []string
	var metricsAddr string
	var failingAfter time.Duration
	c := &cobra.Command{
		Use:   "run [flags] PATH...",
		Short: "Follow broker log files (or - for stdin) and print diagnoses until stopped",
		Long: `run follows each log file as the broker writes it, across log rotation, and
prints one JSON diagnosis per line on stdout for every recognised fault. It runs
until SIGINT or SIGTERM, then delivers what it has read and exits 0.

Files start at their end, so only new faults are reported; --from-beginning
reads what is already there first. A file that does not exist yet is waited for.
A PATH may be a glob or a directory: files that appear later are followed too.
With --state, a restart resumes where every diagnosis had been delivered.`,
		Example: `  mqttdiag run /var/log/mosquitto/mosquitto.log
  mqttdiag run --state /var/lib/mqttdiag/state.json /var/log/mosquitto/mosquitto.log
  mqttdiag run --exclude '*.debug' '/var/log/emqx/*'
  mosquitto -c mosquitto.conf 2>&1 | mqttdiag run -
  kubectl logs -f deploy/emqx | mqttdiag run --log-format console -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			hup, stopHup := hangupSignals()
			defer stopHup()
			pr, err := prepare(c.ErrOrStderr(), g, &in, &df, func(log zerolog.Logger, pack *signatures.Pack) {
				log.Info().Int("signatures", pack.Len()).Strs("inputs", args).Msg("mqttdiag starting")
			})
			if err != nil {
				return err
			}
			log, mopts, popts := pr.log, pr.mopts, pr.popts
			opts := []tailer.Option{tailer.Follow(true), tailer.FromBeginning(fromBeginning),
				tailer.MaxLineBytes(in.maxLineBytes), tailer.Logger(log), tailer.StdinReader(c.InOrStdin()),
				tailer.StateFile(state), tailer.Exclude(exclude...)}
			if poll > 0 {
				opts = append(opts, tailer.Poll(poll))
			}
			tl := tailer.New(args, opts...)
			p := pipeline.New(pr.m, []sink.Notifier{sink.NewWriter(c.OutOrStdout())}, popts...)
			ctx, cancel := context.WithCancel(c.Context())
			defer cancel()
			var tel *telemetry.Server
			if metricsAddr != "" {
				tel = telemetry.New(tl, p, buildVersion(), telemetry.FailingAfter(failingAfter))
				l, err := net.Listen("tcp", metricsAddr)
				if err != nil {
					return fmt.Errorf("--metrics-addr %s: %w", metricsAddr, err)
				}
				log.Info().Str("addr", l.Addr().String()).Msg("serving /metrics, /healthz and /readyz")
				go func() {
					// Metrics stay up through the drain after SIGTERM.
					if err := tel.ServeListener(ctx, l); err != nil {
						log.Error().Err(err).Msg("metrics listener failed")
					}
				}()
				tel.Started()
			}
			ignoreEarlyHangups(hup, log)
			done := make(chan struct{})
			defer close(done)
			go (&reloader{g: g, flags: c.Flags(), mopts: mopts, p: p, tel: tel, log: log}).watch(c.Context(), hup, done)
			st, err := runPipeline(c.Context(), tl, p)
			// Every batch delivered has been acknowledged: save where to resume.
			err = errors.Join(err, tl.Close())
			logMatcherStats(log, p)
			log.Info().Int64("lines", st.Lines).Int64("diagnoses", st.Diagnoses).Msg("mqttdiag stopped")
			return err
		},
	}
	in.register(c)
	df.register(c)
	g.addCheck(c, func() error { return checkShared(g, &in, &df) })
	locateErrors(c, g)
	c.Flags().BoolVar(&fromBeginning, "from-beginning", false, "read files from their first line instead of their end")
	c.Flags().DurationVar(&poll, "poll", 0, "check files for changes at this interval instead of using inotify (NFS, overlay filesystems)")
	c.Flags().StringVar(&state, "state", "", "keep checkpoints in this file and resume from them after a restart (at least once; exactly once after a clean stop)")
	c.Flags().StringVar(&metricsAddr, "metrics-addr", "", "serve Prometheus /metrics, /healthz and /readyz on this address, e.g. :9464 (default off)")
	c.Flags().DurationVar(&failingAfter, "ready-failing-after", 2*time.Minute, "/readyz fails once a sink has been failing this long")
	c.Flags().StringArrayVar(&exclude, "exclude", nil, "skip files of globs and directories that match this glob (base name, or whole path when it has a /); repeatable")
	return c
}

// runPipeline runs a tailer into a pipeline until the tailer is done (its
// inputs ended, or ctx was cancelled), then lets the pipeline deliver what
// was read.
func runPipeline(ctx context.Context, t *tailer.Tailer, p *pipeline.Pipeline) (pipeline.Stats, error) {
	lines := make(chan tailer.Batch, 16)
	tailErr := make(chan error, 1)
	go func() { tailErr <- t.Run(ctx, lines) }()
	// Delivery outlives the signal by the pipeline's shutdown timeout:
	// what was read is delivered.
	perr := p.Run(ctx, lines)
	terr := <-tailErr
	return p.Stats(), errors.Join(terr, perr)
}
