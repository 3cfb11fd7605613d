package tailer

import (
	"io/fs"
	"os"
	"sync/atomic"
	"testing"
)

// A wake-up by writes alone to the followed file reads them without a
// discovery pass (no stat of the input path: issue 17's cost per
// wake-up), and a rotation still wakes a full pass at once through its
// own events, with no safety tick (the fake clock never moves here).
func TestWritesAloneSkipDiscovery(t *testing.T) {
	_, path := tempLog(t)
	appendFile(t, path, "")
	var stats atomic.Int64
	clk := newFakeClock()
	s := start(t, []string{path}, WithClock(clk), func(o *options) {
		o.stat = func(p string) (fs.FileInfo, error) {
			if p == path {
				stats.Add(1)
			}
			return os.Stat(p)
		}
	})
	s.waitMsg(t, "following")
	awaitIdle(t, clk, safetyTick)
	before := stats.Load()
	for i := range 5 {
		writeLines(t, path, "w", i, i+1)
		s.c.wait(t, i+1)
	}
	if n := stats.Load() - before; n != 0 {
		t.Errorf("%d stats of the input path for 5 wake-ups by writes alone, want 0", n)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	writeLines(t, path, "new", 0, 1)
	wantTexts(t, s.c.wait(t, 6), "w 0", "w 1", "w 2", "w 3", "w 4", "new 0")
	if stats.Load() == before {
		t.Error("the rotation was read without a discovery pass")
	}
}
