package tailer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/rs/zerolog"
)

// discover matches input paths to files: files that appeared are opened,
// paths that now name another file are switched after the old file was
// read to its end, and files no input names any more (rotated away,
// deleted) are kept open until they are finished (see letGo).
func (s *fileSet) discover(ctx context.Context, initial bool) {
	defer s.t.publishProblems()
	defer s.say.endPass()
	now := s.look()
	s.unname(ctx, now)
	for _, p := range now.order {
		if s.named[p] == nil {
			s.name(ctx, p, now, initial)
		}
	}
	for p := range s.deferred {
		if _, ok := now.infos[p]; !ok || s.named[p] != nil {
			delete(s.deferred, p)
		}
	}
}

// sight is what one discovery pass found at the input paths.
type sight struct {
	ids   map[string]fileID
	infos map[string]fs.FileInfo
	// explicit marks paths named as such on the command line: the log
	// itself, never taken for a copy of another followed file.
	explicit map[string]bool
	order    []string
}

// look stats every path the inputs name now.
func (s *fileSet) look() sight {
	now := sight{ids: make(map[string]fileID), infos: make(map[string]fs.FileInfo), explicit: make(map[string]bool)}
	for i := range s.inputs {
		in := &s.inputs[i]
		s.redecide(in)
		if s.w != nil {
			for _, d := range in.dirs(s.o) {
				s.w.watch(d)
			}
		}
		cands, err := in.candidates(s.o)
		if err != nil {
			// Unknown is not nothing: the files it named are kept, and
			// it is looked at again.
			s.say.problem(in.path, err, "cannot list the files of the input; retrying every second")
			for _, p := range sortedKeys(s.named) {
				if in.holds(p) && now.ids[p] == (fileID{}) {
					now.ids[p] = s.named[p].id
					now.order = append(now.order, p)
				}
			}
			continue
		}
		if len(cands) == 0 && in.kind != inputFile {
			s.say.wait(in.path, "input", in.arg, "no files match yet; waiting for them to appear")
		}
		if len(cands) > 0 && in.kind != inputFile {
			s.t.markWaiting(in.path, false) // the glob or directory has files now
		}
		for _, p := range cands {
			if _, dup := now.ids[p]; dup || sameFile(p, s.o.statePath) {
				continue
			}
			fi, err := s.o.stat(p)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				if in.kind == inputFile && s.named[p] == nil {
					s.say.wait(p, "file", p, "waiting for the log file to appear")
				}
				continue
			case err != nil:
				// Permission denied, a stale NFS handle: transient more
				// often than not. Keep what the path named, and retry.
				s.say.problem(p, err, "cannot stat log file; retrying every second")
				if f := s.named[p]; f != nil {
					now.ids[p] = f.id
					now.order = append(now.order, p)
				}
				continue
			case !fi.Mode().IsRegular():
				if in.kind == inputFile {
					s.say.problem(p, fmt.Errorf("%s is not a regular file", p), "not following it; give log files, a directory or a glob")
				}
				continue
			}
			now.ids[p] = statID(fi)
			now.infos[p] = fi
			now.explicit[p] = now.explicit[p] || in.kind == inputFile && p == in.path
			now.order = append(now.order, p)
		}
	}
	return now
}

// unname handles the paths that no longer name their file: the file was
// rotated away, deleted or replaced. It is read to its end now, before any
// line of a file that replaced it.
func (s *fileSet) unname(ctx context.Context, now sight) {
	for _, p := range sortedKeys(s.named) {
		f := s.named[p]
		if id, ok := now.ids[p]; ok && id.sameInode(f.id) {
			continue
		}
		delete(s.named, p)
		f.names--
		s.h.born[p] = f.id.btime
		s.readFile(ctx, f, false, -1)
		if f.names == 0 {
			f.idleSince = time.Time{}
			s.o.log.Info().Str("file", p).Int64("offset", f.lr.offset()).Msg("log file was rotated or deleted; reading it to its end")
			if d := currentDir(f.f); d != "" && !s.sameDir(d, filepath.Dir(f.logPath())) {
				// Read on through its descriptor all the same; but
				// catchUp looks for missed rotations beside the log only.
				s.o.log.Warn().Str("file", p).Str("dir", d).Msg("the log file was rotated into another directory (logrotate olddir?): should it be rotated more than once between two looks, or while mqttdiag is down, the files in between are not found there and their lines are not read")
			}
		}
	}
}

// name makes p name the file found there: a followed file renamed within
// the inputs, or a file opened now.
func (s *fileSet) name(ctx context.Context, p string, now sight, initial bool) {
	if f := s.byInode(now.ids[p]); f != nil {
		// Renamed within the inputs (mosquitto.log -> mosquitto.log.1
		// under a glob), or a rotated file found again.
		s.named[p] = f
		f.names++
		f.path = p
		s.locate(f)
		if f.e.tr != nil {
			f.e.tr.update(func(e *stateEntry) { e.Path = p })
		}
		return
	}
	if d, ok := s.deferred[p]; ok && now.infos[p] != nil && d == s.deferralOf(now.infos[p]) {
		return // left for later, and nothing changed since
	}
	if s.open(ctx, p, initial, !now.explicit[p]) {
		s.say.found(p)
	}
}

// redecide follows a path argument as what is there now, when its syntax
// did not say: a directory created at a file input's path is followed as
// the directory it is, the files in it picked up from their beginning,
// and a file that replaces it as the file it is. A path with nothing at
// it keeps its kind until something appears.
func (s *fileSet) redecide(in *input) {
	if in.fixed {
		return
	}
	fi, err := s.o.stat(in.path)
	if err != nil || fi.IsDir() == (in.kind == inputDir) {
		return
	}
	s.say.found(in.path)
	if fi.IsDir() {
		in.kind = inputDir
		s.o.log.Info().Str("input", in.arg).Msg("the input is a directory now; following the files in it")
		return
	}
	in.kind = inputFile
	s.o.log.Info().Str("input", in.arg).Msg("the input is a file now; following it")
}

// deferral is how a file left for later looked, and when.
type deferral struct {
	id    fileID
	size  int64
	mod   time.Time
	epoch int
}

func (s *fileSet) deferralOf(fi fs.FileInfo) deferral {
	return deferral{id: statID(fi), size: fi.Size(), mod: fi.ModTime(), epoch: s.epoch}
}

// sameDir reports whether two paths name one directory: the kernel names
// an open file's directory by its absolute path, an input may be relative
// or go through a symbolic link.
func (s *fileSet) sameDir(a, b string) bool {
	fa, err1 := s.o.stat(a)
	fb, err2 := s.o.stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
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

// newSinceLastRun reports whether a file found at start appeared while
// mqttdiag was down: the last run followed the input it is under, yet the
// state file does not know it. Such a file is read from its beginning.
func (s *fileSet) newSinceLastRun(path string) bool {
	if s.h.prev == nil {
		return false
	}
	for _, in := range s.inputs {
		if !slices.Contains(s.h.prev.Inputs, in.arg) {
			continue
		}
		if cands, _ := in.candidates(s.o); slices.Contains(cands, path) {
			return true
		}
	}
	return false
}

// notices says each wait and each problem once, until it changes, and
// keeps the Tailer's Waiting and Problems current.
//
// A problem lasts, as in Problems, until a whole discovery pass went
// without it: a file that can be stat'ed but not opened is retried every
// pass, and must not be said again each time the stat succeeds.
type notices struct {
	t        *Tailer
	log      zerolog.Logger
	waiting  map[string]bool   // paths we said we are waiting for
	problems map[string]string // path -> last problem reported
	recurred map[string]bool   // paths with a problem since the last pass ended
}

func newNotices(t *Tailer) *notices {
	return &notices{t: t, log: t.o.log, waiting: make(map[string]bool), problems: make(map[string]string), recurred: make(map[string]bool)}
}

// problem reports a problem with a path; it is logged once until it
// changes or goes away.
func (n *notices) problem(path string, err error, msg string) {
	n.t.noteProblem(path, msg+": "+err.Error())
	n.recurred[path] = true
	if n.problems[path] == err.Error() {
		return
	}
	n.problems[path] = err.Error()
	ev := n.log.Warn().Err(err).Str("file", path)
	if errors.Is(err, fs.ErrPermission) {
		ev = ev.Str("hint", permissionHint(path, n.t.o.stat))
	}
	ev.Msg(msg)
}

// endPass forgets the problems that did not recur since the previous
// pass ended, so that each is said again should it come back.
func (n *notices) endPass() {
	for p := range n.problems {
		if !n.recurred[p] {
			delete(n.problems, p)
		}
	}
	clear(n.recurred)
}

// permissionHint says what to do about a log mqttdiag may not read,
// naming its owner and group where stat can tell them.
func permissionHint(path string, stat func(string) (fs.FileInfo, error)) string {
	const do = "run mqttdiag as the broker's user, or add mqttdiag's user to the group that owns the log (and its directory) and make it group-readable"
	fi, err := stat(path)
	if err != nil {
		return do
	}
	if u, g, ok := owner(fi); ok {
		return fmt.Sprintf("%s: the log is owned by %s:%s, mode %v", do, u, g, fi.Mode().Perm())
	}
	return do
}

// wait says once that path is awaited; key and name go to the self-log.
func (n *notices) wait(path, key, name, msg string) {
	if n.waiting[path] {
		return
	}
	n.waiting[path] = true
	n.t.markWaiting(path, true)
	n.log.Info().Str(key, name).Msg(msg)
}

// found says path is no longer awaited.
func (n *notices) found(path string) {
	delete(n.waiting, path)
	n.t.markWaiting(path, false)
}
