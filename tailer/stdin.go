package tailer

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"
)

// readStream reads a non-seekable stream such as stdin to its end. A
// pending batch is sent before every read that may block, so that a line
// is not held back waiting for the next one.
func (t *Tailer) readStream(ctx context.Context, source, stream string, r io.Reader, out chan<- Batch) error {
	var seq uint64
	e := t.newEmitter(out, source, stream, &seq, 0)
	lr := newLineReader(newCtxReader(ctx, r), 0, t.o.maxLineBytes)
	for {
		for {
			l, ok := lr.line()
			if !ok {
				break
			}
			e.add(l)
			if e.full() && !e.flush(ctx) {
				return nil
			}
		}
		if !e.flush(ctx) {
			return nil
		}
		n, err := lr.fill()
		if n > 0 {
			continue
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case err == io.EOF:
			// A pipe returns EOF only when the writer closed it.
			if l, ok := lr.flush(); ok {
				e.add(l)
			}
			e.flush(ctx)
			return nil
		case err != nil:
			return fmt.Errorf("read %s: %w", source, err)
		}
	}
}

// ctxReader reads r in a goroutine of its own, so that a read blocked on a
// pipe that stays open (kubectl logs -f) does not keep Run from returning
// when ctx ends. The goroutine then stays blocked until the process exits.
type ctxReader struct {
	ctx context.Context
	ch  chan chunk
	cur []byte
	err error
}

type chunk struct {
	b   []byte
	err error
}

func newCtxReader(ctx context.Context, r io.Reader) *ctxReader {
	cr := &ctxReader{ctx: ctx, ch: make(chan chunk)}
	go func() {
		for {
			b := make([]byte, 64<<10)
			n, err := r.Read(b)
			select {
			case cr.ch <- chunk{b[:n], err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return cr
}

func (cr *ctxReader) Read(p []byte) (int, error) {
	for len(cr.cur) == 0 {
		if cr.err != nil {
			return 0, cr.err
		}
		select {
		case c := <-cr.ch:
			cr.cur, cr.err = c.b, c.err
		case <-cr.ctx.Done():
			return 0, cr.ctx.Err()
		}
	}
	n := copy(p, cr.cur)
	cr.cur = cr.cur[n:]
	return n, nil
}

// processNonce distinguishes one run's stdin stream from another's, so
// that diagnosis ids of different streams never collide.
func processNonce() string {
	return fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())
}
