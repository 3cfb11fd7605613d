package tailer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"time"
)

// Per file and round, read at most this much before giving the other
// files a turn: the smaller, the sooner a rotation is seen while the sinks
// are slow.
const roundBytes = 256 << 10

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
			if n > 0 && f.changed() {
				// Truncated and written again past where this round
				// reads since it began (it waited on slow sinks): what
				// was just read is the new content at old offsets. None
				// of it was emitted; the rest of the old stream is in
				// the copy, from the first byte not emitted.
				s.truncated(ctx, f, f.lastSize)
				return true
			}
			if n > 0 {
				continue
			}
			if err != nil && err != io.EOF {
				s.say.problem(f.path, err, "cannot read log file; retrying every second")
				break
			}
			if !atEOF {
				break
			}
			if l, ok = f.lr.flush(); !ok {
				break
			}
		}
		if !s.emit(ctx, f, l) {
			return false
		}
		s.roundLines++
	}
	if !f.e.flush(ctx) {
		return false
	}
	if f.r.pos > start {
		f.idleSince = time.Time{}
	}
	if f.r.pos != f.tailAt {
		f.markTail(f.lr.recent())
		s.noteContent(f)
	}
	f.lr.release()
	return budget >= 0 && f.r.pos-start >= budget
}

// check looks at f before a read: whether it was truncated (then the rest
// of its old stream is read from a copy, and truncated says so) and
// whether copies of copytruncates missed in it are beside it. ok is
// false when the file cannot be looked at now.
func (s *fileSet) check(ctx context.Context, f *file) (ok, truncated bool) {
	fi, err := f.f.Stat()
	if err != nil {
		s.say.problem(f.path, err, "cannot stat open log file; retrying every second")
		return false, false
	}
	size, mod := fi.Size(), fi.ModTime()
	if size == f.lastSize && mod.Equal(f.lastMod) {
		return true, false
	}
	// A file created or renamed beside it may be the copy of a
	// copytruncate we did not see in the file. So may one made while its
	// first line is not known: what it holds now may be a later generation
	// than the one seen empty, the one in between only in a copy. The
	// directory's modification time cannot tell alone: the kernel's coarse
	// clock gives changes a few milliseconds apart the same time.
	copies := f.names > 0 && !f.fp.known()
	if f.names > 0 {
		if d, err := s.o.stat(filepath.Dir(f.logPath())); err == nil && !d.ModTime().Equal(f.dirMod) {
			f.dirMod = d.ModTime()
			copies = true
		}
	}
	// A size check alone misses a file truncated and written past the
	// old size before we look; the fingerprint of its first bytes catches
	// that, and when the new content starts with the same first line (a
	// broker restarted within the same second), the bytes just before
	// where it was read to, which a growing file never changes.
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
			s.setFP(f, fp)
			s.noteContent(f)
			s.fixStream(f)
		}
	}
	return true, truncated
}

// changed reports that the file no longer holds the stream's first line,
// or the bytes before where it was read to when last marked.
func (f *file) changed() bool {
	if ok, err := f.fp.matches(f.f); err == nil && !ok {
		return true
	}
	return f.tailChanged()
}

// tailBytes is how many bytes before the read position are checked.
const tailBytes = 64

// markTail fingerprints the bytes just before the read position, and
// the first bytes, up to prefixBytes, while they grow: from read, the
// stream's bytes just before the read position as the reader read them,
// where it holds them. Bytes read again from the file are kept only if
// the file still holds what was read: at a high rate a file can be
// truncated and written past the read position between the last read
// and now, and a tail or prefix of the next generation makes its copy
// look like a file never read.
func (f *file) markTail(read []byte) {
	pos := f.r.pos
	from := pos - int64(len(read)) // read holds [from, pos)
	still := func(b []byte, off int64) bool {
		// the overlap of b (at off) with read must be equal
		lo, hi := max(off, from), min(off+int64(len(b)), pos)
		return lo >= hi || bytes.Equal(b[lo-off:hi-off], read[lo-from:hi-from])
	}
	var prefix, tail fingerprint
	if n := min(pos, prefixBytes); n > int64(f.prefix.n) {
		buf := make([]byte, n)
		if k, _ := f.f.ReadAt(buf, 0); int64(k) < n || !still(buf, 0) {
			return
		}
		prefix = fingerprint{n: int(n), sum: sum64(buf)}
	}
	if n := min(int64(tailBytes), pos); n > 0 {
		var buf [tailBytes]byte
		if k, _ := f.f.ReadAt(buf[:n], pos-n); int64(k) < n || !still(buf[:n], pos-n) {
			return
		}
		tail = fingerprint{n: int(n), sum: sum64(buf[:n])}
	}
	if ok, err := f.fp.matches(f.f); err != nil || !ok {
		return // changed since: the next look sees it
	}
	if prefix.known() {
		f.prefix = prefix
	}
	f.tail, f.tailAt = tail, pos
}

// noteContent puts what f's stream is known by in its checkpoint.
func (s *fileSet) noteContent(f *file) {
	if f.e.tr != nil {
		c := f.content
		f.e.tr.update(func(e *stateEntry) { e.setContent(c) })
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

// startStream fixes the id of f's content stream at its first line, when
// fixStream could not before (the file holds only an unterminated line,
// read as it is finished).
func (s *fileSet) startStream(f *file) {
	if !f.fp.known() {
		fp, _ := readFingerprint(f.f, true)
		s.setFP(f, fp)
	}
	s.fixStream(f)
}

// fixStream fixes the id of f's content stream as soon as its first line
// is known (its fingerprint): the file's identity, its generation and
// that line. The checkpoint keeps it, and the stream's first batch waits
// until it is on disk (emitter.flush), so that a line read again after a
// crash gets the same id.
func (s *fileSet) fixStream(f *file) {
	if f.e.stream != "" || !f.fp.known() {
		return
	}
	f.e.stream = streamID(f.id, f.gen, f.fp)
	if f.e.tr != nil {
		f.e.tr.fix(f.e.stream, f.content)
	}
}

// readOnce reads every file of the inputs from its beginning to its end,
// once (scan).
func (s *fileSet) readOnce(ctx context.Context) error {
	var errs []error
	for _, in := range s.inputs {
		cands, err := in.candidates(s.o)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", in.arg, err))
		}
		if len(cands) == 0 && in.kind != inputFile && err == nil {
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
	f.lr = s.lineReader(f.r, 0)
	f.e = s.emitterFor(path, s.seqOf(path), stateEntry{})
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
	f.lr.release()
	return nil
}
