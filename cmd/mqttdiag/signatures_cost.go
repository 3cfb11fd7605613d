package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mqttdiag/mqttdiag/internal/app"
	"github.com/mqttdiag/mqttdiag/matcher"
	"github.com/mqttdiag/mqttdiag/signatures"
)

// writeCostReport prints how the matcher decides each signature and what
// it is expected to cost: the always-run signatures (no literal can
// trigger them: their regex runs on every line in scope) first, then
// every signature by estimated regex runs per million broker log lines.
// `signatures lint --cost` calls it.
func writeCostReport(w io.Writer, sigs []*signatures.Signature) error {
	m, err := matcher.New(sigs, matcher.CacheSize(0))
	if err != nil {
		return err
	}
	sum := m.Summary()
	kinds := make([]string, 0, len(sum.Kinds))
	for k, n := range sum.Kinds {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
	}
	slices.Sort(kinds)
	fmt.Fprintf(w, "%d signatures, %d branches (%s); automaton: %d literals, %d states, %.1f MB\n",
		sum.Signatures, sum.Branches, strings.Join(kinds, ", "), sum.Patterns, sum.States, float64(sum.AutomatonBytes)/1e6)

	costs := m.Costs()
	var always []string
	for _, c := range costs {
		if c.AlwaysRun {
			always = append(always, c.ID)
		}
	}
	if len(always) > 0 {
		fmt.Fprintf(w, "\nalways-run (no literal to trigger them; their regex runs on every line):\n")
		for _, id := range always {
			fmt.Fprintf(w, "  %s\n", id)
		}
	}
	slices.SortStableFunc(costs, func(a, b matcher.Cost) int { return cmp.Compare(b.RegexPerMillion, a.RegexPerMillion) })
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "SIGNATURE\tREGEX/1M LINES\tBRANCHES (kind: trigger ~lines/1M)")
	for _, c := range costs {
		var bs []string
		for _, b := range c.Branches {
			t := strings.Join(b.Triggers, "|")
			if len(t) > 40 {
				t = t[:37] + "..."
			}
			bs = append(bs, fmt.Sprintf("%s: %q ~%d", b.Kind, t, b.PerMillion))
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\n", c.ID, c.RegexPerMillion, strings.Join(bs, "; "))
	}
	return tw.Flush()
}

// newSignaturesCostCmd is `mqttdiag signatures cost`.
func newSignaturesCostCmd(s *app.Settings) *cobra.Command {
	return &cobra.Command{
		Use:     "cost",
		Example: "  mqttdiag signatures cost\n  mqttdiag signatures cost --no-builtin --signatures ./site-pack",
		Short:   "Show how each signature is matched and its expected cost (what `signatures lint --cost` prints)",
		Long: `cost prints, for the loaded signatures (built-in pack and --signatures), how the
matcher decides each regex branch (literal set, ordered literals, regex behind a
trigger literal, or always-run), the trigger literal, and an estimate of regex
runs per million broker log lines. Always-run signatures are listed first: no
literal can trigger them, so their regex runs on every line.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			pack, err := s.Global.LoadPack()
			if err != nil {
				return err
			}
			return writeCostReport(c.OutOrStdout(), pack.Signatures())
		},
	}
}

// attachSignaturesCost adds `cost` under the root's `signatures` command,
// creating a bare one if the root has none yet (the full command, with
// list, show, lint and test, is built elsewhere and keeps this child).
func attachSignaturesCost(root *cobra.Command, s *app.Settings) {
	var parent *cobra.Command
	for _, c := range root.Commands() {
		if c.Name() == "signatures" {
			parent = c
		}
	}
	if parent == nil {
		parent = &cobra.Command{Use: "signatures", Short: "Inspect the loaded signatures"}
		root.AddCommand(parent)
	}
	parent.AddCommand(newSignaturesCostCmd(s))
}
