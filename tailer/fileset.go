package tailer

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"
)

// file is one open file being read: a content stream with its reader, its
// emitter and its checkpoint.
type file struct {
	id   fileID
	path string // the name it had when last seen
	// real is path with symbolic links resolved when it was named (see
	// logPath); empty for files a catch-up found beside the log.
	real  string
	names int // input paths that name it now; 0 once rotated away or deleted
	f     *os.File
	r     *posReader
	lr    *lineReader
	e     *emitter
	// content is what its current stream is known by. The tail part
	// changes as it is read: when the bytes before tailAt changed, the
	// file was truncated and written again past where it was read, with
	// the same first line (see check).
	content
	// head fingerprints the first bytes seen while fp is unknown (no
	// complete first line yet): enough to find a copy of them.
	head fingerprint
	gen  int

	lastSize  int64
	lastMod   time.Time
	idleSince time.Time // when an unnamed file was last seen without new data
	copyBorn  int64     // birth time of the last copy of it read (copytruncate)
	dirMod    time.Time // modification time of its directory when last looked at
	followed  bool      // added to the files (see add)
	closed    bool
}

// entry is the state entry of f's current stream at the given position.
func (f *file) entry(offset, line int64, stream string) stateEntry {
	e := stateEntry{Path: f.path, Dev: f.id.dev, Inode: f.id.ino, Btime: f.id.btime,
		Generation: f.gen, Stream: stream, Offset: offset, Line: line}
	e.setContent(f.content)
	return e
}

// logPath is where f's log really is: its path with symbolic links
// resolved, as they were when it was named. A log followed through a link
// is rotated, and copied, beside the link's target and named after it, not
// beside the link: Kubernetes' /var/log/containers/<pod>_<ns>_<c>-<id>.log
// are links to /var/log/pods/<ns>_<pod>_<uid>/<c>/0.log, which kubelet
// renames to 0.log.<time> in that directory. Rotated files and copies are
// looked for there, and its directory is the one that changes.
func (f *file) logPath() string {
	if f.real != "" {
		return f.real
	}
	return f.path
}

// locate sets f.real from f.path and, when the link's target is in
// another directory, watches that directory too: the writes and the
// rotation happen there, and inotify reports nothing in the link's own
// directory, so without it the loop would see them only on the safety
// tick.
func (s *fileSet) locate(f *file) {
	f.real = s.realPath(f.path)
	if d := filepath.Dir(f.real); s.w != nil && d != filepath.Dir(f.path) {
		s.w.watch(d)
	}
}

// realPath returns p with symbolic links resolved, or p itself when that
// cannot be done now (a dangling link: its target was renamed and the new
// one is not created yet). When the target is in p's directory (a link
// within it, or none but a link to a directory on the way), p's directory
// is kept as written, so that files found beside it are named as the
// inputs name them.
func (s *fileSet) realPath(p string) string {
	r, err := filepath.EvalSymlinks(p)
	if err != nil || r == p {
		return p
	}
	if d := filepath.Dir(p); filepath.Dir(r) == d || s.sameDir(filepath.Dir(r), d) {
		return filepath.Join(d, filepath.Base(r))
	}
	return r
}

// fileSet follows the files of a set of inputs. One goroutine owns it: the
// order of events (drain the old file, then open the new one) is the order
// of the code. Its work is split by responsibility: discovery (which file
// each input path names: discover.go, open.go), rotation (rotate.go) and
// copytruncate (copytruncate.go), reading (read.go); what was read before
// is its history (history.go).
type fileSet struct {
	t      *Tailer
	o      *options
	out    chan<- Batch
	inputs []input
	cp     *checkpoints // nil without a state file
	h      *history
	say    *notices
	w      *watcher

	files []*file          // open files, in the order they were opened
	named map[string]*file // input path -> the file it names now
	seq   map[string]*uint64
	// byFP finds open files by the first line of their stream (entries
	// whose file moved on are dropped as met); noFP holds those without
	// one yet. With them a new file is told from a copy without reading
	// every open file (see copyOf).
	byFP map[fingerprint][]*file
	noFP map[*file]bool

	// deferred holds files of globs and directories not followed because
	// they are, or may be, copies of followed files being made (see
	// open), with what they looked like then, so that they are looked at
	// again only when they or the followed files change (epoch).
	deferred map[string]deferral
	epoch    int // changes of the followed streams

	// roundLines counts the lines emitted by the current round of
	// reads: enough of them make the log a stream (StreamWakeGap).
	roundLines int
}

func newFileSet(t *Tailer, ins []input, out chan<- Batch, prev *stateFile) *fileSet {
	return &fileSet{t: t, o: &t.o, out: out, inputs: ins, cp: t.cp, h: newHistory(prev),
		say:   newNotices(t),
		named: make(map[string]*file), seq: make(map[string]*uint64), deferred: make(map[string]deferral),
		byFP: make(map[fingerprint][]*file), noFP: make(map[*file]bool)}
}

func (s *fileSet) run(ctx context.Context) error {
	if !s.o.follow {
		return s.readOnce(ctx)
	}
	defer s.closeAll()
	tick := s.o.poll
	if tick == 0 {
		tick = safetyTick
		w, err := s.o.newWatcher(s.o.log)
		if err != nil {
			s.o.log.Warn().Err(err).Msg("inotify unavailable; checking files every second (use --poll to choose the interval)")
		} else {
			s.w = w
			w.gap, w.streamGap, w.clock = s.o.wakeGap, s.o.streamGap, s.o.clock
			defer w.close()
			go w.run(ctx)
		}
	}
	var wake <-chan struct{}
	if s.w != nil {
		wake = s.w.wake
	}
	s.recoverRotated(ctx)
	s.discover(ctx, true)
	if s.cp != nil {
		// Where each file starts is on disk before its first line leaves:
		// a crash now must not turn the next start into a first run.
		s.saveCheckpoints()
	}
	looked := s.o.clock.Now()
	for {
		s.roundLines = 0
		more := s.readAll(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if s.w != nil {
			s.w.streaming.Store(s.roundLines >= streamLines)
		}
		ticked := false
		if !more {
			select {
			case <-ctx.Done():
				return nil
			case <-wake:
			case <-s.o.clock.After(tick):
				ticked = true
			}
		}
		// Looking at the paths stats each and lists their directories:
		// most of a wake-up's system calls when a broker writes every few
		// milliseconds (issue 17). A write only grows a file already
		// read, so the paths are looked at when inotify saw something
		// else (a rename, a new file) or a tick has passed, as without
		// inotify on every round.
		if s.w == nil || ticked || s.w.renamed.Swap(false) || s.o.clock.Now().Sub(looked) >= tick {
			s.discover(ctx, false)
			looked = s.o.clock.Now()
		}
	}
}

func (s *fileSet) saveCheckpoints() {
	if err := s.cp.save(); err != nil {
		s.o.log.Error().Err(err).Msg("cannot save checkpoints; will retry")
	}
}

func (s *fileSet) byInode(id fileID) *file {
	for _, f := range s.files {
		if f.id.sameInode(id) {
			return f
		}
	}
	return nil
}

func (s *fileSet) seqOf(source string) *uint64 {
	p := s.seq[source]
	if p == nil {
		p = new(uint64)
		s.seq[source] = p
	}
	return p
}

// emitterFor returns an emitter of the lines of source that go on from
// the checkpoint at (its stream, empty until the first line, and its line
// count), tracked when there are checkpoints.
func (s *fileSet) emitterFor(source string, seq *uint64, at stateEntry) *emitter {
	e := s.t.newEmitter(s.out, source, at.Stream, seq, at.Line)
	if s.cp != nil {
		e.tr = s.cp.newTrack(at)
	}
	return e
}

// lineReader returns a line reader of r from offset, its buffer pooled.
func (s *fileSet) lineReader(r io.Reader, offset int64) *lineReader {
	lr := newLineReader(r, offset, s.o.maxLineBytes)
	lr.pool = &s.t.bufs
	return lr
}

// add starts reading f at start, after lines lines, in stream (empty:
// fixed at its first line). source is the input path its lines are
// reported under, which may be the name it had before a rotation.
func (s *fileSet) add(f *file, source string, start, lines int64, stream string, skip bool) {
	s.h.markSeen(f.id)
	s.epoch++
	f.r = &posReader{r: f.f, pos: start}
	f.markTail(nil)
	f.lr = s.lineReader(f.r, start)
	if skip {
		f.lr.skipFirst()
	}
	f.e = s.emitterFor(source, s.seqOf(source), f.entry(start, lines, stream))
	s.files = append(s.files, f)
	f.followed = true
	s.setFP(f, f.fp)
	s.fixStream(f)
}

// setFP sets the fingerprint of the first line of f's stream, and keeps
// byFP and noFP.
func (s *fileSet) setFP(f *file, fp fingerprint) {
	f.fp = fp
	if !f.followed || f.closed {
		return
	}
	if !fp.known() {
		s.noFP[f] = true
		return
	}
	delete(s.noFP, f)
	if !slices.Contains(s.byFP[fp], f) {
		s.byFP[fp] = append(s.byFP[fp], f)
	}
}

// withFP returns the open files whose stream starts with the line fp.
func (s *fileSet) withFP(fp fingerprint) []*file {
	fs := slices.DeleteFunc(s.byFP[fp], func(f *file) bool { return f.closed || f.fp != fp })
	if len(fs) == 0 {
		delete(s.byFP, fp)
	} else {
		s.byFP[fp] = fs
	}
	return fs
}

// finished records a stream read to its end, for this run and the next.
func (s *fileSet) finished(at stateEntry) {
	s.h.finish(at)
	if s.cp != nil && at.fingerprint().known() {
		s.cp.setEnded(s.h.ended)
	}
}

func (s *fileSet) closeFile(f *file) {
	s.finished(f.entry(f.lr.offset(), f.e.num, f.e.stream))
	s.epoch++
	if f.e.tr != nil {
		f.e.tr.retire()
	}
	f.f.Close()
	f.closed = true
	delete(s.noFP, f)
	s.files = slices.DeleteFunc(s.files, func(g *file) bool { return g == f })
}

func (s *fileSet) closeAll() {
	for _, f := range s.files {
		f.f.Close()
	}
	s.files = nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
