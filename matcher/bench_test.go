package matcher

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"testing"
	"unsafe"

	"github.com/mqttdiag/mqttdiag/internal/brokerlog"
	"github.com/mqttdiag/mqttdiag/internal/loggen"
	"github.com/mqttdiag/mqttdiag/signatures"
)

// benchLog returns the generated Mosquitto log the benchmarks read:
// MQTTDIAG_BENCH_LINES lines (default 1M), generated into loggen's cache
// directory on first use.
func benchLog(b *testing.B) (path string, lines int) {
	b.Helper()
	lines = 1_000_000
	if s := os.Getenv("MQTTDIAG_BENCH_LINES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("MQTTDIAG_BENCH_LINES=%q: %v", s, err)
		}
		lines = n
	}
	path, err := loggen.Ensure(loggen.DefaultDir(), lines)
	if err != nil {
		b.Fatal(err)
	}
	return path, lines
}

// scanFile reads path line by line as the tailer hands lines over and
// calls f with each line. The unsafe string keeps the benchmark from
// measuring a []byte-to-string copy the real pipeline does not make (the
// tailer already holds strings).
func scanFile(b *testing.B, path string, f func(line string)) int {
	fh, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		if f != nil {
			bs := sc.Bytes()
			if len(bs) > 0 {
				f(unsafe.String(&bs[0], len(bs)))
			}
		}
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkScan measures whole-file throughput: the bufio line split alone
// (the baseline every ratio in BENCHMARKS.md is taken against), and split
// + timestamp strip + match for each pack, with and without the cache.
// One op is the whole file.
func BenchmarkScan(b *testing.B) {
	path, _ := benchLog(b)
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("bufio", func(b *testing.B) {
		b.SetBytes(fi.Size())
		lines := 0
		for b.Loop() {
			lines = scanFile(b, path, nil)
		}
		perLine(b, lines, nil, 0)
	})
	packs := []struct {
		name string
		sigs func(b *testing.B) []*signatures.Signature
	}{
		{"builtin", func(b *testing.B) []*signatures.Signature { return builtinSigs(b) }},
		{"builtin+corpus", func(b *testing.B) []*signatures.Signature {
			return append(builtinSigs(b), corpusSigs(b, signatures.BrokerMosquitto)...)
		}},
	}
	for _, p := range packs {
		for _, cache := range []int{DefaultCacheEntries, 0} {
			name := p.name
			if cache == 0 {
				name += "/nocache"
			}
			b.Run(name, func(b *testing.B) {
				m, err := New(p.sigs(b), CacheSize(cache))
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(fi.Size())
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				mallocs := ms.Mallocs
				lines, hits := 0, 0
				for b.Loop() {
					lines = scanFile(b, path, func(line string) {
						msg, _, _ := brokerlog.Split(line)
						hits += len(m.MatchBroker(signatures.BrokerMosquitto, msg))
					})
				}
				runtime.ReadMemStats(&ms)
				perLine(b, lines, m, ms.Mallocs-mallocs)
				b.ReportMetric(float64(hits)/float64(lines*b.N), "hits/line")
			})
		}
	}
}

func perLine(b *testing.B, lines int, m *Matcher, mallocs uint64) {
	total := float64(lines * b.N)
	b.ReportMetric(total/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/total, "ns/line")
	if m == nil {
		return
	}
	b.ReportMetric(float64(mallocs)/total, "allocs/line")
	st := m.Stats()
	b.ReportMetric(float64(st.Candidates)/float64(st.Lines), "candidates/line")
	b.ReportMetric(float64(st.RegexRuns)/float64(st.Lines), "regex/line")
	if n := st.CacheHits + st.CacheMisses; n > 0 {
		b.ReportMetric(100*float64(st.CacheHits)/float64(n), "cache-hit-%")
	}
}

// BenchmarkNew is start-up: analysing the pack and building the automaton
// (regexes compile later, lazily).
func BenchmarkNew(b *testing.B) {
	for _, p := range []struct {
		name string
		sigs []*signatures.Signature
	}{
		{"builtin", builtinSigs(b)},
		{"builtin+corpus", append(builtinSigs(b), corpusSigs(b, signatures.BrokerMosquitto)...)},
	} {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := New(p.sigs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkNaive is the reference loop on the first 20,000 lines, for the
// speed-up the fast matcher buys. One op is one line.
func BenchmarkNaive(b *testing.B) {
	path, _ := benchLog(b)
	var msgs []string
	scanFile(b, path, func(line string) {
		if len(msgs) < 20_000 {
			msg, _, _ := brokerlog.Split(line)
			msgs = append(msgs, string([]byte(msg)))
		}
	})
	for _, p := range []struct {
		name string
		sigs []*signatures.Signature
	}{
		{"builtin", builtinSigs(b)},
		{"builtin+corpus", append(builtinSigs(b), corpusSigs(b, signatures.BrokerMosquitto)...)},
	} {
		n := newNaive(b, p.sigs)
		m, err := New(p.sigs)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(p.name+"/naive", func(b *testing.B) {
			i := 0
			for b.Loop() {
				n.match(scopeMosquitto, msgs[i%len(msgs)])
				i++
			}
		})
		b.Run(p.name+"/fast", func(b *testing.B) {
			i := 0
			for b.Loop() {
				m.match(scopeMosquitto, msgs[i%len(msgs)])
				i++
			}
		})
	}
}
