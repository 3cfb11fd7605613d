package tailer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// Per file and round, read at most this much before giving the other
// files a turn.
// The smaller, the sooner a rotation is seen while the sinks are slow.
const roundBytes = 256 << 10

// file is one open file being read: a content stream with its reader, its
// emitter and its checkpoint.
type file struct {
	id    fileID
	path  string // the name it had when last seen
	names int    // input paths that name it now; 0 once rotated away or deleted
	f     *os.File
	r     *posReader
	lr    *lineReader
	e     *emitter
	fp    fingerprint
	// head fingerprints the first bytes seen while fp is unknown (no
	// complete first line yet): enough to find a copy of them.
	head fingerprint
	gen  int

	lastSize  int64
	lastMod   time.Time
	idleSince time.Time // when an unnamed file was last seen without new data
	copyBorn  int64     // birth time of the last copy of it read (copytruncate)
	dirMod    time.Time // modification time of its directory when last looked at

	// tail fingerprints the tailBytes bytes read last, those just before
	// tailAt: bytes a growing file never changes. When they did change,
	// the file was truncated and written again past where it was read,
	// with the same first line (see readFile).
	tail   fingerprint
	tailAt int64
}

// tailBytes is how many bytes before the read position are checked.
const tailBytes = 64

// markTail fingerprints the bytes just before the read position.
func (f *file) markTail() {
	pos := f.r.pos
	f.tail, f.tailAt = fingerprint{}, pos
	n := min(int64(tailBytes), pos)
	if n == 0 {
		return
	}
	var buf [tailBytes]byte
	if k, _ := f.f.ReadAt(buf[:n], pos-n); int64(k) == n {
		f.tail = fingerprint{n: int(n), sum: sum64(buf[:n])}
	}
}

// tailChanged reports whether the bytes markTail fingerprinted are no
// longer what the file holds there.
func (f *file) tailChanged() bool {
	if !f.tail.known() {
		return false
	}
	var buf [tailBytes]byte
	n := f.tail.n
	k, err := f.f.ReadAt(buf[:n], f.tailAt-int64(n))
	if k < n {
		return err == nil || err == io.EOF // shorter: truncated
	}
	return sum64(buf[:n]) != f.tail.sum
}

// fileSet follows the files of a set of inputs. One goroutine owns it: the
// order of events (drain the old file, then open the new one) is the order
// of the code.
type fileSet struct {
	t      *Tailer
	o      *options
	out    chan<- Batch
	inputs []input
	cp     *checkpoints // nil without a state file
	prev   *stateFile   // the state file found at start, if any
	// claimed marks prev entries already matched to a file.
	claimed []bool

	files []*file          // open files, in the order they were opened
	named map[string]*file // input path -> the file it names now
	seq   map[string]*uint64
	w     *watcher

	born map[string]int64 // input path -> birth time of the file it named before
	// seen holds (device, inode) of every file read in this run, copies
	// included, so that a catch-up never reads one again.
	seen map[fileID]bool
	// done holds where files let go of in this run ended, should one come
	// back under an input path (its directory renamed away and back).
	done map[fileID]stateEntry
	// ended holds the fingerprints of the content streams read in this
	// run that no file is read as any more (truncated, or finished): a
	// file that starts with one of them is a copy of what was read.
	ended map[fingerprint]bool
	// deferred holds files of globs and directories not followed because
	// they are, or may be, copies of followed files being made (see
	// open), with what they looked like then, so that they are looked at
	// again only when they or the followed files change (epoch).
	deferred map[string]deferral
	epoch    int               // changes of the followed streams
	waiting  map[string]bool   // paths we said we are waiting for
	problems map[string]string // path -> last problem reported, to say it once
}

// deferral is how a file left for later looked, and when.
type deferral struct {
	id    fileID
	size  int64
	mod   time.Time
	epoch int
}

func newFileSet(t *Tailer, ins []input, out chan<- Batch, prev *stateFile) *fileSet {
	s := &fileSet{t: t, o: &t.o, out: out, inputs: ins, cp: t.cp, prev: prev,
		named: make(map[string]*file), seq: make(map[string]*uint64),
		born: make(map[string]int64), seen: make(map[fileID]bool), done: make(map[fileID]stateEntry),
		ended: make(map[fingerprint]bool), deferred: make(map[string]deferral), waiting: make(map[string]bool), problems: make(map[string]string)}
	if prev != nil {
		s.claimed = make([]bool, len(prev.Files))
	}
	return s
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
			// nxadm/tail v1.4.11 exits the process here
			// (watch/inotify_tracker.go:217-221).
			s.o.log.Warn().Err(err).Msg("inotify unavailable; checking files every second (use --poll to choose the interval)")
		} else {
			s.w = w
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
		if err := s.cp.save(); err != nil {
			s.o.log.Error().Err(err).Msg("cannot save checkpoints; will retry")
		}
	}
	for {
		more := s.readAll(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if !more {
			select {
			case <-ctx.Done():
				return nil
			case <-wake:
			case <-s.o.clock.After(tick):
			}
		}
		s.discover(ctx, false)
	}
}

// report logs a problem with a path once, until it changes.
func (s *fileSet) report(path string, err error, msg string) {
	s.t.noteProblem(path, msg+": "+err.Error())
	if s.problems[path] == err.Error() {
		return
	}
	s.problems[path] = err.Error()
	s.o.log.Warn().Err(err).Str("file", path).Msg(msg)
}

// discover matches input paths to files: files that appeared are opened,
// paths that now name another file are switched after the old file was
// read to its end, and files no input names any more (rotated away,
// deleted) are kept open until they are finished (see letGo).
func (s *fileSet) discover(ctx context.Context, initial bool) {
	defer s.t.publishProblems()
	seen := make(map[string]fileID)
	infos := make(map[string]fs.FileInfo)
	// explicit marks paths named as such on the command line: the log
	// itself, never taken for a copy of another followed file.
	explicit := make(map[string]bool)
	var order []string
	for i := range s.inputs {
		in := &s.inputs[i]
		if in.kind == inputFile {
			s.becameDir(in)
		}
		if s.w != nil {
			for _, d := range in.dirs() {
				s.w.watch(d)
			}
		}
		cands := in.candidates(s.o.exclude)
		if len(cands) == 0 && in.kind != inputFile && !s.waiting[in.path] {
			s.waiting[in.path] = true
			s.t.markWaiting(in.path, true)
			s.o.log.Info().Str("input", in.arg).Msg("no files match yet; waiting for them to appear")
		}
		if len(cands) > 0 && in.kind != inputFile {
			s.t.markWaiting(in.path, false) // the glob or directory has files now
		}
		for _, p := range cands {
			if _, dup := seen[p]; dup || sameFile(p, s.o.statePath) {
				continue
			}
			fi, err := s.o.stat(p)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				if in.kind == inputFile && s.named[p] == nil && !s.waiting[p] {
					s.waiting[p] = true
					s.t.markWaiting(p, true)
					s.o.log.Info().Str("file", p).Msg("waiting for the log file to appear")
				}
				continue
			case err != nil:
				// Permission denied, a stale NFS handle: transient more
				// often than not. Keep what the path named, and retry.
				// (nxadm/tail v1.4.11 calls os.Exit here:
				// watch/inotify.go:113-122, watch/polling.go:70-82.)
				s.report(p, err, "cannot stat log file; retrying every second")
				if f := s.named[p]; f != nil {
					seen[p] = f.id
					order = append(order, p)
				}
				continue
			case !fi.Mode().IsRegular():
				if in.kind == inputFile {
					s.report(p, fmt.Errorf("%s is not a regular file", p), "not following it; give log files, a directory or a glob")
				}
				continue
			}
			delete(s.problems, p)
			seen[p] = statID(fi)
			infos[p] = fi
			explicit[p] = explicit[p] || in.kind == inputFile && p == in.path
			order = append(order, p)
		}
	}
	// Names that no longer name their file: the file was rotated away,
	// deleted or replaced. Read it to its end now, before any line of a
	// file that replaced it (nxadm/tail v1.4.11 reopens the path without
	// draining the old descriptor: tail.go:389-400).
	for _, p := range sortedKeys(s.named) {
		f := s.named[p]
		if id, ok := seen[p]; ok && id.sameInode(f.id) {
			continue
		}
		delete(s.named, p)
		f.names--
		s.born[p] = f.id.btime
		s.readFile(ctx, f, false, -1)
		if f.names == 0 {
			f.idleSince = time.Time{}
			s.o.log.Info().Str("file", p).Int64("offset", f.lr.offset()).Msg("log file was rotated or deleted; reading it to its end")
			if d := currentDir(f.f); d != "" && d != filepath.Dir(p) {
				// Read on through its descriptor all the same; but
				// catchUp looks for missed rotations beside the log only.
				s.o.log.Warn().Str("file", p).Str("dir", d).Msg("the log file was rotated into another directory (logrotate olddir?): should it be rotated more than once between two looks, or while mqttdiag is down, the files in between are not found there and their lines are not read")
			}
		}
	}
	for _, p := range order {
		if s.named[p] != nil {
			continue
		}
		id := seen[p]
		if f := s.byInode(id); f != nil {
			// Renamed within the inputs (mosquitto.log -> mosquitto.log.1
			// under a glob), or a rotated file found again.
			s.named[p] = f
			f.names++
			f.path = p
			if f.e.tr != nil {
				f.e.tr.update(func(e *stateEntry) { e.Path = p })
			}
			continue
		}
		if d, ok := s.deferred[p]; ok && infos[p] != nil && d == s.deferralOf(infos[p]) {
			continue // left for later, and nothing changed since
		}
		if s.open(ctx, p, initial, !explicit[p]) {
			delete(s.waiting, p)
			s.t.markWaiting(p, false)
		}
	}
	for p := range s.deferred {
		if _, ok := infos[p]; !ok || s.named[p] != nil {
			delete(s.deferred, p)
		}
	}
}

// becameDir turns a file input whose path is now a directory into a
// directory input: a path that did not exist at start (or was a file
// then) and that a directory was created at is followed as the directory
// it is, the files in it picked up from their beginning.
func (s *fileSet) becameDir(in *input) {
	fi, err := s.o.stat(in.path)
	if err != nil || !fi.IsDir() {
		return
	}
	in.kind = inputDir
	delete(s.waiting, in.path)
	s.t.markWaiting(in.path, false)
	s.o.log.Info().Str("input", in.arg).Msg("the input is a directory now; following the files in it")
}

func (s *fileSet) deferralOf(fi fs.FileInfo) deferral {
	return deferral{id: statID(fi), size: fi.Size(), mod: fi.ModTime(), epoch: s.epoch}
}

// sameFile reports whether two paths name the same place, so that the
// state file is never followed as a log under a glob or a directory.
func sameFile(a, b string) bool {
	if b == "" {
		return false
	}
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
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

// open starts following the file at path and says whether it did.
// mayBeCopy says that path is not the log named on the command line but
// a file a glob or a directory matches, which may be a copy of a followed
// file made by copytruncate (the glob 'mosquitto.log*').
func (s *fileSet) open(ctx context.Context, path string, initial, mayBeCopy bool) bool {
	fd, err := s.o.open(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.report(path, err, "cannot open log file; retrying every second")
		}
		return false
	}
	fi, err := fd.Stat()
	if err != nil {
		fd.Close()
		s.report(path, err, "cannot stat log file; retrying every second")
		return false
	}
	id := statID(fi)
	if s.byInode(id) != nil {
		fd.Close() // renamed between stat and open; the next look sorts it out
		return false
	}
	id.btime = birthTime(fd)
	fp, err := readFingerprint(fd, false)
	if err != nil {
		fd.Close()
		s.report(path, err, "cannot read log file; retrying every second")
		return false
	}
	size := fi.Size()
	kind := s.copyOf(fp, id)
	if mayBeCopy && !s.inState(id) && !s.doneWith(id) &&
		(kind == copyOfFollowed || kind == copyUnknown && len(s.files) > 0) {
		// A copy of a followed file, or perhaps one being made (it has no
		// first line yet): logrotate creates the copy, fills it, then
		// truncates the file. Its lines are read from the file it copies,
		// and the rest from it once that file is truncated (truncated);
		// then it is followed from where that left it.
		if _, ok := s.deferred[path]; !ok {
			s.o.log.Debug().Str("file", path).Msg("a copy of a followed log file, or perhaps one being made: not following it while it is one")
		}
		s.deferred[path] = s.deferralOf(fi)
		fd.Close()
		return false
	}
	delete(s.deferred, path)
	f := &file{id: id, path: path, names: 1, f: fd, fp: fp, lastSize: size, lastMod: fi.ModTime()}
	f.head, _ = readHead(fd)

	var start, lines int64
	var stream string
	skip := false
	e, replaced := s.claim(id, fd, size)
	if d, ok := s.done[fileID{dev: id.dev, ino: id.ino}]; ok && d.id().same(id) {
		fp, _ := parseFingerprint(d.Fingerprint, d.FingerprintBytes)
		if ok, err := fp.matches(fd); err == nil && ok && d.Offset <= size {
			e, replaced = &d, false
		}
	}
	switch {
	case e != nil && !replaced:
		start, lines, f.gen = e.Offset, e.Line, e.Generation
		if f.fp, err = parseFingerprint(e.Fingerprint, e.FingerprintBytes); err != nil || !f.fp.known() {
			f.fp = fp
		}
		stream = e.Stream
		s.o.log.Info().Str("file", path).Int64("offset", start).Msg("resuming from checkpoint")
	case e != nil && replaced:
		// Same file, other content: truncated (copytruncate) while we
		// were down. Finish the old stream from its copy, if there is one.
		s.o.log.Info().Str("file", path).Int64("offset", e.Offset).Msg("log file was truncated while mqttdiag was down; reading it from its beginning")
		f.copyBorn = s.finishFromCopy(ctx, *e, filepath.Dir(path), id)
		f.gen = e.Generation + 1
	case kind == copyOfFollowed:
		// The log named on the command line holds what a followed file
		// holds: that file reads it.
		start, lines, skip, err = startAtEnd(fd, size, s.o.maxLineBytes)
	case kind == copyOfEnded:
		// A copy of a stream read in this run (the copy a copytruncate
		// made, shorter than where that stream was read to): all of it
		// was read, up to its last byte.
		start = size
		lines, err = countLines(fd, size)
	case initial && !s.newSinceLastRun(path) && !s.o.fromBeginning:
		start, lines, skip, err = startAtEnd(fd, size, s.o.maxLineBytes)
	}
	if err != nil {
		fd.Close()
		s.report(path, err, "cannot read log file; retrying every second")
		return false
	}
	if e == nil {
		// The path named another file before (a rotation now, or while
		// we were down): files rotated away in between, unseen, come
		// first.
		s.seen[fileID{dev: id.dev, ino: id.ino}] = true // not a missed one
		s.catchUp(ctx, path, s.bornBefore(path), id.btime, false)
	}
	delete(s.born, path)
	s.add(f, path, start, lines, stream, skip)
	s.named[path] = f
	s.o.log.Debug().Str("file", path).Int64("offset", start).Str("stream", stream).Msg("following")
	switch {
	case e != nil && replaced:
		s.laterCopies(ctx, f, f.copyBorn) // copytruncated more than once while down
	case initial || e != nil:
		// Copies made before now were read before, or are older than
		// where we start.
		f.copyBorn = max(id.btime, time.Now().UnixNano())
	default:
		// A file that appeared while we run may have been copied and
		// truncated already, before we could open it.
		s.laterCopies(ctx, f, 0)
	}
	return true
}

// add starts reading f at start, after lines lines, in stream (empty:
// fixed at its first line). source is the input path its lines are
// reported under, which may be the name it had before a rotation.
func (s *fileSet) add(f *file, source string, start, lines int64, stream string, skip bool) {
	s.seen[fileID{dev: f.id.dev, ino: f.id.ino}] = true
	s.epoch++
	f.r = &posReader{r: f.f, pos: start}
	f.markTail()
	f.lr = newLineReader(f.r, start, s.o.maxLineBytes)
	if skip {
		f.lr.skipFirst()
	}
	f.e = &emitter{source: source, stream: stream, seq: s.seqOf(source), num: lines,
		limit: s.o.batchLines, blimit: s.o.batchBytes, out: s.out, ctr: s.t.counters(source), pool: &s.t.pool}
	if s.cp != nil {
		f.e.tr = s.cp.newTrack(f.entry(start, lines, stream))
	}
	s.files = append(s.files, f)
}

// bornBefore returns the birth time of the file path named before, when
// it named another one: from this run, or from the state file.
func (s *fileSet) bornBefore(path string) int64 {
	if b, ok := s.born[path]; ok {
		return b
	}
	var b int64
	if s.prev != nil {
		for _, e := range s.prev.Files {
			if e.Path == path && e.Btime > b {
				b = e.Btime
			}
		}
	}
	return b
}

// catchUp reads, oldest first, files rotated from path (named path.*,
// path-* or path_*: see rotatedName) that were born after the file path
// named before (born after) and before the one it names now (born
// before), and that nobody read: the log was rotated more than once
// between two looks, or while mqttdiag was down. Only path's directory is
// looked in: files moved elsewhere (logrotate's olddir) are not found.
// Without birth times (a filesystem without statx) they cannot be told
// from older rotated files, and are not read.
//
// With copies, the files looked for are the copies of later
// copytruncates (born after the file path names now), and a file there
// may be the copy of that very file that logrotate is still making (it
// creates the copy, fills it, then truncates): one with no complete first
// line yet is left for a later look, since no line of it could be emitted
// yet, and so is one that starts like what a followed file holds; neither
// is marked seen. A missed copy holding less than a line is thus never
// read: it could only have given an unterminated last line. Copies of
// streams read in this run are never read again (copyOf).
func (s *fileSet) catchUp(ctx context.Context, path string, after, before int64, copies bool) (last int64) {
	if after == 0 || before == 0 {
		return 0
	}
	dir, base := filepath.Split(path)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var missed []*file
	for _, ent := range ents {
		p := filepath.Join(dir, ent.Name())
		if !ent.Type().IsRegular() || !rotatedName(ent.Name(), base) || excluded(p, defaultSkip) {
			continue
		}
		fd, err := os.Open(p)
		if err != nil {
			continue
		}
		fi, err := fd.Stat()
		id := fileID{}
		if err == nil {
			id = statID(fi)
			id.btime = birthTime(fd)
		}
		fp, ferr := readFingerprint(fd, false)
		if err != nil || ferr != nil || id.btime < after || id.btime > before || s.byInode(id) != nil || s.inState(id) || s.seen[fileID{dev: id.dev, ino: id.ino}] {
			fd.Close()
			continue
		}
		if k := s.copyOf(fp, id); k == copyOfFollowed || k == copyOfEnded || copies && k == copyUnknown {
			fd.Close()
			continue
		}
		missed = append(missed, &file{id: id, path: p, f: fd, fp: fp, lastSize: fi.Size(), lastMod: fi.ModTime()})
	}
	// Birth times are only as fine as the kernel's coarse clock (a few
	// ms): files born in the same tick are taken in inode order.
	sort.Slice(missed, func(i, j int) bool {
		a, b := missed[i].id, missed[j].id
		return a.btime < b.btime || a.btime == b.btime && a.ino < b.ino
	})
	for _, f := range missed {
		s.o.log.Info().Str("file", path).Str("found_as", f.path).Msg("found a log file rotated away before it was read; reading it first")
		s.add(f, path, 0, 0, "", false)
		s.readFile(ctx, f, false, -1)
		last = f.id.btime
	}
	return last
}

// rotatedName reports whether name may be a rotated copy of the log
// named base: base followed by one of the separators logrotate puts
// before its suffix, '.' (mosquitto.log.1), '-' (dateext, the default on
// RHEL and Fedora: mosquitto.log-20250101) or '_' (dateformat _%Y%m%d),
// and something after it. The name alone proves nothing: catchUp reads
// such a file only when its birth time falls between the files it was
// rotated from and to, and no followed file or stream of this run starts
// like it.
func rotatedName(name, base string) bool {
	return len(name) > len(base)+1 && strings.HasPrefix(name, base) && strings.IndexByte(".-_", name[len(base)]) >= 0
}

// inState reports whether the state file has a checkpoint for the file.
func (s *fileSet) inState(id fileID) bool {
	if s.prev == nil {
		return false
	}
	for _, e := range s.prev.Files {
		if e.id().same(id) {
			return true
		}
	}
	return false
}

// entry is the state entry of f's current stream at the given position.
func (f *file) entry(offset, line int64, stream string) stateEntry {
	return stateEntry{Path: f.path, Dev: f.id.dev, Inode: f.id.ino, Btime: f.id.btime,
		Fingerprint: f.fp.String(), FingerprintBytes: f.fp.n, Generation: f.gen,
		Stream: stream, Offset: offset, Line: line}
}

// claim finds the state entry of the file open as fd. replaced reports
// that the entry is for the same file (device and inode, birth time) but
// its content was replaced since: its fingerprint no longer matches, or
// the file is shorter than the checkpoint.
func (s *fileSet) claim(id fileID, fd *os.File, size int64) (e *stateEntry, replaced bool) {
	if s.prev == nil {
		return nil, false
	}
	var best, newest int = -1, -1
	for i := range s.prev.Files {
		c := &s.prev.Files[i]
		if s.claimed[i] || !c.id().same(id) {
			continue
		}
		if newest < 0 || c.Generation > s.prev.Files[newest].Generation {
			newest = i
		}
		fp, _ := parseFingerprint(c.Fingerprint, c.FingerprintBytes)
		if ok, err := fp.matches(fd); err == nil && ok && c.Offset <= size {
			if best < 0 || c.Generation > s.prev.Files[best].Generation {
				best = i
			}
		}
	}
	if best >= 0 {
		s.claimed[best] = true
		return &s.prev.Files[best], false
	}
	if newest >= 0 {
		s.claimed[newest] = true
		return &s.prev.Files[newest], true
	}
	return nil, false
}

// newSinceLastRun reports whether a file found at start appeared while
// mqttdiag was down: the last run followed the input it is under, yet the
// state file does not know it. Such a file is read from its beginning.
func (s *fileSet) newSinceLastRun(path string) bool {
	if s.prev == nil {
		return false
	}
	for _, in := range s.inputs {
		if !slices.Contains(s.prev.Inputs, in.arg) {
			continue
		}
		if slices.Contains(in.candidates(s.o.exclude), path) {
			return true
		}
	}
	return false
}

// copyKind is what a file is to the content streams of this run, told by
// its first line (fingerprint).
type copyKind int

const (
	notACopy copyKind = iota
	// copyUnknown: no first line yet, so it cannot be told. A copy that
	// copytruncate is making looks like this until its first newline.
	copyUnknown
	// copyOfFollowed: a copy of what a followed file reads, or holds now
	// (its stream changed before we looked: a truncation not seen yet, or
	// a first line completed since).
	copyOfFollowed
	// copyOfEnded: a copy of a stream read in this run that no file is
	// read as any more.
	copyOfEnded
)

// copyOf tells what a file other than id whose fingerprint is fp is.
func (s *fileSet) copyOf(fp fingerprint, id fileID) copyKind {
	if !fp.known() {
		return copyUnknown
	}
	for _, f := range s.files {
		if f.id.sameInode(id) {
			continue
		}
		if f.fp == fp {
			return copyOfFollowed
		}
		if ok, err := fp.matches(f.f); err == nil && ok {
			return copyOfFollowed
		}
	}
	if s.ended[fp] {
		return copyOfEnded
	}
	return notACopy
}

// doneWith reports whether a file let go of in this run, or a copy read
// to its end, is the file id.
func (s *fileSet) doneWith(id fileID) bool {
	d, ok := s.done[fileID{dev: id.dev, ino: id.ino}]
	return ok && d.id().same(id)
}

// startAtEnd finds where "only new lines" begins: after the last newline.
// An unterminated last line is being written now and is read once its
// newline arrives. When that partial line is longer than the line limit,
// the reader starts at the end and skips to the next newline (skip), as
// the line began before us.
func startAtEnd(fd *os.File, size int64, maxLine int) (start, lines int64, skip bool, err error) {
	win := int64(maxLine) + 1
	from := max(0, size-win)
	buf := make([]byte, size-from)
	if _, err := fd.ReadAt(buf, from); err != nil && err != io.EOF {
		return 0, 0, false, err
	}
	if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
		start = from + int64(i) + 1
	} else if from == 0 {
		start = 0
	} else {
		start, skip = size, true
	}
	lines, err = countLines(fd, start)
	return start, lines, skip, err
}

// countLines counts newlines in the first n bytes of file.
func countLines(file io.ReaderAt, n int64) (int64, error) {
	buf := make([]byte, 256<<10)
	var lines int64
	r := io.NewSectionReader(file, 0, n)
	for {
		k, err := r.Read(buf)
		lines += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if err == io.EOF {
			return lines, nil
		}
		if err != nil {
			return lines, err
		}
	}
}

// readAll gives every open file a round of reading. more reports that a
// file has more to read than a round allows.
func (s *fileSet) readAll(ctx context.Context) (more bool) {
	for _, f := range slices.Clone(s.files) {
		if ctx.Err() != nil {
			return false
		}
		m := s.readFile(ctx, f, false, roundBytes)
		if f.names == 0 && !m {
			s.letGo(ctx, f)
		}
		more = more || m
	}
	return more
}

// readFile reads f's new complete lines (with atEOF, its unterminated last
// line too), up to budget bytes (-1: all), checking first whether the file
// was truncated. more reports that the budget ran out.
func (s *fileSet) readFile(ctx context.Context, f *file, atEOF bool, budget int64) (more bool) {
	// Finishing a truncated stream from its copy can take long (the
	// sinks are slow): the file may have been truncated again meanwhile,
	// and what it holds now is not the generation fingerprinted when the
	// truncation was seen. Look again before reading it.
	for i := 0; ; i++ {
		ok, truncated := s.check(ctx, f)
		if !ok {
			return false
		}
		if !truncated || i == 3 || ctx.Err() != nil {
			break
		}
	}
	start := f.r.pos
	for budget < 0 || f.r.pos-start < budget {
		l, ok := f.lr.line()
		if !ok {
			n, err := f.lr.fill()
			if n > 0 {
				continue
			}
			if err != nil && err != io.EOF {
				s.report(f.path, err, "cannot read log file; retrying every second")
				break
			}
			if atEOF {
				if l, ok = f.lr.flush(); !ok {
					break
				}
			} else {
				break
			}
		}
		if !s.emit(ctx, f, l) {
			return false
		}
	}
	if !f.e.flush(ctx) {
		return false
	}
	if f.r.pos > start {
		f.idleSince = time.Time{}
	}
	if f.r.pos != f.tailAt {
		f.markTail()
	}
	return budget >= 0 && f.r.pos-start >= budget
}

// check looks at f before a read: whether it was truncated (then the rest
// of its old stream is read from a copy, and truncated says so) and
// whether copies of copytruncates missed in it are beside it. ok is
// false when the file cannot be looked at now.
func (s *fileSet) check(ctx context.Context, f *file) (ok, truncated bool) {
	fi, err := f.f.Stat()
	if err != nil {
		s.report(f.path, err, "cannot stat open log file; retrying every second")
		return false, false
	}
	size, mod := fi.Size(), fi.ModTime()
	if size == f.lastSize && mod.Equal(f.lastMod) {
		return true, false
	}
	// A file created or renamed beside it may be the copy of a
	// copytruncate we did not see in the file.
	copies := false
	if f.names > 0 {
		if d, err := os.Stat(filepath.Dir(f.path)); err == nil && !d.ModTime().Equal(f.dirMod) {
			f.dirMod = d.ModTime()
			copies = true
		}
	}
	// The size check alone misses a file truncated and written past
	// the old size before we look (nxadm/tail v1.4.11 only compares
	// sizes, watch/inotify.go:123-129, and loses the new first bytes);
	// the fingerprint of its first bytes catches that, and when the
	// new content starts with the same first line (a broker restarted
	// within the same second), the bytes just before where it was
	// read to, which a growing file never changes.
	fpChanged := func() bool {
		ok, err := f.fp.matches(f.f)
		return err == nil && !ok
	}
	switch {
	case size < f.r.pos || size < f.lastSize: // files shrink only by truncation
		// truncated looks for later copies itself, after the rest
		// of the stream was read from its copy: they come after it.
		s.truncated(ctx, f, f.lastSize)
		copies, truncated = false, true
	case f.fp.known() && fpChanged(), f.tailChanged():
		s.truncated(ctx, f, f.lastSize)
		copies, truncated = false, true
	case !f.fp.known() && size == f.lastSize && size <= f.r.pos:
		// Written and emptied again between two looks, before we saw
		// a line of it (or only touched): what was written can only
		// be in a copy made meanwhile.
		copies = true
	}
	if copies {
		s.laterCopies(ctx, f, 0)
	}
	f.lastSize, f.lastMod = size, mod
	if !f.fp.known() {
		f.head, _ = readHead(f.f)
		if fp, err := readFingerprint(f.f, false); err == nil && fp.known() {
			f.fp = fp
			if f.e.tr != nil {
				f.e.tr.update(func(e *stateEntry) { e.Fingerprint, e.FingerprintBytes = fp.String(), fp.n })
			}
		}
	}
	return true, truncated
}

// emit adds a line to f's batch, sending it when full; false when ctx
// ended.
func (s *fileSet) emit(ctx context.Context, f *file, l rawLine) bool {
	if l.skipped {
		f.e.num++
		if f.e.tr != nil {
			if !f.e.flush(ctx) {
				return false
			}
			f.e.tr.skipped(l.end, f.e.num)
		}
		return true
	}
	if f.e.stream == "" {
		s.startStream(f)
	}
	f.e.add(l)
	return !f.e.full() || f.e.flush(ctx)
}

// startStream fixes the id of f's content stream, at its first line, and
// puts it on disk before the line leaves: a diagnosis made from it must
// get the same id if the line is read again after a crash.
func (s *fileSet) startStream(f *file) {
	if !f.fp.known() {
		f.fp, _ = readFingerprint(f.f, true)
	}
	id := streamID(f.id, f.gen, f.fp)
	f.e.stream = id
	if f.e.tr == nil {
		return
	}
	fp := f.fp
	f.e.tr.update(func(e *stateEntry) {
		e.Stream, e.Fingerprint, e.FingerprintBytes = id, fp.String(), fp.n
	})
	if err := s.cp.save(); err != nil {
		s.o.log.Error().Err(err).Msg("cannot save checkpoints; will retry")
	}
}

// truncated handles a file whose content was replaced in place
// (copytruncate, or an EMQX wrap log reusing a member): the rest of the
// old stream is read from its copy when one is found beside it, then the
// file is read again from its beginning as a new stream.
func (s *fileSet) truncated(ctx context.Context, f *file, oldSize int64) {
	from := f.lr.offset()
	s.o.log.Info().Str("file", f.path).Int64("offset", from).Msg("log file was truncated; reading from its beginning")
	f.e.flush(ctx)
	if !f.fp.known() {
		f.fp = f.head // no first line seen; its first bytes still find a copy
	}
	if f.e.stream == "" && f.fp.known() {
		// Nothing emitted yet, but the content is known by its first
		// bytes: its copy can still be found.
		s.startStream(f)
	}
	old, oldEntry, unread := f.e, f.entry(from, f.e.num, f.e.stream), oldSize > from || f.lr.pos() > from
	if f.fp.known() {
		// Its copies, the one read from below and any other, are copies
		// of what was read, not copies of copytruncates we missed.
		s.ended[f.fp] = true
	}
	s.epoch++
	// The new generation first, with the fingerprint of what the file
	// holds now: should it be truncated again while the old stream is
	// finished from its copy, the next look sees it.
	f.gen++
	f.fp, _ = readFingerprint(f.f, false)
	f.head, _ = readHead(f.f)
	f.r = &posReader{r: f.f}
	f.tail, f.tailAt = fingerprint{}, 0
	f.lr = newLineReader(f.r, 0, s.o.maxLineBytes)
	f.e = &emitter{source: f.path, seq: old.seq, limit: s.o.batchLines, blimit: s.o.batchBytes, out: s.out, ctr: s.t.counters(f.path), pool: &s.t.pool}
	if s.cp != nil {
		f.e.tr = s.cp.newTrack(f.entry(0, 0, ""))
	}
	var born int64
	if oldEntry.FingerprintBytes > 0 && old.stream != "" {
		born = s.finishFromCopyWith(ctx, oldEntry, filepath.Dir(f.path), f.id, old, unread)
	} else if unread {
		s.o.log.Warn().Str("file", f.path).Int64("offset", from).Int64("size", oldSize).
			Msg("the log file was truncated before it was read to its end: lines after this offset were not read")
	}
	if old.tr != nil {
		old.tr.retire()
	}
	s.laterCopies(ctx, f, born)
}

// laterCopies reads copies of f made by later copytruncates that we never
// saw in f: the file was copied and truncated more than once between two
// looks (the sinks were slow, or mqttdiag was busy elsewhere). They are
// the files named like f plus a suffix (rotatedName) born after the last
// copy read.
func (s *fileSet) laterCopies(ctx context.Context, f *file, born int64) {
	f.copyBorn = max(f.copyBorn, f.id.btime, born)
	if b := s.catchUp(ctx, f.path, f.copyBorn, math.MaxInt64, true); b > 0 {
		f.copyBorn = b
	}
}

// finishFromCopy reads the rest of the stream of state entry e from a
// copy of it found in dir, with an emitter of its own.
func (s *fileSet) finishFromCopy(ctx context.Context, e stateEntry, dir string, exclude fileID) (born int64) {
	fp, _ := parseFingerprint(e.Fingerprint, e.FingerprintBytes)
	if !fp.known() {
		return 0 // nothing of it was read, and nothing tells its copy
	}
	s.ended[fp] = true // its copies are copies of what was read
	if e.Stream == "" {
		e.Stream = streamID(e.id(), e.Generation, fp)
	}
	em := &emitter{source: e.Path, stream: e.Stream, seq: s.seqOf(e.Path), num: e.Line,
		limit: s.o.batchLines, blimit: s.o.batchBytes, out: s.out, ctr: s.t.counters(e.Path), pool: &s.t.pool}
	if s.cp != nil {
		em.tr = s.cp.newTrack(e)
		defer em.tr.retire()
	}
	return s.finishFromCopyWith(ctx, e, dir, exclude, em, true)
}

// finishFromCopyWith reads the stream of e from its offset to the end of
// a copy: a file in dir, other than exclude, that starts with the same
// bytes (fingerprint) and is at least as long as the offset. logrotate's
// copytruncate copies the file, then truncates it: lines we had not read
// yet are in the copy (mosquitto.log.1 with delaycompress).
func (s *fileSet) finishFromCopyWith(ctx context.Context, e stateEntry, dir string, exclude fileID, em *emitter, unread bool) (born int64) {
	fp, _ := parseFingerprint(e.Fingerprint, e.FingerprintBytes)
	c, cpath := findFile(dir, e.Offset, func(fd *os.File, id fileID) bool {
		if id.sameInode(exclude) {
			return false
		}
		ok, err := fp.matches(fd)
		return err == nil && ok
	})
	if c == nil {
		if unread {
			s.o.log.Warn().Str("file", e.Path).Int64("offset", e.Offset).
				Msg("the log file was truncated or rotated away before it was read to its end, and no copy of it was found beside it: lines after this offset, if there were any, were not read")
		}
		return 0
	}
	defer c.Close()
	var cid fileID
	if fi, err := c.Stat(); err == nil {
		cid = statID(fi)
		s.seen[cid] = true
		born = birthTime(c)
		cid.btime = born
	}
	s.o.log.Info().Str("file", e.Path).Str("copy", cpath).Int64("offset", e.Offset).Msg("reading the rest of the truncated log file from its copy")
	lr := newLineReader(&posReader{r: c, pos: e.Offset}, e.Offset, s.o.maxLineBytes)
	cf := &file{id: e.id(), gen: e.Generation, f: c, fp: fp, e: em}
	for {
		l, err := lr.next(true)
		if err != nil {
			if err != errNoLine {
				s.report(cpath, err, "cannot read the copy of a truncated log file")
			}
			break
		}
		if !s.emit(ctx, cf, l) {
			return born
		}
	}
	if em.flush(ctx) {
		s.o.log.Info().Str("file", e.Path).Str("copy", cpath).Int64("offset", lr.offset()).Msg("finished the truncated log file from its copy")
		if cid != (fileID{}) {
			// Should a glob follow the copy, it starts where this ended.
			d := e
			d.Path, d.Dev, d.Inode, d.Btime = cpath, cid.dev, cid.ino, cid.btime
			d.Offset, d.Line = lr.offset(), em.num
			s.done[fileID{dev: cid.dev, ino: cid.ino}] = d
		}
	}
	return born
}

// findFile returns the first regular file in dir, at least minSize bytes
// long, for which ok says yes, opened.
func findFile(dir string, minSize int64, ok func(*os.File, fileID) bool) (*os.File, string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, ""
	}
	for _, ent := range ents {
		if !ent.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, ent.Name())
		fd, err := os.Open(p)
		if err != nil {
			continue
		}
		fi, err := fd.Stat()
		if err == nil && fi.Size() >= minSize {
			id := statID(fi)
			id.btime = birthTime(fd)
			if ok(fd, id) {
				return fd, p
			}
		}
		fd.Close()
	}
	return nil, ""
}

// letGo closes a file no input names any more once it is finished: read to
// its end and either no process has it open for writing, or it has not
// grown for RotateWait. Until then it is read like any other, because
// Mosquitto keeps writing to a renamed log until it reopens its log on
// SIGHUP, and logrotate may send that signal after renaming.
func (s *fileSet) letGo(ctx context.Context, f *file) {
	now := s.o.clock.Now()
	if f.idleSince.IsZero() {
		f.idleSince = now
	}
	gone, known := false, false
	if s.o.poll == 0 { // a lease sees local writers only: not on NFS
		gone, known = writerGone(f.f)
	}
	if !gone && (known || now.Sub(f.idleSince) < s.o.rotateWait) {
		return
	}
	// Whatever the writer wrote before it let go is there now.
	s.readFile(ctx, f, true, -1)
	if ctx.Err() != nil {
		return
	}
	s.closeFile(f)
	reason := "no process has it open for writing"
	if !gone {
		reason = "it has not grown for " + s.o.rotateWait.String()
	}
	s.o.log.Info().Str("file", f.path).Int64("offset", f.lr.offset()).Str("reason", reason).Msg("finished rotated log file")
}

func (s *fileSet) closeFile(f *file) {
	s.done[fileID{dev: f.id.dev, ino: f.id.ino}] = f.entry(f.lr.offset(), f.e.num, f.e.stream)
	if f.fp.known() {
		s.ended[f.fp] = true
	}
	s.epoch++
	if f.e.tr != nil {
		f.e.tr.retire()
	}
	f.f.Close()
	s.files = slices.DeleteFunc(s.files, func(g *file) bool { return g == f })
}

func (s *fileSet) closeAll() {
	for _, f := range s.files {
		f.f.Close()
	}
	s.files = nil
}

// recoverRotated finishes, before anything else, the files of the state
// file that were rotated while mqttdiag was down: a checkpoint whose file
// is no longer at its path is looked for beside it by identity (device,
// inode, birth time and fingerprint), and read from the checkpoint on. It
// stays open as a rotated file (see letGo).
func (s *fileSet) recoverRotated(ctx context.Context) {
	if s.prev == nil {
		return
	}
	for i := range s.prev.Files {
		e := s.prev.Files[i]
		fi, serr := s.o.stat(e.Path)
		if serr == nil && statID(fi).sameInode(e.id()) {
			if s.newerGeneration(e) {
				// An older content stream of a file truncated since:
				// its rest can only be in a copy.
				s.claimed[i] = true
				s.finishFromCopy(ctx, e, filepath.Dir(e.Path), e.id())
			}
			continue // still there; open claims it
		}
		fp, _ := parseFingerprint(e.Fingerprint, e.FingerprintBytes)
		fd, p := findFile(filepath.Dir(e.Path), e.Offset, func(fd *os.File, id fileID) bool {
			ok, err := fp.matches(fd)
			return id.same(e.id()) && err == nil && ok && s.byInode(id) == nil
		})
		if fd == nil {
			if e.Stream != "" {
				// Renamed and then compressed or deleted while we were
				// down, or a copy taken by copytruncate.
				s.claimed[i] = true
				s.finishFromCopy(ctx, e, filepath.Dir(e.Path), fileID{})
			} else if serr == nil || errors.Is(serr, fs.ErrNotExist) {
				// No line of it was read, but some may have been
				// written after the checkpoint before it went.
				s.claimed[i] = true
				s.o.log.Warn().Str("file", e.Path).Int64("offset", e.Offset).
					Msg("the log file was rotated away while mqttdiag was down and was not found beside it (moved to another directory, compressed or deleted): lines after this offset, if there were any, were not read")
			}
			continue
		}
		s.claimed[i] = true
		fi, err := fd.Stat()
		if err != nil {
			fd.Close()
			continue
		}
		f := &file{id: e.id(), path: p, f: fd, fp: fp, gen: e.Generation, lastSize: fi.Size(), lastMod: fi.ModTime()}
		f.id.btime = birthTime(fd)
		s.add(f, e.Path, e.Offset, e.Line, e.Stream, false)
		s.o.log.Info().Str("file", e.Path).Str("found_as", p).Int64("offset", e.Offset).Msg("rotated log file found by identity; finishing it first")
		s.readFile(ctx, f, false, -1)
	}
}

// newerGeneration reports whether the state holds a later generation of
// e's file.
func (s *fileSet) newerGeneration(e stateEntry) bool {
	for _, o := range s.prev.Files {
		if o.id().same(e.id()) && o.Generation > e.Generation {
			return true
		}
	}
	return false
}

// readOnce reads every file of the inputs from its beginning to its end,
// once (scan).
func (s *fileSet) readOnce(ctx context.Context) error {
	var errs []error
	for _, in := range s.inputs {
		cands := in.candidates(s.o.exclude)
		if len(cands) == 0 && in.kind != inputFile {
			errs = append(errs, fmt.Errorf("%s: no files match", in.arg))
		}
		for _, p := range cands {
			if err := s.readWhole(ctx, p); err != nil {
				errs = append(errs, err)
			}
			if ctx.Err() != nil {
				return nil
			}
		}
	}
	return errors.Join(errs...)
}

func (s *fileSet) readWhole(ctx context.Context, path string) error {
	fd, err := s.o.open(path)
	if err != nil {
		return fmt.Errorf("open log file: %w", err)
	}
	defer fd.Close()
	fi, err := fd.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory; give the log files, the directory without a trailing glob, or a glob", path)
	}
	id := statID(fi)
	id.btime = birthTime(fd)
	f := &file{id: id, path: path, f: fd, lastSize: fi.Size(), lastMod: fi.ModTime()}
	f.r = &posReader{r: fd}
	f.lr = newLineReader(f.r, 0, s.o.maxLineBytes)
	f.e = &emitter{source: path, seq: s.seqOf(path), limit: s.o.batchLines, blimit: s.o.batchBytes, out: s.out, ctr: s.t.counters(path), pool: &s.t.pool}
	for ctx.Err() == nil {
		l, err := f.lr.next(true)
		if err == errNoLine {
			break
		}
		if err != nil {
			f.e.flush(ctx)
			return fmt.Errorf("read %s: %w", path, err)
		}
		if !s.emit(ctx, f, l) {
			return nil
		}
	}
	f.e.flush(ctx)
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
