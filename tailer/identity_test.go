package tailer

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/clock"
)

// Lines that do not make a first line unique: Mosquitto with
// log_timestamp false, or two brokers started in the same second.
const (
	sameFirst = "Saving in-memory database to /var/lib/mosquitto/mosquitto.db."
	banner    = "1795321999: mosquitto version 2.0.11 starting"
)

// followOpts returns the options of a tailer on a fake clock, polling or
// with inotify, and the period of its loop.
func followOpts(poll bool, more ...Option) (*clock.Fake, []Option, time.Duration) {
	clk := newFakeClock()
	opts := append([]Option{WithClock(clk)}, more...)
	if poll {
		return clk, append(opts, Poll(testTick)), testTick
	}
	return clk, opts, safetyTick
}

// Rename rotation where the new file starts with the same line as the
// rotated one: it is a new file, not a copy of the rotated one, and is
// read from its first line (repro 02).
func TestNewFileWithTheSameFirstLineIsNotACopy(t *testing.T) {
	for _, poll := range []bool{false, true} {
		t.Run(fmt.Sprintf("poll=%v", poll), func(t *testing.T) {
			dir, path := tempLog(t)
			appendFile(t, path, sameFirst+"\nClient first1 already connected, closing old connection.\n")
			// The saver's timer must not pass for the loop's (tick).
			clk, opts, every := followOpts(poll, FromBeginning(true), StateFile(filepath.Join(dir, "state.json")), FlushInterval(time.Hour))
			s := start(t, []string{path}, opts...)
			s.c.wait(t, 2)
			if err := os.Rename(path, path+".1"); err != nil {
				t.Fatal(err)
			}
			appendFile(t, path, sameFirst+"\nClient after-rotate1 already connected, closing old connection.\nClient after-rotate2 already connected, closing old connection.\n")
			tick(t, clk, every)
			tick(t, clk, every)
			s.stop(t)
			wantTexts(t, s.c.snapshot(), sameFirst, "Client first1 already connected, closing old connection.",
				sameFirst, "Client after-rotate1 already connected, closing old connection.", "Client after-rotate2 already connected, closing old connection.")
		})
	}
}

// Two logs with the same first line, the second awaited: when it appears
// it is read from its first line, not taken for a copy of the first and
// started at its end (repro 03); named explicitly or under a glob. Long,
// the second is shorter than where the first was read to (the bytes
// before that cannot tell them apart) but longer than the first bytes
// compared (prefixBytes), which do.
func TestTwinLogsWithTheSameFirstLine(t *testing.T) {
	for _, glob := range []bool{false, true} {
		for _, long := range []bool{false, true} {
			t.Run(fmt.Sprintf("glob=%v long=%v", glob, long), func(t *testing.T) {
				dir := t.TempDir()
				a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
				appendFile(t, a, banner+"\n1795322005: Client brokerA-client already connected, closing old connection.\n")
				bLines := []string{banner, "1795322007: Client brokerB-client already connected, closing old connection."}
				if long {
					writeLines(t, a, "1795322006: a line of broker A, the same in both", 0, 2*prefixBytes/40)
				}
				inputs := []string{a, b}
				if glob {
					inputs = []string{filepath.Join(dir, "*.log")}
				}
				clk, opts, every := followOpts(true, StateFile(filepath.Join(dir, "state.json")), FromBeginning(!glob))
				s := start(t, inputs, opts...)
				awaitIdle(t, clk, every)
				appendFile(t, b+".tmp", bLines[0]+"\n"+bLines[1]+"\n")
				if long {
					writeLines(t, b+".tmp", "1795322006: a line of broker A, the same in both", 0, prefixBytes/40+10)
					bLines = append(bLines, numbered("1795322006: a line of broker A, the same in both", 0, prefixBytes/40+10)...)
				}
				if err := os.Rename(b+".tmp", b); err != nil {
					t.Fatal(err)
				}
				tick(t, clk, every)
				tick(t, clk, every)
				s.stop(t)
				var fromB []Line
				for _, l := range s.c.snapshot() {
					if l.Source == b {
						fromB = append(fromB, l)
					}
				}
				wantTexts(t, fromB, bLines...)
			})
		}
	}
}

// Truncated and written again past the checkpoint while mqttdiag was
// down, starting with the same first line, or even the same first
// prefixBytes: the content before the checkpoint changed, so the file is
// read from its beginning as a new stream, not on from the old offset
// (from the middle of a line).
func TestCheckpointRewrittenWithTheSameFirstLineWhileDown(t *testing.T) {
	for _, same := range []int{0, prefixBytes / 4} { // "same N": more than prefixBytes
		t.Run(fmt.Sprintf("same lines=%d", same), func(t *testing.T) {
			dir, path := tempLog(t)
			state := filepath.Join(dir, "state.json")
			appendFile(t, path, banner+"\n")
			writeLines(t, path, "same", 0, same)
			writeLines(t, path, "old", 0, 40)
			s := start(t, []string{path}, StateFile(state), FromBeginning(true))
			first := s.c.wait(t, 41+same)
			s.stop(t)

			if err := os.WriteFile(path, []byte(banner+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			writeLines(t, path, "same", 0, same)
			writeLines(t, path, "new, and longer than the old lines", 0, 60)
			s2 := start(t, []string{path}, StateFile(state))
			got := s2.c.waitText(t, "new, and longer than the old lines 59")
			s2.stop(t)
			want := append([]string{banner}, numbered("same", 0, same)...)
			wantTexts(t, got, append(want, numbered("new, and longer than the old lines", 0, 60)...)...)
			if got[0].Stream == first[0].Stream || got[0].Offset != 0 {
				t.Errorf("read as %+v; the old stream was %q", got[0], first[0].Stream)
			}
		})
	}
}

// The sequence of issue 13 item 3: a rename rotation while the writer
// lingers on the old file; a copytruncate whose copy is named log.1; a
// stop (SIGKILL: no final checkpoint; or SIGTERM); lines written and a
// rename rotation while down; a restart from the state file. No line is
// lost, and no line is delivered under two ids: a finished generation
// stays finished, and a line's id is the same whichever file it is read
// from.
func TestRestartAfterCopytruncateNoLineUnderTwoIDs(t *testing.T) {
	for _, poll := range []bool{false, true} {
		for _, killed := range []bool{true, false} {
			for _, seen := range []bool{true, false} {
				name := fmt.Sprintf("poll=%v killed=%v truncation seen=%v", poll, killed, seen)
				t.Run(name, func(t *testing.T) { restartAfterCopytruncate(t, poll, killed, seen) })
			}
		}
	}
}

func restartAfterCopytruncate(t *testing.T, poll, killed, seen bool) {
	dir, path := tempLog(t)
	needBirthTimes(t, dir)
	state := filepath.Join(dir, "state.json")
	w := &lingerer{t: t, path: path}
	w.reopen()
	defer w.close()
	w.lines("a", 0, 100)
	clk, opts, every := followOpts(poll, StateFile(state), FromBeginning(true), FlushInterval(time.Hour))
	s1 := start(t, []string{path}, opts...)
	s1.c.wait(t, 100)

	// Rename rotation; the writer goes on in the renamed file a while.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	w.lines("a", 100, 150)
	nextBirthTick(t, path+".1")
	w.reopen()
	w.lines("b", 0, 200)
	tick(t, clk, every)
	s1.c.waitText(t, "b 199")

	// copytruncate, the copy named mosquitto.log.1.
	if err := os.Rename(path+".1", path+".2"); err != nil {
		t.Fatal(err)
	}
	nextBirthTick(t, path)
	copyFile(t, path, path+".1")
	truncate(t, path)
	w.lines("c", 0, 50)
	if seen {
		tick(t, clk, every)
		s1.c.waitText(t, "c 49")
	}
	if killed {
		s1.crash(t)
	} else {
		s1.stop(t)
	}

	// While down: more lines, and a rename rotation.
	w.lines("c", 50, 80)
	if err := os.Rename(path+".2", path+".3"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".1", path+".2"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	nextBirthTick(t, path+".1")
	w.reopen()
	w.lines("d", 0, 20)

	clk2, opts2, every2 := followOpts(poll, StateFile(state), FromBeginning(true), FlushInterval(time.Hour))
	s2 := start(t, []string{path}, opts2...)
	s2.c.waitText(t, "d 19")
	tick(t, clk2, every2)
	tick(t, clk2, every2)
	s2.stop(t)

	all := append(s1.c.snapshot(), s2.c.snapshot()...)
	ids := map[string]map[string]bool{}
	for _, l := range all {
		if ids[l.Text] == nil {
			ids[l.Text] = map[string]bool{}
		}
		ids[l.Text][fmt.Sprintf("%s@%d", l.Stream, l.Offset)] = true
	}
	var want []string
	for _, run := range [][]string{numbered("a", 0, 150), numbered("b", 0, 200), numbered("c", 0, 80), numbered("d", 0, 20)} {
		want = append(want, run...)
	}
	twice := 0
	for _, txt := range want {
		switch n := len(ids[txt]); {
		case n == 0:
			t.Errorf("%q lost", txt)
		case n > 1:
			if twice++; twice <= 5 {
				t.Errorf("%q delivered under %d ids: %v", txt, n, ids[txt])
			}
		}
	}
	if twice > 5 {
		t.Errorf("... %d lines under more than one id in all", twice)
	}
	if len(ids) != len(want) {
		t.Errorf("%d distinct lines, want %d", len(ids), len(want))
	}
}

// lingerer writes numbered lines to a log it holds open, as Mosquitto
// does, so that it goes on writing to a renamed file until it reopens.
type lingerer struct {
	t    *testing.T
	path string
	f    *os.File
}

func (w *lingerer) reopen() {
	w.t.Helper()
	w.close()
	f, err := os.OpenFile(w.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		w.t.Fatal(err)
	}
	w.f = f
}

func (w *lingerer) lines(prefix string, from, to int) {
	w.t.Helper()
	var b []byte
	for i := from; i < to; i++ {
		b = fmt.Appendf(b, "%s %d\n", prefix, i)
	}
	if _, err := w.f.Write(b); err != nil {
		w.t.Fatal(err)
	}
}

func (w *lingerer) close() {
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
}

// crash stops the tailer as SIGKILL does: no final checkpoints, the
// state file stays as last written.
func (s *session) crash(t *testing.T) {
	t.Helper()
	s.once.Do(func() {
		s.cancel()
		select {
		case <-s.errc:
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return within 10s of cancellation")
		}
		<-s.c.done
	})
}
