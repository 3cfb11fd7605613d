package main

import (
	"fmt"
	"sort"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mqttdiag/mqttdiag/internal/app"
)

// newConfigCmd makes the config command; check takes the flags of cmds
// (run and scan), as the command its --for names would.
func newConfigCmd(root *cobra.Command, s *app.Settings, p process, cmds ...*cobra.Command) *cobra.Command {
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
each with where it came from. Secrets are shown as ****. It takes the flags of
the command given by --for (see its --help); flags of the other are refused.`,
		Example: "  mqttdiag config check --config /etc/mqttdiag/mqttdiag.yaml\n  MQTTDIAG_DEDUP_WINDOW=5m mqttdiag config check --config mqttdiag.yaml --for run",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			sub, _, err := root.Find([]string{target})
			if err != nil || sub == root || sub.Name() != target || (target != "run" && target != "scan") {
				return fmt.Errorf("--for %q: want run or scan", target)
			}
			sub.InheritedFlags() // merges the root's persistent flags into sub.Flags()
			if err := replayFlags(c.Flags(), sub); err != nil {
				return err
			}
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
	acceptFlagsOf(check, cmds...)
	c.AddCommand(check)
	return c
}

// acceptFlagsOf makes check accept the local flags of cmds, hidden from
// its help: what it is given is only recorded, and replayed onto the
// command --for names (replayFlags), which parses and checks it as that
// command would.
func acceptFlagsOf(check *cobra.Command, cmds ...*cobra.Command) {
	for _, sub := range cmds {
		sub.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
			if check.Flags().Lookup(f.Name) != nil {
				return
			}
			check.Flags().AddFlag(&pflag.Flag{
				Name: f.Name, Shorthand: f.Shorthand, Usage: f.Usage, Hidden: true,
				NoOptDefVal: f.NoOptDefVal, DefValue: f.DefValue,
				Value: &recorded{typ: f.Value.Type(), def: f.DefValue},
			})
		})
	}
}

// replayFlags sets on sub, in the order given, the values given to check
// for flags recorded by acceptFlagsOf; a flag sub does not have is refused.
func replayFlags(given *pflag.FlagSet, sub *cobra.Command) error {
	var names []string
	given.Visit(func(f *pflag.Flag) {
		if _, ok := f.Value.(*recorded); ok {
			names = append(names, f.Name)
		}
	})
	sort.Strings(names)
	for _, n := range names {
		if sub.Flags().Lookup(n) == nil {
			return fmt.Errorf("--%s is not a flag of %s (config check --for %s takes %s's flags)", n, sub.Name(), sub.Name(), sub.Name())
		}
		for _, v := range given.Lookup(n).Value.(*recorded).vals {
			if err := sub.Flags().Set(n, v); err != nil {
				return err // says the value and the flag, as parsing would
			}
		}
	}
	return nil
}

// recorded is a flag value that keeps what it was given, to be set on
// another command's flag.
type recorded struct {
	typ, def string
	vals     []string
}

func (r *recorded) String() string {
	if len(r.vals) == 0 {
		return r.def
	}
	return r.vals[len(r.vals)-1]
}
func (r *recorded) Set(v string) error { r.vals = append(r.vals, v); return nil }
func (r *recorded) Type() string       { return r.typ }
