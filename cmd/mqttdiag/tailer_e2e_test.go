package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mqttdiag/mqttdiag/sink"
)

// numberedPack is a one-signature pack that diagnoses every numbered test
// line, with small diagnoses so that tens of thousands stay cheap.
const numberedPack = `[{"id": "test/numbered", "signature": "numbered test line", "category": "test",
  "severity": "info", "root_cause": "a test wrote it", "regex": "^seq (?P<n>\\d+)(?: |$)"}]`

func writePack(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "numbered.json")
	if err := os.WriteFile(p, []byte(numberedPack), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// numberedLine is line n as a Mosquitto-like log line.
func numberedLine(n int) string {
	return fmt.Sprintf("1795321246: seq %07d client sensor-%d sent PUBLISH (d0, q1, r0, m%d, 'plant/line/temp', ... (12 bytes))\n", n, n%97, n%65536)
}

// logWriter writes numbered lines to a log in bursts at a high rate, in
// writes that split lines, holding the file open as Mosquitto does, and
// rotates the log the ways logrotate does.
type logWriter struct {
	path string
	f    *os.File
	n    int // lines written
	rng  *rand.Rand
	buf  []byte
}

func newLogWriter(t *testing.T, path string) *logWriter {
	t.Helper()
	w := &logWriter{path: path, rng: rand.New(rand.NewPCG(1, 2))}
	w.reopen(t)
	t.Cleanup(func() { w.f.Close() })
	return w
}

// burst writes n lines, 40 every millisecond (about 40,000 lines/s), each
// 40 cut into three writes at random places. hook, when not nil, runs
// once between two writes after at lines, so that a rename falls inside
// a line: the writer finishes it in the renamed file.
func (w *logWriter) burst(t *testing.T, n, at int, hook func()) {
	t.Helper()
	const perTick = 40
	tk := time.NewTicker(time.Millisecond)
	defer tk.Stop()
	end := w.n + n
	hookAt := w.n + at
	for w.n < end {
		<-tk.C
		k := min(perTick, end-w.n)
		w.buf = w.buf[:0]
		for i := 0; i < k; i++ {
			w.buf = append(w.buf, numberedLine(w.n+i)...)
		}
		a := w.rng.IntN(len(w.buf))
		b := a + w.rng.IntN(len(w.buf)-a)
		for i, piece := range [][]byte{w.buf[:a], w.buf[a:b], w.buf[b:]} {
			if _, err := w.f.Write(piece); err != nil {
				t.Fatal(err)
			}
			if i == 0 && hook != nil && w.n >= hookAt {
				hook()
				hook = nil
			}
		}
		w.n += k
	}
}

// reopen closes the log and opens its path again, at a line boundary
// (Mosquitto on SIGHUP).
func (w *logWriter) reopen(t *testing.T) {
	t.Helper()
	if w.f != nil {
		if err := w.f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.OpenFile(w.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	w.f = f
}

// rename moves the log to path.1, after shifting older ones.
func (w *logWriter) rename(t *testing.T) {
	t.Helper()
	shift(t, w.path)
	if err := os.Rename(w.path, w.path+".1"); err != nil {
		t.Fatal(err)
	}
}

// copyTruncate copies the log to path.1 and truncates it, between two
// lines (lines written between the copy and the truncation are lost by
// copytruncate itself, whatever the reader).
func (w *logWriter) copyTruncate(t *testing.T) {
	t.Helper()
	shift(t, w.path)
	data, err := os.ReadFile(w.path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w.path+".1", data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(w.path, 0); err != nil {
		t.Fatal(err)
	}
}

// shift renames path.k to path.k+1, highest first, as logrotate does.
func shift(t *testing.T, path string) {
	t.Helper()
	ms, _ := filepath.Glob(path + ".*")
	var ks []int
	for _, m := range ms {
		if k, err := strconv.Atoi(strings.TrimPrefix(m, path+".")); err == nil {
			ks = append(ks, k)
		}
	}
	slices.Sort(ks)
	for i := len(ks) - 1; i >= 0; i-- {
		if err := os.Rename(fmt.Sprintf("%s.%d", path, ks[i]), fmt.Sprintf("%s.%d", path, ks[i]+1)); err != nil {
			t.Fatal(err)
		}
	}
}

// diagCollector gathers a run's diagnoses by line number.
type diagCollector struct {
	mu      sync.Mutex
	byNum   map[int][]*sink.Diagnosis
	changed chan struct{}
	done    chan struct{}
}

func collectDiags(t *testing.T, p *proc) *diagCollector {
	c := &diagCollector{byNum: make(map[int][]*sink.Diagnosis), changed: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for d := range p.diags {
			n, err := strconv.Atoi(d.Fields["n"])
			if err != nil {
				t.Errorf("diagnosis without a number: %+v", d)
				continue
			}
			c.mu.Lock()
			c.byNum[n] = append(c.byNum[n], d)
			close(c.changed)
			c.changed = make(chan struct{})
			c.mu.Unlock()
		}
	}()
	return c
}

// waitAll waits until lines 0..n-1 were all diagnosed.
func (c *diagCollector) waitAll(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		c.mu.Lock()
		missing := -1
		for i := 0; i < n; i++ {
			if len(c.byNum[i]) == 0 {
				missing = i
				break
			}
		}
		ch := c.changed
		c.mu.Unlock()
		if missing < 0 {
			return
		}
		select {
		case <-ch:
		case <-c.done:
			t.Fatalf("mqttdiag stopped before line %d was diagnosed", missing)
		case <-deadline:
			t.Fatalf("line %d of %d not diagnosed within %v", missing, n, timeout)
		}
	}
}

// checkExactlyOnce checks that each of lines 0..n-1 has exactly one
// diagnosis and that no two diagnoses share an id.
func checkExactlyOnce(t *testing.T, n int, runs ...*diagCollector) {
	t.Helper()
	ids := map[string]int{}
	for i := 0; i < n; i++ {
		var all []*sink.Diagnosis
		for _, r := range runs {
			all = append(all, r.byNum[i]...)
		}
		if len(all) != 1 {
			t.Errorf("line %d diagnosed %d times", i, len(all))
			continue
		}
		if prev, dup := ids[all[0].ID]; dup {
			t.Errorf("lines %d and %d share id %s", prev, i, all[0].ID)
		}
		ids[all[0].ID] = i
	}
}

// The test: numbered lines at tens of thousands per second, in
// writes that split lines, while the log is rotated by rename-and-create
// (the writer keeps writing to the renamed file for a while) and by
// copytruncate, three times each: every line is diagnosed exactly once and
// no two lines share an id.
func TestRunHighRateRotationExactlyOnce(t *testing.T) {
	t.Parallel() // a subprocess and its own temp dir, ports and state: independent of the others
	dir := t.TempDir()
	path := filepath.Join(dir, "mosquitto.log")
	w := newLogWriter(t, path)
	p := startMqttdiag(t, nil, "run", "--no-builtin", "--signatures", writePack(t), "--log-level", "debug", path)
	p.waitLog(t, "following", 60*time.Second)
	c := collectDiags(t, p)
	for i := 0; i < 3; i++ {
		// Renamed half way; the writer goes on in the renamed file.
		w.burst(t, 4000, 2000, func() { w.rename(t) })
		w.reopen(t)
	}
	for i := 0; i < 3; i++ {
		w.burst(t, 4000, 0, nil)
		for len(p.logs) > 0 { // wait for news, not for old records
			<-p.logs
		}
		w.copyTruncate(t)
		// Each copytruncate is seen before the next burst (read from the
		// file, or its rest from the copy), so that this test covers the
		// ordinary path at a high rate. A copytruncate mqttdiag never sees
		// in the file is not lost either: its copy, named like the log
		// plus a suffix, is read after the rest of the stream (README
		// "Rotation"; tailer's TestCopytruncateTwiceBetweenLooksReadsTheMissedCopy
		// and TestCopytruncateWhileFinishingTheLastOne).
		p.waitLogAny(t, 60*time.Second, "finished the truncated log file from its copy",
			"found a log file rotated away before it was read; reading it first")
	}
	w.burst(t, 4000, 0, nil)
	n := w.n
	c.waitAll(t, n, 120*time.Second) // generous: a loaded CI machine once needed more than 20 s
	if err := p.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	<-c.done
	checkExactlyOnce(t, n, c)
	t.Logf("%d lines, 3 rename and 3 copytruncate rotations", n)
}

// The restart test: mqttdiag is killed with SIGKILL while lines
// pour in, lines are written and the log rotated while it is down, and it
// restarts from --state alone. No line is missing; a line diagnosed twice
// (after the kill) carries the same id both times. Then a clean stop
// (SIGTERM) and restart: nothing is diagnosed twice.
func TestRunKilledAndRestartedFromState(t *testing.T) {
	t.Parallel() // a subprocess and its own temp dir, ports and state: independent of the others
	dir := t.TempDir()
	path := filepath.Join(dir, "mosquitto.log")
	state := filepath.Join(dir, "state.json")
	pack := writePack(t)
	args := []string{"run", "--no-builtin", "--signatures", pack, "--state", state, "--log-level", "debug", path}
	w := newLogWriter(t, path)

	p1 := startMqttdiag(t, nil, args...)
	p1.waitLog(t, "following", 60*time.Second)
	c1 := collectDiags(t, p1)
	w.burst(t, 4000, 0, nil)
	waitCount(t, c1, 2000)
	// Killed while lines pour in; more lines and a rename rotation while
	// it is down, the writer still on the renamed file for a while.
	w.burst(t, 8000, 1000, func() {
		if err := p1.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
	})
	<-p1.done
	<-c1.done
	w.burst(t, 4000, 1000, func() { w.rename(t) })
	w.reopen(t)
	w.burst(t, 2000, 0, nil)

	p2 := startMqttdiag(t, nil, args...)
	c2 := collectDiags(t, p2)
	w.burst(t, 4000, 0, nil)
	c2.waitAll3(t, w.n, 60*time.Second, c1)
	if err := p2.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	<-c2.done

	// A clean stop: the restart diagnoses nothing twice.
	w.burst(t, 4000, 0, nil)
	p3 := startMqttdiag(t, nil, args...)
	c3 := collectDiags(t, p3)
	w.burst(t, 4000, 0, nil)
	n := w.n
	c3.waitAll3(t, n, 60*time.Second, c1, c2)
	if err := p3.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	<-c3.done

	repeated := checkRestartContract(t, n, "line", c1, c2, c3)
	t.Logf("%d lines; %d diagnosed twice across the SIGKILL (same ids), none across the SIGTERM", n, repeated)
}

func waitCount(t *testing.T, c *diagCollector, n int) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		c.mu.Lock()
		got, ch := len(c.byNum), c.changed
		c.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%d of %d diagnoses within 30s", got, n)
		}
	}
}

// waitAll3 waits until every line below n was diagnosed by c or by one
// of the runs before it.
func (c *diagCollector) waitAll3(t *testing.T, n int, timeout time.Duration, before ...*diagCollector) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		c.mu.Lock()
		missing := -1
		for i := 0; i < n && missing < 0; i++ {
			if len(c.byNum[i]) > 0 {
				continue
			}
			found := false
			for _, b := range before {
				if len(b.byNum[i]) > 0 {
					found = true
				}
			}
			if !found {
				missing = i
			}
		}
		ch := c.changed
		c.mu.Unlock()
		if missing < 0 {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("line %d of %d not diagnosed within %v", missing, n, timeout)
		}
	}
}

// A glob picks up a file that appears after the start, from its first line.
func TestRunGlobLateFile(t *testing.T) {
	dir := t.TempDir()
	p := startMqttdiag(t, nil, "run", "--no-builtin", "--signatures", writePack(t), filepath.Join(dir, "*.log"))
	p.waitLog(t, "no files match yet; waiting for them to appear", 60*time.Second)
	if err := os.WriteFile(filepath.Join(dir, "late.log"), []byte(numberedLine(1)+numberedLine(2)), 0o644); err != nil {
		t.Fatal(err)
	}
	d, _ := p.waitDiag(t, 10*time.Second, func(d *sink.Diagnosis) bool { return d.Fields["n"] == "0000002" })
	if d.Source.Offset != int64(len(numberedLine(1))) || d.Source.LineNumber != 2 {
		t.Errorf("source %+v", d.Source)
	}
	if err := p.stop(t); err != nil {
		t.Fatal(err)
	}
}

// `run -` reads stdin as lines arrive and exits 0 when it ends.
func TestRunStdin(t *testing.T) {
	r, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p := startMqttdiag(t, r, "run", "--no-builtin", "--signatures", writePack(t), "-")
	fmt.Fprint(wr, numberedLine(7))
	// Diagnosed while stdin is still open: no batch waits for more lines.
	d, _ := p.waitDiag(t, 10*time.Second, func(d *sink.Diagnosis) bool { return d.Fields["n"] == "0000007" })
	if d.Source.File != "-" || d.Source.Offset != 0 {
		t.Errorf("source %+v", d.Source)
	}
	wr.Close()
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run - did not exit when stdin ended")
	}
}

// A 100 MB line without a newline, binary junk and invalid UTF-8: no
// crash, valid JSON out, the kept part of the long line still matched, and
// memory bounded by --max-line-bytes, not by the line. run holds the long
// line until its newline comes; scan emits it at the end of the file.
func TestRunHugeLineBinaryAndInvalidUTF8(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "junk.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(f, "1795321246: seq 0000001 \xff\xfe\x00 junk \xc3\x28 here\n")
	fmt.Fprint(f, "\x00\x01\x02\x1b[31m binary \x7f\x80\x81\n")
	fmt.Fprint(f, "1795321246: seq 0000002 then one line of 100 MB without a newline: ")
	junk := bytes.Repeat([]byte("ä\xffz"), 1<<20)
	for i := 0; i < 25; i++ { // 100 MB
		if _, err := f.Write(junk); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	pack := writePack(t)

	check := func(t *testing.T, p *proc, ds []*sink.Diagnosis) {
		t.Helper()
		p.mu.Lock()
		bad := p.badStdout
		p.mu.Unlock()
		if len(bad) > 0 {
			t.Fatalf("stdout lines that are not diagnoses: %q", bad)
		}
		if len(ds) < 2 {
			t.Fatalf("got %d diagnoses, want 2", len(ds))
		}
		if !utf8.ValidString(ds[0].Line) || !strings.Contains(ds[0].Line, "\ufffd") {
			t.Errorf("invalid UTF-8 not replaced: %q", ds[0].Line)
		}
		// 64 KiB kept; each invalid byte became a 3-byte U+FFFD in JSON.
		long := ds[1].Line
		if ds[1].Fields["n"] != "0000002" || !strings.HasSuffix(long, " …[truncated]") || len(long) > 3*64<<10 {
			t.Errorf("long line: %d bytes, ends %q", len(long), long[max(0, len(long)-20):])
		}
	}

	t.Run("run", func(t *testing.T) {
		p := startMqttdiag(t, nil, "run", "--from-beginning", "--no-builtin", "--signatures", pack, path)
		first, _ := p.waitDiag(t, 10*time.Second, func(d *sink.Diagnosis) bool { return d.Fields["n"] == "0000001" })
		appendTo(t, path, "\n"+numberedLine(3))
		long, _ := p.waitDiag(t, 10*time.Second, func(d *sink.Diagnosis) bool { return d.Fields["n"] == "0000002" })
		p.waitDiag(t, 10*time.Second, func(d *sink.Diagnosis) bool { return d.Fields["n"] == "0000003" })
		// Peak RSS of the running process (of the new image: ru_maxrss
		// would count the test process the child was forked from).
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		var hwm int
		for _, l := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(l, "VmHWM:") {
				hwm, _ = strconv.Atoi(strings.Fields(l)[1])
			}
		}
		// The test binary runs with the race detector, which multiplies
		// memory; a reader that held the line would need 100 MB more.
		if hwm == 0 || hwm > 90<<10 {
			t.Errorf("peak RSS %d KiB reading a 100 MB line", hwm)
		}
		t.Logf("peak RSS %d KiB (race-instrumented binary)", hwm)
		if err := p.stop(t); err != nil {
			t.Fatal(err)
		}
		check(t, p, []*sink.Diagnosis{first, long})
	})
	t.Run("scan", func(t *testing.T) {
		p := startMqttdiag(t, nil, "scan", "--no-builtin", "--signatures", pack, path)
		var ds []*sink.Diagnosis
		for d := range p.diags {
			ds = append(ds, d)
		}
		if err := <-p.done; err != nil {
			t.Fatalf("scan: %v", err)
		}
		if len(ds) != 3 {
			t.Errorf("got %d diagnoses, want 3", len(ds))
		}
		check(t, p, ds)
	})
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// waitLogAny waits for a self-log record with one of the messages.
func (p *proc) waitLogAny(t *testing.T, timeout time.Duration, msgs ...string) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case rec, ok := <-p.logs:
			if !ok {
				t.Fatalf("mqttdiag exited before logging one of %q", msgs)
			}
			if slices.Contains(msgs, rec["message"].(string)) {
				return
			}
		case <-deadline:
			t.Fatalf("mqttdiag did not log one of %q within %v", msgs, timeout)
		}
	}
}

// A malformed glob stops run and scan at start with an error naming it,
// instead of waiting for files forever.
func TestMalformedGlobFailsAtStart(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "t1", "[abc")
	pack := writePack(t)
	for _, cmd := range []string{"run", "scan"} {
		t.Run(cmd, func(t *testing.T) {
			done := make(chan struct{})
			var code int
			var stderr string
			go func() {
				defer close(done)
				code, _, stderr = runCLI(t, "", cmd, "--no-builtin", "--signatures", pack, bad)
			}()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatalf("mqttdiag %s did not stop on a malformed glob", cmd)
			}
			if code == 0 || !strings.Contains(stderr, strconv.Quote(bad)) || !strings.Contains(stderr, "not a valid glob") {
				t.Errorf("exit %d, stderr:\n%s", code, stderr)
			}
		})
	}
}

// checkRestartContract checks the at-least-once contract over a run
// killed by SIGKILL (c1), its restart stopped by SIGTERM (c2) and the
// restart after that (c3), for items 0..n-1 (what names them: "line",
// "entry"): each diagnosed, once per run, again only across the SIGKILL
// and then under the same id, never across the clean stop, and no two
// items under one id. It returns how many were diagnosed twice.
func checkRestartContract(t *testing.T, n int, what string, c1, c2, c3 *diagCollector) (repeated int) {
	t.Helper()
	ids := map[string]int{}
	for i := 0; i < n; i++ {
		var all []*sink.Diagnosis
		for _, c := range []*diagCollector{c1, c2, c3} {
			all = append(all, c.byNum[i]...)
		}
		if len(all) == 0 {
			t.Fatalf("%s %d never diagnosed", what, i)
		}
		for _, d := range all[1:] {
			if d.ID != all[0].ID {
				t.Errorf("%s %d diagnosed again with another id: %s, then %s", what, i, all[0].ID, d.ID)
			}
		}
		if len(all) > 1 {
			repeated++
		}
		if len(c1.byNum[i]) > 1 || len(c2.byNum[i]) > 1 || len(c3.byNum[i]) > 1 {
			t.Errorf("%s %d diagnosed twice by one run", what, i)
		}
		if len(c2.byNum[i]) > 0 && len(c3.byNum[i]) > 0 {
			t.Errorf("%s %d diagnosed again after a clean stop", what, i)
		}
		if prev, dup := ids[all[0].ID]; dup && prev != i {
			t.Errorf("%ss %d and %d share id %s", what, prev, i, all[0].ID)
		}
		ids[all[0].ID] = i
	}
	return repeated
}
