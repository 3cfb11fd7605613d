package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/testutil/benchlog"
)

// benchProc is a real mqttdiag process, the binary as `make build` makes
// it, for benchmarks.
type benchProc struct {
	cmd    *exec.Cmd
	stdout io.ReadCloser
	logs   chan string // self-log messages
}

func startBench(b *testing.B, args ...string) *benchProc {
	b.Helper()
	cmd := exec.Command(buildBinary(b), args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p := &benchProc{cmd: cmd, stdout: stdout, logs: make(chan string, 64)}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var rec struct{ Message string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil {
				select {
				case p.logs <- rec.Message:
				default:
				}
			}
		}
	}()
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	return p
}

func (p *benchProc) waitLog(b *testing.B, msg string) {
	b.Helper()
	deadline := time.After(time.Minute)
	for {
		select {
		case m := <-p.logs:
			if m == msg {
				return
			}
		case <-deadline:
			b.Fatalf("mqttdiag did not log %q", msg)
		}
	}
}

// vmHWM is the peak resident set of a running process, in KiB.
func vmHWM(pid int) int {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			n, _ := strconv.Atoi(strings.Fields(l)[1])
			return n
		}
	}
	return 0
}

// followNumbered starts `mqttdiag run` following a new log with the
// numbered-line pack, and returns the log to append to and mqttdiag's
// stdout, once it follows the log.
func followNumbered(b *testing.B) (*os.File, *bufio.Scanner) {
	b.Helper()
	dir := b.TempDir()
	path := filepath.Join(dir, "mosquitto.log")
	pack := filepath.Join(dir, "numbered.json")
	if err := os.WriteFile(pack, []byte(numberedPack), 0o644); err != nil {
		b.Fatal(err)
	}
	w, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { w.Close() })
	p := startBench(b, "run", "--no-builtin", "--signatures", pack, "--log-level", "debug", path)
	p.waitLog(b, "following")
	sc := bufio.NewScanner(p.stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	return w, sc
}

// BenchmarkRunLatency measures, with a real `mqttdiag run` following a
// file through inotify, the time from a line's append (one write, as a
// broker does) to its diagnosis on mqttdiag's stdout: 2000 appends one
// after the other, p50 and p99.
func BenchmarkRunLatency(b *testing.B) {
	w, sc := followNumbered(b)
	const appends = 2000
	var lat []time.Duration
	n := 0
	for range b.N {
		for range appends {
			line := numberedLine(n)
			t0 := time.Now()
			if _, err := w.WriteString(line); err != nil {
				b.Fatal(err)
			}
			if !sc.Scan() {
				b.Fatalf("stdout ended: %v", sc.Err())
			}
			lat = append(lat, time.Since(t0))
			if want := fmt.Sprintf(`"n":"%07d"`, n); !bytes.Contains(sc.Bytes(), []byte(want)) {
				b.Fatalf("diagnosis %q is not for line %d", sc.Bytes(), n)
			}
			n++
		}
	}
	slices.Sort(lat)
	q := func(f float64) float64 { return float64(lat[int(f*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
}

// BenchmarkRunLatencyStream is BenchmarkRunLatency for a stream: a
// writer appends 10 lines every 10 ms (1,000 lines/s, as sidecarbench's
// writer does) without waiting for their diagnoses, and each line's
// latency is from its write to its diagnosis on stdout. The tailer reads
// a stream once per its stream wake gap (internal/app streamWakeGap), so
// this is where that gap shows: p50, p99 and max over 2000 lines.
func BenchmarkRunLatencyStream(b *testing.B) {
	w, sc := followNumbered(b)
	const lines, perWrite = 2000, 10
	var lat []time.Duration
	n := 0
	for range b.N {
		written := make([]time.Time, lines)
		werr := make(chan error, 1)
		go func() {
			tk := time.NewTicker(10 * time.Millisecond)
			defer tk.Stop()
			for i := 0; i < lines; i += perWrite {
				<-tk.C
				var buf strings.Builder
				for k := range perWrite {
					buf.WriteString(numberedLine(n + i + k))
				}
				now := time.Now()
				for k := range perWrite {
					written[i+k] = now
				}
				if _, err := w.WriteString(buf.String()); err != nil {
					werr <- err
					return
				}
			}
			werr <- nil
		}()
		for i := range lines {
			if !sc.Scan() {
				b.Fatalf("stdout ended: %v", sc.Err())
			}
			at := time.Now()
			if want := fmt.Sprintf(`"n":"%07d"`, n+i); !bytes.Contains(sc.Bytes(), []byte(want)) {
				b.Fatalf("diagnosis %q is not for line %d", sc.Bytes(), n+i)
			}
			lat = append(lat, at.Sub(written[i]))
		}
		if err := <-werr; err != nil {
			b.Fatal(err)
		}
		n += lines
	}
	slices.Sort(lat)
	q := func(f float64) float64 { return float64(lat[int(f*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
}

// BenchmarkRun1GB runs `mqttdiag run --from-beginning` with the built-in
// pack over the 1 GiB benchmark log (one line in a hundred is a client id
// takeover) until the last diagnosis is out: lines/s and MB/s of the whole
// process, and its peak RSS.
func BenchmarkRun1GB(b *testing.B) {
	l, err := benchlog.Get(1 << 30)
	if err != nil {
		b.Fatal(err)
	}
	var peak int
	for range b.N {
		p := startBench(b, "run", "--from-beginning", l.Path)
		var got atomic.Int64
		done := make(chan struct{})
		go func() {
			buf := make([]byte, 1<<20)
			closed := false
			for {
				n, err := p.stdout.Read(buf)
				if got.Add(int64(bytes.Count(buf[:n], []byte{'\n'}))) == l.Takeovers && !closed {
					close(done)
					closed = true
				}
				if err != nil {
					return
				}
			}
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Minute):
			b.Fatalf("%d of %d diagnoses in 10 minutes", got.Load(), l.Takeovers)
		}
		peak = max(peak, vmHWM(p.cmd.Process.Pid))
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		_ = p.cmd.Wait()
	}
	b.SetBytes(l.Bytes)
	b.ReportMetric(float64(l.Lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
}
