package tailer

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/clock"
)

// logrotate's copytruncate creates the copy, fills it and only then
// truncates the log (logrotate.c, copyTruncate: createOutputFile with
// O_CREAT, then sparse_copy, then ftruncate), while the broker goes on
// writing. A look that falls between the create and the copy's first
// newline sees mosquitto.log.1 born after the file, with no complete
// first line: a copy being made of what the tailer reads in the file
// itself, not the copy of a copytruncate it missed. Read as a missed
// copy, its whole content came out a second time (the flake of
// cmd/mqttdiag TestRunHighRateRotationExactlyOnce).
func TestCopytruncateCopyBeingMadeIsNotReadAsMissed(t *testing.T) {
	for _, tc := range []struct {
		name string
		made string // what the copy holds when the tailer looks
	}{
		{"created empty", ""},
		{"first line half written", "seq"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, path, clk, s := followNewFile(t, "seq", 0, 10)
			writeLines(t, path, "seq", 10, 20)
			appendFile(t, path+".1", tc.made) // the copy, not filled yet
			touchDir(t, dir)
			tick(t, clk, testTick)
			s.c.wait(t, 20)
			copyFile(t, path, path+".1") // filled
			truncate(t, path)
			writeLines(t, path, "after", 0, 3)
			tick(t, clk, testTick)
			tick(t, clk, testTick) // a copy taken for a missed one is read on
			s.stop(t)
			wantOnce(t, s.c.snapshot(), numbered("seq", 0, 20), numbered("after", 0, 3))
		})
	}
}

// The copy already holds the file's first line, but the tailer has not
// fingerprinted the file yet: when it last looked, the first line was
// not complete. The copy is still one of what the file holds.
func TestCopytruncateCopyOfFileNotFingerprintedYet(t *testing.T) {
	dir, path := tempLog(t)
	clk := newFakeClock()
	s := start(t, []string{path}, Poll(testTick), WithClock(clk))
	awaitIdle(t, clk, testTick)
	appendFile(t, path, "seq 0 is a long fir")
	tick(t, clk, testTick) // opened; no complete line, so no fingerprint
	appendFile(t, path, "st line\n")
	writeLines(t, path, "seq", 1, 5)
	copyFile(t, path, path+".1") // logrotate's copy, before its truncate
	touchDir(t, dir)
	tick(t, clk, testTick)
	s.c.wait(t, 5)
	truncate(t, path)
	writeLines(t, path, "after", 0, 3)
	tick(t, clk, testTick)
	tick(t, clk, testTick)
	s.stop(t)
	wantOnce(t, s.c.snapshot(), append([]string{"seq 0 is a long first line"}, numbered("seq", 1, 5)...), numbered("after", 0, 3))
}

// Two copytruncates between two looks, the tailer looking while the
// second one has made its copy but not truncated yet: mosquitto.log.2 is
// the copy of what the tailer read, mosquitto.log.1 the copy of what the
// file holds now. The file is read as a new stream from its beginning once
// the first truncation is seen, so mosquitto.log.1 is not a missed copy.
func TestCopytruncateTwiceSecondCopyOfWhatTheFileHolds(t *testing.T) {
	dir, path, clk, s := followNewFile(t, "a", 0, 10)
	copyFile(t, path, path+".1")
	truncate(t, path)
	writeLines(t, path, "b", 0, 5)
	if err := os.Rename(path+".1", path+".2"); err != nil {
		t.Fatal(err)
	}
	copyFile(t, path, path+".1") // the second copy; its truncate comes later
	touchDir(t, dir)
	tick(t, clk, testTick)
	truncate(t, path)
	writeLines(t, path, "c", 0, 3)
	tick(t, clk, testTick)
	tick(t, clk, testTick)
	s.stop(t)
	wantOnce(t, s.c.snapshot(), numbered("a", 0, 10), numbered("b", 0, 5), numbered("c", 0, 3))
}

// Two whole copytruncates between two looks: the copy of the stream in
// between, never seen in the file, is read (README "Rotation"), after the
// rest of the stream that was being read and before the file.
func TestCopytruncateTwiceBetweenLooksReadsTheMissedCopy(t *testing.T) {
	dir, path, clk, s := followNewFile(t, "a", 0, 10)
	writeLines(t, path, "a", 10, 12) // not read before the rotation
	copyFile(t, path, path+".1")
	truncate(t, path)
	writeLines(t, path, "b", 0, 5)
	if err := os.Rename(path+".1", path+".2"); err != nil {
		t.Fatal(err)
	}
	copyFile(t, path, path+".1")
	truncate(t, path)
	writeLines(t, path, "c", 0, 3)
	touchDir(t, dir)
	tick(t, clk, testTick)
	tick(t, clk, testTick)
	s.stop(t)
	got := s.c.snapshot()
	wantOnce(t, got, numbered("a", 0, 12), numbered("b", 0, 5), numbered("c", 0, 3))
	if !t.Failed() {
		wantTexts(t, got, append(append(numbered("a", 0, 12), numbered("b", 0, 5)...), numbered("c", 0, 3)...)...)
	}
}

// A line the broker writes between logrotate's copy and its truncate is
// in the file only (logrotate loses it for whoever reads the copy). When
// the tailer has read it, the copy is shorter than where the old stream
// was read to: there is nothing left to read in it, yet it is still the
// copy of that stream, not the copy of a copytruncate the tailer missed.
func TestCopytruncateCopyShorterThanWhatWasRead(t *testing.T) {
	dir, path, clk, s := followNewFile(t, "seq", 0, 10)
	copyFile(t, path, path+".1")
	writeLines(t, path, "seq", 10, 12) // after the copy, before the truncate
	touchDir(t, dir)
	tick(t, clk, testTick)
	s.c.wait(t, 12)
	truncate(t, path)
	writeLines(t, path, "after", 0, 3)
	tick(t, clk, testTick)
	tick(t, clk, testTick)
	s.stop(t)
	wantOnce(t, s.c.snapshot(), numbered("seq", 0, 12), numbered("after", 0, 3))
}

// A glob that matches the copies too ('mosquitto.log*', as in the
// README): a copy being made appears as a new file, empty or half filled.
// It is neither read from its beginning as a new log nor followed from
// the end of its first half: its lines are read from the file it copies,
// the rest from it once that file is truncated.
func TestCopytruncateCopyBeingMadeUnderAGlob(t *testing.T) {
	for _, tc := range []struct {
		name string
		made int // bytes of the copy when the tailer looks
	}{
		{"created empty", 0},
		{"first line half written", 3},
		{"half filled", 50},
		{"filled, not truncated yet", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, path := tempLog(t)
			clk := newFakeClock()
			s := start(t, []string{filepath.Join(dir, "mosquitto.log*")}, Poll(testTick), WithClock(clk))
			awaitIdle(t, clk, testTick)
			writeLines(t, path, "seq", 0, 10)
			tick(t, clk, testTick)
			s.c.wait(t, 10)
			writeLines(t, path, "seq", 10, 20)
			made := readFile(t, path)
			if tc.made >= 0 {
				made = made[:tc.made]
			}
			appendFile(t, path+".1", string(made)) // the copy, as far as it is made
			touchDir(t, dir)
			tick(t, clk, testTick)
			s.c.wait(t, 20)
			copyFile(t, path, path+".1")
			truncate(t, path)
			writeLines(t, path, "after", 0, 3)
			tick(t, clk, testTick)
			tick(t, clk, testTick)
			appendFile(t, path+".1", "appended to the copy\n") // nobody does, but it is a file like any other
			tick(t, clk, testTick)
			s.stop(t)
			wantOnce(t, s.c.snapshot(), numbered("seq", 0, 20), numbered("after", 0, 3), []string{"appended to the copy"})
		})
	}
}

// followNewFile starts a tailer (polling, on a fake clock) on a log that
// does not exist yet, creates it with lines "<prefix> <i>" for i in
// [from, to) and waits until they are read. The file appears while the
// tailer runs, so copies born after it count as copies of it.
func followNewFile(t *testing.T, prefix string, from, to int) (dir, path string, clk *clock.Fake, s *session) {
	t.Helper()
	dir, path = tempLog(t)
	clk = newFakeClock()
	s = start(t, []string{path}, Poll(testTick), WithClock(clk))
	awaitIdle(t, clk, testTick)
	writeLines(t, path, prefix, from, to)
	tick(t, clk, testTick)
	s.c.wait(t, to-from)
	return dir, path, clk, s
}

// touchDir moves the directory's modification time on by a second, so
// that the tailer sees it changed whatever the filesystem's timestamp
// granularity.
func touchDir(t *testing.T, dir string) {
	t.Helper()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := fi.ModTime().Add(time.Second)
	if err := os.Chtimes(dir, m, m); err != nil {
		t.Fatal(err)
	}
}

func truncate(t *testing.T, path string) {
	t.Helper()
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
}

func numbered(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s %d", prefix, i))
	}
	return out
}

// wantOnce checks that the lines are exactly the given runs, each line
// once, in order within each run.
func wantOnce(t *testing.T, got []Line, runs ...[]string) {
	t.Helper()
	count := map[string]int{}
	for _, l := range got {
		count[l.Text]++
	}
	n := 0
	for _, run := range runs {
		n += len(run)
		for _, txt := range run {
			if count[txt] != 1 {
				t.Errorf("%q read %d times", txt, count[txt])
			}
		}
	}
	if len(got) != n {
		t.Errorf("got %d lines, want %d: %q", len(got), n, texts(got))
	}
	pos := map[string]int{}
	for i, l := range got {
		pos[l.Text] = i
	}
	for _, run := range runs {
		for i := 1; i < len(run); i++ {
			if count[run[i-1]] == 1 && count[run[i]] == 1 && pos[run[i-1]] > pos[run[i]] {
				t.Errorf("%q read before %q", run[i], run[i-1])
			}
		}
	}
}

// copytruncate, and the file written again past where it was read before
// the next look, starting with the same first line as before (a broker
// restarted within the same second logs the same banner): the first
// line's fingerprint still matches and the file only grew, but the bytes
// just before the read position changed. The unread rest of the old
// content is read from the copy, and the new content from its first byte,
// never from the middle of a line.
func TestTruncatedAndRewrittenWithSameFirstLine(t *testing.T) {
	for _, withCopy := range []bool{true, false} {
		t.Run(fmt.Sprintf("copy=%v", withCopy), func(t *testing.T) {
			dir, path := tempLog(t)
			clk := newFakeClock()
			s := start(t, []string{path}, Poll(testTick), WithClock(clk))
			awaitIdle(t, clk, testTick)
			const banner = "1795321246: mosquitto version 2.0.18 starting"
			appendFile(t, path, banner+"\n")
			writeLines(t, path, "old", 0, 5)
			tick(t, clk, testTick)
			old := s.c.wait(t, 6)
			writeLines(t, path, "old", 5, 7) // not read before the truncation
			if withCopy {
				copyFile(t, path, path+".1")
			}
			truncate(t, path)
			appendFile(t, path, banner+"\n")
			writeLines(t, path, "new content, longer than the old lines", 0, 10)
			touchDir(t, dir)
			tick(t, clk, testTick)
			want := append([]string{banner}, numbered("old", 0, 5)...)
			if withCopy {
				want = append(want, numbered("old", 5, 7)...)
			}
			want = append(append(want, banner), numbered("new content, longer than the old lines", 0, 10)...)
			got := s.c.wait(t, len(want))
			s.stop(t)
			wantTexts(t, s.c.snapshot(), want...)
			fresh := got[len(want)-11:]
			checkPositions(t, readFile(t, path), fresh)
			if fresh[0].Stream == old[0].Stream {
				t.Errorf("the new content has the old stream %q", old[0].Stream)
			}
		})
	}
}

// A copytruncate while the tailer is still finishing the previous one
// from its copy (the sinks are slow): when it comes back to the file, the
// file no longer holds the generation it fingerprinted at the first
// truncation. It looks again before reading, so that generation is read
// from its own copy and the current one from its first byte: nothing is
// lost and nothing read twice.
func TestCopytruncateWhileFinishingTheLastOne(t *testing.T) {
	dir, path := tempLog(t)
	clk := newFakeClock()
	s := start(t, []string{path}, Poll(testTick), WithClock(clk), batchLines(2))
	awaitIdle(t, clk, testTick)
	writeLines(t, path, "a", 0, 10)
	tick(t, clk, testTick)
	s.c.wait(t, 10)
	writeLines(t, path, "a", 10, 30) // read from the copy, two lines a batch
	copyFile(t, path, path+".1")
	truncate(t, path)
	writeLines(t, path, "b", 0, 5)
	touchDir(t, dir)
	s.c.mu.Lock() // the consumer stalls: the tailer blocks inside the copy
	clk.Advance(testTick)
	s.waitMsg(t, "reading the rest of the truncated log file from its copy")
	if err := os.Rename(path+".1", path+".2"); err != nil {
		t.Fatal(err)
	}
	copyFile(t, path, path+".1")
	truncate(t, path)
	writeLines(t, path, "c", 0, 3)
	touchDir(t, dir)
	s.c.mu.Unlock()
	awaitIdle(t, clk, testTick)
	tick(t, clk, testTick)
	s.stop(t)
	wantOnce(t, s.c.snapshot(), numbered("a", 0, 30), numbered("b", 0, 5), numbered("c", 0, 3))
}

// Two copytruncates in quick succession, the tailer looking in between
// while the log is still empty after the first: when it looks next, the
// log holds the third generation, grown, and nothing in the file says it
// was truncated again. The second generation is only in the copy of the
// second copytruncate; the directory's modification time cannot be
// relied on to point at it (the kernel's coarse clock may give both
// changes the same time: put back here). It is read all the same.
func TestCopytruncateTwiceLookedAtWhileEmpty(t *testing.T) {
	dir, path, clk, s := followNewFile(t, "a", 0, 10)
	needBirthTimes(t, dir)
	writeLines(t, path, "a", 10, 20)
	copyFile(t, path, path+".1")
	truncate(t, path)
	touchDir(t, dir)
	tick(t, clk, testTick) // sees the log empty: the rest of a from the copy
	s.c.wait(t, 20)
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	nextBirthTick(t, path+".1")
	writeLines(t, path, "b", 0, 5)
	if err := os.Rename(path+".1", path+".2"); err != nil {
		t.Fatal(err)
	}
	copyFile(t, path, path+".1")
	truncate(t, path)
	writeLines(t, path, "c", 0, 8)
	if err := os.Chtimes(dir, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	tick(t, clk, testTick)
	tick(t, clk, testTick)
	s.stop(t)
	wantOnce(t, s.c.snapshot(), numbered("a", 0, 20), numbered("b", 0, 5), numbered("c", 0, 8))
}

// A copytruncate during a read round: the round began (the file looked
// at, its first 128 KiB read) before the copy and the truncation, and
// goes on after them, because the consumer was slow; meanwhile the file
// grew again past where the round reads next. What it reads next is the
// new content at the old offsets: it must not be taken for the rest of
// the old stream (which is in the copy). This was the loss under
// back-to-back copytruncates at a high rate: lines of the first burst
// missing below the offset where the truncation was seen.
func TestCopytruncateDuringAReadRound(t *testing.T) {
	dir, path := tempLog(t)
	const old, fresh = 4000, 6000 // 64 and 96 bytes a line: past 128 KiB
	writeLines(t, path, "old line, long enough to fill the buffer past 128 KiB in a few thousand lines", 0, old)
	clk := newFakeClock()
	out, _ := run(t, []string{path}, Follow(true), FromBeginning(true), Poll(testTick), WithClock(clk), batchLines(16))
	var got []Line
	select {
	case b := <-out: // the round has begun; its next send waits for us
		got = append(got, b.Lines...)
	case <-time.After(10 * time.Second):
		t.Fatal("no batch within 10s")
	}
	copyFile(t, path, path+".1")
	truncate(t, path)
	writeLines(t, path, "new line, written after the copytruncate and read from its first byte on", 0, fresh)
	touchDir(t, dir)
	want := old + fresh
	deadline := time.After(20 * time.Second)
	for len(got) < want {
		select {
		case b := <-out:
			got = append(got, b.Lines...)
		case <-time.After(50 * time.Millisecond):
			clk.Advance(testTick) // no wait on the loop: it may be busy
		case <-deadline:
			t.Fatalf("got %d of %d lines", len(got), want)
		}
	}
	wantOnce(t, got, numbered("old line, long enough to fill the buffer past 128 KiB in a few thousand lines", 0, old),
		numbered("new line, written after the copytruncate and read from its first byte on", 0, fresh))
}

// A copytruncate between a round's last read and the end of the round
// (its last send waited on a slow consumer), the file written again past
// the read position meanwhile: what the stream is known by (the bytes
// before the read position, its first bytes) must be what was read, not
// what the file holds by then. Otherwise the copy of what was read no
// longer looks like it, and is read again as a copytruncate that was
// missed (seen at a high rate: lines delivered twice under two ids).
func TestMarkTailKeepsWhatWasRead(t *testing.T) {
	_, path := tempLog(t)
	writeLines(t, path, "old", 0, 40)
	read := readFile(t, path)
	fd, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	fp, _ := readFingerprint(fd, false)
	f := &file{f: fd, r: &posReader{r: fd, pos: int64(len(read))}, content: content{fp: fp}}
	truncate(t, path) // the same inode, as copytruncate leaves it
	writeLines(t, path, "new, longer than the old lines", 0, 40)
	f.markTail(read)
	if f.tail.known() || f.prefix.known() {
		t.Errorf("tail %v at %d, prefix %v: taken from the new content", f.tail, f.tailAt, f.prefix)
	}
	if !f.changed() {
		t.Error("the change is not seen")
	}
}
