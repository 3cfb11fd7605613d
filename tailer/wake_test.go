package tailer

import (
	"fmt"
	"io/fs"
	"os"
	"sync/atomic"
	"testing"
)

// A write only grows a file the loop already reads: the wake-up it
// causes reads the file, and does not look at the input paths again
// (issue 17: that look was most of a wake-up's system calls). A rename
// beside it does (TestSymlinkedLogTargetDirectoryWatched), and so does
// the safety tick, which this fake clock never lets pass.
func TestWriteWakeUpDoesNotLookAtPaths(t *testing.T) {
	_, path := tempLog(t)
	appendFile(t, path, "first\n")
	var looks atomic.Int64
	stat := func(p string) (fs.FileInfo, error) {
		if p == path {
			looks.Add(1)
		}
		return os.Stat(p)
	}
	clk := newFakeClock()
	s := start(t, []string{path}, WithClock(clk), func(o *options) { o.stat = stat })
	awaitIdle(t, clk, safetyTick)
	before := looks.Load()
	const writes = 20
	for i := range writes {
		line := fmt.Sprintf("write %d", i)
		appendFile(t, path, line+"\n")
		s.c.waitText(t, line)
	}
	if n := looks.Load() - before; n > 1 {
		t.Errorf("%d writes, each read as it came, looked at the path %d times; want at most once", writes, n)
	}
}
