package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mqttdiag/mqttdiag/internal/pipeline"
	"github.com/mqttdiag/mqttdiag/sink"
	"github.com/mqttdiag/mqttdiag/tailer"
)

func newScanCmd(g *globalFlags) *cobra.Command {
	var in inputFlags
	var format string
	c := &cobra.Command{
		Use:   "scan [flags] FILE...",
		Short: "Read log files (or - for stdin) to their end, print diagnoses and exit",
		Long: `scan reads each file from its first line to its end and prints one JSON
diagnosis per recognised fault on stdout, then exits.`,
		Example: `  mqttdiag scan /var/log/mosquitto/mosquitto.log
  mqttdiag scan --format json examples/logs/mosquitto-2.0.11.log | jq .signature_id
  zcat mosquitto.log.2.gz | mqttdiag scan -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if format != "json" {
				return fmt.Errorf("--format %q: only json is supported", format)
			}
			mopts, popts, err := in.options()
			if err != nil {
				return err
			}
			log, _, m, err := g.setup(c.ErrOrStderr(), mopts...)
			if err != nil {
				return err
			}
			st, err := runPipeline(c.Context(),
				tailer.New(args, tailer.MaxLineBytes(in.maxLineBytes), tailer.Logger(log), tailer.StdinReader(c.InOrStdin())),
				pipeline.New(m, []sink.Notifier{sink.NewWriter(c.OutOrStdout())}, append(popts, pipeline.Logger(log))...))
			logMatcherStats(log, m)
			log.Debug().Int64("lines", st.Lines).Int64("diagnoses", st.Diagnoses).Msg("scan done")
			return err
		},
	}
	in.register(c)
	c.Flags().StringVar(&format, "format", "json", "output format: json (one diagnosis per line)")
	return c
}
