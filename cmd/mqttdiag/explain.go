package main

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mqttdiag/mqttdiag/internal/app"
	"github.com/mqttdiag/mqttdiag/signatures"
	"github.com/mqttdiag/mqttdiag/signatures/lint"
	"github.com/mqttdiag/mqttdiag/sink/report"
)

func newExplainCmd(s *app.Settings) *cobra.Command {
	var lang string
	var noCard bool
	c := &cobra.Command{
		Use:   "explain [LINE...]",
		Short: "Explain a log line against the pack: what matches, with which fields, and what nearly did",
		Long: `explain matches each LINE (or each line on stdin, without arguments or with -)
against the loaded signatures, the way run and scan do: the broker's timestamp
prefix is removed first. For each signature that matches it prints the named
captures and the signature's card. When none matches, it prints the closest
signatures and why they did not match: which of their literal text was
missing from the line, and the part of the regex where matching stops. Use it
to write and debug a signature, like cscli explain or fail2ban-regex.`,
		Example: `  mqttdiag explain '1795320306: Client dup already connected, closing old connection.'
  tail -n 100 /var/log/mosquitto/mosquitto.log | mqttdiag explain --no-card
  mqttdiag explain --no-builtin --signatures ./my-signature.json 'Client x has exceeded timeout, disconnecting.'`,
		RunE: func(c *cobra.Command, args []string) error {
			if err := app.ValidateLang(lang); err != nil {
				return err
			}
			pack, err := s.Global.LoadPack()
			if err != nil {
				return err
			}
			out := c.OutOrStdout()
			explainOne := func(line string) error {
				return writeExplanation(out, lint.Explain(pack.Signatures(), line, 3), lang, !noCard)
			}
			if len(args) == 0 || (len(args) == 1 && args[0] == "-") {
				sc := bufio.NewScanner(c.InOrStdin())
				sc.Buffer(make([]byte, 64<<10), 1<<20)
				for sc.Scan() {
					if err := explainOne(sc.Text()); err != nil {
						return err
					}
				}
				return sc.Err()
			}
			for _, l := range args {
				if err := explainOne(l); err != nil {
					return err
				}
			}
			return nil
		},
	}
	c.Flags().StringVar(&lang, "lang", "en", "language of the cards: en or zh")
	c.Flags().BoolVar(&noCard, "no-card", false, "do not print the cards of matching signatures")
	return c
}

func writeExplanation(w io.Writer, e lint.Explanation, lang string, cards bool) error {
	var b strings.Builder
	// Log text reaches a terminal here: escape sequences in it are shown,
	// not run.
	fmt.Fprintf(&b, "line:    %s\n", report.Printable(e.Line))
	if e.Message != e.Line {
		fmt.Fprintf(&b, "message: %s   (timestamp prefix removed; signatures match this)\n", report.Printable(e.Message))
	}
	for _, m := range e.Matches {
		fmt.Fprintf(&b, "\nMATCH %s — %s\n", m.Signature.ID, m.Signature.Title)
		keys := make([]string, 0, len(m.Fields))
		for k := range m.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "  %s = %q\n", k, m.Fields[k])
		}
		if cards {
			b.WriteString("\n")
			for _, l := range strings.Split(strings.TrimRight(signatures.Markdown(m.Signature, lang), "\n"), "\n") {
				b.WriteString("    " + l + "\n")
			}
		}
	}
	if len(e.Matches) == 0 {
		b.WriteString("\nNo signature matches this line.\n")
		if len(e.Closest) == 0 {
			b.WriteString("No signature shares any literal text with it.\n")
		}
		for i, nm := range e.Closest {
			fmt.Fprintf(&b, "\n%d. closest: %s — %s (%s)\n", i+1, nm.Signature.ID, nm.Signature.Title, closeness(nm))
			fmt.Fprintf(&b, "   regex:       %s\n", nm.Signature.Regex)
			if len(nm.Missing) > 0 {
				fmt.Fprintf(&b, "   missing:     %s\n", quoteList(nm.Missing))
			}
			if len(nm.Present) > 0 {
				fmt.Fprintf(&b, "   present:     %s\n", quoteList(nm.Present))
			}
			if nm.FailedAt != "" {
				fmt.Fprintf(&b, "   matches up to: %s\n   fails at:      %s\n", report.Printable(orStart(nm.MatchedPart)), report.Printable(nm.FailedAt))
			} else {
				b.WriteString("   each part matches alone; they do not fit together on this line\n")
			}
		}
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// closeness says how close a near miss came: the share of its words found
// anywhere in the line (lint.NearMiss.Score), and how many of its phrases
// appear as written, since all its words may be there while a phrase is
// not (other order, other punctuation).
func closeness(nm lint.NearMiss) string {
	words := fmt.Sprintf("%d%% of its words in the line", int(nm.Score*100+0.5))
	n := len(nm.Present) + len(nm.Missing)
	if len(nm.Missing) == 0 {
		return words + ", and each of its phrases as written"
	}
	return fmt.Sprintf("%s, but only %d of its %d phrases as written", words, len(nm.Present), n)
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

func orStart(s string) string {
	if s == "" {
		return "(nothing: the first part already fails)"
	}
	return s
}
