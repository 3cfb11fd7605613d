package tailer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/rs/zerolog"
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

// syncBuffer is a self-log a test reads while the tailer writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// warnings returns the self-log's warnings about path.
func (s *syncBuffer) warnings(t *testing.T, path string) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		var rec map[string]any
		if l == "" {
			continue
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("self-log line %q: %v", l, err)
		}
		if rec["level"] == "warn" && rec["file"] == path {
			out = append(out, rec)
		}
	}
	return out
}

// A log that cannot be opened for want of permission is warned about
// once while it lasts, not on every retry, with what to do about it; and
// again once it became readable and then unreadable again.
func TestUnreadableLogWarnedOnceWithHint(t *testing.T) {
	_, path := tempLog(t)
	appendFile(t, path, "")
	var failing atomic.Bool
	failing.Store(true)
	open := func(p string) (*os.File, error) {
		if failing.Load() && p == path {
			return nil, &fs.PathError{Op: "open", Path: p, Err: syscall.EACCES}
		}
		return os.Open(p)
	}
	var log syncBuffer
	clk := newFakeClock()
	s := start(t, []string{path}, Poll(testTick), WithClock(clk), Logger(zerolog.New(&log)),
		func(o *options) { o.open = open })
	awaitIdle(t, clk, testTick)
	for range 5 {
		tick(t, clk, testTick)
	}
	ws := log.warnings(t, path)
	if len(ws) != 1 {
		t.Fatalf("after 6 passes with the file unreadable, %d warnings, want 1: %v", len(ws), ws)
	}
	msg, _ := ws[0]["message"].(string)
	if !strings.Contains(msg, "permission denied") && !strings.Contains(fmt.Sprint(ws[0]["error"]), "permission denied") {
		t.Errorf("warning does not say why: %v", ws[0])
	}
	if hint, _ := ws[0]["hint"].(string); !strings.Contains(hint, "broker's user") || !strings.Contains(hint, "group") {
		t.Errorf("warning has no hint to run as the broker's user or join its group: %v", ws[0])
	}

	failing.Store(false)
	appendFile(t, path, "readable\n")
	tick(t, clk, testTick)
	s.c.waitText(t, "readable")
	if ps := s.tl.Problems(); len(ps) != 0 {
		t.Fatalf("readable again, problems %+v", ps)
	}
	// Unreadable again: rotated to a new file the tailer cannot open.
	failing.Store(true)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "")
	for range 5 {
		tick(t, clk, testTick)
	}
	if ws := log.warnings(t, path); len(ws) != 2 {
		t.Fatalf("unreadable, readable, unreadable again: %d warnings, want 2: %v", len(ws), ws)
	}
}
