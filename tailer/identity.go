package tailer

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"syscall"
)

// FingerprintBytes is the most a fingerprint covers: the first line of a
// file, or its first FingerprintBytes bytes when the first line is longer.
const FingerprintBytes = 256

// fileID is what the kernel says a file is: device and inode number, plus
// the birth time where the filesystem records one, which tells a new file
// that got a freed inode number from the old one.
type fileID struct {
	dev, ino uint64
	btime    int64 // nanoseconds; 0 when unknown
}

func (id fileID) sameInode(o fileID) bool { return id.dev == o.dev && id.ino == o.ino }

// inode is the id without its birth time, the key of maps by inode.
func (id fileID) inode() fileID { return fileID{dev: id.dev, ino: id.ino} }

// same reports whether two ids name the same file. A birth time known on
// one side only does not count against it (state written by a build or
// filesystem without statx).
func (id fileID) same(o fileID) bool {
	return id.sameInode(o) && (id.btime == 0 || o.btime == 0 || id.btime == o.btime)
}

func statID(fi fs.FileInfo) fileID {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)}
	}
	return fileID{}
}

// fingerprint identifies a content stream by its first bytes, as Vector's
// checksum fingerprinter does: the hash of the first line including its
// newline, or of the first FingerprintBytes bytes when the first line is
// longer. Until the file holds either, the fingerprint is unknown (n == 0):
// no line of it can have been emitted yet, since a line needs its newline.
// The one exception is the unterminated last line read when a file is
// finished; then the fingerprint covers whatever the file holds.
//
// The first line is used rather than a fixed number of bytes so that the
// fingerprint is defined for short files and never changes as the file
// grows; a broker's first line carries a timestamp, which makes it
// distinctive.
type fingerprint struct {
	n   int    // bytes covered; 0 when not known yet
	sum uint64 // first 8 bytes of their SHA-256
}

func (fp fingerprint) known() bool { return fp.n > 0 }

func (fp fingerprint) String() string {
	if !fp.known() {
		return ""
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], fp.sum)
	return hex.EncodeToString(b[:])
}

// parseFingerprint decodes a fingerprint of at most max bytes.
func parseFingerprint(s string, n, max int) (fingerprint, error) {
	if s == "" && n == 0 {
		return fingerprint{}, nil
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 8 || n <= 0 || n > max {
		return fingerprint{}, fmt.Errorf("fingerprint %q over %d bytes: want 16 hex digits over 1..%d bytes", s, n, max)
	}
	return fingerprint{n: n, sum: binary.BigEndian.Uint64(b)}, nil
}

func sum64(b []byte) uint64 {
	h := sha256.Sum256(b)
	return binary.BigEndian.Uint64(h[:8])
}

// readFingerprint computes the fingerprint of r's content. With final, a
// file shorter than FingerprintBytes without a newline is fingerprinted
// over all it holds.
func readFingerprint(r io.ReaderAt, final bool) (fingerprint, error) {
	var buf [FingerprintBytes]byte
	n, err := r.ReadAt(buf[:], 0)
	if err != nil && err != io.EOF {
		return fingerprint{}, err
	}
	head := buf[:n]
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i+1]
	} else if n < FingerprintBytes && (!final || n == 0) {
		return fingerprint{}, nil
	}
	return fingerprint{n: len(head), sum: sum64(head)}, nil
}

// readHead fingerprints the first bytes r holds, up to FingerprintBytes,
// whether or not they make a line.
func readHead(r io.ReaderAt) (fingerprint, error) {
	var buf [FingerprintBytes]byte
	n, err := r.ReadAt(buf[:], 0)
	if err != nil && err != io.EOF {
		return fingerprint{}, err
	}
	if n == 0 {
		return fingerprint{}, nil
	}
	return fingerprint{n: n, sum: sum64(buf[:n])}, nil
}

// matches reports whether r's content starts with the bytes fp was made
// from. An unknown fingerprint matches anything.
func (fp fingerprint) matches(r io.ReaderAt) (bool, error) { return fp.matchesAt(r, 0) }

// matchesAt reports whether r holds the bytes fp was made from at off.
func (fp fingerprint) matchesAt(r io.ReaderAt, off int64) (bool, error) {
	if !fp.known() {
		return true, nil
	}
	buf := make([]byte, fp.n)
	n, err := r.ReadAt(buf, off)
	if n < fp.n {
		if err == io.EOF || err == nil {
			return false, nil
		}
		return false, err
	}
	return sum64(buf) == fp.sum, nil
}

// prefixBytes is the most a stream's prefix fingerprint covers: enough
// that files whose first lines are alike (a broker logging without
// timestamps, two brokers started in the same second) differ in it.
const prefixBytes = 4096

// content is what a content stream is known by beyond the file holding
// it. fp, the fingerprint of its first line, is its identity (part of
// its stream id, so it never changes); prefix covers its first bytes as
// far as they were read, up to prefixBytes, and grows with the file; tail
// covers the bytes just before tailAt, where it was read to. A growing
// file never changes the bytes it holds: a file holds the stream only if
// all three match, as far as it is long.
type content struct {
	fp, prefix, tail fingerprint
	tailAt           int64
}

// heldBy reports whether r, size bytes long, holds the start of the
// stream. Shorter than the prefix, r is compared byte by byte with live,
// a file that still holds the stream, when there is one (and only its
// first line counts otherwise). An unknown part matches anything.
func (c content) heldBy(r io.ReaderAt, size int64, live io.ReaderAt) bool {
	if ok, err := c.fp.matches(r); err != nil || !ok {
		return false
	}
	switch {
	case !c.prefix.known():
	case size >= int64(c.prefix.n):
		if ok, err := c.prefix.matches(r); err != nil || !ok {
			return false
		}
	case live != nil:
		if ok, _ := c.prefix.matches(live); ok && !samePrefix(r, live, size) {
			return false
		}
	}
	if c.tail.known() && size >= c.tailAt {
		if ok, err := c.tail.matchesAt(r, c.tailAt-int64(c.tail.n)); err != nil || !ok {
			return false
		}
	}
	return true
}

// samePrefix reports whether a and b hold the same first n bytes, n at
// most prefixBytes.
func samePrefix(a, b io.ReaderAt, n int64) bool {
	var x, y [prefixBytes]byte
	ka, _ := a.ReadAt(x[:n], 0)
	kb, _ := b.ReadAt(y[:n], 0)
	return int64(ka) == n && int64(kb) == n && bytes.Equal(x[:n], y[:n])
}

// streamID names a content stream for diagnosis ids: the file's identity,
// its truncation generation and the fingerprint of its content. It is
// fixed when the stream's first line is emitted and kept in the state
// file, so that re-reading after a crash gives the same ids.
func streamID(id fileID, gen int, fp fingerprint) string {
	return fmt.Sprintf("%d:%d:%d:%d:%s", id.dev, id.ino, id.btime, gen, fp)
}
