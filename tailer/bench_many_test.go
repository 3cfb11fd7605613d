package tailer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// BenchmarkFollowManyFiles is the start-up of `run --from-beginning` on a
// glob matching many files of one line each (issue 13 item 7, repro 08):
// from Run until every line was received, and until the first was
// (first-ms, the median over the iterations), without and with a state
// file (a new one each iteration, so that every file is new). It uses
// only the package's exported API, so the same file measures an older
// build side by side. Figures in BENCHMARKS.md.
func BenchmarkFollowManyFiles(b *testing.B) {
	const n = 5000
	dir := b.TempDir()
	for i := range n {
		line := fmt.Sprintf("1795321999: Client g%05d already connected, closing old connection.\n", i)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d.log", i)), []byte(line), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for _, state := range []bool{false, true} {
		b.Run(fmt.Sprintf("files=%d/state=%v", n, state), func(b *testing.B) {
			var firsts []time.Duration
			for b.Loop() {
				opts := []Option{Follow(true), FromBeginning(true)}
				if state {
					st := filepath.Join(b.TempDir(), "state.json")
					opts = append(opts, StateFile(st))
				}
				tl := New([]string{filepath.Join(dir, "*.log")}, opts...)
				ctx, cancel := context.WithCancel(context.Background())
				out := make(chan Batch, 16)
				errc := make(chan error, 1)
				start := time.Now()
				go func() { errc <- tl.Run(ctx, out) }()
				got := 0
				for bt := range out {
					if got == 0 {
						firsts = append(firsts, time.Since(start))
					}
					got += len(bt.Lines)
					if bt.Done != nil {
						bt.Done()
					}
					bt.Release()
					if got == n {
						cancel()
					}
				}
				cancel()
				if err := <-errc; err != nil || got != n {
					b.Fatalf("read %d of %d lines: %v", got, n, err)
				}
				if err := tl.Close(); err != nil {
					b.Fatal(err)
				}
			}
			slices.Sort(firsts)
			b.ReportMetric(float64(firsts[len(firsts)/2].Microseconds())/1000, "first-ms")
		})
	}
}
