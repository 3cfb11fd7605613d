// Package tailer owns reading log lines from files and standard input:
// following files as they grow, across rotation (rename-and-create,
// copytruncate, deletion and re-creation, EMQX wrap logs), globs and
// directories whose files appear later, and checkpoints that let a
// restarted process resume exactly where every line had been
// acknowledged. Each line is reported with its exact byte position in a
// content stream whose identity survives restarts. It knows bytes,
// positions and file identities, and nothing about signatures.
//
// It reads files itself rather than through github.com/nxadm/tail, whose
// v1.4.11 exits the process on a failed stat, skips to the end of a file
// when its rate limiter fills, emits partial lines, may switch to a new
// file before draining the rotated one, and cannot give exact offsets;
// see README "Why not nxadm/tail".
package tailer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Stdin is the path that names standard input.
const Stdin = "-"

// Defaults of the options.
const (
	DefaultRotateWait    = 5 * time.Minute
	DefaultFlushInterval = time.Second
	safetyTick           = time.Second
)

// Tailer reads lines from a set of paths.
type Tailer struct {
	paths []string
	o     options

	mu sync.Mutex
	cp *checkpoints // with StateFile, once Run has loaded it

	pool linePool

	statsState
}

type options struct {
	follow        bool
	fromBeginning bool
	maxLineBytes  int
	poll          time.Duration
	batchLines    int
	batchBytes    int
	log           zerolog.Logger
	stdin         io.Reader
	statePath     string
	exclude       []string
	clock         Clock
	rotateWait    time.Duration
	flushEvery    time.Duration

	// Seams for fault injection in tests.
	stat       func(string) (fs.FileInfo, error)
	open       func(string) (*os.File, error)
	newWatcher func(zerolog.Logger) (*watcher, error)
}

// Option configures a Tailer.
type Option func(*options)

// Follow keeps reading files as they grow and are rotated, until the
// context is cancelled. Without it each input is read to its end once.
func Follow(on bool) Option { return func(o *options) { o.follow = on } }

// FromBeginning starts files found at start at their first byte instead
// of their end, when the state file does not say where to resume.
// Without Follow, files are always read from the beginning.
func FromBeginning(on bool) Option { return func(o *options) { o.fromBeginning = on } }

// MaxLineBytes bounds a line's length; longer lines are cut and marked.
func MaxLineBytes(n int) Option { return func(o *options) { o.maxLineBytes = n } }

// Poll checks files for changes every d instead of relying on inotify,
// for filesystems where inotify does not work (NFS, some overlays). With
// inotify, files are still checked every second as a safety net.
func Poll(d time.Duration) Option { return func(o *options) { o.poll = d } }

// Logger sets the logger for the tailer's own messages.
func Logger(l zerolog.Logger) Option { return func(o *options) { o.log = l } }

// StdinReader replaces os.Stdin as the source of the "-" path (tests).
func StdinReader(r io.Reader) Option { return func(o *options) { o.stdin = r } }

// StateFile keeps checkpoints in the file at path (README "State file"):
// where every line was acknowledged, per file, so that a restart resumes
// there. Only with Follow; standard input has no checkpoint.
func StateFile(path string) Option { return func(o *options) { o.statePath = path } }

// Exclude skips files of globs and directories whose base name (or whole
// path, for a pattern with a slash) matches one of the patterns.
func Exclude(patterns ...string) Option {
	return func(o *options) { o.exclude = append(o.exclude, patterns...) }
}

// WithClock replaces the real clock (tests).
func WithClock(c Clock) Option { return func(o *options) { o.clock = c } }

// RotateWait is how long a rotated or deleted file that no longer grows is
// kept open when the kernel cannot tell whether its writer has let go of
// it (see writerGone). Mosquitto writes to the renamed file until it is
// told to reopen its log.
func RotateWait(d time.Duration) Option { return func(o *options) { o.rotateWait = d } }

// FlushInterval is the most often the state file is written while
// acknowledgements come in.
func FlushInterval(d time.Duration) Option { return func(o *options) { o.flushEvery = d } }

// batchLines bounds the lines per batch (tests).
func batchLines(n int) Option { return func(o *options) { o.batchLines = n } }

// New returns a Tailer for paths: files, globs, directories, or "-" for
// standard input.
func New(paths []string, opts ...Option) *Tailer {
	o := options{
		maxLineBytes: DefaultMaxLineBytes, batchLines: 256, batchBytes: 1 << 20,
		log: zerolog.Nop(), stdin: os.Stdin, clock: realClock{},
		rotateWait: DefaultRotateWait, flushEvery: DefaultFlushInterval,
		stat: os.Stat, open: os.Open, newWatcher: newWatcher,
	}
	for _, opt := range opts {
		opt(&o)
	}
	return &Tailer{paths: paths, o: o}
}

// Run reads every path and sends batches of lines to out until all inputs
// are exhausted (without Follow) or ctx is cancelled, then closes out. Each
// batch is owned by the receiver, who must call its Done (when not nil)
// once the batch is dealt with: checkpoints advance only over batches whose
// Done was called. A send blocks while the receiver is busy: the tailer
// stops reading rather than dropping lines (nxadm/tail v1.4.11's
// RateLimiter skips to the end of the file instead: tail.go:311-327), and
// it returns when ctx ends even if nobody receives.
//
// With StateFile, call Close after the receiver has finished, to write the
// final checkpoints.
func (t *Tailer) Run(ctx context.Context, out chan<- Batch) error {
	defer close(out)
	if err := validPatterns(t.o.exclude); err != nil {
		return err
	}
	var stdin bool
	var ins []input
	for _, p := range t.paths {
		if p == Stdin {
			stdin = true
			continue
		}
		in := parseInput(p)
		if err := in.valid(); err != nil {
			return err
		}
		ins = append(ins, in)
	}
	var prev *stateFile
	if t.o.statePath != "" && t.o.follow {
		var err error
		if prev, err = loadState(t.o.statePath); err != nil {
			return err
		}
		cp := newCheckpoints(t.o.statePath, t.paths, t.o.clock, t.o.flushEvery, t.o.log)
		t.mu.Lock()
		t.cp = cp
		t.mu.Unlock()
		go cp.run()
	}

	var wg sync.WaitGroup
	var stdinErr error
	if stdin {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stdinErr = t.readStream(ctx, Stdin, "stdin:"+processNonce(), t.o.stdin, out)
		}()
	}
	var filesErr error
	if len(ins) > 0 {
		s := newFileSet(t, ins, out, prev)
		filesErr = s.run(ctx)
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return errors.Join(stdinErr, filesErr)
}

// Close writes the final checkpoints, once every batch sent by Run has been
// dealt with. Without StateFile it does nothing.
func (t *Tailer) Close() error {
	t.mu.Lock()
	cp := t.cp
	t.mu.Unlock()
	if cp == nil {
		return nil
	}
	return cp.close()
}

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
		last := e.batch[len(e.batch)-1]
		b.Done = e.tr.emitted(last.End, last.Number)
	}
	select {
	case e.out <- b:
		e.batch, e.bytes = nil, 0
		return true
	case <-ctx.Done():
		return false
	}
}

// readStream reads a non-seekable stream such as stdin to its end. A
// pending batch is sent before every read that may block, so that a line
// is not held back waiting for the next one.
func (t *Tailer) readStream(ctx context.Context, source, stream string, r io.Reader, out chan<- Batch) error {
	var seq uint64
	e := &emitter{source: source, stream: stream, seq: &seq, limit: t.o.batchLines, blimit: t.o.batchBytes, out: out, ctr: t.counters(source), pool: &t.pool}
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
