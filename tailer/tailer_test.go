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

	"github.com/rs/zerolog"
)

// logEvents is a zerolog sink that reports the tailer's self-log messages
// on a channel, so tests can wait for "following" instead of sleeping.
type logEvents chan string

func (c logEvents) Write(p []byte) (int, error) {
	var rec struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(p, &rec) == nil {
		select {
		case c <- rec.Message:
		default:
		}
	}
	return len(p), nil
}

// waitMsg waits for the tailer to log msg.
func waitMsg(t *testing.T, ev logEvents, msg string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-ev:
			if m == msg {
				return
			}
		case <-timeout:
			t.Fatalf("tailer did not log %q", msg)
		}
	}
}

// follow starts a following tailer on one path and waits until it has
// opened the file.
func follow(t *testing.T, path string, opts ...Option) <-chan Batch {
	t.Helper()
	ev := make(logEvents, 64)
	out, _ := run(t, []string{path}, append([]Option{Follow(true), Logger(zerolog.New(ev).Level(zerolog.DebugLevel))}, opts...)...)
	waitMsg(t, ev, "following")
	return out
}

// run starts a tailer and returns its output channel; the tailer stops
// when the test ends.
func run(t *testing.T, paths []string, opts ...Option) (<-chan Batch, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan Batch)
	errc := make(chan error, 1)
	go func() { errc <- New(paths, opts...).Run(ctx, out) }()
	t.Cleanup(func() {
		cancel()
		for range out {
		}
	})
	return out, errc
}

// next receives lines until n have arrived.
func next(t *testing.T, out <-chan Batch, n int) []Line {
	t.Helper()
	var got []Line
	timeout := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case b, ok := <-out:
			if !ok {
				t.Fatalf("output closed after %d of %d lines", len(got), n)
			}
			got = append(got, b.Lines...)
			b.Release() // the values were copied: let the tailer reuse the slice
		case <-timeout:
			t.Fatalf("got %d of %d lines within 10s: %v", len(got), n, texts(got))
		}
	}
	if len(got) > n {
		t.Fatalf("got %d lines, want %d: %v", len(got), n, texts(got))
	}
	return got
}

// quiet asserts that nothing arrives for a moment. Used only to show an
// absence, where no event exists to wait for.
func quiet(t *testing.T, out <-chan Batch) {
	t.Helper()
	select {
	case b := <-out:
		t.Fatalf("unexpected lines: %v", texts(b.Lines))
	case <-time.After(300 * time.Millisecond):
	}
}

func texts(ls []Line) []string {
	var s []string
	for _, l := range ls {
		s = append(s, l.Text)
	}
	return s
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestFollowFromEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.log")
	appendFile(t, path, "old 1\nold 2\n")
	out := follow(t, path)
	appendFile(t, path, "new 1\nnew 2\n")
	got := next(t, out, 2)
	want := []Line{
		{Text: "new 1", Offset: 12, End: 18, Number: 3, Seq: 1},
		{Text: "new 2", Offset: 18, End: 24, Number: 4, Seq: 2},
	}
	for i, w := range want {
		g := got[i]
		if g.Text != w.Text || g.Offset != w.Offset || g.End != w.End || g.Number != w.Number || g.Seq != w.Seq || g.Source != path || g.Stream == "" {
			t.Errorf("line %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestFollowFromBeginning(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.log")
	appendFile(t, path, "old 1\nold 2\n")
	out, _ := run(t, []string{path}, Follow(true), FromBeginning(true))
	got := next(t, out, 2)
	if got[0].Text != "old 1" || got[1].Number != 2 {
		t.Errorf("got %+v", got)
	}
}

// Without Follow every file is read once, from its beginning, including an
// unterminated last line, and Run returns.
func TestReadOnce(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	appendFile(t, a, "a1\na2\n")
	appendFile(t, b, "b1\nb2 unterminated")
	out, errc := run(t, []string{a, b})
	got := next(t, out, 4)
	seen := map[string]bool{}
	for _, l := range got {
		seen[l.Source+"|"+l.Text] = true
	}
	for _, w := range []string{a + "|a1", a + "|a2", b + "|b1", b + "|b2 unterminated"} {
		if !seen[w] {
			t.Errorf("missing %s in %v", w, texts(got))
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestReleasedBatchesKeepLinesIntact reads a file in many small batches
// whose slices go back to the tailer as soon as the consumer has copied
// them: every line must still arrive once, in order, with its own text,
// number and offset (a slice reused too early would show another line's).
func TestReleasedBatchesKeepLinesIntact(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.log")
	var b strings.Builder
	for i := 1; i <= 5000; i++ {
		fmt.Fprintf(&b, "line %05d\n", i)
	}
	appendFile(t, path, b.String())
	out, errc := run(t, []string{path}, batchLines(7))
	got := next(t, out, 5000)
	for i, l := range got {
		if want := fmt.Sprintf("line %05d", i+1); l.Text != want || l.Number != int64(i+1) || l.Offset != int64(i*11) {
			t.Fatalf("line %d: got %q number %d offset %d, want %q number %d offset %d", i, l.Text, l.Number, l.Offset, want, i+1, i*11)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestReadOnceMissingFile(t *testing.T) {
	out, errc := run(t, []string{filepath.Join(t.TempDir(), "nope.log")})
	for range out {
	}
	if err := <-errc; err == nil || !strings.Contains(err.Error(), "nope.log") {
		t.Fatalf("err = %v, want one naming the file", err)
	}
}

// A line being written in pieces is emitted once, whole, when its newline
// arrives.
func TestFollowHoldsPartialLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.log")
	appendFile(t, path, "")
	out := follow(t, path)
	appendFile(t, path, "Client x already conn")
	quiet(t, out)
	appendFile(t, path, "ected, closing old connection.\n")
	got := next(t, out, 1)
	if got[0].Text != "Client x already connected, closing old connection." || got[0].Offset != 0 {
		t.Errorf("got %+v", got[0])
	}
}

func TestFollowWaitsForFileToAppear(t *testing.T) {
	path := filepath.Join(t.TempDir(), "later.log")
	ev := make(logEvents, 64)
	out, _ := run(t, []string{path}, Follow(true), Logger(zerolog.New(ev)))
	waitMsg(t, ev, "waiting for the log file to appear")
	appendFile(t, path, "first line\n")
	got := next(t, out, 1)
	if got[0].Text != "first line" || got[0].Offset != 0 {
		t.Errorf("got %+v: a file that appears later must be read from its beginning", got[0])
	}
}

// Rename-and-create rotation: lines the writer (which holds the file open,
// as Mosquitto does) appends to the old file after the rename are read,
// and the new file from its first line.
func TestFollowRenameRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.log")
	w, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	out := follow(t, path)
	fmt.Fprint(w, "before rotation\n")
	next(t, out, 1)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(w, "late write to the old file\n")
	appendFile(t, path, "new file line\n")
	got := next(t, out, 2)
	if got[0].Text == "new file line" {
		got[0], got[1] = got[1], got[0]
	}
	if got[0].Text != "late write to the old file" || got[1].Text != "new file line" {
		t.Fatalf("got %v", texts(got))
	}
	if got[1].Offset != 0 || got[1].Number != 1 || got[1].Stream == got[0].Stream {
		t.Errorf("new file line = %+v; want offset 0, line 1, a new stream", got[1])
	}
}

// copytruncate: the file shrinks in place; reading restarts at 0 with a new
// stream identity, so diagnosis ids of new lines differ from old ones at
// the same offsets.
func TestFollowTruncation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.log")
	appendFile(t, path, "")
	out := follow(t, path)
	appendFile(t, path, "a fairly long line before truncation\n")
	before := next(t, out, 1)[0]
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "after\n")
	after := next(t, out, 1)[0]
	if after.Text != "after" || after.Offset != 0 || after.Stream == before.Stream {
		t.Errorf("after truncation got %+v (before: %+v)", after, before)
	}
}

func TestStdin(t *testing.T) {
	in := strings.NewReader(strings.Repeat("x\n", 1000) + "last")
	out, errc := run(t, []string{Stdin}, StdinReader(in), Follow(true))
	got := next(t, out, 1001)
	if got[1000].Text != "last" || got[1000].Source != "-" || got[1000].Offset != 2000 || got[1000].Number != 1001 {
		t.Errorf("last = %+v", got[1000])
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// Backpressure: while nobody receives, the tailer waits instead of
// dropping; every line arrives once the receiver resumes.
func TestBackpressureLosesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.log")
	var sb strings.Builder
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&sb, "line %d\n", i)
	}
	appendFile(t, path, sb.String())
	out, _ := run(t, []string{path}, Follow(true), FromBeginning(true))
	got := next(t, out, 5000)
	for i, l := range got {
		if l.Text != fmt.Sprintf("line %d", i) {
			t.Fatalf("line %d = %q", i, l.Text)
		}
	}
}

// Stats and Waiting are what metrics and /readyz read while the tailer runs.
func TestStatsAndWaiting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.log")
	later := filepath.Join(dir, "later.log")
	appendFile(t, path, "old\n")
	ev := make(logEvents, 64)
	tl := New([]string{path, later}, Follow(true), Logger(zerolog.New(ev).Level(zerolog.DebugLevel)))
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan Batch)
	go func() { _ = tl.Run(ctx, out) }()
	t.Cleanup(func() {
		cancel()
		for range out {
		}
	})
	waitMsg(t, ev, "waiting for the log file to appear")
	// Said while the inputs are looked at, before m.log is opened (at its
	// end): lines written before that would never be read.
	waitMsg(t, ev, "following")
	if w := tl.Waiting(); len(w) != 1 || w[0] != later {
		t.Errorf("waiting = %v, want [%s]", w, later)
	}
	appendFile(t, path, "one\ntwo\n")
	next(t, out, 2)
	appendFile(t, path, "unread tail")
	var st FileStats
	for _, s := range tl.Stats() {
		if s.Path == path {
			st = s
		}
	}
	if st.Lines != 2 || st.Bytes != 8 || st.Offset != 12 || st.Lag != int64(len("unread tail")) {
		t.Errorf("stats %+v", st)
	}
	appendFile(t, later, "x\n")
	next(t, out, 1)
	if w := tl.Waiting(); len(w) != 0 {
		t.Errorf("still waiting for %v", w)
	}
}
