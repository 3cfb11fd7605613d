package tailer

import (
	"fmt"
	"io/fs"
	"os"
	"sync/atomic"
	"testing"
	"time"
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

// release lets the watcher's hold of d end: it waits until the watcher
// waits on a d timer, then moves the clock on by d.
func release(t *testing.T, clk interface {
	AwaitAfter(d, timeout time.Duration) bool
	Advance(d time.Duration)
}, d time.Duration) {
	t.Helper()
	if !clk.AwaitAfter(d, 10*time.Second) {
		t.Fatalf("the watcher did not hold the event for %v", d)
	}
	clk.Advance(d)
}

// A line the reader keeps up with is read within the trickle's gap; once
// a read brings two lines or more the log is a stream and the next read
// waits for the stream's gap, until a read brings one line again.
func TestStreamWakeGap(t *testing.T) {
	_, path := tempLog(t)
	appendFile(t, path, "")
	clk := newFakeClock()
	const gap, stream = 10 * time.Millisecond, 40 * time.Millisecond
	s := start(t, []string{path}, WithClock(clk), WakeGap(gap), StreamWakeGap(stream))
	awaitIdle(t, clk, safetyTick)
	// Each step waits for the loop to wait on its safety timer again (a
	// new one after the clock moved): the read that decides the next gap
	// is then over.
	step := func(write string, held time.Duration, last string) {
		t.Helper()
		appendFile(t, path, write)
		if held > 0 {
			release(t, clk, held)
		}
		s.c.waitText(t, last)
		awaitIdle(t, clk, safetyTick)
	}
	step("alone 1\n", 0, "alone 1") // the first wake-up is not held
	step("alone 2\n", gap, "alone 2")
	step("burst 1\nburst 2\n", gap, "burst 2") // the last read had one line
	step("stream 1\n", stream, "stream 1")     // the last read had two: a stream
	step("alone 3\n", gap, "alone 3")          // the last read had one again
	wantTexts(t, s.c.snapshot(), "alone 1", "alone 2", "burst 1", "burst 2", "stream 1", "alone 3")
}
