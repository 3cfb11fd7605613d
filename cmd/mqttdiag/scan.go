package main

import (
	"github.com/spf13/cobra"

	"github.com/mqttdiag/mqttdiag/internal/app"
)

func newScanCmd(s *app.Settings, p process) *cobra.Command {
	c := &cobra.Command{
		Use:   "scan [flags] FILE...",
		Short: "Read log files (or - for stdin) to their end, report what went wrong and exit",
		Long: `scan reads each file from its first line to its end, then exits.

On a terminal it prints a report for a person (--format text): a one-line
verdict, each fault with its count, first and last time, the facts its lines
named (file and line, option, port, client id, address...) with their
counts, the best workaround and the first lines it matched with their line
numbers and the lines before them, then the fault-looking lines no signature
explains, grouped by wording. --format markdown and --format html print the
same report as Markdown or as an HTML page. Piped, or with --format json, it
prints one JSON diagnosis per line instead. --html also writes a self-contained HTML incident report with
a timeline. A progress bar shows on stderr for large files on a terminal.
Colour is used on a terminal unless NO_COLOR is set.`,
		Example: `  mqttdiag scan /var/log/mosquitto/mosquitto.log
  mqttdiag scan --html incident.html /var/log/mosquitto/mosquitto.log*
  mqttdiag scan --format json examples/logs/mosquitto-2.0.11.log | jq -r .signature_id
  zcat mosquitto.log.2.gz | mqttdiag scan -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			set := s.Snapshot()
			return set.Locate(app.Scan(c.Context(), set, args, p.env()))
		},
	}
	registerInput(c, &s.Input)
	registerDiag(c, &s.Diag)
	registerSinks(c, &s.Sinks)
	registerReport(c, &s.Report)
	return c
}
