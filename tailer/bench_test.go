package tailer

import (
	"bufio"
	"context"
	"os"
	"testing"

	"github.com/mqttdiag/mqttdiag/internal/testutil/benchlog"
)

const benchSize = 1 << 30 // 1 GiB

// BenchmarkRead1GB reads a 1 GiB Mosquitto-like log with the tailer
// following it from its beginning (what `run --from-beginning` does,
// batches acknowledged as they come), against a plain bufio.Scanner line
// split of the same file as the baseline, and that split making a string
// of each line (bufio-text). Figures in BENCHMARKS.md.
func BenchmarkRead1GB(b *testing.B) {
	l, err := benchlog.Get(benchSize)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("tailer", func(b *testing.B) {
		b.SetBytes(l.Bytes)
		for range b.N {
			ctx, cancel := context.WithCancel(context.Background())
			out := make(chan Batch, 16)
			errc := make(chan error, 1)
			go func() { errc <- New([]string{l.Path}, Follow(true), FromBeginning(true)).Run(ctx, out) }()
			var n int64
			for bt := range out {
				n += int64(len(bt.Lines))
				if bt.Done != nil {
					bt.Done()
				}
				if n == l.Lines {
					cancel()
				}
			}
			cancel()
			if err := <-errc; err != nil || n != l.Lines {
				b.Fatalf("read %d of %d lines: %v", n, l.Lines, err)
			}
		}
		b.ReportMetric(float64(l.Lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	})
	b.Run("bufio", func(b *testing.B) {
		b.SetBytes(l.Bytes)
		for range b.N {
			f, err := os.Open(l.Path)
			if err != nil {
				b.Fatal(err)
			}
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 64<<10), DefaultMaxLineBytes+1)
			var n int64
			for sc.Scan() {
				n++
			}
			f.Close()
			if sc.Err() != nil || n != l.Lines {
				b.Fatalf("read %d of %d lines: %v", n, l.Lines, sc.Err())
			}
		}
		b.ReportMetric(float64(l.Lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	})
	// The same split, with a string made of each line as the tailer does:
	// what a Line's Text costs.
	b.Run("bufio-text", func(b *testing.B) {
		b.SetBytes(l.Bytes)
		var sink string
		for range b.N {
			f, err := os.Open(l.Path)
			if err != nil {
				b.Fatal(err)
			}
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 64<<10), DefaultMaxLineBytes+1)
			var n int64
			for sc.Scan() {
				sink = sc.Text()
				n++
			}
			f.Close()
			if sc.Err() != nil || n != l.Lines {
				b.Fatalf("read %d of %d lines: %v", n, l.Lines, sc.Err())
			}
		}
		_ = sink
		b.ReportMetric(float64(l.Lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	})
}
