package tailer

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
)

// inputKind says how a PATH argument names files.
type inputKind int

const (
	inputFile inputKind = iota // one path, which may not exist yet
	inputGlob                  // a pattern; files that match later are picked up
	inputDir                   // the files directly inside a directory
)

// input is one PATH argument.
type input struct {
	arg  string
	kind inputKind
	// path is the cleaned path (inputFile, inputDir) or pattern (inputGlob).
	path string
	// fixed says the argument's syntax decided its kind (a glob, a
	// trailing slash); otherwise what is at the path decides, again
	// whenever it changes (fileSet.redecide).
	fixed bool
}

// defaultSkip are names never followed through a glob or a directory:
// compressed rotated logs (binary, and their content was read before they
// were compressed) and the index files of an EMQX (Erlang disk_log) wrap
// log. A file named explicitly is always followed.
var defaultSkip = []string{"*.gz", "*.bz2", "*.xz", "*.zst", "*.lz4", "*.zip", "*.idx", "*.siz", ".*"}

// parseInput classifies a PATH argument. A path that does not exist yet
// is a file unless it ends in a slash; should a directory appear there
// later, the input becomes a directory input, and a file input again if
// a file replaces the directory (see fileSet.redecide).
func parseInput(arg string, stat func(string) (fs.FileInfo, error)) input {
	p := filepath.Clean(arg)
	if strings.ContainsAny(p, "*?[") {
		return input{arg: arg, kind: inputGlob, path: p, fixed: true}
	}
	if strings.HasSuffix(arg, "/") {
		return input{arg: arg, kind: inputDir, path: p, fixed: true}
	}
	if fi, err := stat(p); err == nil && fi.IsDir() {
		return input{arg: arg, kind: inputDir, path: p}
	}
	return input{arg: arg, kind: inputFile, path: p}
}

// valid checks a glob's pattern up front: a malformed one (t1/[abc) is an
// error at start, naming it, rather than a wait for files that no name
// can ever match.
func (in input) valid() error {
	if in.kind != inputGlob {
		return nil
	}
	if _, err := filepath.Match(in.path, ""); err != nil {
		return fmt.Errorf("input %q is not a valid glob (a '[' without its ']', or a trailing '\\'?): %w", in.arg, err)
	}
	return nil
}

// dirs returns the directories whose changes may change what the input
// names.
func (in input) dirs(o *options) []string {
	switch in.kind {
	case inputDir:
		if _, err := o.stat(in.path); err != nil {
			// Not there (yet): its parent tells when it appears.
			return []string{filepath.Dir(in.path)}
		}
		return []string{in.path}
	case inputGlob:
		d := filepath.Dir(in.path)
		if !strings.ContainsAny(d, "*?[") {
			return []string{d}
		}
		ds, _ := o.glob(d)
		return ds
	default:
		return []string{filepath.Dir(in.path)}
	}
}

// excluded reports whether name matches one of the patterns: a pattern
// with a slash is matched against the whole path, others against the base
// name.
func excluded(path string, patterns []string) bool {
	base := filepath.Base(path)
	for _, p := range patterns {
		target := base
		if strings.ContainsRune(p, '/') {
			target = path
		}
		if ok, _ := filepath.Match(p, target); ok {
			return true
		}
	}
	return false
}

// validPatterns checks exclude patterns up front, so that a typo is an
// error at start rather than a pattern that silently never matches.
func validPatterns(patterns []string) error {
	for _, p := range patterns {
		if _, err := filepath.Match(p, ""); err != nil {
			return fmt.Errorf("--exclude %q: %w", p, err)
		}
	}
	return nil
}

// candidates returns the paths the input names now. For inputFile the path
// is returned whether it exists or not, except when it is the base name of
// an EMQX wrap log (see wrapMembers).
//
// err says a directory could not be listed for another reason than not
// being there (too many open files, permission denied): what the input
// names then is unknown, not nothing.
func (in input) candidates(o *options) (paths []string, err error) {
	var names []string
	switch in.kind {
	case inputFile:
		if ms := o.wrapMembers(in.path); ms != nil {
			return ms, nil
		}
		return []string{in.path}, nil
	case inputGlob:
		names, err = o.glob(in.path)
	case inputDir:
		var ents []fs.DirEntry
		ents, err = o.readDir(in.path)
		if errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
		for _, e := range ents {
			names = append(names, filepath.Join(in.path, e.Name()))
		}
	}
	out := names[:0]
	for _, n := range names {
		if !excluded(n, o.exclude) && !excluded(n, defaultSkip) {
			out = append(out, n)
		}
	}
	return out, err
}

// holds reports whether the input may name path: the glob matches it, or
// it is in the directory.
func (in input) holds(path string) bool {
	switch in.kind {
	case inputGlob:
		ok, _ := filepath.Match(in.path, path)
		return ok
	case inputDir:
		return filepath.Dir(path) == in.path
	}
	return path == in.path
}

// wrapMembers returns the files of an Erlang disk_log wrap log, the
// default file handler of EMQX: the log named path does not exist itself;
// the broker writes path.1 up to a size, then path.2, and so on up to
// path.N, then wraps to path.1 again (emptying it), with path.idx (which
// file is current) and path.siz beside them. Following every member
// follows the one being written: a member that is reused is a truncated
// file and is read again from its beginning. It returns nil when path is
// not such a log.
func (o *options) wrapMembers(path string) []string {
	if _, err := o.stat(path); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if _, err := o.stat(path + ".idx"); err != nil {
		return nil
	}
	ms, _ := o.glob(path + ".[0-9]*")
	out := ms[:0]
	for _, m := range ms {
		if strings.Trim(m[len(path)+1:], "0123456789") == "" {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) < len(out[j]) || len(out[i]) == len(out[j]) && out[i] < out[j] })
	return out
}
