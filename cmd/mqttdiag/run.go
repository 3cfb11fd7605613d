package main

import (
	"github.com/spf13/cobra"

	"github.com/mqttdiag/mqttdiag/internal/app"
)

func newRunCmd(s *app.Settings, p process) *cobra.Command {
	c := &cobra.Command{
		Use:   "run [flags] PATH...",
		Short: "Follow broker log files (or - for stdin) and print diagnoses until stopped",
		Long: `run follows each log file as the broker writes it, across log rotation, and
prints one JSON diagnosis per line on stdout for every recognised fault. It runs
until SIGINT or SIGTERM, then delivers what it has read and exits 0.

Files start at their end, so only new faults are reported; --from-beginning
reads what is already there first. A file that does not exist yet is waited for.
A PATH may be a glob or a directory: files that appear later are followed too.
journald:UNIT follows a systemd unit's entries in the journal through journalctl
(journald:FIELD=VALUE the entries with that field, e.g. CONTAINER_NAME=mosquitto;
journald: for all of them; --journal-dir for a journal directory), where
Mosquitto's start-up faults on stderr end up under systemd.
With --state, a restart resumes where every diagnosis had been delivered.`,
		Example: `  mqttdiag run /var/log/mosquitto/mosquitto.log
  mqttdiag run --state /var/lib/mqttdiag/state.json /var/log/mosquitto/mosquitto.log
  mqttdiag run --exclude '*.debug' '/var/log/emqx/*'
  mqttdiag run --state /var/lib/mqttdiag/state.json /var/log/mosquitto/mosquitto.log journald:mosquitto.service
  mosquitto -c mosquitto.conf 2>&1 | mqttdiag run -
  kubectl logs -f deploy/emqx | mqttdiag run --log-format console -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			set := s.Snapshot()
			return set.Locate(app.Run(c.Context(), set, args, p.env(), p.hangups))
		},
	}
	registerInput(c, &s.Input)
	registerDiag(c, &s.Diag)
	registerSinks(c, &s.Sinks)
	registerFollow(c, &s.Follow)
	return c
}
