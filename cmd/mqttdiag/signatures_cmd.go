package main

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mqttdiag/mqttdiag/internal/app"
	"github.com/mqttdiag/mqttdiag/internal/pipeline"
	"github.com/mqttdiag/mqttdiag/signatures"
	"github.com/mqttdiag/mqttdiag/signatures/lint"
	"github.com/mqttdiag/mqttdiag/sink"
	"github.com/mqttdiag/mqttdiag/sink/report"
	"github.com/mqttdiag/mqttdiag/tailer"
)

func newSignaturesCmd(s *app.Settings) *cobra.Command {
	c := &cobra.Command{
		Use:     "signatures",
		Aliases: []string{"sig"},
		Short:   "List, show, lint and test signatures",
		Example: "  mqttdiag signatures list\n  mqttdiag signatures show mosquitto/client-not-authorised\n  mqttdiag signatures lint --strict ./site-pack\n  mqttdiag signatures test /var/log/mosquitto/mosquitto.log",
		Long: `The signatures commands work on the loaded pack: the built-in one plus
--signatures files and directories (or only those with --no-builtin).`,
	}
	c.AddCommand(newSigListCmd(s), newSigShowCmd(s), newSigLintCmd(s), newSigTestCmd(s))
	return c
}

func newSigListCmd(s *app.Settings) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "Print a table of the loaded signatures: id, broker, severity, title",
		Example: "  mqttdiag signatures list\n  mqttdiag signatures list --no-builtin --signatures ./site-pack",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			pack, err := s.Global.LoadPack()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(c.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tBROKER\tSEVERITY\tTITLE")
			for _, s := range pack.Signatures() {
				broker := s.Broker
				if broker == "" {
					broker = "any"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.ID, broker, s.EffectiveSeverity(), s.Title)
			}
			return tw.Flush()
		},
	}
}

func newSigShowCmd(s *app.Settings) *cobra.Command {
	var lang string
	c := &cobra.Command{
		Use:   "show ID",
		Short: "Print a signature's card in Markdown",
		Example: `  mqttdiag signatures show communication/mqtt-publish-identifier-already-in-use
  mqttdiag signatures show --lang zh communication/mqtt-publish-identifier-already-in-use`,
		Args: cobra.ExactArgs(1),
		ValidArgsFunction: func(c *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
			pack, err := s.Global.LoadPack()
			if err != nil {
				return nil, cobra.ShellCompDirectiveError
			}
			return pack.IDs(), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			if lang != "en" && lang != "zh" {
				return fmt.Errorf("--lang %q: want en or zh", lang)
			}
			pack, err := s.Global.LoadPack()
			if err != nil {
				return err
			}
			s, ok := pack.Lookup(args[0])
			if !ok {
				return fmt.Errorf("no signature %q; `mqttdiag signatures list` shows the ids", args[0])
			}
			_, err = io.WriteString(c.OutOrStdout(), signatures.Markdown(s, lang))
			return err
		},
	}
	c.Flags().StringVar(&lang, "lang", "en", "language of the card: en or zh (Chinese where the signature has it)")
	return c
}

func newSigLintCmd(s *app.Settings) *cobra.Command {
	var strict, cost bool
	c := &cobra.Command{
		Use:   "lint [PATH...]",
		Short: "Check signatures: schema, regexes, examples, overlaps, translations",
		Long: `lint loads the given signature files and directories (or, without arguments,
the loaded pack) and reports, one per line as file:line: id: field: problem,
everything that makes a signature wrong or weak: a regex that does not compile
or matches the empty string, an unguarded top-level alternation, examples that
do not match, counterexamples that do, an ends_when or expects whose regex
matches the empty string or whose examples do not match (or that has none),
two signatures matching one line without
naming each other in frequently_confused_with (also against the built-in
pack, unless --no-builtin), missing translations. --strict
also requires the knowledge the built-in pack promises and fails on warnings.
It exits 1 when there are errors.`,
		Example: "  mqttdiag signatures lint ./site-pack\n  mqttdiag signatures lint --strict",
		RunE: func(c *cobra.Command, args []string) error {
			var sigs, against []*signatures.Signature
			var err error
			if len(args) > 0 {
				sigs, err = signatures.Load(args...)
				if err == nil {
					_, err = signatures.NewPack(sigs)
				}
				if err == nil && !s.Global.NoBuiltin {
					// A site pack runs beside the built-in one: overlaps
					// with it matter as much as within the site pack.
					against, err = signatures.Builtin()
				}
			} else {
				var pack *signatures.Pack
				if pack, err = s.Global.LoadPack(); err == nil {
					sigs = pack.Signatures()
				}
			}
			out := c.OutOrStdout()
			if err != nil {
				fmt.Fprintln(out, err)
				return exitError{1}
			}
			errs := 0
			for _, p := range lint.Check(sigs, lint.Options{Strict: strict, Against: against}) {
				fmt.Fprintln(out, p)
				if p.Level == lint.Error {
					errs++
				}
			}
			if cost {
				fmt.Fprintln(out)
				if err := writeCostReport(out, sigs); err != nil {
					return err
				}
			}
			if errs > 0 {
				fmt.Fprintf(c.ErrOrStderr(), "%d signatures checked, %d errors\n", len(sigs), errs)
				return exitError{1}
			}
			fmt.Fprintf(c.ErrOrStderr(), "%d signatures checked, no errors\n", len(sigs))
			return nil
		},
	}
	c.Flags().BoolVar(&strict, "strict", false, "require full knowledge (as the built-in pack does) and treat warnings as errors")
	c.Flags().BoolVar(&cost, "cost", false, "also report how each signature is matched and what it costs (as `signatures cost`)")
	return c
}

func newSigTestCmd(s *app.Settings) *cobra.Command {
	var in app.Input
	c := &cobra.Command{
		Use:   "test LOG...",
		Short: "Run logs against the pack: counts per signature and the fault lines nothing explains",
		Long: `test reads each log (or - for stdin) to its end, like fail2ban-regex: it prints how
many lines each signature matched, and groups the lines that look like faults
(Mosquitto "Error:", "Warning:", unclean disconnects; EMQX [error] and
[warning]) that no signature explains, with a count and an example each. Use it
to see what a pack misses on your own logs before writing a signature.`,
		Example: "  mqttdiag signatures test /var/log/mosquitto/mosquitto.log\n  mqttdiag signatures test --signatures ./site-pack broker.log",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			log, pack, m, err := s.Global.Setup(c.ErrOrStderr())
			if err != nil {
				return err
			}
			// Counts, not diagnoses: memory stays bounded by the pack and
			// the wordings, however long the log.
			col := report.NewCollector()
			inOpts, err := in.PipelineOptions()
			if err != nil {
				return err
			}
			// Every unexplained line counts here: no rate limit.
			p := pipeline.New(m, []sink.Notifier{col}, append(inOpts, pipeline.Logger(log), pipeline.Unknown(true, 0))...)
			st, err := app.RunPipeline(c.Context(), tailer.New(args, tailer.MaxLineBytes(in.MaxLineBytes), tailer.Logger(log), tailer.StdinReader(c.InOrStdin()), tailer.JournalDir(in.JournalDir)), p)
			if err != nil {
				return err
			}
			return writeTestReport(c.OutOrStdout(), pack, st, p.EnvelopeStats(), col.Report(nil, st.Lines))
		},
	}
	registerInput(c, &in)
	return c
}

func writeTestReport(w io.Writer, pack *signatures.Pack, st pipeline.Stats, es pipeline.EnvelopeStats, r *report.Report) error {
	known, unexplained := 0, 0
	for _, s := range r.Signatures {
		known += s.Count
	}
	for _, g := range r.Unknown {
		unexplained += g.Count
	}
	fmt.Fprintf(w, "Lines: %d   Diagnoses: %d   Unexplained fault lines: %d\n", st.Lines, known, unexplained)
	if es.Other > 0 {
		fmt.Fprintf(w, "Lines of other programs (skipped): %d\n", es.Other)
	}
	if es.Unreadable > 0 {
		fmt.Fprintf(w, "%d lines could not be read as broker lines (envelope: %s), e.g.:\n  %s\n",
			es.Unreadable, report.Printable(es.Reason), report.Printable(es.Example))
	}
	fmt.Fprintln(w)
	sigs := slices.Clone(r.Signatures)
	sort.Slice(sigs, func(i, j int) bool {
		return sigs[i].Count > sigs[j].Count || sigs[i].Count == sigs[j].Count && sigs[i].ID < sigs[j].ID
	})
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MATCHES\tSIGNATURE\tTITLE")
	for _, s := range sigs {
		title := ""
		if sig, ok := pack.Lookup(s.ID); ok {
			title = sig.Title
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\n", s.Count, report.Printable(s.ID), report.Printable(title))
	}
	if len(sigs) == 0 {
		fmt.Fprintln(tw, "0\t(no signature matched)\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Unknown) == 0 {
		msg := "\nEvery fault-looking line is explained by a signature."
		if es.Unreadable > 0 {
			// Not an all clear: the unreadable lines were not looked at.
			msg = fmt.Sprintf("\nEvery fault-looking line read is explained by a signature, but %d lines could not be read: not a clean bill.", es.Unreadable)
		}
		_, err := fmt.Fprintln(w, msg)
		return err
	}
	fmt.Fprintf(w, "\nFault-looking lines no signature explains (%d wordings):\n", len(r.Unknown))
	// Report sorts them by count, then wording.
	for _, g := range r.Unknown {
		fmt.Fprintf(w, "%6d  %s\n        e.g. %s\n", g.Count, report.Printable(g.Shape), report.Printable(strings.TrimSpace(g.Example)))
	}
	return nil
}
