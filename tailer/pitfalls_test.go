package tailer

// One test per pitfall of github.com/nxadm/tail v1.4.11 found by the audit
// listed in PITFALLS.md (numbers #N refer to its table): each shows that
// our tailer does not have that failure.

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fsnotify/fsnotify"
	"github.com/rs/zerolog"
)

// #1, #2, #3, #22: nxadm/tail calls os.Exit from library goroutines
// (util.Fatal). No code of this package can end the process: no os.Exit,
// log.Fatal, panic, or zerolog Fatal/Panic.
func TestPitfallNoProcessExit(t *testing.T) {
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]*ast.File{}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = f
	}
	for name, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			switch fn := call.Fun.(type) {
			case *ast.Ident:
				if fn.Name == "panic" {
					t.Errorf("%s: %v: panic", name, fset.Position(call.Pos()))
				}
			case *ast.SelectorExpr:
				x, _ := fn.X.(*ast.Ident)
				if (x != nil && x.Name == "os" && fn.Sel.Name == "Exit") ||
					(x != nil && x.Name == "log" && strings.HasPrefix(fn.Sel.Name, "Fatal")) ||
					fn.Sel.Name == "Fatal" || fn.Sel.Name == "Panic" {
					t.Errorf("%s: %v: %s can end the process", name, fset.Position(call.Pos()), fn.Sel.Name)
				}
			}
			return true
		})
	}
}

// #1: a stat failing with ENOTDIR (the log directory replaced by a file),
// EACCES or ESTALE is reported and retried; the tailer keeps going and
// reads the lines written once the path is back.
func TestPitfallStatErrorDoesNotExit(t *testing.T) {
	t.Run("ENOTDIR for real", func(t *testing.T) {
		dir := t.TempDir()
		logs := filepath.Join(dir, "logs")
		if err := os.Mkdir(logs, 0o755); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(logs, "broker.log")
		appendFile(t, path, "")
		s := start(t, []string{path})
		s.waitMsg(t, "following")
		appendFile(t, path, "line1\n")
		s.c.wait(t, 1)
		if err := os.Rename(logs, logs+".away"); err != nil {
			t.Fatal(err)
		}
		appendFile(t, logs, "a file where the directory was\n")
		s.waitMsg(t, "cannot stat log file; retrying every second")
		if err := os.Remove(logs); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(logs+".away", logs); err != nil {
			t.Fatal(err)
		}
		appendFile(t, path, "line2\n")
		wantTexts(t, s.c.wait(t, 2), "line1", "line2")
	})
	for _, errno := range []syscall.Errno{syscall.EACCES, syscall.ESTALE} {
		t.Run(errno.Error(), func(t *testing.T) {
			_, path := tempLog(t)
			appendFile(t, path, "")
			var failing atomic.Bool
			stat := func(p string) (fs.FileInfo, error) {
				if failing.Load() {
					return nil, &fs.PathError{Op: "stat", Path: p, Err: errno}
				}
				return os.Stat(p)
			}
			clk := newFakeClock()
			s := start(t, []string{path}, Poll(testTick), WithClock(clk), func(o *options) { o.stat = stat })
			awaitIdle(t, clk, testTick)
			failing.Store(true)
			appendFile(t, path, "written while stat fails\n")
			clk.Advance(testTick)
			s.waitMsg(t, "cannot stat log file; retrying every second")
			s.c.wait(t, 1) // the open file is still read
			failing.Store(false)
			appendFile(t, path, "after\n")
			tick(t, clk, testTick)
			wantTexts(t, s.c.wait(t, 2), "written while stat fails", "after")
		})
	}
}

// #3: when no inotify instance can be had (EMFILE), the tailer polls on
// its timer instead of exiting.
func TestPitfallInotifyUnavailableFallsBackToPolling(t *testing.T) {
	_, path := tempLog(t)
	appendFile(t, path, "")
	clk := newFakeClock()
	s := start(t, []string{path}, WithClock(clk), func(o *options) {
		o.newWatcher = func(zerolog.Logger) (*watcher, error) { return nil, syscall.EMFILE }
	})
	s.waitMsg(t, "inotify unavailable; checking files every second (use --poll to choose the interval)")
	awaitIdle(t, clk, safetyTick)
	appendFile(t, path, "seen on the timer\n")
	tick(t, clk, safetyTick)
	wantTexts(t, s.c.wait(t, 1), "seen on the timer")
}

// #4, #18: no rate limiter: a burst far larger than the consumer takes at
// once is delivered whole and in order (the tailer waits, it never skips
// to the end), and the consumer holding batches does not lose any.
func TestPitfallNoRateLimitSkip(t *testing.T) {
	_, path := tempLog(t)
	appendFile(t, path, "")
	s := start(t, []string{path}, batchLines(64))
	s.waitMsg(t, "following")
	const n = 100000
	writeLines(t, path, "burst", 0, n)
	got := s.c.wait(t, n)
	if len(got) != n {
		t.Fatalf("got %d lines, want %d", len(got), n)
	}
	for i, l := range got {
		if l.Text != fmt.Sprintf("burst %d", i) {
			t.Fatalf("line %d = %q", i, l.Text)
		}
	}
}

// #5: a partial line is never emitted as a line, and nothing is skipped
// after it (nxadm/tail seeks to the end after sending a partial line).
func TestPitfallPartialLineNotEmittedNothingSkipped(t *testing.T) {
	_, path := tempLog(t)
	appendFile(t, path, "")
	clk := newFakeClock()
	s := start(t, []string{path}, Poll(testTick), WithClock(clk))
	awaitIdle(t, clk, testTick)
	appendFile(t, path, "partial")
	tick(t, clk, testTick)
	if got := s.c.snapshot(); len(got) != 0 {
		t.Fatalf("partial line emitted: %q", texts(got))
	}
	appendFile(t, path, "-rest\nline2\nline3\n")
	tick(t, clk, testTick)
	wantTexts(t, s.c.wait(t, 3), "partial-rest", "line2", "line3")
}

// #6, #7: on rename-and-create the old file is read to its end before the
// new file's first line, and a line the writer finishes in the renamed
// file after the rename is read whole (nxadm/tail reopens the path without
// draining the old descriptor and resets its partial line).
func TestPitfallRotationDrainsOldFileAndKeepsSplitLine(t *testing.T) {
	for _, poll := range []bool{false, true} {
		t.Run(fmt.Sprintf("poll=%v", poll), func(t *testing.T) {
			_, path := tempLog(t)
			w, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			clk := newFakeClock()
			opts := []Option{WithClock(clk)}
			every := safetyTick
			if poll {
				opts, every = append(opts, Poll(testTick)), testTick
			}
			s := start(t, []string{path}, opts...)
			awaitIdle(t, clk, every)
			fmt.Fprint(w, "old-1\nold-2\nold-3\nold-4\nold-5\nold-6-start")
			if err := os.Rename(path, path+".1"); err != nil {
				t.Fatal(err)
			}
			fmt.Fprint(w, "-end\nold-7\n")
			appendFile(t, path, "new-1\n")
			tick(t, clk, every)
			fmt.Fprint(w, "old-8\n")
			w.Close()
			appendFile(t, path, "new-2\n")
			tick(t, clk, every)
			got := s.c.wait(t, 10)
			wantTexts(t, got[:7], "old-1", "old-2", "old-3", "old-4", "old-5", "old-6-start-end", "old-7")
			// After that the two files are read side by side: each in order.
			rest := strings.Join(texts(got[7:]), ",")
			if rest != "new-1,old-8,new-2" && rest != "old-8,new-1,new-2" && rest != "new-1,new-2,old-8" {
				t.Errorf("after the rotation: %q", rest)
			}
		})
	}
}

// #8: rotation stress as in repro 06: a self-rotating writer (close,
// rename, create) with no gap between rotations, and a consumer slower
// than the writer, so that the tailer lags more than one rotation behind:
// nothing lost, nothing repeated.
func TestPitfallRotationStressNoGapSlowConsumer(t *testing.T) {
	_, path := tempLog(t)
	appendFile(t, path, "")
	s := start(t, []string{path}, batchLines(16))
	s.waitMsg(t, "following")
	s.c.mu.Lock()
	s.c.hold = true // acknowledge nothing: the checkpoint must not matter here
	s.c.mu.Unlock()
	const rotations, per = 100, 50
	n := 0
	for r := 0; r < rotations; r++ {
		writeLines(t, path, "line", n, n+per)
		n += per
		if err := os.Rename(path, fmt.Sprintf("%s.%d", path, r)); err != nil {
			t.Fatal(err)
		}
		appendFile(t, path, "")
	}
	got := s.c.wait(t, n)
	seen := make(map[string]int)
	for _, l := range got {
		seen[l.Text]++
	}
	for i := 0; i < n; i++ {
		if c := seen[fmt.Sprintf("line %d", i)]; c != 1 {
			t.Errorf("line %d read %d times", i, c)
		}
	}
	if len(got) != n {
		t.Errorf("got %d lines, want %d", len(got), n)
	}
}

// #9, #11: a copytruncate whose file regrows past the old size before the
// tailer looks is detected by the fingerprint of the first line, not by
// size alone, and the new content is read from its first byte.
func TestPitfallTruncationDetectedWhenRegrownPastOldSize(t *testing.T) {
	_, path := tempLog(t)
	appendFile(t, path, "")
	clk := newFakeClock()
	s := start(t, []string{path}, Poll(testTick), WithClock(clk))
	awaitIdle(t, clk, testTick)
	writeLines(t, path, "1795321246: old", 0, 32)
	tick(t, clk, testTick)
	old := s.c.wait(t, 32)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	writeLines(t, path, "1795321300: new content, longer lines", 0, 64)
	tick(t, clk, testTick)
	got := s.c.wait(t, 32+64)[32:]
	for i, l := range got {
		if l.Text != fmt.Sprintf("1795321300: new content, longer lines %d", i) {
			t.Fatalf("new line %d = %q", i, l.Text)
		}
	}
	if got[0].Offset != 0 || got[0].Number != 1 || got[0].Stream == old[0].Stream {
		t.Errorf("first new line %+v", got[0])
	}
	checkPositions(t, readFile(t, path), got)
}

// #10: a file removed and created again, or replaced by a rename over it
// (mv-over), is followed: the new file is read from its beginning, once,
// with inotify and with polling.
func TestPitfallReplacedFileFollowed(t *testing.T) {
	for _, mode := range []string{"rm+create", "mv-over"} {
		for _, poll := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s poll=%v", mode, poll), func(t *testing.T) {
				_, path := tempLog(t)
				writeLines(t, path, "old-old-old", 0, 10)
				clk := newFakeClock()
				opts := []Option{WithClock(clk), FromBeginning(true)}
				every := safetyTick
				if poll {
					opts, every = append(opts, Poll(testTick)), testTick
				}
				s := start(t, []string{path}, opts...)
				s.c.wait(t, 10)
				var b strings.Builder
				for i := 0; i < 20; i++ {
					fmt.Fprintf(&b, "NEW-NEW-NEW %d\n", i)
				}
				switch mode {
				case "rm+create":
					if err := os.Remove(path); err != nil {
						t.Fatal(err)
					}
					appendFile(t, path, b.String())
				case "mv-over":
					appendFile(t, path+".tmp", b.String())
					if err := os.Rename(path+".tmp", path); err != nil {
						t.Fatal(err)
					}
				}
				tick(t, clk, every)
				appendFile(t, path, "NEW-LAST\n")
				tick(t, clk, every)
				got := s.c.wait(t, 31)
				if len(got) != 31 || got[30].Text != "NEW-LAST" || got[10].Text != "NEW-NEW-NEW 0" || got[10].Offset != 0 {
					t.Errorf("got %q", texts(got))
				}
			})
		}
	}
}

// #12: a checkpoint past the end of the file it names is not trusted: the
// content was replaced, and is read from its beginning as a new stream,
// never from a guessed offset.
func TestPitfallCheckpointPastEOFNotTrusted(t *testing.T) {
	dir, path := tempLog(t)
	state := filepath.Join(dir, "state.json")
	appendFile(t, path, "")
	s := start(t, []string{path}, StateFile(state))
	s.waitMsg(t, "following")
	writeLines(t, path, "1795321246: first generation, a long line", 0, 3)
	first := s.c.wait(t, 3)
	s.stop(t)
	if err := os.WriteFile(path, []byte("1795321300: x\n"), 0o644); err != nil { // same inode, shorter
		t.Fatal(err)
	}
	s2 := start(t, []string{path}, StateFile(state))
	got := s2.c.wait(t, 1)
	if got[0].Text != "1795321300: x" || got[0].Offset != 0 || got[0].Stream == first[0].Stream {
		t.Errorf("got %+v", got[0])
	}
}

// #13: inode reuse at restart: see TestCheckpointReplacedWhileDown; the
// identity has a birth time and a fingerprint, not only an inode number.
func TestPitfallInodeReuseIsNotTheSameFile(t *testing.T) {
	a := fileID{dev: 1, ino: 9986299, btime: 100}
	if a.same(fileID{dev: 1, ino: 9986299, btime: 200}) {
		t.Error("a file born later with the same inode number is the same file")
	}
	fp, _ := readFingerprint(strings.NewReader("1700000000: old line A\n"), false)
	if ok, _ := fp.matches(strings.NewReader("1800000000: NEW line 1\n")); ok {
		t.Error("fingerprints of different first lines match")
	}
}

// #14, #24, #25: offsets, ends and line numbers are exact for every line,
// across rotation, truncation and a restart; a reopen shows as a new
// Stream, never as numbers silently starting again.
func TestPitfallOffsetsAndLineNumbersExactAcrossReopen(t *testing.T) {
	dir, path := tempLog(t)
	state := filepath.Join(dir, "state.json")
	appendFile(t, path, "")
	s := start(t, []string{path}, StateFile(state))
	s.waitMsg(t, "following")
	writeLines(t, path, "a", 0, 5)
	a := s.c.wait(t, 5)
	s.stop(t)
	writeLines(t, path, "a", 5, 8)
	s = start(t, []string{path}, StateFile(state))
	a = append(a, s.c.wait(t, 3)...)
	checkPositions(t, readFile(t, path), a)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	writeLines(t, path, "b", 0, 4)
	b := s.c.wait(t, 7)[3:]
	checkPositions(t, readFile(t, path), b)
	if b[0].Stream == a[0].Stream {
		t.Error("the new file has the old stream")
	}
	for i := 1; i < len(a); i++ {
		if a[i].Stream != a[0].Stream {
			t.Errorf("stream changed within a file across the restart")
		}
	}
}

// #15: checkpoints are read by the saver goroutine while the reader
// rotates files; run with -race (make test does), this shows no data race.
func TestPitfallCheckpointWhileRotatingNoRace(t *testing.T) {
	dir, path := tempLog(t)
	state := filepath.Join(dir, "state.json")
	appendFile(t, path, "")
	s := start(t, []string{path}, StateFile(state), FlushInterval(time.Millisecond))
	s.waitMsg(t, "following")
	for r := 0; r < 20; r++ {
		writeLines(t, path, fmt.Sprintf("r%d", r), 0, 20)
		if err := os.Rename(path, fmt.Sprintf("%s.%d", path, r)); err != nil {
			t.Fatal(err)
		}
	}
	appendFile(t, path, "last\n")
	s.c.waitText(t, "last")
}

// #16: memory is bounded by the line limit, not by the line: a 50 MiB
// line being followed keeps the reader's buffer at the limit, and comes out
// cut and marked when its newline arrives.
func TestPitfallMaxLineBoundsMemory(t *testing.T) {
	_, path := tempLog(t)
	appendFile(t, path, "")
	s := start(t, []string{path}, MaxLineBytes(1024))
	s.waitMsg(t, "following")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	chunk := strings.Repeat("z", 1<<20)
	for i := 0; i < 50; i++ {
		if _, err := f.WriteString(chunk); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Fprint(f, "\nnext\n")
	f.Close()
	got := s.c.wait(t, 2)
	if !got[0].Truncated || len(got[0].Text) != 1024+len(TruncatedMarker) || got[0].End != 50<<20+1 || got[1].Text != "next" {
		t.Errorf("long line: truncated=%v len=%d end=%d; next %q", got[0].Truncated, len(got[0].Text), got[0].End, got[1].Text)
	}
}

// #17: cutting a long line never splits a UTF-8 character.
func TestPitfallCutKeepsUTF8Valid(t *testing.T) {
	for max := 1; max <= 12; max++ {
		in := strings.Repeat("héllo wörld ✓ ", 3) + "\n"
		got := readAll(t, strings.NewReader(in), max)
		if !utf8.ValidString(got[0].text) {
			t.Errorf("max %d: cut %q is not valid UTF-8", max, got[0].text)
		}
	}
}

// #18: Run returns promptly when its context ends while it is blocked
// sending a batch that nobody receives (the consumer is gone). One batch
// is received first, so the tailer is past its start-up checks and in the
// middle of the file: the next send is the only place it can wait.
func TestPitfallStopDoesNotHangWithoutConsumer(t *testing.T) {
	_, path := tempLog(t)
	writeLines(t, path, "line", 0, 5000)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan Batch)
	errc := make(chan error, 1)
	go func() {
		errc <- New([]string{path, path + ".other"}, Follow(true), FromBeginning(true), batchLines(16)).Run(ctx, out)
	}()
	select {
	case <-out: // then never again
	case <-time.After(10 * time.Second):
		t.Fatal("no batch within 10s")
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run blocked after cancellation with no consumer")
	}
}

// #19: reading to the end (scan) delivers every line; nothing races with
// a stop.
func TestPitfallReadOnceDeliversEveryLine(t *testing.T) {
	_, path := tempLog(t)
	writeLines(t, path, "line", 0, 10000)
	ctx := t.Context()
	out := make(chan Batch)
	errc := make(chan error, 1)
	go func() { errc <- New([]string{path}).Run(ctx, out) }()
	n := 0
	for b := range out {
		n += len(b.Lines)
	}
	if err := <-errc; err != nil || n != 10000 {
		t.Fatalf("got %d of 10000 lines, err %v", n, err)
	}
}

// #20, #21: tailers are independent: two on one file both get every line;
// stopping one leaves the other working; a new one started on the same
// file afterwards works too.
func TestPitfallIndependentTailers(t *testing.T) {
	_, path := tempLog(t)
	appendFile(t, path, "")
	a := start(t, []string{path})
	b := start(t, []string{path})
	a.waitMsg(t, "following")
	b.waitMsg(t, "following")
	writeLines(t, path, "l", 0, 5)
	a.c.wait(t, 5)
	b.c.wait(t, 5)
	a.stop(t)
	c := start(t, []string{path})
	c.waitMsg(t, "following")
	writeLines(t, path, "l", 5, 8)
	wantTexts(t, b.c.wait(t, 8)[5:], "l 5", "l 6", "l 7")
	wantTexts(t, c.c.wait(t, 3), "l 5", "l 6", "l 7")
}

// #23: a transient error opening the re-created file (created 0000 before
// its chmod) is retried, not fatal.
func TestPitfallTransientOpenErrorRetried(t *testing.T) {
	_, path := tempLog(t)
	appendFile(t, path, "")
	var fails atomic.Int32
	open := func(p string) (*os.File, error) {
		if fails.Load() > 0 {
			fails.Add(-1)
			return nil, &fs.PathError{Op: "open", Path: p, Err: syscall.EACCES}
		}
		return os.Open(p)
	}
	clk := newFakeClock()
	s := start(t, []string{path}, Poll(testTick), WithClock(clk), func(o *options) { o.open = open })
	awaitIdle(t, clk, testTick)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	fails.Store(2)
	appendFile(t, path, "b\n")
	clk.Advance(testTick)
	s.waitMsg(t, "cannot open log file; retrying every second")
	for fails.Load() > 0 {
		tick(t, clk, testTick)
	}
	tick(t, clk, testTick)
	wantTexts(t, s.c.wait(t, 1), "b")
	if !errors.Is(&fs.PathError{Err: syscall.EACCES}, syscall.EACCES) {
		t.Fatal("unreachable")
	}
}

// #26: inotify queue overflow (IN_Q_OVERFLOW): the kernel drops events and
// fsnotify reports ErrEventOverflow. The watcher here is a real one whose
// events never reach the tailer (its Events channel is replaced by one
// nothing sends on), so a rotation and the writes after it are lost as
// events. With the overflow error, the tailer looks again at once; with
// no word at all, its safety tick finds them. Either way nothing is lost
// and the old file is read to its end first.
func TestPitfallInotifyOverflowRescans(t *testing.T) {
	for _, reported := range []bool{true, false} {
		t.Run(fmt.Sprintf("overflow reported=%v", reported), func(t *testing.T) {
			_, path := tempLog(t)
			appendFile(t, path, "")
			errs := make(chan error)
			deaf := func(log zerolog.Logger) (*watcher, error) {
				w, err := newWatcher(log)
				if err != nil {
					return nil, err
				}
				w.fs.Events = make(chan fsnotify.Event) // every event lost
				w.fs.Errors = errs
				return w, nil
			}
			clk := newFakeClock()
			s := start(t, []string{path}, WithClock(clk), func(o *options) { o.newWatcher = deaf })
			awaitIdle(t, clk, safetyTick)
			writeLines(t, path, "old", 0, 3)
			if err := os.Rename(path, path+".1"); err != nil {
				t.Fatal(err)
			}
			writeLines(t, path, "new", 0, 2)
			if reported {
				errs <- fsnotify.ErrEventOverflow
				s.waitMsg(t, "inotify error; files are still checked every second")
			} else {
				tick(t, clk, safetyTick)
			}
			wantTexts(t, s.c.wait(t, 5), "old 0", "old 1", "old 2", "new 0", "new 1")
		})
	}
}
