package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/testutil/loggen"
)

// BenchmarkRunBesideBroker measures what `mqttdiag run` costs the host it
// shares with a broker: CPU (as a share of one core) and resident memory
// while a log grows at a steady rate of generated Mosquitto lines (about
// 1 % faults). It reports cpu_%, rss_MB (at the end) and peak_rss_MB.
// Each run lasts MQTTDIAG_BENCH_SECONDS (default 10) seconds.
func BenchmarkRunBesideBroker(b *testing.B) {
	var gen bytes.Buffer
	if err := loggen.Write(&gen, 200000); err != nil {
		b.Fatal(err)
	}
	lines := strings.SplitAfter(gen.String(), "\n")
	bin := buildBinary(b)
	secs := 10
	if v, err := strconv.Atoi(os.Getenv("MQTTDIAG_BENCH_SECONDS")); err == nil && v > 0 {
		secs = v
	}
	for _, rate := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("lines_per_s=%d", rate), func(b *testing.B) {
			for b.Loop() {
				cpu, rss, peak := runAtRate(b, bin, lines, rate, time.Duration(secs)*time.Second)
				b.ReportMetric(cpu, "cpu_%")
				b.ReportMetric(rss, "rss_MB")
				b.ReportMetric(peak, "peak_rss_MB")
			}
		})
	}
}

// runAtRate follows a log that grows at rate lines/s for d, and returns
// the process' CPU share of one core, its RSS at the end and its peak RSS.
func runAtRate(b *testing.B, bin string, lines []string, rate int, d time.Duration) (cpuPct, rssMB, peakMB float64) {
	dir := b.TempDir()
	path := filepath.Join(dir, "mosquitto.log")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(bin, "run", "--state", filepath.Join(dir, "state.json"), "--log-level", "warn", path)
	cmd.Stdout, cmd.Stderr = nil, nil // diagnoses go to /dev/null, as into a log collector
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	pid := cmd.Process.Pid
	time.Sleep(200 * time.Millisecond) // start-up is not what is measured
	cpu0 := procCPU(b, pid)
	start := time.Now()
	// Write in 10 ms slices, as a broker writes: a few lines at a time.
	const slice = 10 * time.Millisecond
	perSlice := rate / int(time.Second/slice)
	next := 0
	for tick := time.Now(); time.Since(start) < d; tick = tick.Add(slice) {
		var buf bytes.Buffer
		for i := 0; i < perSlice; i++ {
			buf.WriteString(lines[next%len(lines)])
			next++
		}
		if _, err := f.Write(buf.Bytes()); err != nil {
			b.Fatal(err)
		}
		time.Sleep(time.Until(tick.Add(slice)))
	}
	elapsed := time.Since(start)
	cpu1 := procCPU(b, pid)
	rss, peak := procRSS(b, pid)
	return 100 * (cpu1 - cpu0).Seconds() / elapsed.Seconds(), rss / 1024, peak / 1024
}

// procCPU is the user and system CPU time of pid so far.
func procCPU(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}

// procRSS is the resident and peak resident memory of pid, in KiB.
func procRSS(b *testing.B, pid int) (rss, peak float64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = v
		case "VmHWM:":
			peak = v
		}
	}
	return rss, peak
}

// buildBinary builds mqttdiag as `make build` ships it (static, stripped)
// into a temporary directory: benchmarks of memory measure the real
// binary, not the test binary with its test code and coverage of tests.
func buildBinary(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "mqttdiag")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}
