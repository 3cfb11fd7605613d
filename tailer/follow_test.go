package tailer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testTick = 250 * time.Millisecond

// A glob picks up files that appear later (from their beginning), skips
// excluded and compressed ones, and does not read a file again when it is
// renamed to another name the glob matches.
func TestGlobPicksUpLateFilesAndExcludes(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.log")
	appendFile(t, a, "old a\n")
	s := start(t, []string{filepath.Join(dir, "*.log*")}, Exclude("*.debug.log"))
	s.waitMsg(t, "following")
	appendFile(t, filepath.Join(dir, "b.log"), "b 1\n")
	appendFile(t, filepath.Join(dir, "x.debug.log"), "excluded\n")
	appendFile(t, filepath.Join(dir, "a.log.2.gz"), "\x1f\x8b compressed\n")
	s.c.waitText(t, "b 1")
	appendFile(t, a, "a 1\n")
	s.c.waitText(t, "a 1")
	if err := os.Rename(a, a+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, a+".1", "a 2 after rename\n")
	appendFile(t, a, "new a 1\n")
	s.c.waitText(t, "new a 1")
	got := s.c.waitText(t, "a 2 after rename")
	seen := map[string]int{}
	for _, l := range got {
		seen[l.Text]++
	}
	for _, bad := range []string{"old a", "excluded", "\x1f\x8b compressed"} {
		if seen[bad] > 0 {
			t.Errorf("read %q", bad)
		}
	}
	for txt, n := range seen {
		if n > 1 {
			t.Errorf("%q read %d times", txt, n)
		}
	}
}

// A directory is followed like the glob dir/*: files that appear later
// are read from their beginning.
func TestDirectoryInput(t *testing.T) {
	dir := t.TempDir()
	appendFile(t, filepath.Join(dir, "old.log"), "old\n")
	s := start(t, []string{dir})
	s.waitMsg(t, "following")
	appendFile(t, filepath.Join(dir, "emqx.log"), "late 1\nlate 2\n")
	got := s.c.wait(t, 2)
	wantTexts(t, got, "late 1", "late 2")
	if got[0].Offset != 0 || got[0].Number != 1 {
		t.Errorf("late file starts at %+v", got[0])
	}
}

// A directory that does not exist at start is followed once it appears,
// whether or not its argument ends in a slash: the files created in it
// are read from their beginning, --exclude applies, and it is never taken
// for a file that is "not a regular file".
func TestDirectoryInputAppearsLater(t *testing.T) {
	for _, tc := range []struct{ name, suffix, waiting string }{
		{"no slash", "", "waiting for the log file to appear"},
		{"trailing slash", "/", "no files match yet; waiting for them to appear"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := filepath.Join(t.TempDir(), "logs")
			clk := newFakeClock()
			s := start(t, []string{logs + tc.suffix}, Poll(testTick), WithClock(clk), Exclude("*.debug"))
			s.waitMsg(t, tc.waiting)
			awaitIdle(t, clk, testTick)
			if err := os.Mkdir(logs, 0o755); err != nil {
				t.Fatal(err)
			}
			appendFile(t, filepath.Join(logs, "x.debug"), "excluded\n")
			appendFile(t, filepath.Join(logs, "broker.log"), "late 1\n")
			tick(t, clk, testTick)
			s.c.wait(t, 1)
			appendFile(t, filepath.Join(logs, "broker.log"), "late 2\n")
			appendFile(t, filepath.Join(logs, "other.log"), "other 1\n")
			tick(t, clk, testTick)
			s.stop(t)
			got := s.c.snapshot()
			wantOnce(t, got, []string{"late 1", "late 2"}, []string{"other 1"})
			if got[0].Offset != 0 || got[0].Number != 1 {
				t.Errorf("file in the late directory starts at %+v", got[0])
			}
			for len(s.ev) > 0 {
				if m := <-s.ev; m == "not following it; give log files, a directory or a glob" {
					t.Errorf("the directory was taken for a file: %q", m)
				}
			}
			if w := s.tl.Waiting(); len(w) != 0 {
				t.Errorf("still waiting for %q", w)
			}
		})
	}
}

// The same with inotify: the parent of the missing directory is watched,
// so its creation, and then the files created in it, wake the reader.
func TestDirectoryInputAppearsLaterInotify(t *testing.T) {
	logs := filepath.Join(t.TempDir(), "logs")
	s := start(t, []string{logs})
	s.waitMsg(t, "waiting for the log file to appear")
	if err := os.Mkdir(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	s.waitMsg(t, "the input is a directory now; following the files in it")
	appendFile(t, filepath.Join(logs, "broker.log"), "late 1\n")
	wantTexts(t, s.c.wait(t, 1), "late 1")
}

// A glob that matches nothing yet is waited for, with a self-log.
func TestGlobWaitsForFiles(t *testing.T) {
	dir := t.TempDir()
	s := start(t, []string{filepath.Join(dir, "*.log")})
	s.waitMsg(t, "no files match yet; waiting for them to appear")
	appendFile(t, filepath.Join(dir, "m.log"), "first\n")
	wantTexts(t, s.c.wait(t, 1), "first")
}

// Deletion and re-creation: the old file is finished, the new one read
// from its beginning as a new stream.
func TestDeleteAndRecreate(t *testing.T) {
	_, path := tempLog(t)
	appendFile(t, path, "")
	s := start(t, []string{path})
	s.waitMsg(t, "following")
	appendFile(t, path, "before\n")
	s.c.wait(t, 1)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "after\n")
	got := s.c.wait(t, 2)
	wantTexts(t, got, "before", "after")
	if got[1].Offset != 0 || got[1].Number != 1 || got[1].Stream == got[0].Stream {
		t.Errorf("re-created file: %+v (before: %+v)", got[1], got[0])
	}
	s.waitMsg(t, "finished rotated log file")
}

// Rename-and-create, as logrotate does: the writer keeps writing to the
// renamed file until it reopens its log (Mosquitto on SIGHUP), even after
// the new file has lines; both are read whole, and the renamed file is
// let go when its writer closes it, with its unterminated last line.
func TestRotatedFileReadUntilWriterLetsGo(t *testing.T) {
	_, path := tempLog(t)
	w, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s := start(t, []string{path})
	s.waitMsg(t, "following")
	fmt.Fprint(w, "old 1\nold 2 split ")
	s.c.waitText(t, "old 1")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "new 1\n")
	s.c.waitText(t, "new 1")
	fmt.Fprint(w, "across the rename\nold 3\nunterminated")
	s.c.waitText(t, "old 3")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "new 2\n") // an event, so the loop looks again
	got := s.c.waitText(t, "unterminated")
	seen := map[string]bool{}
	for _, l := range got {
		if seen[l.Text] {
			t.Errorf("%q twice", l.Text)
		}
		seen[l.Text] = true
	}
	for _, want := range []string{"old 1", "old 2 split across the rename", "old 3", "unterminated", "new 1"} {
		if !seen[want] {
			t.Errorf("missing %q in %q", want, texts(got))
		}
	}
	checkPositions(t, append(readFile(t, path+".1"), '\n'), filterText(got, func(s string) bool { return strings.HasPrefix(s, "old") }))
}

// Without a lease answer (polling, as on NFS), a rotated file that stopped
// growing is let go after RotateWait.
func TestRotatedFileLetGoAfterRotateWaitWhenPolling(t *testing.T) {
	_, path := tempLog(t)
	appendFile(t, path, "")
	clk := newFakeClock()
	s := start(t, []string{path}, Poll(testTick), WithClock(clk), RotateWait(time.Minute))
	awaitIdle(t, clk, testTick)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path+".1", "late\n")
	tick(t, clk, testTick)
	s.c.waitText(t, "late")
	clk.Advance(30 * time.Second)
	awaitIdle(t, clk, testTick)
	for len(s.ev) > 0 {
		if m := <-s.ev; m == "finished rotated log file" {
			t.Fatal("let go before RotateWait")
		}
	}
	clk.Advance(31 * time.Second)
	s.waitMsg(t, "finished rotated log file")
}

// copytruncate: logrotate copies the file, then truncates it. Lines the
// tailer had not read yet are read from the copy, under the old stream;
// the file is then read from 0 as a new stream.
func TestCopytruncateReadsUnreadLinesFromCopy(t *testing.T) {
	_, path := tempLog(t)
	appendFile(t, path, "")
	clk := newFakeClock()
	s := start(t, []string{path}, Poll(testTick), WithClock(clk))
	awaitIdle(t, clk, testTick)
	writeLines(t, path, "seq", 0, 10)
	tick(t, clk, testTick)
	s.c.wait(t, 10)
	writeLines(t, path, "seq", 10, 20) // not read before the rotation
	copyFile(t, path, path+".1")
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	writeLines(t, path, "after", 0, 3)
	tick(t, clk, testTick)
	got := s.c.wait(t, 23)
	for i := 0; i < 20; i++ {
		if got[i].Text != fmt.Sprintf("seq %d", i) || got[i].Stream != got[0].Stream {
			t.Fatalf("line %d = %+v", i, got[i])
		}
	}
	checkPositions(t, readFile(t, path+".1"), got[:20])
	checkPositions(t, readFile(t, path), got[20:])
	if got[20].Stream == got[0].Stream || got[20].Text != "after 0" {
		t.Errorf("after truncation: %+v", got[20])
	}
}

// An EMQX (Erlang disk_log) wrap log: emqx.log.1..N with .idx and .siz
// beside them; the tailer follows the member being written, and a member
// reused after the wrap is read again from its beginning.
func TestEMQXWrapLog(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "emqx.log")
	for _, sfx := range []string{".idx", ".siz"} {
		if err := os.WriteFile(base+sfx, []byte{0, 1, 2, 3}, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	appendFile(t, base+".1", "old in 1\n")
	s := start(t, []string{base})
	s.waitMsg(t, "following")
	appendFile(t, base+".1", "w 1\n")
	appendFile(t, base+".2", "w 2\n") // the next member
	s.c.waitText(t, "w 2")
	// Wrap: member 1 is emptied and written again.
	if err := os.WriteFile(base+".1", []byte("w 3 wrapped into member one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := s.c.waitText(t, "w 3 wrapped into member one")
	wantTexts(t, got, "w 1", "w 2", "w 3 wrapped into member one")
	for _, l := range got {
		if strings.HasSuffix(l.Source, ".idx") || strings.HasSuffix(l.Source, ".siz") {
			t.Errorf("read the index file %s", l.Source)
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	if err := os.WriteFile(to, readFile(t, from), 0o644); err != nil {
		t.Fatal(err)
	}
}

// logrotate's olddir: the log is rotated into another directory. The
// rotated file is still read to its end through its descriptor, and the
// self-log warns that rotations missed between two looks cannot be found
// there.
func TestRotatedIntoOtherDirectoryWarns(t *testing.T) {
	dir, path := tempLog(t)
	old := filepath.Join(dir, "old")
	if err := os.Mkdir(old, 0o755); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "")
	clk := newFakeClock()
	s := start(t, []string{path}, Poll(testTick), WithClock(clk))
	awaitIdle(t, clk, testTick)
	writeLines(t, path, "a", 0, 2)
	if err := os.Rename(path, filepath.Join(old, "mosquitto.log-20250101")); err != nil {
		t.Fatal(err)
	}
	writeLines(t, path, "b", 0, 1)
	tick(t, clk, testTick)
	s.waitMsg(t, "the log file was rotated into another directory (logrotate olddir?): should it be rotated more than once between two looks, or while mqttdiag is down, the files in between are not found there and their lines are not read")
	wantTexts(t, s.c.wait(t, 3), "a 0", "a 1", "b 0")
}

// A malformed glob is an error at start that names it, with and without
// Follow, rather than a wait for files no name can match; so is a
// malformed --exclude pattern.
func TestMalformedPatternFailsAtStart(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "t1", "[abc")
	for _, tc := range []struct {
		name  string
		paths []string
		opts  []Option
		want  string
	}{
		{"glob, following", []string{filepath.Join(dir, "ok.log"), bad}, []Option{Follow(true)}, bad},
		{"glob, reading once", []string{bad}, nil, bad},
		{"exclude", []string{dir}, []Option{Follow(true), Exclude("x[")}, "x["},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := make(chan Batch)
			errc := make(chan error, 1)
			go func() { errc <- New(tc.paths, tc.opts...).Run(t.Context(), out) }()
			for range out {
				t.Error("a batch from a tailer that should not start")
			}
			select {
			case err := <-errc:
				if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.want)) || !errors.Is(err, filepath.ErrBadPattern) {
					t.Errorf("Run: %v, want an error naming %q", err, tc.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return")
			}
		})
	}
}

// A log path that is briefly a directory (deleted, a directory made and
// removed there, the file created again) is followed as the file it is
// again: the kind of an input is decided again whenever its path
// changes, not once for ever.
func TestInputKindDecidedAgainWhenThePathChanges(t *testing.T) {
	for _, poll := range []bool{false, true} {
		t.Run(fmt.Sprintf("poll=%v", poll), func(t *testing.T) {
			_, path := tempLog(t)
			appendFile(t, path, "file 0\n")
			clk := newFakeClock()
			opts := []Option{WithClock(clk), FromBeginning(true)}
			every := safetyTick
			if poll {
				opts, every = append(opts, Poll(testTick)), testTick
			}
			s := start(t, []string{path}, opts...)
			s.c.wait(t, 1)
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
			appendFile(t, filepath.Join(path, "inside.log"), "inside 0\n")
			tick(t, clk, every)
			s.c.wait(t, 2)
			if err := os.RemoveAll(path); err != nil {
				t.Fatal(err)
			}
			appendFile(t, path, "file again 0\nfile again 1\n")
			tick(t, clk, every)
			tick(t, clk, every)
			s.stop(t)
			wantTexts(t, s.c.snapshot(), "file 0", "inside 0", "file again 0", "file again 1")
			if w := s.tl.Waiting(); len(w) != 0 {
				t.Errorf("still waiting for %q", w)
			}
		})
	}
}

// A log given by a relative path and rotated beside itself is not said
// to be rotated into another directory: the kernel names the open file
// by its absolute path, the input by a relative one.
func TestRotatedBesideItselfRelativePathNoOlddirWarning(t *testing.T) {
	dir, path := tempLog(t)
	t.Chdir(dir)
	appendFile(t, path, "")
	clk := newFakeClock()
	s := start(t, []string{filepath.Base(path)}, Poll(testTick), WithClock(clk))
	awaitIdle(t, clk, testTick)
	writeLines(t, path, "a", 0, 2)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	writeLines(t, path, "b", 0, 1)
	tick(t, clk, testTick)
	wantTexts(t, s.c.wait(t, 3), "a 0", "a 1", "b 0")
	s.stop(t)
	for len(s.ev) > 0 {
		if m := <-s.ev; strings.Contains(m, "rotated into another directory") {
			t.Errorf("self-log %q", m)
		}
	}
}
