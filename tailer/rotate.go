package tailer

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// recoverRotated finishes, before anything else, the files of the state
// file that no input path names now: rotated while mqttdiag was down, or
// found by a catch-up and stopped before they were finished. A checkpoint
// whose file is no longer at its path is looked for beside it by identity
// (device, inode, birth time and fingerprint); either way the file is
// read from the checkpoint on, and stays open as a rotated file (see
// letGo). Checkpoints of files the inputs name are left for open.
func (s *fileSet) recoverRotated(ctx context.Context) {
	named := make(map[string]bool)
	for _, in := range s.inputs {
		cands, _ := in.candidates(s.o)
		for _, p := range cands {
			named[p] = true
		}
	}
	for i, e := range s.h.entries() {
		// Rotated files and copies are beside the log, which for a path
		// through a symbolic link is beside its target (file.logPath).
		dir := filepath.Dir(s.realPath(e.Path))
		fi, serr := s.o.stat(e.Path)
		here := serr == nil && statID(fi).sameInode(e.id())
		if here && s.h.newerGeneration(e) {
			// An older content stream of a file truncated since: its
			// rest can only be in a copy.
			s.h.claimed[i] = true
			s.finishFromCopy(ctx, e, dir, e.id())
			continue
		}
		if here && named[e.Path] {
			continue // open claims it
		}
		isIt := func(_ *os.File, _ fs.FileInfo, id fileID) bool { return id.same(e.id()) && s.byInode(id) == nil }
		var fd *os.File
		p := e.Path
		if here {
			fd = s.openIf(p, 0, isIt)
		} else {
			fd, p = s.findFile(dir, 0, isIt)
		}
		if fd == nil {
			if e.Stream != "" {
				// Renamed and then compressed or deleted while we were
				// down, or a copy taken by copytruncate.
				s.h.claimed[i] = true
				s.finishFromCopy(ctx, e, dir, fileID{})
			} else if serr == nil || errors.Is(serr, fs.ErrNotExist) {
				// No line of it was read, but some may have been
				// written after the checkpoint before it went.
				s.h.claimed[i] = true
				s.o.log.Warn().Str("file", e.Path).Int64("offset", e.Offset).
					Msg("the log file was rotated away while mqttdiag was down and was not found beside it (moved to another directory, compressed or deleted): lines after this offset, if there were any, were not read")
			}
			continue
		}
		s.h.claimed[i] = true
		fi, err := fd.Stat()
		if err != nil {
			fd.Close()
			continue
		}
		f := &file{id: e.id(), path: p, f: fd, gen: e.Generation, lastSize: fi.Size(), lastMod: fi.ModTime()}
		f.id.btime = birthTime(fd)
		s.locate(f)
		if fi.Size() >= e.Offset && e.content().heldBy(fd, fi.Size(), nil) {
			f.content = e.content()
			s.add(f, e.Path, e.Offset, e.Line, e.Stream, false)
			if here {
				s.o.log.Info().Str("file", e.Path).Int64("offset", e.Offset).Msg("a rotated log file not finished when mqttdiag stopped; finishing it first")
			} else {
				s.o.log.Info().Str("file", e.Path).Str("found_as", p).Int64("offset", e.Offset).Msg("rotated log file found by identity; finishing it first")
			}
			s.readFile(ctx, f, false, -1)
			continue
		}
		// The file, its content replaced since: truncated while mqttdiag
		// was down. The rest of the old stream can only be in a copy; the
		// file is read from its beginning as the next generation, unless
		// the state has that one already.
		s.o.log.Info().Str("file", e.Path).Str("found_as", p).Int64("offset", e.Offset).Msg("a rotated log file was truncated while mqttdiag was down; reading its rest from a copy, then the file from its beginning")
		born := s.finishFromCopy(ctx, e, dir, e.id())
		if s.h.newerGeneration(e) {
			fd.Close()
			continue
		}
		f.gen++
		f.fp, _ = readFingerprint(fd, false)
		s.add(f, e.Path, 0, 0, "", false)
		f.copyBorn = born
		s.readFile(ctx, f, false, -1)
	}
}

// catchUp reads, oldest first, files rotated from the log at logPath
// (named logPath.*, logPath-* or logPath_*: see rotatedName) that were
// born after the file path named before (born after) and before the one
// it names now (born before), and that nobody read: the log was rotated
// more than once between two looks, or while mqttdiag was down. Their
// lines are reported under path, the input path; logPath is path with
// symbolic links resolved (file.logPath), since a log is rotated beside
// the link's target. Only logPath's directory is looked in: files moved
// elsewhere (logrotate's olddir) are not found.
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
func (s *fileSet) catchUp(ctx context.Context, path, logPath string, after, before int64, like *file) (last int64) {
	if after == 0 || before == 0 {
		return 0
	}
	dir, base := filepath.Split(logPath)
	type missedFile struct {
		f    *file
		from stateEntry // where to read it from: its start, or where its stream ended
	}
	var missed []missedFile
	isRotated := func(name string) bool {
		return rotatedName(name, base) && !excluded(filepath.Join(dir, name), defaultSkip)
	}
	s.eachFile(dir, isRotated, func(p string, fd *os.File, fi fs.FileInfo, id fileID) bool {
		fp, err := readFingerprint(fd, false)
		if err != nil || id.btime < after || id.btime > before || s.byInode(id) != nil || s.h.inState(id) || s.h.wasSeen(id) {
			return false
		}
		k, ended := s.copyOf(candidate{f: fd, id: id, size: fi.Size(), fp: fp}, like)
		switch {
		case k == copyOfFollowed, like != nil && k == copyUnknown:
			return false
		case k == copyOfEnded && fi.Size() <= ended.Offset:
			return false // all of it was read
		case k != copyOfEnded:
			ended = stateEntry{}
		}
		f := &file{id: id, path: p, f: fd, content: content{fp: fp}, gen: ended.Generation, lastSize: fi.Size(), lastMod: fi.ModTime()}
		missed = append(missed, missedFile{f, ended})
		return true
	})
	// Birth times are only as fine as the kernel's coarse clock (a few
	// ms): files born in the same tick are taken in inode order.
	sort.Slice(missed, func(i, j int) bool {
		a, b := missed[i].f.id, missed[j].f.id
		return a.btime < b.btime || a.btime == b.btime && a.ino < b.ino
	})
	for _, m := range missed {
		f := m.f
		if m.from.Stream != "" {
			// It holds a stream read before, and more: read on from
			// where that ended, under its stream.
			f.content = m.from.content()
		}
		s.o.log.Info().Str("file", path).Str("found_as", f.path).Int64("offset", m.from.Offset).Msg("found a log file rotated away before it was read; reading it first")
		s.add(f, path, m.from.Offset, m.from.Line, m.from.Stream, false)
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
