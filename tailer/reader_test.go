package tailer

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type gotLine struct {
	text      string
	off, end  int64
	truncated bool
}

func readAll(t *testing.T, r io.Reader, max int) []gotLine {
	t.Helper()
	lr := newLineReader(r, 0, max)
	var out []gotLine
	for {
		l, err := lr.next(true)
		if err == errNoLine {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, gotLine{string(l.text), l.offset, l.end, l.truncated})
	}
}

func TestLineReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want []gotLine
	}{
		{"plain", "a\nbc\n", 10, []gotLine{{"a", 0, 2, false}, {"bc", 2, 5, false}}},
		{"crlf", "a\r\nb\r\n", 10, []gotLine{{"a", 0, 3, false}, {"b", 3, 6, false}}},
		{"empty lines", "\n\nx\n", 10, []gotLine{{"", 0, 1, false}, {"", 1, 2, false}, {"x", 2, 4, false}}},
		{"unterminated last line at EOF", "a\nlast", 10, []gotLine{{"a", 0, 2, false}, {"last", 2, 6, false}}},
		{"exactly max", "12345\nx\n", 5, []gotLine{{"12345", 0, 6, false}, {"x", 6, 8, false}}},
		{"one over max", "123456\nx\n", 5, []gotLine{{"12345" + TruncatedMarker, 0, 7, true}, {"x", 7, 9, false}}},
		{"long unterminated", strings.Repeat("z", 100), 8, []gotLine{{"zzzzzzzz" + TruncatedMarker, 0, 100, true}}},
		{"invalid utf-8 and NUL kept", "\xff\x00\xfe\n", 10, []gotLine{{"\xff\x00\xfe", 0, 4, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, mode := range []struct {
				name string
				wrap func(io.Reader) io.Reader
			}{{"whole", func(r io.Reader) io.Reader { return r }}, {"byte at a time", iotest.OneByteReader}, {"half", iotest.HalfReader}} {
				got := readAll(t, mode.wrap(strings.NewReader(tt.in)), tt.max)
				if len(got) != len(tt.want) {
					t.Fatalf("%s: got %d lines %+v, want %+v", mode.name, len(got), got, tt.want)
				}
				for i := range got {
					if got[i] != tt.want[i] {
						t.Errorf("%s: line %d = %+v, want %+v", mode.name, i, got[i], tt.want[i])
					}
				}
			}
		})
	}
}

// In follow mode a partial line is held back until its newline arrives,
// even when the write is split across reads.
func TestLineReaderHoldsPartialLine(t *testing.T) {
	var buf bytes.Buffer
	lr := newLineReader(&buf, 100, 64)
	buf.WriteString("first\nsec")
	l, err := lr.next(false)
	if err != nil || string(l.text) != "first" || l.offset != 100 || l.end != 106 {
		t.Fatalf("got %q %d %d %v", l.text, l.offset, l.end, err)
	}
	if _, err := lr.next(false); err != errNoLine {
		t.Fatalf("partial line returned: %v", err)
	}
	if lr.offset() != 106 {
		t.Errorf("offset() = %d, want 106 (start of the held-back line)", lr.offset())
	}
	buf.WriteString("ond\n")
	l, err = lr.next(false)
	if err != nil || string(l.text) != "second" || l.offset != 106 || l.end != 113 {
		t.Fatalf("got %q %d %d %v", l.text, l.offset, l.end, err)
	}
}

// A line far longer than the limit never makes the reader hold more than
// the limit.
func TestLineReaderBoundedMemory(t *testing.T) {
	const max = 1024
	r := io.MultiReader(io.LimitReader(infiniteZ{}, 50<<20), strings.NewReader("\nnext\n"))
	lr := newLineReader(r, 0, max)
	l, err := lr.next(false)
	if err != nil {
		t.Fatal(err)
	}
	if !l.truncated || len(l.text) != max+len(TruncatedMarker) || l.end != 50<<20+1 {
		t.Fatalf("long line: truncated=%v len=%d end=%d", l.truncated, len(l.text), l.end)
	}
	if cap(lr.buf) > bufSize(max) {
		t.Errorf("buffer grew to %d bytes for a %d-byte limit", cap(lr.buf), max)
	}
	l, err = lr.next(false)
	if err != nil || string(l.text) != "next" {
		t.Fatalf("line after the long one: %q %v", l.text, err)
	}
}

type infiniteZ struct{}

func (infiniteZ) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'z'
	}
	return len(p), nil
}

// FuzzLineReader: for any input and limit, lines tile the input exactly
// (each starts where the previous ended, the last ends at the input's
// end), texts are what the input holds there, and memory stays bounded.
func FuzzLineReader(f *testing.F) {
	f.Add([]byte("a\nb\r\nc"), 4)
	f.Add([]byte("\n\n\n"), 1)
	f.Add([]byte("0123456789\n"), 3)
	f.Fuzz(func(t *testing.T, data []byte, max int) {
		if max <= 0 || max > 1<<16 {
			max = 1 + (max&0xff+0xff)%64
		}
		lr := newLineReader(iotest.HalfReader(bytes.NewReader(data)), 0, max)
		var pos int64
		for {
			l, err := lr.next(true)
			if err == errNoLine {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if l.offset != pos || l.end <= l.offset || l.end > int64(len(data)) {
				t.Fatalf("line [%d,%d) does not follow %d (len %d)", l.offset, l.end, pos, len(data))
			}
			raw := data[l.offset:l.end]
			raw = bytes.TrimSuffix(raw, []byte("\n"))
			// The limit counts every byte before the newline, a CR too.
			long := len(raw) > max
			raw = bytes.TrimSuffix(raw, []byte("\r"))
			if l.truncated {
				if !bytes.HasPrefix(raw, bytes.TrimSuffix(l.text, []byte(TruncatedMarker))) || !long {
					t.Fatalf("truncated line %q is not a cut of %q", l.text, raw)
				}
			} else if !bytes.Equal(l.text, raw) {
				t.Fatalf("line %q, input holds %q", l.text, raw)
			}
			if len(lr.buf) > bufSize(max) {
				t.Fatalf("buffer %d > limit %d", len(lr.buf), max)
			}
			pos = l.end
		}
		if pos != int64(len(data)) {
			t.Fatalf("lines end at %d, input at %d", pos, len(data))
		}
	})
}
