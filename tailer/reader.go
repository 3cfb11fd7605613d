package tailer

import (
	"bytes"
	"errors"
	"io"
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
}

// lineReader splits a byte stream into lines, keeping exact byte offsets
// and bounded memory whatever the input: a line longer than max is cut to
// max bytes and the rest is skipped up to its newline. An unterminated
// last line is held back (it may still be being written) until the caller
// says the stream has ended.
//
// It exists because bufio.Scanner fails on long lines and loses the
// position, and bufio.Reader.ReadString grows without bound.
type lineReader struct {
	r   io.Reader
	buf []byte
	lo  int // start of unconsumed data in buf
	hi  int // end of data in buf
	max int

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
	size := 32 << 10
	if size > max+1 {
		size = max + 1
	}
	return &lineReader{r: r, buf: make([]byte, size), max: max, off: offset}
}

// errNoLine is returned by next when no complete line is buffered and the
// underlying reader has no more data for now.
var errNoLine = errors.New("no complete line")

// next returns the next complete line. At the end of the available data it
// returns errNoLine (or the reader's error, other than io.EOF). With atEOF,
// an unterminated final line is returned as a line.
func (lr *lineReader) next(atEOF bool) (rawLine, error) {
	for {
		if l, ok := lr.scan(); ok {
			return l, nil
		}
		if lr.lo > 0 && lr.lo == lr.hi {
			lr.lo, lr.hi = 0, 0
		}
		if lr.hi == len(lr.buf) {
			if lr.lo > 0 {
				copy(lr.buf, lr.buf[lr.lo:lr.hi])
				lr.hi -= lr.lo
				lr.lo = 0
			} else if len(lr.buf) < lr.max+1 {
				nb := make([]byte, min(2*len(lr.buf), lr.max+1))
				copy(nb, lr.buf[:lr.hi])
				lr.buf = nb
			}
		}
		n, err := lr.r.Read(lr.buf[lr.hi:])
		lr.hi += n
		if n > 0 {
			continue
		}
		if err != nil && err != io.EOF {
			return rawLine{}, err
		}
		if err == nil {
			// A reader may return 0, nil; treat it as no data for now.
			return rawLine{}, errNoLine
		}
		if atEOF {
			if l, ok := lr.flush(); ok {
				return l, nil
			}
		}
		return rawLine{}, errNoLine
	}
}

// scan looks for a line in the buffer.
func (lr *lineReader) scan() (rawLine, bool) {
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
		lr.cut = append(append(lr.cut[:0], data[:lr.max]...), TruncatedMarker...)
		lr.pending = rawLine{offset: lr.off, truncated: true}
		lr.skipping = true
		lr.off += int64(len(data))
		lr.lo = lr.hi
		return lr.scan()
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
		return l, true
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

// offset is the stream offset of the first byte not yet returned as part of
// a line (the start of a held-back partial line).
func (lr *lineReader) offset() int64 {
	if lr.skipping {
		return lr.pending.offset
	}
	return lr.off
}
