package envelope

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/brokerlog"
	"github.com/mqttdiag/mqttdiag/internal/testutil/loggen"
	"github.com/mqttdiag/mqttdiag/matcher"
	"github.com/mqttdiag/mqttdiag/signatures"
	"golang.org/x/sys/unix"
)

// benchLines is how many lines of the generated Mosquitto log (the
// matcher benchmarks' generator, seed 1) each benchmark wraps and reads;
// MQTTDIAG_ENVELOPE_BENCH_LINES changes it (fewer, under callgrind).
func benchLines(b *testing.B) int {
	n := 200_000
	if s := os.Getenv("MQTTDIAG_ENVELOPE_BENCH_LINES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatalf("MQTTDIAG_ENVELOPE_BENCH_LINES=%q: %v", s, err)
		}
	}
	return n
}

// benchSelected reports whether -test.bench can select the sub-benchmark
// name, so that the inputs of the others are not built.
func benchSelected(b *testing.B, name string) bool {
	f := flag.Lookup("test.bench")
	if f == nil {
		return true
	}
	_, sub, ok := strings.Cut(f.Value.String(), "/")
	if !ok {
		return true
	}
	re, err := regexp.Compile(sub)
	return err != nil || re.MatchString(name)
}

func benchPlain(b *testing.B) []string {
	b.Helper()
	var buf bytes.Buffer
	if err := loggen.Write(&buf, benchLines(b)); err != nil {
		b.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
}

// contiguous puts lines one after the other in one buffer, as a log file
// and the reader's buffer hold them: strings allocated one by one lie
// apart, and the first byte of each would cost a cache miss the real
// reader does not pay.
func contiguous(lines []string) []string {
	n := 0
	for _, l := range lines {
		n += len(l) + 1
	}
	var buf strings.Builder
	buf.Grow(n)
	for _, l := range lines {
		buf.WriteString(l)
		buf.WriteByte('\n')
	}
	all := buf.String()
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		out = append(out, all[:len(l)])
		all = all[len(l)+1:]
	}
	return out
}

// unixOf is the time of a generated line's "1795000000: " prefix.
func unixOf(line string) time.Time {
	sec, _ := strconv.ParseInt(line[:strings.IndexByte(line, ':')], 10, 64)
	return time.Unix(sec, 0)
}

// journalTemplate is a real journalctl -o json entry of the capture, its
// message, time and cursor to be replaced.
func journalTemplate(b *testing.B, file string) map[string]any {
	b.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range splitLines(data) {
		if strings.Contains(l, `"SYSLOG_IDENTIFIER":"mosquitto"`) {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				b.Fatal(err)
			}
			return m
		}
	}
	b.Fatal("no mosquitto entry in testdata/" + file)
	return nil
}

// wrappers put a generated line into each envelope as its producer writes
// it (see spec_test.go and testdata for the shapes).
func wrappers(b *testing.B, ny *time.Location) []struct {
	name string
	wrap func(i int, line string) []string
} {
	journal := func(file string) func(i int, l string) []string {
		tmpl := journalTemplate(b, file)
		return func(i int, l string) []string {
			t := unixOf(l)
			tmpl["MESSAGE"] = l
			tmpl["__REALTIME_TIMESTAMP"] = strconv.FormatInt(t.UnixMicro()+int64(i%1000), 10)
			tmpl["__CURSOR"] = "s=ad45b1350e3f4caeaad13bf59d228c0b;i=" + strconv.FormatInt(int64(i), 16) + ";b=df30e9da1df146b6a0013cad2ee326b0;m=76005ea2;t=661df4b2ade8e;x=285c7597395c8021"
			out, err := json.Marshal(tmpl)
			if err != nil {
				b.Fatal(err)
			}
			return []string{string(out)}
		}
	}
	one := func(f func(t time.Time, line string) string) func(int, string) []string {
		return func(_ int, line string) []string { return []string{f(unixOf(line).In(ny), line)} }
	}
	return []struct {
		name string
		wrap func(i int, line string) []string
	}{
		{"rsyslog-traditional", one(func(t time.Time, l string) string {
			return t.Format("Jan _2 15:04:05") + " broker-host mosquitto[31496]: " + l
		})},
		{"rsyslog-rfc3339", one(func(t time.Time, l string) string {
			return t.Add(497192*time.Microsecond).Format("2006-01-02T15:04:05.000000-07:00") + " broker-host mosquitto[31496]: " + l
		})},
		{"rsyslog-rfc5424", one(func(t time.Time, l string) string {
			return "<30>1 " + t.Add(497192*time.Microsecond).Format("2006-01-02T15:04:05.000000-07:00") + " broker-host mosquitto 31496 - -  " + l
		})},
		{"journal-short", one(func(t time.Time, l string) string {
			return t.Format("Jan 02 15:04:05") + " broker-host mosquitto[31496]: " + l
		})},
		{"journal-short-iso", one(func(t time.Time, l string) string {
			return t.Format("2006-01-02T15:04:05-0700") + " broker-host mosquitto[31496]: " + l
		})},
		{"journal-json", journal("journal-json.txt")},
		{"journal-json-fields", journal("journal-json-fields.txt")},
		{"docker", func(_ int, l string) []string { return dockerRecords(l, "stderr", unixOf(l).Add(123456789)) }},
		{"cri", func(_ int, l string) []string {
			return criRecords(l, "stderr", unixOf(l).Add(123456789).UTC(), 16*1024)
		}},
		{"compose", func(_ int, l string) []string { return []string{composeLine("mosquitto-1", 12, false, l)} }},
		{"kubectl", func(_ int, l string) []string { return []string{kubectlLine("mosquitto-7d9f8c-x2x", "mosquitto", l)} }},
	}
}

// BenchmarkEnvelopes measures the whole per-line path of a log in each
// envelope: decode (auto-detected) + brokerlog split + match with the
// built-in pack, against the same lines plain — brokerlog.Split and the
// matcher alone, the path without this package. The machine is shared and
// its speed drifts, so each op times the plain lines and the enveloped
// ones one after the other (in alternating order), each with a fresh
// matcher as BenchmarkScan in matcher does, on the CPU time of the thread
// (CLOCK_THREAD_CPUTIME_ID: the time the pass ran, not the time other
// processes ran beside it), and reports:
//
//	lines/s        of the envelope (broker lines, whatever the physical lines)
//	plain-lines/s  of the plain lines in the same ops
//	x-plain        the median over the ops of the two speeds' ratio
//	wall-x-plain   the same on wall-clock time, for comparison
//
// "plain-decoded" is the plain lines through the decoder too. One op is
// benchLines lines each way.
func BenchmarkEnvelopes(b *testing.B) {
	plain := benchPlain(b)
	sigs, err := signatures.Builtin()
	if err != nil {
		b.Fatal(err)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, ny)
	type pass func(m *matcher.Matcher, d *Decoder, line string) int
	plainPass := func(m *matcher.Matcher, _ *Decoder, line string) int {
		msg, _, _ := brokerlog.Split(line)
		return len(m.MatchBroker(signatures.BrokerMosquitto, msg))
	}
	decodePass := func(m *matcher.Matcher, d *Decoder, line string) int {
		r := d.Decode(line)
		if r.Kind != Broker {
			return 0
		}
		return len(m.MatchBroker(signatures.BrokerMosquitto, r.Msg))
	}
	timed := func(b *testing.B, lines []string, each pass) (cpu, wall time.Duration, mallocs uint64, hits int) {
		m, err := matcher.New(sigs)
		if err != nil {
			b.Fatal(err)
		}
		d := NewDecoder(Location(ny), Clock(func() time.Time { return now }))
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		before := ms.Mallocs
		runtime.LockOSThread()
		start, cpu0 := time.Now(), threadCPU(b)
		for _, l := range lines {
			hits += each(m, d, l)
		}
		cpu, wall = threadCPU(b)-cpu0, time.Since(start)
		runtime.UnlockOSThread()
		runtime.ReadMemStats(&ms)
		return cpu, wall, ms.Mallocs - before, hits
	}
	run := func(b *testing.B, lines []string, each pass) {
		var bytes int64
		for _, l := range lines {
			bytes += int64(len(l)) + 1
		}
		var envT, plainT time.Duration
		var ratios, wallRatios []float64
		var mallocs uint64
		hits, i := 0, 0
		for b.Loop() {
			var pt, pw time.Duration
			if i%2 == 0 {
				pt, pw, _, _ = timed(b, plain, plainPass)
			}
			et, ew, n, h := timed(b, lines, each)
			if i%2 == 1 {
				pt, pw, _, _ = timed(b, plain, plainPass)
			}
			i++
			envT, plainT, mallocs, hits = envT+et, plainT+pt, mallocs+n, hits+h
			ratios = append(ratios, pt.Seconds()/et.Seconds())
			wallRatios = append(wallRatios, pw.Seconds()/ew.Seconds())
		}
		n := float64(len(plain) * b.N) // broker lines, whatever the physical lines
		slices.Sort(ratios)
		slices.Sort(wallRatios)
		b.ReportMetric(wallRatios[len(wallRatios)/2], "wall-x-plain")
		b.ReportMetric(n/envT.Seconds(), "lines/s")
		b.ReportMetric(n/plainT.Seconds(), "plain-lines/s")
		b.ReportMetric(ratios[len(ratios)/2], "x-plain")
		b.ReportMetric(float64(bytes*int64(b.N))/envT.Seconds()/1e6, "MB/s")
		b.ReportMetric(float64(mallocs)/n, "allocs/line")
		b.ReportMetric(float64(hits)/n, "hits/line")
	}
	b.Run("plain-decoded", func(b *testing.B) { run(b, plain, decodePass) })
	for _, w := range wrappers(b, ny) {
		if !benchSelected(b, w.name) {
			continue
		}
		var lines []string
		for i, l := range plain {
			lines = append(lines, w.wrap(i, l)...)
		}
		// The wrapped log must read back as the plain one.
		d := NewDecoder(Location(ny), Clock(func() time.Time { return now }))
		k := 0
		for _, l := range lines {
			if r := d.Decode(l); r.Kind == Broker {
				if r.Text != plain[k] && w.name != "docker" {
					b.Fatalf("%s: line %d read as %q, want %q", w.name, k, r.Text, plain[k])
				}
				k++
			}
		}
		if k != len(plain) {
			b.Fatalf("%s: %d broker lines of %d", w.name, k, len(plain))
		}
		lines = contiguous(lines)
		b.Run(w.name, func(b *testing.B) { run(b, lines, decodePass) })
	}
}

// BenchmarkDecode is Decode alone on one line of each envelope (and
// brokerlog.SplitIn alone, the part of it every broker line pays), for
// profiles; BenchmarkEnvelopes is the figure of record. One op is a line.
func BenchmarkDecode(b *testing.B) {
	ny, _ := time.LoadLocation("America/New_York")
	for _, c := range []struct{ name, line string }{
		{"plain", "1795000000: Received PUBLISH from sensor-17 (d0, q1, r0, m3, 'plant/line1/temp', ... (20 bytes))"},
		{"trad", "Nov 18 05:26:40 broker-host mosquitto[31496]: 1795000000: Received PUBLISH from sensor-17 (d0, q1, r0, m3, 'plant/line1/temp', ... (20 bytes))"},
		{"rfc3339", "2026-11-18T05:26:40.497192-05:00 broker-host mosquitto[31496]: 1795000000: Received PUBLISH from sensor-17 (d0, q1, r0, m3, 'plant/line1/temp', ... (20 bytes))"},
		{"compose", "mosquitto-1  | 1795000000: Received PUBLISH from sensor-17 (d0, q1, r0, m3, 'plant/line1/temp', ... (20 bytes))"},
		{"journal", `{"_CAP_EFFECTIVE":"1fffeffffff","_PID":"22615","PRIORITY":"6","_TRANSPORT":"stdout","SYSLOG_IDENTIFIER":"mosquitto","_EXE":"/usr/sbin/mosquitto","_STREAM_ID":"c0185dc799534bbc94f88adcf99c4923","_RUNTIME_SCOPE":"system","MESSAGE":"1795000000: Received PUBLISH from sensor-17 (d0, q1, r0, m3, 'plant/line1/temp', ... (20 bytes))","_COMM":"mosquitto","_CMDLINE":"mosquitto -c mosquitto.conf","_MACHINE_ID":"0123456789abcdef0123456789abcdef","__REALTIME_TIMESTAMP":"1796461526965902","_HOSTNAME":"broker-host","__CURSOR":"s=ad45b1350e3f4caeaad13bf59d228c0b;i=4;b=df30e9da1df146b6a0013cad2ee326b0;m=76005ea2;t=661df4b2ade8e;x=10bca39a12a5c0cb","_BOOT_ID":"df30e9da1df146b6a0013cad2ee326b0","__MONOTONIC_TIMESTAMP":"1979735714","_UID":"0","_GID":"0"}`},
		{"docker", `{"log":"1795000000: Received PUBLISH from sensor-17 (d0, q1, r0, m3, 'plant/line1/temp', ... (20 bytes))\n","stream":"stderr","time":"2026-11-18T10:26:40.123456789Z"}`},
	} {
		if c.name == "plain" {
			b.Run("split", func(b *testing.B) {
				for b.Loop() {
					brokerlog.SplitIn(c.line, ny)
				}
			})
		}
		b.Run(c.name, func(b *testing.B) {
			d := NewDecoder(Location(ny))
			for b.Loop() {
				d.Decode(c.line)
			}
		})
	}
}

// threadCPU is the CPU time the calling thread has used.
func threadCPU(b *testing.B) time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ts.Nano())
}
