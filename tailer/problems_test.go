package tailer

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// A path that cannot be opened is listed by Problems, with why, while it
// cannot; once it opens it leaves the list.
func TestProblemsListInputsThatCannotBeOpened(t *testing.T) {
	_, path := tempLog(t)
	appendFile(t, path, "")
	var failing atomic.Bool
	failing.Store(true)
	open := func(p string) (*os.File, error) {
		if failing.Load() {
			return nil, &fs.PathError{Op: "open", Path: p, Err: syscall.EACCES}
		}
		return os.Open(p)
	}
	clk := newFakeClock()
	s := start(t, []string{path}, Poll(testTick), WithClock(clk), func(o *options) { o.open = open })
	awaitIdle(t, clk, testTick) // the first discovery pass is over
	ps := s.tl.Problems()
	if len(ps) != 1 || ps[0].Path != path || !strings.Contains(ps[0].Problem, "cannot open log file") ||
		!strings.Contains(ps[0].Problem, "permission denied") {
		t.Fatalf("problems %+v", ps)
	}
	if w := s.tl.Waiting(); len(w) != 0 {
		t.Errorf("an existing file that cannot be opened is not awaited: %v", w)
	}
	tick(t, clk, testTick)
	if ps := s.tl.Problems(); len(ps) != 1 {
		t.Fatalf("the problem persists, but problems are %+v", ps)
	}
	failing.Store(false)
	tick(t, clk, testTick)
	if ps := s.tl.Problems(); len(ps) != 0 {
		t.Errorf("after the file opened: %+v", ps)
	}
	appendFile(t, path, "readable\n")
	tick(t, clk, testTick)
	wantTexts(t, s.c.wait(t, 1), "readable")
}

// A glob whose directory cannot be listed for a while (too many open
// files) names the files it named, not none: they are not taken for
// rotated away, closed and opened again as new files on the next look.
// The input is listed by Problems meanwhile.
func TestGlobDirectoryUnlistableKeepsItsFiles(t *testing.T) {
	dir, path := tempLog(t)
	appendFile(t, path, "")
	var failing atomic.Bool
	open := func(p string) (*os.File, error) {
		if failing.Load() && p == dir {
			return nil, &fs.PathError{Op: "open", Path: p, Err: syscall.EMFILE}
		}
		return os.Open(p)
	}
	clk := newFakeClock()
	s := start(t, []string{filepath.Join(dir, "*.log")}, Poll(testTick), WithClock(clk), func(o *options) { o.open = open })
	awaitIdle(t, clk, testTick)
	appendFile(t, path, "before\n")
	tick(t, clk, testTick)
	s.c.wait(t, 1)
	failing.Store(true)
	appendFile(t, path, "while unlistable\n")
	tick(t, clk, testTick)
	s.c.wait(t, 2)
	if ps := s.tl.Problems(); len(ps) != 1 || !strings.Contains(ps[0].Problem, "too many open files") {
		t.Errorf("problems %+v", ps)
	}
	failing.Store(false)
	appendFile(t, path, "after\n")
	tick(t, clk, testTick)
	tick(t, clk, testTick)
	s.stop(t)
	wantTexts(t, s.c.snapshot(), "before", "while unlistable", "after")
	for len(s.ev) > 0 {
		if m := <-s.ev; m == "log file was rotated or deleted; reading it to its end" {
			t.Errorf("self-log %q", m)
		}
	}
}
