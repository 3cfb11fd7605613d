package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/creack/pty"

	"github.com/mqttdiag/mqttdiag/internal/testutil/brokertest"
)

var update = flag.Bool("update", false, "rewrite golden files")

const sampleLog = "../../examples/logs/mosquitto-2.0.11.log"

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// The text report of the real captured log, without and with colour.
func TestScanTextReportGolden(t *testing.T) {
	code, out, errOut := runCLI(t, "", "scan", "--format", "text", "--color", "never", sampleLog)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "scan-report.txt", out)
	if strings.Contains(out, "\x1b[") {
		t.Error("--color never printed escape codes")
	}
	code, out, _ = runCLI(t, "", "scan", "--format", "text", "--color", "always", sampleLog)
	if code != 0 {
		t.Fatal(code)
	}
	golden(t, "scan-report-color.txt", out)
}

// demoLog is the real sample log plus three lines of a fault no signature
// knows, one second apart: one wording, three lines.
func demoLog(t *testing.T) string {
	t.Helper()
	sample, err := os.ReadFile(sampleLog)
	if err != nil {
		t.Fatal(err)
	}
	for i := 7; i <= 9; i++ {
		sample = fmt.Appendf(sample, "179532030%d: Error: Frobnicator overheated on bus /dev/fb%d.\n", i, i)
	}
	p := filepath.Join(t.TempDir(), "demo.log")
	if err := os.WriteFile(p, sample, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The report counts every unexplained line, although the diagnoses for
// them are limited to one per wording a minute.
func TestScanReportCountsEveryUnexplainedLine(t *testing.T) {
	code, out, _ := runCLI(t, "", "scan", "--format", "text", demoLog(t))
	if code != 0 {
		t.Fatal(code)
	}
	for _, want := range []string{"3 fault-looking lines no signature explains", "×3  Error: Frobnicator overheated on bus *."} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI(t, "", "scan", "--format", "json", demoLog(t))
	if code != 0 {
		t.Fatal(code)
	}
	if n := strings.Count(out, `"signature_id":"unknown"`); n != 1 {
		t.Errorf("JSON has %d unknown diagnoses for one wording within a minute, want 1", n)
	}
}

// With --lang zh the HTML report's cards are in Chinese, as the
// diagnoses are.
func TestScanHTMLReportLang(t *testing.T) {
	for lang, want := range map[string]string{"en": "Root Cause", "zh": "根本原因"} {
		html := filepath.Join(t.TempDir(), "r.html")
		if code, _, errOut := runCLI(t, "", "scan", "--format", "json", "--lang", lang, "--html", html, sampleLog); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		b, err := os.ReadFile(html)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), want) {
			t.Errorf("--lang %s: the report's cards lack %q", lang, want)
		}
	}
}

// Piped (not a terminal), scan prints JSON lines and no colour, whatever
// NO_COLOR says.
func TestScanNonTTYDefaultsToJSON(t *testing.T) {
	code, out, _ := runCLI(t, "", "scan", sampleLog)
	if code != 0 {
		t.Fatal(code)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	n := 0
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), `{"id":"`) {
			t.Fatalf("non-JSON line on a pipe: %q", sc.Text())
		}
		n++
	}
	if n != 6 || strings.Contains(out, "\x1b[") {
		t.Errorf("%d JSON lines (want 6), escapes: %v", n, strings.Contains(out, "\x1b["))
	}
}

// Self-logs in console format are coloured on a terminal only: escape
// codes in a log file or a collector are noise.
func TestConsoleLogColourOnlyOnTerminal(t *testing.T) {
	args := []string{"scan", "--format", "json", "--log-format", "console", "--log-level", "debug", sampleLog}
	code, _, errOut := runCLI(t, "", args...)
	if code != 0 {
		t.Fatal(code)
	}
	if !strings.Contains(errOut, "DBG") || strings.Contains(errOut, "\x1b[") {
		t.Errorf("console self-log to a pipe: want plain text, got:\n%q", errOut)
	}
	out := runPTY(t, nil, args...)
	if !strings.Contains(out, "\x1b[") {
		t.Errorf("console self-log on a terminal is not coloured:\n%q", out)
	}
	out = runPTY(t, []string{"NO_COLOR=1"}, args...)
	if strings.Contains(out, "\x1b[") {
		t.Errorf("NO_COLOR did not turn the self-log's colour off:\n%q", out)
	}
}

// runPTY runs mqttdiag with stdin, stdout and stderr on a real
// pseudo-terminal and returns what it printed.
func runPTY(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd, out := startPTY(t, env, args...)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("mqttdiag %v: %v\n%s", args, err, out.String())
	}
	<-out.done
	return out.String()
}

// ptyOutput collects what a process wrote to its terminal.
type ptyOutput struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{} // closed at EIO, when the child has exited
}

func (o *ptyOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// startPTY starts mqttdiag with a pseudo-terminal as its stdin, stdout
// and stderr, and collects its output; it skips where the system has no
// pseudo-terminals at all.
func startPTY(t *testing.T, env []string, args ...string) (*exec.Cmd, *ptyOutput) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "MQTTDIAG_BE_MAIN=1", "NO_COLOR="), env...)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 160})
	if errors.Is(err, syscall.ENODEV) || errors.Is(err, fs.ErrNotExist) {
		// A chroot with /dev bound but no devpts mounted has no
		// pseudo-terminals at all; no package can install one.
		t.Skipf("no pseudo-terminals in this environment (devpts not mounted on /dev/pts): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	out := &ptyOutput{done: make(chan struct{})}
	go func() {
		defer close(out.done)
		b := make([]byte, 4096)
		for {
			n, err := f.Read(b)
			out.mu.Lock()
			out.buf.Write(b[:n])
			out.mu.Unlock()
			if err != nil {
				return // EIO when the child exits
			}
		}
	}()
	return cmd, out
}

// On a terminal, scan prints the text report, in colour unless NO_COLOR is
// set (https://no-color.org).
func TestScanOnTerminal(t *testing.T) {
	out := runPTY(t, nil, "scan", "--log-level", "warn", sampleLog)
	if !strings.Contains(out, "known faults (") || !strings.Contains(out, "in 2,016 lines") || !strings.Contains(out, "\x1b[1;31m") {
		t.Errorf("terminal output is not the coloured text report:\n%q", out)
	}
	out = runPTY(t, []string{"NO_COLOR=1"}, "scan", "--log-level", "warn", sampleLog)
	if !strings.Contains(out, "known faults (") || !strings.Contains(out, "in 2,016 lines") || strings.Contains(out, "\x1b[1") {
		t.Errorf("NO_COLOR did not turn colour off:\n%q", out)
	}
}

// A large file on a terminal gets a progress bar on stderr; a small one
// and a pipe do not.
func TestScanProgressBar(t *testing.T) {
	sample, err := os.ReadFile(sampleLog)
	if err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(t.TempDir(), "big.log")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	// A small threshold keeps the test fast under -race; the default is
	// progressMinBytes.
	const threshold = 256 << 10
	for written := 0; written < threshold+1; written += len(sample) {
		if _, err := f.Write(sample); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	minFlag := fmt.Sprintf("--progress-min-bytes=%d", threshold)
	out := runPTY(t, []string{"NO_COLOR=1"}, "scan", "--log-level", "warn", minFlag, big)
	if !strings.Contains(out, "scanning") || !strings.Contains(out, "%") {
		t.Errorf("no progress bar on a terminal for a file over the threshold:\n%q", out[:min(len(out), 2000)])
	}
	if out := runPTY(t, nil, "scan", "--log-level", "warn", minFlag, sampleLog); strings.Contains(out, "scanning") {
		t.Errorf("progress bar for a small file")
	}
	code, _, errOut := runCLI(t, "", "scan", "--format", "text", minFlag, big)
	if code != 0 || strings.Contains(errOut, "scanning") {
		t.Errorf("progress bar on a pipe: %q", errOut)
	}
}

// The HTML report opens in a real headless Chromium with no network
// access: the timeline is drawn, its bars add up to the table's counts, and
// a screenshot is kept with the test's artifacts (go test -artifacts).
func TestHTMLReportInChromium(t *testing.T) {
	chromium := brokertest.RequireTool(t, "chromium")
	dir := t.TempDir()
	html := filepath.Join(dir, "report.html")
	code, _, errOut := runCLI(t, "", "scan", "--format", "json", "--html", html, demoLog(t))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	ctx := openInChromium(t, chromium, html, 1400)
	attr, err := chromedp.Run(ctx, chromedp.AttributeValue("#timeline", "data-rendered"))
	if err != nil {
		t.Fatal(err)
	}
	rendered := attr.Value
	chart, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]int](`(() => { const m = {}; document.querySelectorAll('#timeline rect[data-sig]').forEach(r => { m[r.dataset.sig] = (m[r.dataset.sig] || 0) + Number(r.dataset.count) }); return m })()`))
	if err != nil {
		t.Fatal(err)
	}
	table, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]int](`(() => { const m = {}; document.querySelectorAll('#faults tbody tr').forEach(r => { m[r.dataset.sig] = Number(r.dataset.count) }); let u = 0; document.querySelectorAll('#unknown tbody tr').forEach(r => u += Number(r.dataset.count)); if (u) m["unknown"] = u; return m })()`))
	if err != nil {
		t.Fatal(err)
	}
	requests, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`performance.getEntriesByType("resource").map(e => e.name)`))
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
	if err != nil {
		t.Fatal(err)
	}
	if rendered != "true" {
		t.Errorf("chart not rendered")
	}
	// Four signatures fire, but the protocol-error disconnect is a detail
	// of the refused CONNACK before it (part_of): no row of its own.
	if len(table) != 4 || table["unknown"] != 3 || table["mosquitto/protocol-error-disconnect"] != 0 {
		t.Errorf("table has %d rows, want 3 signatures and the unknown group of 3 lines: %v", len(table), table)
	}
	for id, n := range table {
		if chart[id] != n {
			t.Errorf("%s: chart bars add up to %d, table says %d", id, chart[id], n)
		}
	}
	if len(requests) != 0 {
		t.Errorf("the report made network requests: %v", requests)
	}
	png := filepath.Join(t.ArtifactDir(), "report.png")
	if err := os.WriteFile(png, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", png, len(shot))
}

// openInChromium opens the HTML report in a headless Chromium (with the
// flags that keep it off this machine's closed network, in a profile of
// its own) and waits until its chart has rendered. The browser lives
// until the test ends; a watchdog bounds it, since the first action's
// context must not time out or the browser goes with it.
func openInChromium(t *testing.T, chromium, html string, height int) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(filepath.Join(t.TempDir(), "profile")),
		chromedp.WindowSize(1280, height),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	watchdog := time.AfterFunc(120*time.Second, cancel)
	t.Cleanup(func() {
		watchdog.Stop()
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+html), chromedp.WaitVisible(`#timeline[data-rendered="true"]`)); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return ctx
}
