package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mqttdiag/mqttdiag/internal/app"
)

func newConfigCmd(root *cobra.Command, s *app.Settings, p process) *cobra.Command {
	c := &cobra.Command{
		Use:     "config",
		Short:   "Work with mqttdiag's configuration file",
		Example: "  mqttdiag config check --config /etc/mqttdiag/mqttdiag.yaml",
	}
	var target string
	check := &cobra.Command{
		Use:   "check",
		Short: "Validate the configuration and print the effective settings (secrets masked)",
		Long: `check reads the configuration as the command given by --for would (flags,
MQTTDIAG_* environment variables, the --config file, defaults), checks every
value as that command does before it starts (the signatures, CA and token
files and --broker-config included), reports a problem with the file and line
or the environment variable that set it, and prints the effective settings,
each with where it came from. Secrets are shown as ****.`,
		Example: "  mqttdiag config check --config /etc/mqttdiag/mqttdiag.yaml\n  MQTTDIAG_DEDUP_WINDOW=5m mqttdiag config check --config mqttdiag.yaml --for run",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			sub, _, err := root.Find([]string{target})
			if err != nil || sub == root || sub.Name() != target || (target != "run" && target != "scan") {
				return fmt.Errorf("--for %q: want run or scan", target)
			}
			sub.InheritedFlags() // merges the root's persistent flags into sub.Flags()
			sources, err := layer(sub, s, p.getenv)
			if err != nil {
				return err
			}
			set := s.Snapshot().WithSources(sources)
			if err := app.Check(set, target, p.env()); err != nil {
				return set.Locate(err)
			}
			return app.WriteEffective(c.OutOrStdout(), sub.Name(), sub.Flags(), sources, p.getenv)
		},
	}
	check.Flags().StringVar(&target, "for", "run", "the command whose settings to check: run or scan")
	c.AddCommand(check)
	return c
}
