package tailer

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// kubeletLayout builds a node's container log layout: the log is
// pods/<ns>_<pod>_<uid>/<container>/0.log, and
// containers/<pod>_<ns>_<container>-<id>.log is a symbolic link to it
// (kubelet's pkg/kubelet/kuberuntime: BuildContainerLogsDirectory and
// buildContainerLogsPath in helpers.go, legacyLogSymlink in legacy.go).
// It returns the log and the links' glob.
func kubeletLayout(t *testing.T) (log, glob string) {
	t.Helper()
	root := t.TempDir()
	pod := filepath.Join(root, "pods", "mqtt_mosquitto-7d9f8c-x2x_0d1e", "mosquitto")
	links := filepath.Join(root, "containers")
	for _, d := range []string{pod, links} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	log = filepath.Join(pod, "0.log")
	appendFile(t, log, "")
	if err := os.Symlink(log, filepath.Join(links, "mosquitto-7d9f8c-x2x_mqtt_mosquitto-4f5e.log")); err != nil {
		t.Fatal(err)
	}
	return log, filepath.Join(links, "*.log")
}

// olddirWarning is the self-log of a log rotated into another directory.
const olddirWarning = "the log file was rotated into another directory (logrotate olddir?): should it be rotated more than once between two looks, or while mqttdiag is down, the files in between are not found there and their lines are not read"

// A log followed through a symbolic link, rotated twice between two looks
// as kubelet rotates 0.log (renamed to 0.log.<time>, a new 0.log): the
// file in between is found beside the link's target, where it was
// rotated, not beside the link, and read after the rest of the one being
// read, before the current one. That the rotated file is in another
// directory than the link is no logrotate olddir: no warning.
func TestSymlinkedLogRotatedTwiceBetweenLooks(t *testing.T) {
	log, glob := kubeletLayout(t)
	needBirthTimes(t, filepath.Dir(log))
	clk := newFakeClock()
	s := start(t, []string{glob}, Poll(testTick), WithClock(clk))
	awaitIdle(t, clk, testTick)
	writeLines(t, log, "a", 0, 10)
	tick(t, clk, testTick)
	s.c.wait(t, 10)
	writeLines(t, log, "a", 10, 12) // not read before the rotation
	for i, next := range []string{"b", "c"} {
		if err := os.Rename(log, fmt.Sprintf("%s.20261206-03000%d", log, i)); err != nil {
			t.Fatal(err)
		}
		writeLines(t, log, next, 0, 4)
	}
	tick(t, clk, testTick)
	s.c.wait(t, 20)
	s.stop(t)
	wantTexts(t, s.c.snapshot(), append(append(numbered("a", 0, 12), numbered("b", 0, 4)...), numbered("c", 0, 4)...)...)
	for len(s.ev) > 0 {
		if m := <-s.ev; m == olddirWarning {
			t.Errorf("warned %q for a log rotated beside its link's target", m)
		}
	}
}

// With inotify, a write to the target of a followed symbolic link, and
// its rotation, wake the reading loop at once: they happen in the
// target's directory, which is watched too, not only the link's (where
// nothing happens). The safety tick never fires here (fake clock).
func TestSymlinkedLogTargetDirectoryWatched(t *testing.T) {
	log, glob := kubeletLayout(t)
	clk := newFakeClock()
	s := start(t, []string{glob}, WithClock(clk))
	awaitIdle(t, clk, safetyTick)
	appendFile(t, log, "a 0\n")
	s.c.waitText(t, "a 0")
	if err := os.Rename(log, log+".20261206-030000"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, log, "b 0\n")
	s.c.waitText(t, "b 0")
	wantTexts(t, s.c.snapshot(), "a 0", "b 0")
}

// The defect this guards against, as mqttdiag met it following
// /var/log/containers/*.log: the runtime writes 20 lines a millisecond,
// kubelet rotates 0.log three times, and the runtime reopens 0.log and
// writes on at once. Every line is read once, in order.
func TestSymlinkedLogRotatedAtHighRate(t *testing.T) {
	log, glob := kubeletLayout(t)
	needBirthTimes(t, filepath.Dir(log)) // rotations between two looks are found by them
	s := start(t, []string{glob})
	s.waitMsg(t, "following")
	w, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { w.Close() }()
	tk := time.NewTicker(time.Millisecond)
	defer tk.Stop()
	n := 0
	write := func(k int) {
		for end := n + k; n < end; n++ {
			if n%20 == 0 {
				<-tk.C
			}
			if _, err := fmt.Fprintf(w, "line %d\n", n); err != nil {
				t.Fatal(err)
			}
		}
	}
	for r := 0; r < 3; r++ {
		write(1500)
		if err := os.Rename(log, fmt.Sprintf("%s.20261206-03000%d", log, r)); err != nil {
			t.Fatal(err)
		}
		w.Close() // the runtime reopens 0.log (ReopenContainerLog)
		if w, err = os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	write(1000)
	s.c.wait(t, n)
	s.stop(t)
	got := s.c.snapshot() // after the stop: no line read twice either
	for i, l := range got {
		if l.Text != fmt.Sprintf("line %d", i) {
			t.Fatalf("line %d of %d read is %q", i, n, l.Text)
		}
	}
	if len(got) != n {
		t.Fatalf("got %d lines, want %d", len(got), n)
	}
}

// A log followed through a symbolic link and rotated twice while
// mqttdiag was down: the file of the checkpoint is found by its identity
// beside the link's target and finished, the one in between is found
// there by its name and birth time, then the current one is read.
func TestSymlinkedLogRotatedWhileDown(t *testing.T) {
	log, glob := kubeletLayout(t)
	needBirthTimes(t, filepath.Dir(log))
	state := filepath.Join(t.TempDir(), "state.json")
	s := start(t, []string{glob}, StateFile(state))
	s.waitMsg(t, "following")
	writeLines(t, log, "a", 0, 3)
	s.c.wait(t, 3)
	s.stop(t)

	writeLines(t, log, "a", 3, 5)
	for i, next := range []string{"b", "c"} {
		if err := os.Rename(log, fmt.Sprintf("%s.20261206-03000%d", log, i)); err != nil {
			t.Fatal(err)
		}
		writeLines(t, log, next, 0, 2)
	}
	s2 := start(t, []string{glob}, StateFile(state))
	s2.c.wait(t, 6)
	s2.stop(t)
	wantTexts(t, s2.c.snapshot(), "a 3", "a 4", "b 0", "b 1", "c 0", "c 1")
}

// kubelet compresses a rotated log under a temporary name before it gets
// its .gz one (compressLog: 0.log.<time>.tmp, then renamed), and Docker
// writes <id>-json.log.1.gz in place: a file named like the log plus a
// suffix, born between two rotations, whose bytes are gzip. The search
// for files rotated between two looks must not read it as lines.
func TestRotatedSearchSkipsCompressedFiles(t *testing.T) {
	dir := t.TempDir()
	needBirthTimes(t, dir)
	log := filepath.Join(dir, "0.log")
	appendFile(t, log, "")
	clk := newFakeClock()
	s := start(t, []string{log}, Poll(testTick), WithClock(clk))
	awaitIdle(t, clk, testTick)
	writeLines(t, log, "a", 0, 4)
	tick(t, clk, testTick)
	s.c.wait(t, 4)
	// Between two looks: rotated twice, and the older rotated file
	// compressed to a temporary name beside it (gzip of "b" lines).
	if err := os.Rename(log, log+".20261206-030000"); err != nil {
		t.Fatal(err)
	}
	writeLines(t, log, "b", 0, 4)
	if err := os.Rename(log, log+".20261206-030001"); err != nil {
		t.Fatal(err)
	}
	gz := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 'x', '\n', 'y', '\n'}
	if err := os.WriteFile(log+".20261206-030000.tmp", gz, 0o640); err != nil {
		t.Fatal(err)
	}
	writeLines(t, log, "c", 0, 4)
	tick(t, clk, testTick)
	s.c.wait(t, 12)
	s.stop(t)
	wantTexts(t, s.c.snapshot(), append(append(numbered("a", 0, 4), numbered("b", 0, 4)...), numbered("c", 0, 4)...)...)
}
