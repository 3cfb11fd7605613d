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
	flush := func() bool { return e.flush(ctx) }
	if err := pump(ctx, lr, e, func(l rawLine) { e.add(l) }, flush); err != nil {
		return fmt.Errorf("read %s: %w", source, err)
	}
	return nil
}

// pump reads lr's lines to the end of its stream, handing each to add and
// flushing the batch whenever it is full and before every read that may
// block, so that a line is not held back waiting for the next one. It
// returns nil when the stream ended (a pipe returns EOF only when its
// writer closed it), ctx ended or a flush was refused, and the read error
// otherwise.
func pump(ctx context.Context, lr *lineReader, e *emitter, add func(rawLine), flush func() bool) error {
	for {
		for {
			l, ok := lr.line()
			if !ok {
				break
			}
			add(l)
			if e.full() && !flush() {
				return nil
			}
		}
		if !flush() {
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
			if l, ok := lr.flush(); ok {
				add(l)
			}
			flush()
			return nil
		case err != nil:
			return err
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
