package matcher

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"testing"
	"unsafe"

	"github.com/mqttdiag/mqttdiag/internal/brokerlog"
	"github.com/mqttdiag/mqttdiag/internal/testutil/loggen"
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
		perLine(b, lines, nil, -1)
	})
	packs := []struct {
		name string
		sigs func(b *testing.B) []*signatures.Signature
	}{
		{"builtin", func(b *testing.B) []*signatures.Signature { return builtinSigs(b) }},
		{"builtin+corpus", func(b *testing.B) []*signatures.Signature {
			return append(builtinSigs(b), corpusSigs(b, signatures.BrokerMosquitto)...)
		}},
		// A signature no literal can trigger runs its regex on every line:
		// where the cache earns its keep, if anywhere.
		{"builtin+always-run", func(b *testing.B) []*signatures.Signature {
			s, err := signatures.Parse("always.json", []byte(`{"id": "x/always-run", "regex": "[[:upper:]]{4,} \\S+ \\(\\w+, \\d+\\)$"}`))
			if err != nil {
				b.Fatal(err)
			}
			return append(builtinSigs(b), s...)
		}},
	}
	for _, p := range packs {
		for _, cache := range []int{DefaultCacheEntries, 0} {
			name := p.name
			if cache == 0 {
				name += "/nocache"
			}
			b.Run(name, func(b *testing.B) {
				sigs := p.sigs(b)
				b.SetBytes(fi.Size())
				var ms runtime.MemStats
				var mallocs uint64
				var st Stats
				lines, hits := 0, 0
				for b.Loop() {
					// A fresh matcher per pass, as one real scan: the
					// cache and lazily compiled regexes start empty, and
					// New is timed by BenchmarkNew, not here.
					b.StopTimer()
					m, err := New(sigs, CacheSize(cache))
					if err != nil {
						b.Fatal(err)
					}
					runtime.ReadMemStats(&ms)
					before := ms.Mallocs
					b.StartTimer()
					lines = scanFile(b, path, func(line string) {
						msg, _, _ := brokerlog.Split(line)
						hits += len(m.MatchBroker(signatures.BrokerMosquitto, msg))
					})
					b.StopTimer()
					runtime.ReadMemStats(&ms)
					mallocs += ms.Mallocs - before
					s := m.Stats()
					st.Lines += s.Lines
					st.Candidates += s.Candidates
					st.RegexRuns += s.RegexRuns
					st.CacheHits += s.CacheHits
					st.CacheMisses += s.CacheMisses
					b.StartTimer()
				}
				perLine(b, lines, &st, int64(mallocs))
				b.ReportMetric(float64(hits)/float64(lines*b.N), "hits/line")
			})
		}
	}
}

// perLine reports per-line figures; mallocs < 0 means not measured.
func perLine(b *testing.B, lines int, st *Stats, mallocs int64) {
	total := float64(lines * b.N)
	b.ReportMetric(total/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/total, "ns/line")
	if st == nil {
		return
	}
	if mallocs >= 0 {
		b.ReportMetric(float64(mallocs)/total, "allocs/line")
	}
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

// BenchmarkNaive is the reference loop against the fast matcher on 1,000
// lines spread over the log (every 1,000th), for the speed-up the fast
// matcher buys. One op is the 1,000 lines.
func BenchmarkNaive(b *testing.B) {
	path, lines := benchLog(b)
	var msgs []string
	i := 0
	scanFile(b, path, func(line string) {
		if i%max(lines/1000, 1) == 0 {
			msg, _, _ := brokerlog.Split(line)
			msgs = append(msgs, string([]byte(msg)))
		}
		i++
	})
	for _, p := range []struct {
		name string
		sigs []*signatures.Signature
	}{
		{"builtin", builtinSigs(b)},
		{"builtin+corpus", append(builtinSigs(b), corpusSigs(b, signatures.BrokerMosquitto)...)},
	} {
		n := newNaive(b, p.sigs)
		m, err := New(p.sigs, CacheSize(0))
		if err != nil {
			b.Fatal(err)
		}
		for _, v := range []struct {
			name  string
			match func(string) []Hit
		}{
			{"naive", func(msg string) []Hit { return n.match(scopeMosquitto, msg) }},
			{"fast", func(msg string) []Hit { return m.match(scopeMosquitto, msg) }},
		} {
			b.Run(p.name+"/"+v.name, func(b *testing.B) {
				for b.Loop() {
					for _, msg := range msgs {
						v.match(msg)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(msgs)), "ns/line")
			})
		}
	}
}

// BenchmarkBurst is a fault storm, the burst the cache is for: every other
// line is a client-id takeover among 20 flapping clients (the signature
// captures the client id, so each such line needs a regex run unless the
// cache has it), between ordinary lines of the generated log. One op is
// one line.
func BenchmarkBurst(b *testing.B) {
	path, _ := benchLog(b)
	var msgs []string
	n := 0
	scanFile(b, path, func(line string) {
		if n < 100_000 {
			msg, _, _ := brokerlog.Split(line)
			msgs = append(msgs, string([]byte(msg)), "Client flapping-"+strconv.Itoa(n%20)+" already connected, closing old connection.")
		}
		n++
	})
	for _, cache := range []int{DefaultCacheEntries, 0} {
		name := "cache"
		if cache == 0 {
			name = "nocache"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			m, err := New(builtinSigs(b), CacheSize(cache))
			if err != nil {
				b.Fatal(err)
			}
			i := 0
			for b.Loop() {
				m.MatchBroker(signatures.BrokerMosquitto, msgs[i%len(msgs)])
				i++
			}
			st := m.Stats()
			perLine(b, 1, &st, -1)
		})
	}
}

// BenchmarkUTF8 compares lines with non-ASCII bytes (UTF-8 client ids and
// topics) to ASCII lines of the same log: no cliff, since such lines stay
// on the prefilter. One op is one line.
func BenchmarkUTF8(b *testing.B) {
	path, _ := benchLog(b)
	var ascii, utf []string
	scanFile(b, path, func(line string) {
		msg, _, _ := brokerlog.Split(line)
		isASCII := true
		for i := 0; i < len(msg); i++ {
			if msg[i] >= 0x80 {
				isASCII = false
				break
			}
		}
		switch {
		case isASCII && len(ascii) < 10_000:
			ascii = append(ascii, string([]byte(msg)))
		case !isASCII && len(utf) < 10_000:
			utf = append(utf, string([]byte(msg)))
		}
	})
	for _, p := range []struct {
		name string
		sigs []*signatures.Signature
	}{
		{"builtin", builtinSigs(b)},
		{"builtin+corpus", append(builtinSigs(b), corpusSigs(b, signatures.BrokerMosquitto)...)},
	} {
		m, err := New(p.sigs, CacheSize(0))
		if err != nil {
			b.Fatal(err)
		}
		for _, set := range []struct {
			name string
			msgs []string
		}{{"ascii", ascii}, {"utf8", utf}} {
			b.Run(p.name+"/"+set.name, func(b *testing.B) {
				i := 0
				for b.Loop() {
					m.MatchBroker(signatures.BrokerMosquitto, set.msgs[i%len(set.msgs)])
					i++
				}
			})
		}
	}
}
