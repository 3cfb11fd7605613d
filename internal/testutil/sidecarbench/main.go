// Command sidecarbench measures what following a growing Mosquitto log
// costs the host, for `mqttdiag run` beside three baselines in the same
// run on the same file: `tail -F` (following only: the floor), the least
// a Go program does to follow it (the Go floor, see gofloor.go) and mtail
// with a program that counts lines (issue 17). A writer appends generated
// Mosquitto lines (internal/testutil/loggen) at a steady rate in 10 ms
// slices, as a broker does, and renames the log once half-way (logrotate's
// default, then a new file under the old name).
//
// For each follower it reports CPU time (utime+stime from /proc/PID/stat)
// per second of wall time, as % of one core, and its peak RSS (VmHWM);
// each figure is the median of -runs runs, and the ratios of mqttdiag to
// tail and to mtail are taken within the same runs. A run counts only if
// mqttdiag read and matched every line written and mtail counted every
// one (both checked on their /metrics), so no figure is flattered by
// lines a follower missed.
//
// It does not know what mqttdiag does with a line; it only drives the
// binaries (`make bench-sidecar` builds mqttdiag as `make build` does).
//
//	go run ./internal/testutil/sidecarbench -bin bin/mqttdiag -rates 1000,10000 -seconds 30 -runs 3
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/testutil/loggen"
)

// The targets for mqttdiag (issue 17).
var targets = map[int]float64{1000: 1.0, 10000: 2.0}

const targetRSSMB = 28.0

// mtailProg counts every line: the cheapest program mtail can run, so
// mtail's figure is its cost of following and dispatching, as tail's is.
const mtailProg = "counter lines_total\n/$/ {\n  lines_total++\n}\n"

type follower struct {
	name string
	cmd  *exec.Cmd
	cpu0 time.Duration
}

// sample is one follower's figures in one run.
type sample struct {
	cpuPct float64
	hwmMB  float64
	note   string // mqttdiag: diagnoses made; every follower: load average at the end
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == goFloorArg {
		goFloor(os.Args[2])
		return
	}
	bin := flag.String("bin", "bin/mqttdiag", "the mqttdiag binary to measure (build it as `make build` does)")
	ratesFlag := flag.String("rates", "1000,10000", "lines per second, comma-separated")
	secs := flag.Int("seconds", 30, "seconds of writing per run")
	runs := flag.Int("runs", 3, "runs per rate (medians are printed)")
	flag.Parse()
	var rates []int
	for _, s := range strings.Split(*ratesFlag, ",") {
		r, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || r < 100 {
			fatalf("-rates: %q is not a rate of at least 100 lines/s", s)
		}
		rates = append(rates, r)
	}
	for _, c := range []string{*bin, "tail", "mtail"} {
		if _, err := exec.LookPath(c); err != nil {
			fatalf("%s not found: `make bench-sidecar` builds mqttdiag and installs mtail (Debian package mtail): %v", c, err)
		}
	}
	// Enough distinct lines for the longest run; they repeat after that.
	var gen bytes.Buffer
	if err := loggen.Write(&gen, 400000); err != nil {
		fatalf("generate lines: %v", err)
	}
	lines := bytes.SplitAfter(gen.Bytes(), []byte("\n"))
	lines = lines[:len(lines)-1]

	names := []string{"tail -F", "go floor", "mtail", "mqttdiag"}
	res := map[int]map[string][]sample{}
	fmt.Printf("# sidecarbench %s, %d s per run, %d runs per rate, writer in 10 ms slices, one rename rotation half-way\n",
		time.Now().UTC().Format(time.RFC3339), *secs, *runs)
	fmt.Printf("%-8s %-4s %-10s %8s %10s  %s\n", "lines/s", "run", "follower", "cpu_%", "peak_MB", "notes")
	for i := 0; i < *runs; i++ {
		for _, rate := range rates {
			got, err := once(*bin, lines, rate, time.Duration(*secs)*time.Second)
			if err != nil {
				fatalf("%d lines/s, run %d: %v", rate, i+1, err)
			}
			if res[rate] == nil {
				res[rate] = map[string][]sample{}
			}
			for _, n := range names {
				res[rate][n] = append(res[rate][n], got[n])
				fmt.Printf("%-8d %-4d %-10s %8.2f %10.1f  %s\n", rate, i+1, n, got[n].cpuPct, got[n].hwmMB, got[n].note)
			}
		}
	}
	fmt.Printf("\n# medians of %d runs (CPU: %% of one core; RSS: peak, MiB)\n", *runs)
	fmt.Printf("%-8s %9s %10s %9s %10s %12s %14s %13s %15s %8s %9s\n",
		"lines/s", "tail_%", "gofloor_%", "mtail_%", "mqttdiag_%", "mqttdiag_MB", "mqttdiag/tail", "mqttdiag/gofl", "mqttdiag/mtail", "target", "met")
	for _, rate := range rates {
		t := median(res[rate]["tail -F"], func(s sample) float64 { return s.cpuPct })
		g := median(res[rate]["go floor"], func(s sample) float64 { return s.cpuPct })
		m := median(res[rate]["mtail"], func(s sample) float64 { return s.cpuPct })
		d := median(res[rate]["mqttdiag"], func(s sample) float64 { return s.cpuPct })
		rss := median(res[rate]["mqttdiag"], func(s sample) float64 { return s.hwmMB })
		// Ratios per run, then their median: each is taken on one file
		// at one time, which the machine's drift between runs does not touch.
		var rt, rg, rm []float64
		for i, s := range res[rate]["mqttdiag"] {
			rt = append(rt, s.cpuPct/res[rate]["tail -F"][i].cpuPct)
			rg = append(rg, s.cpuPct/res[rate]["go floor"][i].cpuPct)
			rm = append(rm, s.cpuPct/res[rate]["mtail"][i].cpuPct)
		}
		target, met := "-", "-"
		if tg, ok := targets[rate]; ok {
			target = fmt.Sprintf("≤%.1f%%", tg)
			met = fmt.Sprintf("%v/%v", d <= tg, rss <= targetRSSMB)
		}
		fmt.Printf("%-8d %9.2f %10.2f %9.2f %10.2f %12.1f %14.1f %13.1f %15.2f %8s %9s\n", rate, t, g, m, d, rss, medianF(rt), medianF(rg), medianF(rm), target, met)
	}
	fmt.Printf("# met: CPU target / peak RSS ≤ %.0f MB\n", targetRSSMB)
}

// once runs the three followers on one new log at rate lines/s for d.
func once(bin string, lines [][]byte, rate int, d time.Duration) (map[string]sample, error) {
	dir, err := os.MkdirTemp("", "sidecarbench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "mosquitto.log")
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	defer func() { f.Close() }()
	progs := filepath.Join(dir, "progs")
	if err := os.Mkdir(progs, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(progs, "lines.mtail"), []byte(mtailProg), 0o644); err != nil {
		return nil, err
	}
	diagAddr, mtailPort := freeAddr(), freePort()
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var floorOut bytes.Buffer
	fs := []*follower{
		{name: "tail -F", cmd: exec.Command("tail", "-F", "-n", "0", path)},
		{name: "go floor", cmd: exec.Command(self, goFloorArg, path)},
		{name: "mtail", cmd: exec.Command("mtail", "-progs", progs, "-logs", path,
			"-address", "127.0.0.1", "-port", mtailPort, "-logtostderr")},
		// As deployed: a state file (checkpoints are part of the cost),
		// its own logs at warn, diagnoses to /dev/null as into a collector.
		{name: "mqttdiag", cmd: exec.Command(bin, "run", "--state", filepath.Join(dir, "state.json"),
			"--log-level", "warn", "--metrics-addr", diagAddr, path)},
	}
	for _, fl := range fs {
		fl.cmd.Stdout, fl.cmd.Stderr = nil, nil // /dev/null
		if fl.name == "go floor" {
			fl.cmd.Stdout = &floorOut // the lines it counted, when stopped
		}
		if err := fl.cmd.Start(); err != nil {
			return nil, fmt.Errorf("start %s: %w", fl.name, err)
		}
		defer func(c *exec.Cmd) {
			_ = c.Process.Signal(syscall.SIGTERM)
			_ = c.Wait()
		}(fl.cmd)
	}
	diagURL := "http://" + diagAddr + "/metrics"
	mtailURL := "http://127.0.0.1:" + mtailPort + "/metrics"
	// One warm-up line, written once both followers that can say so
	// follow the file, and read by both before the clock starts: start-up
	// is not what is measured.
	if err := waitFor(30*time.Second, func() bool {
		_, e1 := scrape(diagURL)
		_, e2 := scrape(mtailURL)
		return e1 == nil && e2 == nil
	}); err != nil {
		return nil, fmt.Errorf("mqttdiag and mtail serving /metrics: %w", err)
	}
	time.Sleep(500 * time.Millisecond) // both open the file after their HTTP server
	if _, err := f.Write(lines[len(lines)-1]); err != nil {
		return nil, err
	}
	written := 1
	if _, err := waitCounts(diagURL, mtailURL, written, 10*time.Second); err != nil {
		return nil, fmt.Errorf("warm-up line: %w", err)
	}
	for _, fl := range fs {
		if fl.cpu0, err = procCPU(fl.cmd.Process.Pid); err != nil {
			return nil, err
		}
	}

	const slice = 10 * time.Millisecond
	perSlice := rate * int(slice) / int(time.Second)
	start := time.Now()
	rotated := false
	var buf []byte
	next := 0
	for tick := start; time.Since(start) < d; tick = tick.Add(slice) {
		if !rotated && time.Since(start) >= d/2 {
			// logrotate's default (create): rename, then the broker
			// opens a new file under the old name (SIGHUP on Mosquitto).
			if err := os.Rename(path, path+".1"); err != nil {
				return nil, err
			}
			f.Close()
			if f, err = os.Create(path); err != nil {
				return nil, err
			}
			rotated = true
		}
		buf = buf[:0]
		for range perSlice {
			buf = append(buf, lines[next%len(lines)]...)
			next++
		}
		if _, err := f.Write(buf); err != nil {
			return nil, err
		}
		written += perSlice
		time.Sleep(time.Until(tick.Add(slice)))
	}
	wall := time.Since(start)
	// Let every follower finish what was written (mtail polls every
	// 250 ms), then take CPU: the work for the lines of the window,
	// divided by the window.
	time.Sleep(time.Second)
	out := map[string]sample{}
	for _, fl := range fs {
		cpu1, err := procCPU(fl.cmd.Process.Pid)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fl.name, err)
		}
		hwm, err := procHWM(fl.cmd.Process.Pid)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fl.name, err)
		}
		out[fl.name] = sample{cpuPct: 100 * (cpu1 - fl.cpu0).Seconds() / wall.Seconds(), hwmMB: hwm / 1024}
	}
	// The figure is honest only if mqttdiag (and mtail) did all the work
	// by the time CPU was read.
	diags, err := checkCounts(diagURL, mtailURL, written)
	if err != nil {
		return nil, fmt.Errorf("1 s after the writer stopped: %w", err)
	}
	// The Go floor counts the lines it read: stopped now (its CPU is
	// taken), it says how many, and a floor that read fewer is no floor.
	floorLines := "?"
	for _, fl := range fs {
		if fl.name == "go floor" {
			_ = fl.cmd.Process.Signal(syscall.SIGTERM)
			_ = fl.cmd.Wait()
			floorLines = strings.TrimSpace(floorOut.String())
		}
	}
	if floorLines != strconv.Itoa(written) {
		return nil, fmt.Errorf("the Go floor follower counted %s of %d lines written", floorLines, written)
	}
	load, _ := os.ReadFile("/proc/loadavg")
	for n, s := range out {
		s.note = "load " + strings.Join(strings.Fields(string(load))[:3], " ")
		switch n {
		case "mqttdiag":
			s.note = fmt.Sprintf("%d lines read and matched, %.0f diagnoses; %s", written, diags, s.note)
		case "go floor":
			s.note = fmt.Sprintf("%s lines counted; %s", floorLines, s.note)
		}
		out[n] = s
	}
	return out, nil
}

// waitCounts waits until mqttdiag has read and matched n lines and mtail
// has counted n.
func waitCounts(diagURL, mtailURL string, n int, limit time.Duration) (diags float64, err error) {
	var last error
	if err := waitFor(limit, func() bool { diags, last = checkCounts(diagURL, mtailURL, n); return last == nil }); err != nil {
		return 0, last
	}
	return diags, nil
}

// checkCounts checks that mqttdiag has read and matched n lines and mtail
// has counted n, and returns the diagnoses mqttdiag made.
func checkCounts(diagURL, mtailURL string, n int) (float64, error) {
	dm, err := scrape(diagURL)
	if err != nil {
		return 0, err
	}
	mm, err := scrape(mtailURL)
	if err != nil {
		return 0, err
	}
	read, matched, diags := dm["mqttdiag_lines_read_total"], dm["mqttdiag_matcher_lines_total"], dm["mqttdiag_diagnoses_total"]
	if int(read) != n || int(matched) != n {
		return 0, fmt.Errorf("mqttdiag read %v and matched %v of %d lines written (%v diagnoses)", read, matched, n, diags)
	}
	if got := mm["lines_total"]; int(got) != n {
		return 0, fmt.Errorf("mtail counted %v of %d lines written", got, n)
	}
	return diags, nil
}

// scrape sums each metric family of a Prometheus text exposition over
// its labels.
func scrape(url string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		name := l
		if i := strings.IndexAny(l, "{ "); i >= 0 {
			name = l[:i]
		}
		rest := l[len(name):]
		if i := strings.LastIndexByte(rest, '}'); i >= 0 {
			rest = rest[i+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		m[name] += v
	}
	return m, sc.Err()
}

func waitFor(limit time.Duration, ok func() bool) error {
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// procCPU is the user and system CPU time of pid so far.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are fields 14 and 15 of proc(5).
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return time.Duration(ut+st) * time.Second / 100, nil // USER_HZ is 100 on Linux
}

// procHWM is the peak resident memory of pid in KiB (VmHWM).
func procHWM(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			return strconv.ParseFloat(f[1], 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmHWM", pid)
}

func freePort() string {
	_, p, _ := net.SplitHostPort(freeAddr())
	return p
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

func median[T any](s []T, v func(T) float64) float64 {
	f := make([]float64, len(s))
	for i, x := range s {
		f[i] = v(x)
	}
	return medianF(f)
}

func medianF(f []float64) float64 {
	if len(f) == 0 {
		return 0
	}
	s := append([]float64(nil), f...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "sidecarbench: "+format+"\n", a...)
	os.Exit(1)
}
