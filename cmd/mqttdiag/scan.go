package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mqttdiag/mqttdiag/internal/pipeline"
	"github.com/mqttdiag/mqttdiag/signatures"
	"github.com/mqttdiag/mqttdiag/sink"
	"github.com/mqttdiag/mqttdiag/sink/report"
	"github.com/mqttdiag/mqttdiag/tailer"
)

// progressMinBytes is the input size from which scan shows a progress bar:
// below it a scan is over before a bar would be worth reading.
const progressMinBytes = 8 << 20

func newScanCmd(g *globalFlags) *cobra.Command {
	var in inputFlags
	var df diagFlags
	var format, htmlPath, colorMode string
	var noProgress bool
	var progressMin int64
	c := &cobra.Command{
		Use:   "scan [flags] FILE...",
		Short: "Read log files (or - for stdin) to their end, report what went wrong and exit",
		Long: `scan reads each file from its first line to its end, then exits.

On a terminal it prints a report for a person (--format text): a one-line
verdict, each fault with its count, first and last time, top clients and the
best workaround, and the fault-looking lines no signature explains, grouped
by wording. Piped, or with --format json, it prints one JSON diagnosis per
line instead. --html also writes a self-contained HTML incident report with
a timeline. A progress bar shows on stderr for large files on a terminal.
Colour is used on a terminal unless NO_COLOR is set.`,
		Example: `  mqttdiag scan /var/log/mosquitto/mosquitto.log
  mqttdiag scan --html incident.html /var/log/mosquitto/mosquitto.log*
  mqttdiag scan --format json examples/logs/mosquitto-2.0.11.log | jq -r .signature_id
  zcat mosquitto.log.2.gz | mqttdiag scan -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			stdout := c.OutOrStdout()
			tty := isTerminal(stdout)
			if format == "" {
				format = "json"
				if tty {
					format = "text"
				}
			}
			if err := checkFormat(format); err != nil {
				return err
			}
			// A report on a terminal is for a person: info self-logs would
			// only push JSON above it. Warnings still show.
			if format == "text" && tty && !c.Flags().Changed("log-level") && g.logLevel == "info" {
				g.logLevel = "warn"
			}
			color, err := useColor(colorMode, tty)
			if err != nil {
				return err
			}
			pr, err := prepare(c.ErrOrStderr(), g, &in, &df, nil)
			if err != nil {
				return err
			}
			log, pack, m, popts := pr.log, pr.pack, pr.m, pr.popts
			if (format == "text" || htmlPath != "") && !df.noUnknown {
				// A report counts every unexplained line, grouped by
				// wording: the once-a-minute limit is for streams of
				// diagnoses, not for a summary. JSON written beside an
				// --html report then carries every such line too.
				popts = append(popts, pipeline.Unknown(true, 0))
			}
			var sinks []sink.Notifier
			if format == "json" {
				sinks = append(sinks, sink.NewWriter(stdout))
			}
			col := report.NewCollector()
			if format == "text" || htmlPath != "" {
				sinks = append(sinks, col)
			}
			p := pipeline.New(m, sinks, popts...)
			stopBar := func() {}
			if !noProgress && isTerminal(c.ErrOrStderr()) {
				if total := inputSize(args); total >= progressMin {
					stopBar = showProgress(c.Context(), c.ErrOrStderr(), total, p)
				}
			}
			st, err := runPipeline(c.Context(),
				tailer.New(args, tailer.MaxLineBytes(in.maxLineBytes), tailer.Logger(log), tailer.StdinReader(c.InOrStdin())), p)
			stopBar()
			if err != nil {
				return err
			}
			logMatcherStats(log, p)
			log.Debug().Int64("lines", st.Lines).Int64("diagnoses", st.Diagnoses).Msg("scan done")
			if format == "json" && htmlPath == "" {
				return nil
			}
			r := col.Report(args, st.Lines)
			if format == "text" {
				if err := r.WriteText(stdout, report.TextOptions{Color: color}); err != nil {
					return err
				}
			}
			if htmlPath != "" {
				if err := writeHTMLReport(htmlPath, r, pack, df.lang); err != nil {
					return err
				}
				log.Info().Str("file", htmlPath).Msg("HTML report written")
			}
			return nil
		},
	}
	in.register(c)
	df.register(c)
	g.addCheck(c, func() error {
		if err := checkFormat(format); err != nil && format != "" {
			return err
		}
		if _, err := useColor(colorMode, false); err != nil {
			return err
		}
		return checkShared(g, &in, &df)
	})
	locateErrors(c, g)
	c.Flags().StringVar(&format, "format", "", "output: text (a report for people; the default on a terminal) or json (one diagnosis per line; the default when piped)")
	c.Flags().StringVar(&htmlPath, "html", "", "also write a self-contained HTML incident report to this file")
	c.Flags().StringVar(&colorMode, "color", "auto", "colour the text report: auto (on a terminal, unless NO_COLOR is set), always, never")
	c.Flags().BoolVar(&noProgress, "no-progress", false, "never show the progress bar")
	c.Flags().Int64Var(&progressMin, "progress-min-bytes", progressMinBytes, "show the progress bar for inputs of at least this many bytes")
	_ = c.Flags().MarkHidden("progress-min-bytes") // for tests
	return c
}

func checkFormat(format string) error {
	if format != "json" && format != "text" {
		return fmt.Errorf("--format %q: want text or json", format)
	}
	return nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// useColor decides on colour: NO_COLOR (https://no-color.org) turns auto
// off; always and never are explicit.
func useColor(mode string, tty bool) (bool, error) {
	switch mode {
	case "auto":
		return tty && os.Getenv("NO_COLOR") == "", nil
	case "always":
		return true, nil
	case "never":
		return false, nil
	}
	return false, fmt.Errorf("--color %q: want auto, always or never", mode)
}

// inputSize is the total size of the regular files among paths.
func inputSize(paths []string) int64 {
	var n int64
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	return n
}

// showProgress draws a progress bar on w from the pipeline's byte count
// until the returned stop is called.
func showProgress(ctx context.Context, w io.Writer, total int64, p *pipeline.Pipeline) (stop func()) {
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetDescription("scanning"),
	)
	_ = bar.RenderBlank() // show it at once: a fast scan may end before the first tick
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		start := time.Now()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				st := p.Stats()
				rate := float64(st.Lines) / time.Since(start).Seconds()
				bar.Describe(fmt.Sprintf("scanning %s lines/s", group(int64(rate))))
				_ = bar.Set64(st.Bytes)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		_ = bar.Finish()
	}
}

// group writes n with thousands separators.
func group(n int64) string {
	s := fmt.Sprint(n)
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func writeHTMLReport(path string, r *report.Report, pack *signatures.Pack, lang string) error {
	cards := map[string]string{}
	for _, s := range r.Signatures {
		if sig, ok := pack.Lookup(s.ID); ok {
			cards[s.ID] = signatures.Markdown(sig, lang)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write HTML report: %w", err)
	}
	if err := r.WriteHTML(f, report.HTMLOptions{Cards: cards, Generated: time.Now()}); err != nil {
		f.Close()
		return fmt.Errorf("write HTML report %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write HTML report %s: %w", path, err)
	}
	return nil
}
