package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
)

// Writer writes diagnoses as JSON lines, one object per line, to an
// io.Writer such as stdout. Each Notify call is one Write of whole lines,
// so a diagnosis is visible as soon as Notify returns and a reader never
// sees half a batch interleaved with anything else.
type Writer struct {
	mu  sync.Mutex
	w   io.Writer
	buf bytes.Buffer
	enc *json.Encoder
	// partial is set when a write failed half way, leaving an unterminated
	// line behind; the next write starts with a newline so that the
	// fragment stays on a line of its own and later lines parse.
	partial bool
}

// String names the sink in logs and metrics.
func (w *Writer) String() string { return "stdout" }

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer {
	wr := &Writer{w: w}
	wr.enc = json.NewEncoder(&wr.buf)
	wr.enc.SetEscapeHTML(false)
	return wr
}

// Notify writes ds. A write error (a full disk, a closed pipe) is reported
// as recoverable: the lines are still in the log, and space may come back.
func (w *Writer) Notify(_ context.Context, ds []*Diagnosis) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Reset()
	if w.partial {
		w.buf.WriteByte('\n')
	}
	for _, d := range ds {
		// Encoding cannot fail on data: invalid UTF-8 is replaced.
		if err := w.enc.Encode(d); err != nil {
			return false, fmt.Errorf("encode diagnosis %s: %w", d.ID, err)
		}
	}
	n, err := w.w.Write(w.buf.Bytes())
	if err != nil {
		if n > 0 {
			w.partial = true
		}
		return true, fmt.Errorf("write diagnoses: %w", err)
	}
	w.partial = false
	return false, nil
}
