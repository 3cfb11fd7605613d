package tailer

import (
	"context"
	"sync"
)

// emitter batches lines of one content stream.
type emitter struct {
	source string
	stream string
	seq    *uint64 // per source, shared across the source's streams
	num    int64   // lines before the next one
	batch  []Line
	// text holds the batch's line texts back to back; at flush it becomes
	// one string that every Line.Text of the batch slices: one allocation
	// per batch instead of one per line.
	text   []byte
	ends   []int
	bytes  int
	limit  int
	blimit int
	out    chan<- Batch
	tr     *track          // nil without checkpoints
	ctr    *sourceCounters // nil in tests that build emitters by hand
	pool   *linePool       // nil in tests that build emitters by hand
	// cursor is the journal cursor of the last line added (journald
	// inputs; "" for files), lastOff that line's offset.
	cursor  string
	lastOff int64
}

// linePool keeps the Lines slices of batches the consumer released
// (Batch.Release) for the next batches: without it they are over
// half of what a scan allocates, and the garbage collector's heap grows
// with what is allocated while it marks.
type linePool struct {
	p    sync.Pool
	once sync.Once
	put  func([]Line)
}

func (lp *linePool) get(n int) []Line {
	if v, ok := lp.p.Get().(*[]Line); ok && cap(*v) >= n {
		return (*v)[:0]
	}
	return make([]Line, 0, n)
}

// release returns the function a batch calls to give its slice back.
func (lp *linePool) release() func([]Line) {
	lp.once.Do(func() {
		lp.put = func(ls []Line) {
			clear(ls) // keep no texts alive from the pool
			ls = ls[:0]
			lp.p.Put(&ls)
		}
	})
	return lp.put
}

// newEmitter returns an emitter of the lines of source in stream (empty:
// fixed by the caller at the first line), numbered on from num; seq
// numbers the source's lines across its streams.
func (t *Tailer) newEmitter(out chan<- Batch, source, stream string, seq *uint64, num int64) *emitter {
	return &emitter{source: source, stream: stream, seq: seq, num: num, limit: t.o.batchLines, blimit: t.o.batchBytes,
		out: out, ctr: t.counters(source), pool: &t.pool}
}

func (e *emitter) add(l rawLine) {
	*e.seq++
	e.num++
	if e.batch == nil {
		if e.pool != nil {
			e.batch = e.pool.get(e.limit)
		} else {
			e.batch = make([]Line, 0, e.limit)
		}
	}
	e.batch = append(e.batch, Line{
		Source: e.source, Stream: e.stream,
		Offset: l.offset, End: l.end, Number: e.num, Seq: *e.seq,
		Truncated: l.truncated,
	})
	e.text = append(e.text, l.text...)
	e.ends = append(e.ends, len(e.text))
	e.bytes += len(l.text)
}

// full reports that the batch should be sent: enough lines, or enough
// bytes that the batches in flight stay small whatever the line length.
func (e *emitter) full() bool { return len(e.batch) >= e.limit || e.bytes >= e.blimit }

// flush sends the pending batch; false when ctx ended first.
func (e *emitter) flush(ctx context.Context) bool {
	if len(e.batch) == 0 {
		return true
	}
	all, start := string(e.text), 0
	for i, end := range e.ends {
		e.batch[i].Text = all[start:end]
		start = end
	}
	e.text, e.ends = e.text[:0], e.ends[:0]
	b := Batch{Lines: e.batch}
	if e.pool != nil {
		b = b.WithRelease(e.pool.release())
	}
	if e.ctr != nil {
		last := e.batch[len(e.batch)-1]
		e.ctr.lines.Add(int64(len(e.batch)))
		e.ctr.bytes.Add(last.End - e.batch[0].Offset)
		e.ctr.offset.Store(last.End)
	}
	if e.tr != nil {
		if e.tr.unsaved() {
			// A diagnosis made from these lines must get the same id
			// if they are read again after a crash: the stream's id is
			// on disk before they leave. One write covers every stream
			// fixed since the last, so thousands of files that appear
			// at once cost one write, not one each.
			if err := e.tr.cp.save(); err != nil {
				e.tr.cp.log.Error().Err(err).Msg("cannot save checkpoints; will retry")
			}
		}
		last := e.batch[len(e.batch)-1]
		b.Done = e.tr.emittedAt(last.End, last.Number, e.cursor)
	}
	select {
	case e.out <- b:
		e.batch, e.bytes = nil, 0
		return true
	case <-ctx.Done():
		return false
	}
}
