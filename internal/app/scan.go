package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/mqttdiag/mqttdiag/internal/pipeline"
	"github.com/mqttdiag/mqttdiag/signatures"
	"github.com/mqttdiag/mqttdiag/sink"
	reportpkg "github.com/mqttdiag/mqttdiag/sink/report"
	"github.com/mqttdiag/mqttdiag/tailer"
)

// DefaultProgressMin is the input size from which scan shows a progress
// bar: below it a scan is over before a bar would be worth reading.
const DefaultProgressMin = 8 << 20

// Scan reads paths to their end and reports: JSON diagnoses on stdout, or
// a report for people (text, markdown or html), and an HTML report with
// Report.HTMLPath. What
// the alerting sinks did not accept within the shutdown timeout after the
// input ended is an error: scan has no second chance to deliver it.
func Scan(ctx context.Context, s Settings, paths []string, env Env) error {
	stdout := env.Stdout
	tty := isTerminal(stdout)
	rs := s.Report
	if rs.Format == "" {
		rs.Format = "json"
		if tty {
			rs.Format = "text"
		}
	}
	// A report on a terminal is for a person: info self-logs would only
	// push JSON above it. Warnings still show.
	if rs.Format == "text" && tty && s.Source("log-level").Kind != FromFlag && s.Global.LogLevel == "info" {
		s.Global.LogLevel = "warn"
	}
	s.Report = rs
	pr, err := prepare(s, "scan", env, env.Stderr, nil)
	if err != nil {
		return err
	}
	color, _ := useColor(rs.Color, tty)
	log, popts := pr.log, pr.popts
	report := rs.Format != "json" // text, markdown or html: a summary
	if (report || rs.HTMLPath != "") && !s.Diag.NoUnknown {
		// A report counts every unexplained line, grouped by wording: the
		// once-a-minute limit is for streams of diagnoses, not for a
		// summary. JSON written beside an --html report then carries every
		// such line too.
		popts = append(popts, pipeline.Unknown(true, 0))
	}
	var sinks []sink.Notifier
	if rs.Format == "json" {
		sinks = append(sinks, sink.NewWriter(stdout))
	}
	col := reportpkg.NewCollector()
	if report || rs.HTMLPath != "" {
		sinks = append(sinks, col)
	}
	p := pipeline.New(pr.m, sinks, popts...)
	stopBar := func() {}
	if !rs.NoProgress && isTerminal(env.Stderr) {
		if total := inputSize(paths); total >= rs.ProgressMin {
			stopBar = showProgress(ctx, env.Stderr, total, p)
		}
	}
	st, err := RunPipeline(ctx,
		tailer.New(paths, tailer.MaxLineBytes(s.Input.MaxLineBytes), tailer.Logger(log), tailer.StdinReader(env.Stdin), tailer.JournalDir(s.Input.JournalDir)), p)
	stopBar()
	var ab *pipeline.AbandonedError
	if err != nil && !errors.As(err, &ab) {
		return err
	}
	logMatcherStats(log, p)
	log.Debug().Int64("lines", st.Lines).Int64("diagnoses", st.Diagnoses).Msg("scan done")
	if report || rs.HTMLPath != "" {
		r := col.Report(paths, st.Lines)
		es := p.EnvelopeStats()
		r.NoteEnvelope(es.Unreadable, es.Other, es.Example, es.Reason)
		var err error
		switch rs.Format {
		case "text":
			err = r.WriteText(stdout, reportpkg.TextOptions{Color: color})
		case "markdown":
			err = r.WriteMarkdown(stdout)
		case "html":
			err = r.WriteHTML(stdout, htmlOptions(r, pr.pack, s.Diag.Lang))
		}
		if err != nil {
			return fmt.Errorf("write the %s report: %w", rs.Format, err)
		}
		if rs.HTMLPath != "" {
			if err := writeHTMLReport(rs.HTMLPath, r, pr.pack, s.Diag.Lang); err != nil {
				return err
			}
			log.Info().Str("file", rs.HTMLPath).Msg("HTML report written")
		}
	}
	if ab != nil {
		return fmt.Errorf("scan could not deliver everything: %w", ab)
	}
	return nil
}

// checkReportFormat checks scan's --format.
func checkReportFormat(format string) error {
	switch format {
	case "json", "text", "markdown", "html":
		return nil
	}
	return settingErr("format", "%q: want text, markdown, html or json", format)
}

func checkFormat(format string) error {
	if format != "json" && format != "text" {
		return settingErr("format", "%q: want text or json", format)
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
	return false, settingErr("color", "%q: want auto, always or never", mode)
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

// htmlOptions gives the HTML report each signature's card in lang.
func htmlOptions(r *reportpkg.Report, pack *signatures.Pack, lang string) reportpkg.HTMLOptions {
	cards := map[string]string{}
	for _, s := range r.Signatures {
		if sig, ok := pack.Lookup(s.ID); ok {
			cards[s.ID] = signatures.Markdown(sig, lang)
		}
	}
	return reportpkg.HTMLOptions{Cards: cards, Generated: time.Now()}
}

func writeHTMLReport(path string, r *reportpkg.Report, pack *signatures.Pack, lang string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write HTML report: %w", err)
	}
	if err := r.WriteHTML(f, htmlOptions(r, pack, lang)); err != nil {
		f.Close()
		return fmt.Errorf("write HTML report %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write HTML report %s: %w", path, err)
	}
	return nil
}
