package tailer

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"unicode/utf8"
)

// TruncatedMarker is appended to the kept part of a line that was longer
// than the reader's limit.
const TruncatedMarker = " …[truncated]"

// DefaultMaxLineBytes bounds the length of a line kept in memory.
const DefaultMaxLineBytes = 64 << 10

// rawLine is a line as the reader sees it: its bytes (valid until the next
// call) and its position.
type rawLine struct {
	text      []byte
	offset    int64 // first byte
	end       int64 // past the terminator
	truncated bool
	// skipped marks the rest of a line that began before the reader's
	// start (see skipFirst): it carries a position but is not a line.
	skipped bool
}

// lineReader splits a byte stream into lines, keeping exact byte offsets
// and bounded memory whatever the input: a line longer than max is cut to
// max bytes (at a UTF-8 character boundary when the cut would split one)
// and the rest is skipped up to its newline. An unterminated last line is
// held back (it may still be being written) until the caller says the
// stream has ended.
//
// bufio.Scanner fails on long lines and loses the position, and
// bufio.Reader.ReadString grows without bound (PITFALLS.md #16, #17).
type lineReader struct {
	r    io.Reader
	buf  []byte   // nil between reads when pooled (see release)
	pool *bufPool // where buf comes from and goes back to; nil: its own
	lo   int      // start of unconsumed data in buf
	hi   int      // end of data in buf
	max  int

	off int64 // stream offset of buf[lo]
	// skipping is set while discarding the rest of an over-long line;
	// pending holds that line until its end is found.
	skipping bool
	pending  rawLine
	cut      []byte // kept part of the over-long line being skipped
}

func newLineReader(r io.Reader, offset int64, max int) *lineReader {
	if max <= 0 {
		max = DefaultMaxLineBytes
	}
	// Large reads for throughput; never less than a longest line and its
	// newline, so that the buffer never grows.
	return &lineReader{r: r, max: max, off: offset}
}

// bufPool keeps the read buffers of the files that have nothing buffered:
// a file that is followed but idle holds none, so that thousands of
// followed files cost thousands of small structures, not thousands of
// buffers.
type bufPool struct{ p sync.Pool }

func (bp *bufPool) get(n int) []byte {
	if b, ok := bp.p.Get().(*[]byte); ok && len(*b) == n {
		return *b
	}
	return make([]byte, n)
}

func (bp *bufPool) put(b []byte) { bp.p.Put(&b) }

// release gives the buffer back to the pool when it holds nothing: it is
// taken again at the next read. Lines returned before are invalid then.
func (lr *lineReader) release() {
	if lr.pool != nil && lr.buf != nil && lr.lo == lr.hi {
		lr.pool.put(lr.buf)
		lr.buf, lr.lo, lr.hi = nil, 0, 0
	}
}

// skipFirst makes the reader discard everything up to and including the
// first newline, reported as one skipped rawLine: the reader starts inside
// a line that began before it, and that line is not one of ours.
func (lr *lineReader) skipFirst() {
	lr.skipping = true
	lr.pending = rawLine{offset: lr.off, skipped: true}
	lr.cut = lr.cut[:0]
}

// readSize is the least a reader's buffer holds.
const readSize = 128 << 10

// bufSize is the reader's buffer size for a line limit: the memory bound.
func bufSize(max int) int { return maxInt(readSize, max+1) }

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// errNoLine is returned by next when no complete line is buffered and the
// underlying reader has no more data for now.
var errNoLine = errors.New("no complete line")

// next returns the next complete line. At the end of the available data it
// returns errNoLine (or the reader's error, other than io.EOF). With atEOF,
// an unterminated final line is returned as a line.
func (lr *lineReader) next(atEOF bool) (rawLine, error) {
	for {
		if l, ok := lr.line(); ok {
			return l, nil
		}
		n, err := lr.fill()
		if n > 0 {
			continue
		}
		if err != nil && err != io.EOF {
			return rawLine{}, err
		}
		if err == io.EOF && atEOF {
			if l, ok := lr.flush(); ok {
				return l, nil
			}
		}
		return rawLine{}, errNoLine
	}
}

// fill reads once from the underlying reader into the buffer. It returns
// what Read returned; a reader may return 0, nil, which means no data for
// now.
func (lr *lineReader) fill() (int, error) {
	if lr.buf == nil {
		if lr.pool != nil {
			lr.buf = lr.pool.get(bufSize(lr.max))
		} else {
			lr.buf = make([]byte, bufSize(lr.max))
		}
	}
	if lr.lo > 0 && lr.lo == lr.hi {
		lr.lo, lr.hi = 0, 0
	}
	if lr.hi == len(lr.buf) {
		if lr.lo > 0 {
			copy(lr.buf, lr.buf[lr.lo:lr.hi])
			lr.hi -= lr.lo
			lr.lo = 0
		}
	}
	n, err := lr.r.Read(lr.buf[lr.hi:])
	lr.hi += n
	return n, err
}

// line returns the next complete line already in the buffer, without
// reading.
func (lr *lineReader) line() (rawLine, bool) {
	data := lr.buf[lr.lo:lr.hi]
	if lr.skipping {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			lr.off += int64(len(data))
			lr.lo = lr.hi
			return rawLine{}, false
		}
		lr.skipping = false
		lr.off += int64(i + 1)
		lr.lo += i + 1
		l := lr.pending
		l.end = lr.off
		l.text = lr.cut
		return l, true
	}
	if i := bytes.IndexByte(data, '\n'); i >= 0 && i <= lr.max {
		text := data[:i]
		if len(text) > 0 && text[len(text)-1] == '\r' {
			text = text[:len(text)-1]
		}
		l := rawLine{text: text, offset: lr.off, end: lr.off + int64(i+1)}
		lr.off += int64(i + 1)
		lr.lo += i + 1
		return l, true
	}
	if len(data) > lr.max {
		// Too long: keep the first max bytes and skip to the newline.
		keep := lr.max
		// Do not split a UTF-8 character: back off to its first byte
		// (at most 3 bytes, the longest continuation run).
		for k := 0; k < utf8.UTFMax-1 && keep > 0 && !utf8.RuneStart(data[keep]); k++ {
			keep--
		}
		if !utf8.RuneStart(data[keep]) {
			keep = lr.max // not UTF-8 anyway: cut where the limit says
		}
		lr.cut = append(append(lr.cut[:0], data[:keep]...), TruncatedMarker...)
		lr.pending = rawLine{offset: lr.off, truncated: true}
		lr.skipping = true
		// Consume the kept part; the skipping scan finds the newline in
		// what follows, which may already be in the buffer.
		lr.off += int64(lr.max)
		lr.lo += lr.max
		return lr.line()
	}
	return rawLine{}, false
}

// flush returns the unterminated rest of the stream as a final line.
func (lr *lineReader) flush() (rawLine, bool) {
	if lr.skipping {
		lr.skipping = false
		l := lr.pending
		l.end = lr.off
		l.text = lr.cut
		return l, l.end > l.offset
	}
	data := lr.buf[lr.lo:lr.hi]
	if len(data) == 0 {
		return rawLine{}, false
	}
	l := rawLine{text: bytes.TrimSuffix(data, []byte{'\r'}), offset: lr.off, end: lr.off + int64(len(data))}
	lr.off += int64(len(data))
	lr.lo = lr.hi
	return l, true
}

// recent returns the bytes the reader holds, the last it read: the
// stream's bytes just before pos(). Valid until the next call.
func (lr *lineReader) recent() []byte { return lr.buf[:lr.hi] }

// offset is the stream offset of the first byte not yet returned as part of
// a line (the start of a held-back partial line).
func (lr *lineReader) offset() int64 {
	if lr.skipping {
		return lr.pending.offset
	}
	return lr.off
}

// pos is the stream offset of the next byte the reader will read from its
// source: everything before it has been read, whether or not it has been
// returned as a line yet.
func (lr *lineReader) pos() int64 { return lr.off + int64(lr.hi-lr.lo) }

// posReader reads a file with pread at an explicit position, so that the
// position is ours (exact, and reset at will after a truncation) rather
// than the file descriptor's.
type posReader struct {
	r   io.ReaderAt
	pos int64
}

func (p *posReader) Read(b []byte) (int, error) {
	n, err := p.r.ReadAt(b, p.pos)
	p.pos += int64(n)
	if n > 0 && err == io.EOF {
		err = nil // ReadAt reports EOF with a short read; Read need not
	}
	return n, err
}
