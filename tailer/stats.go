package tailer

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// FileStats is what the tailer has read of one input path, for metrics.
type FileStats struct {
	Path string
	// Lines and Bytes count what was read from the path since start,
	// across rotations.
	Lines, Bytes int64
	// Offset is the position reached in the file the path names now.
	Offset int64
	// Lag is how many bytes of that file are not read yet (0 for stdin,
	// or when the path names no file).
	Lag int64
}

// sourceCounters are updated by the emitters of one source, per batch.
type sourceCounters struct {
	lines, bytes, offset atomic.Int64
}

// counters returns the counters of a source, creating them.
func (t *Tailer) counters(source string) *sourceCounters {
	t.statsMu.Lock()
	defer t.statsMu.Unlock()
	if t.stats == nil {
		t.stats = map[string]*sourceCounters{}
	}
	c := t.stats[source]
	if c == nil {
		c = &sourceCounters{}
		t.stats[source] = c
	}
	return c
}

// Stats reports each input path read so far. It may be called while Run
// runs; the lag is measured now, with a stat of each path.
func (t *Tailer) Stats() []FileStats {
	t.statsMu.Lock()
	out := make([]FileStats, 0, len(t.stats))
	for p, c := range t.stats {
		out = append(out, FileStats{Path: p, Lines: c.lines.Load(), Bytes: c.bytes.Load(), Offset: c.offset.Load()})
	}
	t.statsMu.Unlock()
	for i := range out {
		if out[i].Path == Stdin || IsJournal(out[i].Path) {
			continue
		}
		if fi, err := t.o.stat(out[i].Path); err == nil {
			out[i].Lag = max(0, fi.Size()-out[i].Offset)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// CheckpointAge is how long ago the checkpoints were last known to be on
// disk (written, or unchanged since the last write); ok is false without a
// state file.
func (t *Tailer) CheckpointAge() (age time.Duration, ok bool) {
	t.mu.Lock()
	cp := t.cp
	t.mu.Unlock()
	if cp == nil {
		return 0, false
	}
	last := cp.current()
	if last.IsZero() {
		return 0, false
	}
	return t.o.clock.Now().Sub(last), true
}

// CheckpointFailure reports, while the state file cannot be written, the
// last error and since when writes fail: the checkpoints on disk then
// fall behind, and a restart would read again what was acknowledged
// since. err is nil while writes succeed, and without a state file.
func (t *Tailer) CheckpointFailure() (since time.Time, err error) {
	t.mu.Lock()
	cp := t.cp
	t.mu.Unlock()
	if cp == nil {
		return time.Time{}, nil
	}
	return cp.failure()
}

// statsState is embedded in Tailer.
type statsState struct {
	statsMu sync.Mutex
	stats   map[string]*sourceCounters
	waiting map[string]bool
	// problems noted since the last discovery pass ended (pending), and
	// those of the last complete pass (current, what Problems returns).
	pendingProblems, problems map[string]string
	journalProblems           map[string]string // by journald input
}

// InputProblem is why an input path cannot be followed now.
type InputProblem struct {
	Path    string
	Problem string // what was logged, and the error
}

// noteProblem records a problem with path, to be published at the end of
// the discovery pass.
func (t *Tailer) noteProblem(path, problem string) {
	t.statsMu.Lock()
	defer t.statsMu.Unlock()
	if t.pendingProblems == nil {
		t.pendingProblems = map[string]string{}
	}
	t.pendingProblems[path] = problem
}

// publishProblems makes the problems noted since the previous pass the
// current ones: a problem that did not recur in a whole pass is gone.
func (t *Tailer) publishProblems() {
	t.statsMu.Lock()
	defer t.statsMu.Unlock()
	if len(t.pendingProblems) == 0 && len(t.problems) == 0 {
		return
	}
	t.problems, t.pendingProblems = t.pendingProblems, nil
}

// Problems returns the input paths the tailer cannot follow now, and why:
// it cannot stat, open or read them (permission denied, a stale NFS
// handle), or the path names something other than a regular file; or,
// for a journald input, journalctl cannot run or read the journal. It
// retries them every second; a path leaves the list once a whole
// discovery pass went without a problem with it.
func (t *Tailer) Problems() []InputProblem {
	t.statsMu.Lock()
	defer t.statsMu.Unlock()
	out := make([]InputProblem, 0, len(t.problems)+len(t.journalProblems))
	for p, why := range t.problems {
		out = append(out, InputProblem{Path: p, Problem: why})
	}
	for p, why := range t.journalProblems {
		out = append(out, InputProblem{Path: p, Problem: why})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func (t *Tailer) markWaiting(path string, on bool) {
	t.statsMu.Lock()
	defer t.statsMu.Unlock()
	if t.waiting == nil {
		t.waiting = map[string]bool{}
	}
	if on {
		t.waiting[path] = true
	} else {
		delete(t.waiting, path)
	}
}

// Waiting returns the inputs the tailer is waiting for: files that do not
// exist yet, and globs and directories with no file yet.
func (t *Tailer) Waiting() []string {
	t.statsMu.Lock()
	defer t.statsMu.Unlock()
	out := make([]string, 0, len(t.waiting))
	for p := range t.waiting {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// journalProblem sets (err nil: clears) the problem of a journald input.
// Unlike files' problems, which discovery passes publish, it holds until
// journalctl runs again without one.
func (t *Tailer) journalProblem(spec string, err error) {
	t.statsMu.Lock()
	defer t.statsMu.Unlock()
	if err == nil {
		delete(t.journalProblems, spec)
		return
	}
	if t.journalProblems == nil {
		t.journalProblems = map[string]string{}
	}
	t.journalProblems[spec] = err.Error()
}
