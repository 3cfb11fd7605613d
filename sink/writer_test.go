package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestWriterOneObjectPerLine(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	ds := []*Diagnosis{
		{ID: "a", SignatureID: "s", Line: "bad utf-8 \xff and <html> & \"quotes\"", Fields: map[string]string{"client_id": "c\n1"}},
		{ID: "b", SignatureID: "s", Line: "second"},
	}
	if retry, err := w.Notify(context.Background(), ds); err != nil || retry {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines: %q", len(lines), buf.String())
	}
	var d Diagnosis
	if err := json.Unmarshal([]byte(lines[0]), &d); err != nil {
		t.Fatal(err)
	}
	if d.Line != "bad utf-8 \uFFFD and <html> & \"quotes\"" || d.Fields["client_id"] != "c\n1" {
		t.Errorf("decoded %+v", d)
	}
	if strings.Contains(lines[0], `\u003c`) {
		t.Errorf("HTML escaping makes lines hard to read: %s", lines[0])
	}
}

// failingWriter accepts n bytes, then fails.
type failingWriter struct {
	buf  bytes.Buffer
	left int
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.left {
		n := f.left
		f.buf.Write(p[:n])
		f.left = 0
		return n, errors.New("no space left on device")
	}
	f.left -= len(p)
	return f.buf.Write(p)
}

// A full disk is recoverable; after it clears, the retried batch is written
// whole and starts on a fresh line, so a reader sees one broken fragment at
// most and every later line parses.
func TestWriterFullDiskIsRecoverable(t *testing.T) {
	fw := &failingWriter{left: 10}
	w := NewWriter(fw)
	ds := []*Diagnosis{{ID: "a", SignatureID: "s", Line: "x"}}
	retry, err := w.Notify(context.Background(), ds)
	if err == nil || !retry {
		t.Fatalf("retry=%v err=%v, want a recoverable error", retry, err)
	}
	fw.left = 1 << 20
	if _, err := w.Notify(context.Background(), ds); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(fw.buf.String(), "\n"), "\n")
	var d Diagnosis
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &d); err != nil || d.ID != "a" {
		t.Fatalf("last line %q does not parse: %v", lines[len(lines)-1], err)
	}
	if len(lines) != 2 {
		t.Errorf("want the fragment and the whole line, got %q", lines)
	}
}
