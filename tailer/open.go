package tailer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// open starts following the file at path and says whether it did.
// mayBeCopy says that path is not the log named on the command line but
// a file a glob or a directory matches, which may be a copy of a followed
// file made by copytruncate (the glob 'mosquitto.log*').
func (s *fileSet) open(ctx context.Context, path string, initial, mayBeCopy bool) bool {
	f, fi, ok := s.openAt(path)
	if !ok {
		return false
	}
	kind, ended := s.copyOf(candidate{f: f.f, id: f.id, size: f.lastSize, fp: f.fp}, nil)
	if mayBeCopy && !s.h.inState(f.id) && !s.h.doneWith(f.id) &&
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
		f.f.Close()
		return false
	}
	delete(s.deferred, path)
	at, err := s.startOf(ctx, f, kind, ended, initial)
	if err != nil {
		f.f.Close()
		s.say.problem(path, err, "cannot read log file; retrying every second")
		return false
	}
	if at.claimed == nil {
		// The path named another file before (a rotation now, or while
		// we were down): files rotated away in between, unseen, come
		// first.
		s.h.markSeen(f.id) // not a missed one
		s.catchUp(ctx, path, f.logPath(), s.h.bornBefore(path), f.id.btime, nil)
	}
	delete(s.h.born, path)
	s.add(f, path, at.offset, at.lines, at.stream, at.skip)
	s.named[path] = f
	s.o.log.Debug().Str("file", path).Int64("offset", at.offset).Str("stream", at.stream).Msg("following")
	switch {
	case at.replaced:
		s.laterCopies(ctx, f, f.copyBorn) // copytruncated more than once while down
	case initial || at.claimed != nil:
		// Copies made before now were read before, or are older than
		// where we start.
		f.copyBorn = max(f.id.btime, time.Now().UnixNano())
	default:
		// A file that appeared while we run may have been copied and
		// truncated already, before we could open it.
		s.laterCopies(ctx, f, 0)
	}
	return true
}

// openAt opens the file at path, not followed yet, with its identity and
// fingerprint; false when it cannot (said) or is followed already.
func (s *fileSet) openAt(path string) (*file, fs.FileInfo, bool) {
	fd, err := s.o.open(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.say.problem(path, err, "cannot open log file; retrying every second")
		}
		return nil, nil, false
	}
	fi, err := fd.Stat()
	if err != nil {
		fd.Close()
		s.say.problem(path, err, "cannot stat log file; retrying every second")
		return nil, nil, false
	}
	id := statID(fi)
	if s.byInode(id) != nil {
		fd.Close() // renamed between stat and open; the next look sorts it out
		return nil, nil, false
	}
	id.btime = birthTime(fd)
	fp, err := readFingerprint(fd, false)
	if err != nil {
		fd.Close()
		s.say.problem(path, err, "cannot read log file; retrying every second")
		return nil, nil, false
	}
	f := &file{id: id, path: path, names: 1, f: fd, content: content{fp: fp}, lastSize: fi.Size(), lastMod: fi.ModTime()}
	f.head, _ = readHead(fd)
	s.locate(f)
	return f, fi, true
}

// startPoint is where a file opened at an input path is read from.
type startPoint struct {
	offset, lines int64
	stream        string
	skip          bool // the reader starts inside a line: skip to its end
	// claimed is the checkpoint the file resumes from, if any; replaced
	// says the file's content was replaced since (truncated while down).
	claimed  *stateEntry
	replaced bool
}

// startOf decides where f is read from: its checkpoint, where the stream
// it holds was read to (it is the copy of an ended stream, or the file of
// one found again: it goes on under that stream), its end (only new
// lines), or its beginning.
func (s *fileSet) startOf(ctx context.Context, f *file, kind copyKind, ended stateEntry, initial bool) (startPoint, error) {
	size := f.lastSize
	var at startPoint
	var err error
	at.claimed, at.replaced = s.h.claim(f.id, f.f, size)
	if at.claimed == nil && kind == copyOfEnded && ended.Offset <= size {
		at.claimed = &ended
	}
	e := at.claimed
	switch {
	case e != nil && !at.replaced:
		at.offset, at.lines, at.stream, f.gen = e.Offset, e.Line, e.Stream, e.Generation
		if c := e.content(); c.fp.known() {
			f.content = c
		}
		s.o.log.Info().Str("file", f.path).Int64("offset", at.offset).Msg("resuming from checkpoint")
	case e != nil:
		// Same file, other content: truncated (copytruncate) while we
		// were down. Finish the old stream from its copy, if there is one.
		s.o.log.Info().Str("file", f.path).Int64("offset", e.Offset).Msg("log file was truncated while mqttdiag was down; reading it from its beginning")
		f.copyBorn = s.finishFromCopy(ctx, *e, filepath.Dir(f.logPath()), f.id)
		f.gen = e.Generation + 1
	case kind == copyOfFollowed:
		// The log named on the command line holds what a followed file
		// holds: that file reads it.
		at.offset, at.lines, at.skip, err = startAtEnd(f.f, size, s.o.maxLineBytes)
	case kind == copyOfEnded:
		// A copy of an ended stream, shorter than where that stream was
		// read to (the copy a copytruncate made, then lines written
		// before the truncation): all of it was read.
		at.offset = size
		at.lines, err = countLines(f.f, size)
	case initial && !s.newSinceLastRun(f.path) && !s.o.fromBeginning:
		at.offset, at.lines, at.skip, err = startAtEnd(f.f, size, s.o.maxLineBytes)
	}
	return at, err
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
