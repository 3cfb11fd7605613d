package tailer

import (
	"context"
	"io/fs"
	"math"
	"os"
	"path/filepath"
)

// copyKind is what a file is to the content streams read in this run
// and the last, told by its content (content.heldBy): the first line
// alone does not tell a copy from another log that starts alike.
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
	// copyOfEnded: a copy of a stream read to its end that no file is
	// read as any more, or the file itself found again.
	copyOfEnded
)

// candidate is a file that may be a copy: open, with its identity, size
// and the fingerprint of its first line.
type candidate struct {
	f    *os.File
	id   fileID
	size int64
	fp   fingerprint
}

// copyOf tells what c is. like, when not nil, is the followed file whose
// copies are looked for: what it holds now counts too, before the next
// look at it sees that it was truncated. With copyOfEnded it returns the
// ended stream.
func (s *fileSet) copyOf(c candidate, like *file) (copyKind, stateEntry) {
	if !c.fp.known() {
		return copyUnknown, stateEntry{}
	}
	if like != nil && !like.id.sameInode(c.id) {
		if ok, err := c.fp.matches(like.f); err == nil && ok {
			return copyOfFollowed, stateEntry{}
		}
	}
	for _, f := range s.withFP(c.fp) {
		if !f.id.sameInode(c.id) && f.content.heldBy(c.f, c.size, f.f) {
			return copyOfFollowed, stateEntry{}
		}
	}
	for f := range s.noFP {
		// Opened before its first line was complete: what it holds now.
		if ok, err := c.fp.matches(f.f); err == nil && ok && !f.id.sameInode(c.id) {
			return copyOfFollowed, stateEntry{}
		}
	}
	if e, ok := s.h.endedIn(c.fp, c.f, c.size); ok {
		return copyOfEnded, e
	}
	return notACopy, stateEntry{}
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
		s.setFP(f, f.head) // no first line seen; its first bytes still find a copy
	}
	if f.e.stream == "" && f.fp.known() {
		// Nothing emitted yet, but the content is known by its first
		// bytes: its copy can still be found.
		s.startStream(f)
	}
	old, oldEntry, unread := f.e, f.entry(from, f.e.num, f.e.stream), oldSize > from || f.lr.pos() > from
	s.epoch++
	// The new generation first, with the fingerprint of what the file
	// holds now: should it be truncated again while the old stream is
	// finished from its copy, the next look sees it.
	f.gen++
	f.content = content{}
	fp, _ := readFingerprint(f.f, false)
	s.setFP(f, fp)
	f.head, _ = readHead(f.f)
	f.r = &posReader{r: f.f}
	f.lr = s.lineReader(f.r, 0)
	f.e = s.emitterFor(f.path, old.seq, f.entry(0, 0, ""))
	s.fixStream(f)
	var born int64
	end, ended := oldEntry, true
	if oldEntry.fingerprint().known() && old.stream != "" {
		born, end, ended = s.finishFromCopyWith(ctx, oldEntry, filepath.Dir(f.logPath()), f.id, old, unread)
	} else if unread {
		s.o.log.Warn().Str("file", f.path).Int64("offset", from).Int64("size", oldSize).
			Msg("the log file was truncated before it was read to its end: lines after this offset were not read")
	}
	if ended {
		// Its copies, the one it was finished from and any other, are
		// copies of what was read, not of copytruncates we missed.
		s.finished(end)
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
	if b := s.catchUp(ctx, f.path, f.logPath(), f.copyBorn, math.MaxInt64, f); b > 0 {
		f.copyBorn = b
	}
}

// finishFromCopy reads the rest of the stream of state entry e from a
// copy of it found in dir, with an emitter of its own.
func (s *fileSet) finishFromCopy(ctx context.Context, e stateEntry, dir string, exclude fileID) (born int64) {
	fp := e.fingerprint()
	if !fp.known() {
		return 0 // nothing of it was read, and nothing tells its copy
	}
	if e.Stream == "" {
		e.Stream = streamID(e.id(), e.Generation, fp)
	}
	em := s.emitterFor(e.Path, s.seqOf(e.Path), e)
	if em.tr != nil {
		defer em.tr.retire()
	}
	born, end, ok := s.finishFromCopyWith(ctx, e, dir, exclude, em, true)
	if ok {
		s.finished(end) // its copies are copies of what was read
	}
	return born
}

// finishFromCopyWith reads the stream of e from its offset to the end of
// a copy: a file in dir, other than exclude, that holds the stream
// (content.heldBy) and is at least as long as the offset. logrotate's
// copytruncate copies the file, then truncates it: lines we had not read
// yet are in the copy (mosquitto.log.1 with delaycompress). end is where
// the stream was read to, and at which file; ok is false when ctx ended
// first.
func (s *fileSet) finishFromCopyWith(ctx context.Context, e stateEntry, dir string, exclude fileID, em *emitter, unread bool) (born int64, end stateEntry, ok bool) {
	c, cpath := s.findFile(dir, e.Offset, func(fd *os.File, fi fs.FileInfo, id fileID) bool {
		return !id.sameInode(exclude) && e.content().heldBy(fd, fi.Size(), nil)
	})
	if c == nil {
		if unread {
			s.o.log.Warn().Str("file", e.Path).Int64("offset", e.Offset).
				Msg("the log file was truncated or rotated away before it was read to its end, and no copy of it was found beside it: lines after this offset, if there were any, were not read")
		}
		return 0, e, true
	}
	defer c.Close()
	var cid fileID
	if fi, err := c.Stat(); err == nil {
		cid = statID(fi)
		s.h.markSeen(cid)
		born = birthTime(c)
		cid.btime = born
	}
	if cid == (fileID{}) {
		cid = e.id()
	}
	s.o.log.Info().Str("file", e.Path).Str("copy", cpath).Int64("offset", e.Offset).Msg("reading the rest of the truncated log file from its copy")
	lr := s.lineReader(&posReader{r: c, pos: e.Offset}, e.Offset)
	cf := &file{id: e.id(), gen: e.Generation, f: c, content: e.content(), e: em}
	for {
		l, err := lr.next(true)
		if err != nil {
			if err != errNoLine {
				s.say.problem(cpath, err, "cannot read the copy of a truncated log file")
			}
			break
		}
		if !s.emit(ctx, cf, l) {
			return born, e, false
		}
	}
	if !em.flush(ctx) {
		return born, e, false
	}
	lr.release()
	s.o.log.Info().Str("file", e.Path).Str("copy", cpath).Int64("offset", lr.offset()).Msg("finished the truncated log file from its copy")
	// Should a glob follow the copy, it starts where this ended.
	end = e
	end.Path, end.Dev, end.Inode, end.Btime = cpath, cid.dev, cid.ino, cid.btime
	end.Offset, end.Line = lr.offset(), em.num
	return born, end, true
}

// openIf returns the file at path opened, when it is at least minSize
// bytes long and ok says yes.
func (s *fileSet) openIf(path string, minSize int64, ok func(*os.File, fs.FileInfo, fileID) bool) *os.File {
	fd, fi, id, found := s.openID(path)
	if !found {
		return nil
	}
	if !fi.Mode().IsRegular() || fi.Size() < minSize || !ok(fd, fi, id) {
		fd.Close()
		return nil
	}
	return fd
}

// findFile returns the first regular file in dir, at least minSize bytes
// long, for which ok says yes, opened.
func (s *fileSet) findFile(dir string, minSize int64, ok func(*os.File, fs.FileInfo, fileID) bool) (found *os.File, path string) {
	s.eachFile(dir, func(string) bool { return found == nil }, func(p string, fd *os.File, fi fs.FileInfo, id fileID) bool {
		if fi.Size() < minSize || !ok(fd, fi, id) {
			return false
		}
		found, path = fd, p
		return true
	})
	return found, path
}
