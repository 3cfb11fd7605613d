package tailer

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readState(t *testing.T, path string) stateFile {
	t.Helper()
	var s stateFile
	if err := json.Unmarshal(readFile(t, path), &s); err != nil {
		t.Fatalf("state file: %v", err)
	}
	return s
}

// A restart with the state file resumes exactly after the last
// acknowledged line: nothing before it again, nothing after it skipped,
// with the same stream (so the same diagnosis ids) and line numbers.
func TestCheckpointResumesExactly(t *testing.T) {
	dir, path := tempLog(t)
	state := filepath.Join(dir, "state.json")
	writeLines(t, path, "before start", 0, 3)
	s := start(t, []string{path}, StateFile(state))
	s.waitMsg(t, "following")
	writeLines(t, path, "seq", 0, 5)
	first := s.c.wait(t, 5)
	s.stop(t)

	writeLines(t, path, "seq", 5, 8) // while down
	s2 := start(t, []string{path}, StateFile(state))
	s2.waitMsg(t, "resuming from checkpoint")
	writeLines(t, path, "seq", 8, 10)
	got := s2.c.wait(t, 5)
	wantTexts(t, got, "seq 5", "seq 6", "seq 7", "seq 8", "seq 9")
	checkPositions(t, readFile(t, path), append(first, got...))
	if got[0].Stream != first[0].Stream {
		t.Errorf("stream changed across the restart: %q -> %q", first[0].Stream, got[0].Stream)
	}
}

// Only acknowledged lines advance the checkpoint: lines read but not
// acknowledged before a stop are read again, with the same stream and
// offsets (so the same diagnosis ids).
func TestCheckpointOnlyAcknowledgedLines(t *testing.T) {
	dir, path := tempLog(t)
	state := filepath.Join(dir, "state.json")
	appendFile(t, path, "")
	s := start(t, []string{path}, StateFile(state), batchLines(2))
	s.waitMsg(t, "following")
	s.c.mu.Lock()
	s.c.hold = true
	s.c.mu.Unlock()
	writeLines(t, path, "seq", 0, 6)
	first := s.c.wait(t, 6)
	// Acknowledge batches 1 and 3 of [0,1] [2,3] [4,5]: the checkpoint may
	// only move past the first.
	s.c.mu.Lock()
	nb := len(s.c.held)
	s.c.mu.Unlock()
	if nb < 2 {
		t.Fatalf("want at least 2 batches, got %d", nb)
	}
	s.c.ackHeld(0, nb-1)
	s.stop(t)
	st := readState(t, state)
	if len(st.Files) != 1 || st.Files[0].Offset != first[1].End || st.Files[0].Line != 2 {
		t.Fatalf("state = %+v, want offset %d line 2", st, first[1].End)
	}

	s2 := start(t, []string{path}, StateFile(state))
	got := s2.c.wait(t, 4)
	wantTexts(t, got, "seq 2", "seq 3", "seq 4", "seq 5")
	for i, l := range got {
		w := first[i+2]
		if l.Stream != w.Stream || l.Offset != w.Offset || l.Number != w.Number {
			t.Errorf("re-read %+v, first read %+v", l, w)
		}
	}
}

// The checkpoint is the end of the highest contiguous acknowledged batch,
// whatever order the acknowledgements come in.
func TestCheckpointOutOfOrderAcknowledgements(t *testing.T) {
	cp := newCheckpoints(filepath.Join(t.TempDir(), "s.json"), nil, newFakeClock(), time.Second, nopLog())
	tr := cp.newTrack(stateEntry{Path: "x", Offset: 100, Line: 10})
	acks := []func(){tr.emitted(200, 20), tr.emitted(300, 30), tr.emitted(400, 40)}
	tests := []struct {
		ack        int
		off, lines int64
	}{{2, 100, 10}, {1, 100, 10}, {0, 400, 40}}
	for _, tt := range tests {
		acks[tt.ack]()
		if off, n := tr.acked(); off != tt.off || n != tt.lines {
			t.Fatalf("after ack %d: %d/%d, want %d/%d", tt.ack, off, n, tt.off, tt.lines)
		}
	}
	acks[0]() // a second call changes nothing
	if off, _ := tr.acked(); off != 400 {
		t.Fatalf("offset %d after a repeated ack", off)
	}
}

// The state file is written at most once per interval while
// acknowledgements come in, and on close; atomically, leaving no
// temporary file behind.
func TestStateFileWrittenBatchedAndAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	clk := newFakeClock()
	cp := newCheckpoints(path, []string{"x"}, clk, time.Second, nopLog())
	go cp.run()
	tr := cp.newTrack(stateEntry{Path: "x"})
	for i := 1; i <= 100; i++ {
		tr.emitted(int64(i*10), int64(i))()
	}
	awaitIdle(t, clk, time.Second)
	if _, err := os.Stat(path); err == nil {
		t.Fatal("state written before the interval")
	}
	tick(t, clk, time.Second)
	if cp.saves != 1 || readState(t, path).Files[0].Offset != 1000 {
		t.Fatalf("saves %d, state %+v", cp.saves, readState(t, path))
	}
	tick(t, clk, time.Second) // nothing changed: no write
	tr.emitted(1010, 101)()
	if err := cp.close(); err != nil {
		t.Fatal(err)
	}
	if cp.saves != 2 || readState(t, path).Files[0].Offset != 1010 {
		t.Fatalf("saves %d, state %+v", cp.saves, readState(t, path))
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %d files, want the state file only", len(ents))
	}
}

// A corrupt state file stops the start with an error that names the file
// and says how to recover; it is not overwritten.
func TestStateFileCorrupt(t *testing.T) {
	dir, path := tempLog(t)
	appendFile(t, path, "x\n")
	state := filepath.Join(dir, "state.json")
	for _, content := range []string{"{not json", `{"version": 99, "files": []}`, `{"version":1,"files":[{"path":"a","offset":-1}]}`,
		// No list of files is not "no files": taken as such, every file
		// under the inputs would be read again from its beginning.
		`{"version":1,"inputs":["` + path + `"],"files":null}`, `{"version":1,"inputs":["` + path + `"]}`} {
		if err := os.WriteFile(state, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		out := make(chan Batch)
		// Accepted, it would follow until the deadline and return nil.
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		go func() {
			for range out {
			}
		}()
		err := New([]string{path}, Follow(true), StateFile(state)).Run(ctx, out)
		cancel()
		if err == nil || !strings.Contains(err.Error(), state) || !strings.Contains(err.Error(), "move it aside") {
			t.Errorf("%s: err = %v", content, err)
		}
		if string(readFile(t, state)) != content {
			t.Errorf("corrupt state file was changed")
		}
	}
}

// Rotated while mqttdiag was down: the rotated file is found beside the
// path by its identity and finished first, from its checkpoint; the new
// file at the path is read from its beginning.
func TestCheckpointRotatedWhileDown(t *testing.T) {
	dir, path := tempLog(t)
	state := filepath.Join(dir, "state.json")
	appendFile(t, path, "")
	s := start(t, []string{path}, StateFile(state))
	s.waitMsg(t, "following")
	writeLines(t, path, "old", 0, 3)
	s.c.wait(t, 3)
	s.stop(t)

	writeLines(t, path, "old", 3, 5)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	writeLines(t, path, "new", 0, 2)
	s2 := start(t, []string{path}, StateFile(state))
	s2.waitMsg(t, "rotated log file found by identity; finishing it first")
	got := s2.c.wait(t, 4)
	wantTexts(t, got, "old 3", "old 4", "new 0", "new 1")
	checkPositions(t, readFile(t, path+".1"), got[:2])
	checkPositions(t, readFile(t, path), got[2:])
	s2.waitMsg(t, "finished rotated log file")
}

// Truncated (copytruncate) while mqttdiag was down: the unread lines are
// read from the copy, then the file from its beginning as a new stream.
func TestCheckpointCopytruncateWhileDown(t *testing.T) {
	dir, path := tempLog(t)
	state := filepath.Join(dir, "state.json")
	appendFile(t, path, "")
	s := start(t, []string{path}, StateFile(state))
	s.waitMsg(t, "following")
	writeLines(t, path, "old", 0, 3)
	first := s.c.wait(t, 3)
	s.stop(t)

	writeLines(t, path, "old", 3, 5)
	copyFile(t, path, path+".1")
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	writeLines(t, path, "new line that is longer than before", 0, 3)
	s2 := start(t, []string{path}, StateFile(state))
	got := s2.c.wait(t, 5)
	wantTexts(t, got, "old 3", "old 4", "new line that is longer than before 0", "new line that is longer than before 1", "new line that is longer than before 2")
	if got[0].Stream != first[0].Stream || got[2].Stream == first[0].Stream {
		t.Errorf("streams: first %q, rest of old %q, new %q", first[0].Stream, got[0].Stream, got[2].Stream)
	}
	checkPositions(t, readFile(t, path+".1"), got[:2])
	checkPositions(t, readFile(t, path), got[2:])
}

// Deleted and re-created while down (the new file may even get the old
// inode number, as ext4 often does): it is read from its beginning as a
// new stream, never resumed at the old offset.
func TestCheckpointReplacedWhileDown(t *testing.T) {
	dir, path := tempLog(t)
	state := filepath.Join(dir, "state.json")
	appendFile(t, path, "")
	s := start(t, []string{path}, StateFile(state))
	s.waitMsg(t, "following")
	appendFile(t, path, "1700000000: old line A\n")
	first := s.c.wait(t, 1)
	s.stop(t)

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "1800000000: NEW line 1\n1800000001: NEW line 2\n")
	s2 := start(t, []string{path}, StateFile(state))
	got := s2.c.wait(t, 2)
	wantTexts(t, got, "1800000000: NEW line 1", "1800000001: NEW line 2")
	if got[0].Stream == first[0].Stream || got[0].Offset != 0 {
		t.Errorf("new file read as %+v, old stream %q", got[0], first[0].Stream)
	}
}

// A file that appeared under a glob while mqttdiag was down is read from
// its beginning; one under an input new to this run starts at its end.
func TestCheckpointFileNewSinceLastRun(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state.json")
	logs := filepath.Join(dir, "logs")
	other := filepath.Join(dir, "other")
	for _, d := range []string{logs, other} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	appendFile(t, filepath.Join(logs, "a.log"), "a old\n")
	s := start(t, []string{filepath.Join(logs, "*.log")}, StateFile(state))
	s.waitMsg(t, "following")
	s.stop(t)

	appendFile(t, filepath.Join(logs, "b.log"), "b while down\n")
	appendFile(t, filepath.Join(other, "c.log"), "c before its input was added\n")
	s2 := start(t, []string{filepath.Join(logs, "*.log"), filepath.Join(other, "*.log")}, StateFile(state))
	wantTexts(t, s2.c.wait(t, 1), "b while down")
	appendFile(t, filepath.Join(other, "c.log"), "c new\n")
	got := s2.c.waitText(t, "c new")
	wantTexts(t, got, "b while down", "c new")
}

// A file first seen empty or without a complete first line has no
// fingerprint yet; its checkpoint still resumes, and the fingerprint is
// taken when the first line is complete.
func TestFingerprintOfShortFile(t *testing.T) {
	tests := []struct {
		name, content string
		final         bool
		wantN         int
	}{
		{"empty", "", false, 0},
		{"partial first line", "1795321246: mosq", false, 0},
		{"partial first line at the end", "1795321246: mosq", true, 16},
		{"short first line", "a\nb\n", false, 2},
		{"long first line", strings.Repeat("x", 300) + "\n", false, FingerprintBytes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fp, err := readFingerprint(strings.NewReader(tt.content), tt.final)
			if err != nil || fp.n != tt.wantN {
				t.Fatalf("fingerprint over %d bytes (%v), want %d", fp.n, err, tt.wantN)
			}
			if ok, _ := fp.matches(strings.NewReader(tt.content + "more\n")); !ok {
				t.Error("fingerprint does not match the grown file")
			}
		})
	}
	dir, path := tempLog(t)
	state := filepath.Join(dir, "state.json")
	appendFile(t, path, "")
	s := start(t, []string{path}, StateFile(state))
	s.waitMsg(t, "following")
	s.stop(t)
	if e := readState(t, state).Files[0]; e.Fingerprint != "" || e.Offset != 0 {
		t.Fatalf("entry of an empty file: %+v", e)
	}
	appendFile(t, path, "first\n")
	s2 := start(t, []string{path}, StateFile(state))
	wantTexts(t, s2.c.wait(t, 1), "first")
	s2.stop(t)
	if e := readState(t, state).Files[0]; e.FingerprintBytes != 6 || e.Offset != 6 {
		t.Fatalf("entry after the first line: %+v", e)
	}
}

func TestStreamIDStable(t *testing.T) {
	id := fileID{dev: 2049, ino: 17, btime: 5}
	fp := fingerprint{n: 10, sum: 0xabcdef}
	a := streamID(id, 0, fp)
	for _, other := range []string{
		streamID(id, 1, fp),
		streamID(fileID{dev: 2049, ino: 18, btime: 5}, 0, fp),
		streamID(fileID{dev: 2049, ino: 17, btime: 6}, 0, fp),
		streamID(id, 0, fingerprint{n: 10, sum: 1}),
	} {
		if other == a {
			t.Errorf("stream ids collide: %s", a)
		}
	}
	if a != streamID(id, 0, fp) {
		t.Error("stream id not stable")
	}
	_ = fmt.Sprint(a)
}

// FuzzLoadState feeds arbitrary bytes as a state file: no panic; a file
// it accepts has only entries it can resume from, and reads back the
// same after being written again; one it refuses gets an error naming
// the file and what to do.
func FuzzLoadState(f *testing.F) {
	for _, seed := range []string{
		`{"version":1,"inputs":["/var/log/m.log"],"files":[{"path":"/var/log/m.log","dev":2049,"inode":12,"offset":100,"line":3,"generation":0}]}`,
		`{"version":1,"files":[{"path":"a","dev":1,"inode":2,"fingerprint":"00ff","fingerprint_bytes":2,"offset":0,"line":0,"generation":1,"stream":"x"}]}`,
		`{"version":2,"files":[]}`,
		`{"version":1,"files":[{"path":"","offset":-1}]}`,
		`{"version":1,"files":[{"path":"a","fingerprint":"zz","fingerprint_bytes":1}]}`,
		"\x00\xff{",
		`null`,
		`{"version":1,"files":[{"path":"a","dev":1,"inode":2,"fingerprint":"00112233445566ff","fingerprint_bytes":20,"prefix":"00112233445566ff","prefix_bytes":4096,"tail":"8899aabbccddeeff","tail_at":9000,"offset":8000,"line":3,"generation":0}],` +
			`"ended":[{"path":"a.1","dev":1,"inode":3,"fingerprint":"00112233445566ff","fingerprint_bytes":20,"stream":"1:2:0:0:00112233445566ff","offset":9,"line":1,"generation":0}]}`,
		`{"version":1,"files":[],"ended":[{"path":"a","tail":"8899aabbccddeeff","offset":1,"line":1,"generation":0}]}`,
		`{"version":1,"inputs":["journald:mosquitto.service"],"files":[],"journals":[{"input":"journald:mosquitto.service","cursor":"s=3a90278ca1024b6f9ead869e84697969;i=1;b=df30e9da1df146b6a0013cad2ee326b0;m=3e8;t=661df5c1136a8;x=edf6ed2cb2d02970","line":1}]}`,
		`{"version":1,"files":[],"journals":[{"input":"/var/log/m.log","cursor":"s=a;i=1","line":1}]}`,
		`{"version":1,"files":[],"journals":[{"input":"journald:","cursor":"s=a;i=1\n","line":-1}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const path = "/var/lib/mqttdiag/state.json"
		s, err := parseState(path, data)
		if err != nil {
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "move it aside") {
				t.Fatalf("error without the file or what to do: %v", err)
			}
			return
		}
		if s == nil {
			t.Fatal("no state and no error for an existing file")
		}
		for i, e := range s.Files {
			if e.Offset < 0 || e.Line < 0 || e.Path == "" {
				t.Fatalf("files[%d] accepted: %+v", i, e)
			}
		}
		again, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := parseState(path, again)
		if err != nil {
			t.Fatalf("a state it accepted, written again, is refused: %v", err)
		}
		if b, _ := json.Marshal(s2); string(b) != string(again) {
			t.Fatalf("round trip changed the state:\n%s\n%s", again, b)
		}
	})
}

// needBirthTimes skips a test that relies on birth times where the
// filesystem of dir records none (catchUp cannot tell then).
func needBirthTimes(t *testing.T, dir string) {
	t.Helper()
	p := filepath.Join(dir, ".btime-probe")
	appendFile(t, p, "")
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(p)
	defer f.Close()
	if birthTime(f) == 0 {
		t.Skip("the filesystem of the temporary directory records no birth times")
	}
}

// nextBirthTick returns once a file created now is born later than the
// file at path: birth times are only as fine as the kernel's coarse clock,
// and files born in one tick cannot be ordered by them.
func nextBirthTick(t *testing.T, path string) {
	t.Helper()
	btime := func(p string) int64 {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		return birthTime(f)
	}
	old := btime(path)
	probe := path + ".btime-probe"
	defer os.Remove(probe)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		appendFile(t, probe, "")
		b := btime(probe)
		if err := os.Remove(probe); err != nil {
			t.Fatal(err)
		}
		if b > old {
			return
		}
	}
	t.Fatal("the birth time clock did not move within 10s")
}

// Rotated twice while mqttdiag was down, with the names of logrotate's
// dateext (mosquitto.log-20250101, the default on RHEL and Fedora) or a
// dateformat with '_': the file of the checkpoint is finished first, the
// file in between, never seen, is found by its name and birth time and
// read whole, then the current one. A file with such a name born before
// the checkpointed one is not read.
func TestCheckpointRotatedTwiceWhileDownDateext(t *testing.T) {
	for _, sep := range []string{"-", "_", "."} {
		t.Run("sep "+sep, func(t *testing.T) {
			dir, path := tempLog(t)
			needBirthTimes(t, dir)
			state := filepath.Join(dir, "state.json")
			appendFile(t, path+sep+"notes", "unrelated, older than the log\n")
			nextBirthTick(t, path+sep+"notes")
			appendFile(t, path, "")
			s := start(t, []string{path}, StateFile(state))
			s.waitMsg(t, "following")
			writeLines(t, path, "a", 0, 3)
			s.c.wait(t, 3)
			s.stop(t)

			writeLines(t, path, "a", 3, 5)
			if err := os.Rename(path, path+sep+"20250101"); err != nil {
				t.Fatal(err)
			}
			writeLines(t, path, "b", 0, 4)
			if err := os.Rename(path, path+sep+"20250102"); err != nil {
				t.Fatal(err)
			}
			writeLines(t, path, "c", 0, 2)
			s2 := start(t, []string{path}, StateFile(state))
			s2.c.wait(t, 8)
			s2.stop(t)
			wantTexts(t, s2.c.snapshot(), "a 3", "a 4", "b 0", "b 1", "b 2", "b 3", "c 0", "c 1")
		})
	}
}

// Rotated twice between two looks (polling), dateext names: the file in
// between is read after the rest of the one being read, before the
// current one.
func TestRotatedTwiceBetweenLooksDateext(t *testing.T) {
	for _, sep := range []string{"-", "_"} {
		t.Run("sep "+sep, func(t *testing.T) {
			dir, path, clk, s := followNewFile(t, "a", 0, 10)
			needBirthTimes(t, dir)
			writeLines(t, path, "a", 10, 12)
			if err := os.Rename(path, path+sep+"20250101"); err != nil {
				t.Fatal(err)
			}
			writeLines(t, path, "b", 0, 4)
			if err := os.Rename(path, path+sep+"20250102"); err != nil {
				t.Fatal(err)
			}
			writeLines(t, path, "c", 0, 2)
			tick(t, clk, testTick)
			s.c.wait(t, 18)
			s.stop(t)
			wantTexts(t, s.c.snapshot(), append(append(numbered("a", 0, 12), numbered("b", 0, 4)...), numbered("c", 0, 2)...)...)
		})
	}
}

// A state file that cannot be written (its directory gone, a full disk)
// shows in CheckpointFailure, with the error and since when, for /readyz;
// once a write succeeds again it no longer does.
func TestCheckpointFailureReported(t *testing.T) {
	dir, path := tempLog(t)
	stateDir := filepath.Join(dir, "state")
	if err := os.Mkdir(stateDir, 0o755); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(stateDir, "state.json")
	appendFile(t, path, "")
	clk := newFakeClock()
	s := start(t, []string{path}, StateFile(state), Poll(testTick), WithClock(clk), FlushInterval(time.Minute))
	awaitIdle(t, clk, testTick)
	if _, err := s.tl.CheckpointFailure(); err != nil {
		t.Fatalf("failure before any: %v", err)
	}
	if err := os.RemoveAll(stateDir); err != nil {
		t.Fatal(err)
	}
	writeLines(t, path, "seq", 0, 3)
	tick(t, clk, testTick)
	s.c.wait(t, 3)
	clk.Advance(time.Minute) // the saver's timer, set before the last tick
	awaitIdle(t, clk, time.Minute)
	since, err := s.tl.CheckpointFailure()
	if err == nil || !strings.Contains(err.Error(), stateDir) || since.IsZero() {
		t.Fatalf("CheckpointFailure = %v, %v; want an error naming %s", since, err, stateDir)
	}
	if err := os.Mkdir(stateDir, 0o755); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	awaitIdle(t, clk, time.Minute)
	if _, err := s.tl.CheckpointFailure(); err != nil {
		t.Errorf("still failing after a write succeeded: %v", err)
	}
	if st := readState(t, state); len(st.Files) != 1 || st.Files[0].Line != 3 {
		t.Errorf("state %+v", st)
	}
}

// Rotated twice while mqttdiag was down: the file in between is found by
// catch-up and read; stopped (cleanly) before all of it was acknowledged,
// its checkpoint is under its rotated name, which no input names. The
// next start finishes it from there, before the current file, under the
// same stream, and delivers nothing acknowledged twice.
func TestCatchUpFileStoppedHalfReadIsFinished(t *testing.T) {
	dir, path := tempLog(t)
	needBirthTimes(t, dir)
	state := filepath.Join(dir, "state.json")
	writeLines(t, path, "x", 0, 10)
	s := start(t, []string{path}, StateFile(state), FromBeginning(true))
	s.c.wait(t, 10)
	s.stop(t)

	if err := os.Rename(path, path+".2"); err != nil {
		t.Fatal(err)
	}
	nextBirthTick(t, path+".2")
	writeLines(t, path, "a", 0, 300)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	nextBirthTick(t, path+".1")
	writeLines(t, path, "b", 0, 5)

	s2 := start(t, []string{path}, StateFile(state), batchLines(10))
	s2.c.mu.Lock()
	s2.c.hold = true
	s2.c.mu.Unlock()
	got2 := s2.c.waitText(t, "b 4")
	s2.c.ackHeld(0, 1, 2) // a 0..29
	s2.stop(t)
	wantTexts(t, got2[:30], numbered("a", 0, 30)...)

	s3 := start(t, []string{path}, StateFile(state))
	got3 := s3.c.waitText(t, "b 4")
	s3.stop(t)
	wantTexts(t, s3.c.snapshot(), append(numbered("a", 30, 300), numbered("b", 0, 5)...)...)
	for i, l := range got3[:270] {
		if w := got2[30+i]; l.Stream != w.Stream || l.Offset != w.Offset || l.Number != w.Number {
			t.Fatalf("read again as %+v, first read as %+v", l, w)
		}
	}
}
