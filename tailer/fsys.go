package tailer

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// The fileSet reaches the filesystem only through options.open and
// options.stat, the seams tests inject faults with.

// readDir lists dir, sorted by name as os.ReadDir does.
func (o *options) readDir(dir string) ([]fs.DirEntry, error) {
	d, err := o.open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	ents, err := d.ReadDir(-1)
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	return ents, err
}

// eachFile opens the regular files of dir whose names match and hands
// each to fn with its identity, birth time included; fn keeps the file
// open by returning true, else it is closed.
func (s *fileSet) eachFile(dir string, match func(name string) bool, fn func(path string, fd *os.File, fi fs.FileInfo, id fileID) bool) {
	ents, err := s.o.readDir(dir)
	if err != nil {
		return
	}
	for _, ent := range ents {
		if !ent.Type().IsRegular() || !match(ent.Name()) {
			continue
		}
		p := filepath.Join(dir, ent.Name())
		fd, fi, id, ok := s.openID(p)
		if !ok {
			continue
		}
		if compressed(fd) || !fn(p, fd, fi, id) {
			fd.Close()
		}
	}
}

// compressedMagic are the first bytes of the formats rotated logs are
// compressed to: gzip (RFC 1952), bzip2, xz, zstd (RFC 8878), lz4 frame
// and zip.
var compressedMagic = [][]byte{{0x1f, 0x8b}, []byte("BZh"), {0xfd, '7', 'z', 'X', 'Z', 0}, {0x28, 0xb5, 0x2f, 0xfd}, {0x04, 0x22, 0x4d, 0x18}, []byte("PK\x03\x04")}

// compressed reports whether the file starts like a compressed one. A
// rotated log is compressed under a temporary name before it gets its
// final one (kubelet's compressLog writes 0.log.<time>.tmp, then renames
// it to .gz), so the name alone (defaultSkip) cannot keep a search for
// rotated files from reading binary data as lines.
func compressed(fd *os.File) bool {
	var head [6]byte
	n, _ := fd.ReadAt(head[:], 0)
	for _, m := range compressedMagic {
		if n >= len(m) && bytes.Equal(head[:len(m)], m) {
			return true
		}
	}
	return false
}

// openID opens path and tells its identity, birth time included.
func (s *fileSet) openID(path string) (*os.File, fs.FileInfo, fileID, bool) {
	fd, err := s.o.open(path)
	if err != nil {
		return nil, nil, fileID{}, false
	}
	fi, err := fd.Stat()
	if err != nil {
		fd.Close()
		return nil, nil, fileID{}, false
	}
	id := statID(fi)
	id.btime = birthTime(fd)
	return fd, fi, id, true
}

// glob is filepath.Glob through the seams. The pattern was checked at
// start (input.valid), so it cannot be malformed here. err is the first
// failure to list a directory that is there.
func (o *options) glob(pattern string) (matches []string, err error) {
	if !hasMeta(pattern) {
		if _, err := o.stat(pattern); err != nil {
			return nil, nil
		}
		return []string{pattern}, nil
	}
	dir, name := filepath.Split(pattern)
	switch dir {
	case "":
		dir = "."
	case string(filepath.Separator):
	default:
		dir = dir[:len(dir)-1]
	}
	dirs := []string{dir}
	if hasMeta(dir) {
		dirs, err = o.glob(dir)
	}
	for _, d := range dirs {
		ents, derr := o.readDir(d)
		if derr != nil && !errors.Is(derr, fs.ErrNotExist) && err == nil {
			err = derr
		}
		for _, e := range ents {
			if ok, _ := filepath.Match(name, e.Name()); ok {
				matches = append(matches, filepath.Join(d, e.Name()))
			}
		}
	}
	return matches, err
}

func hasMeta(path string) bool { return strings.ContainsAny(path, `*?[\`) }
