// Package tailer reads log lines from files and standard input, following
// files as they grow and as they are rotated, and reports each line with
// its exact byte position. It knows bytes, positions and file identities,
// and nothing about signatures.
//
// It reads files itself rather than through github.com/nxadm/tail, whose
// reader cannot give exact offsets (Tell is racy against its own buffered
// channel), exits the process on a failed stat, and emits partial lines;
// see README "Why not nxadm/tail".
package tailer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/rs/zerolog"

	"github.com/mqttdiag/mqttdiag/internal/logline"
)

// Stdin is the path that names standard input.
const Stdin = "-"

// Tailer reads lines from a set of paths.
type Tailer struct {
	paths []string
	o     options
}

type options struct {
	follow        bool
	fromBeginning bool
	maxLineBytes  int
	poll          time.Duration
	batchLines    int
	log           zerolog.Logger
	stdin         io.Reader
}

// Option configures a Tailer.
type Option func(*options)

// Follow keeps reading files as they grow and are rotated, until the
// context is cancelled. Without it each input is read to its end once.
func Follow(on bool) Option { return func(o *options) { o.follow = on } }

// FromBeginning starts files at their first byte instead of their end.
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

// New returns a Tailer for paths. "-" means standard input.
func New(paths []string, opts ...Option) *Tailer {
	o := options{maxLineBytes: DefaultMaxLineBytes, batchLines: 256, log: zerolog.Nop(), stdin: os.Stdin}
	for _, opt := range opts {
		opt(&o)
	}
	return &Tailer{paths: paths, o: o}
}

// Run reads every path and sends batches of lines to out until all inputs
// are exhausted (without Follow) or ctx is cancelled, then closes out. Each
// batch is owned by the receiver. A send blocks while the receiver is busy:
// the tailer stops reading rather than dropping lines.
func (t *Tailer) Run(ctx context.Context, out chan<- logline.Batch) error {
	defer close(out)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var w *watcher
	if t.o.follow && t.o.poll == 0 {
		var err error
		if w, err = newWatcher(t.o.log); err != nil {
			t.o.log.Warn().Err(err).Msg("inotify unavailable; polling files every second (use --poll to choose the interval)")
			w = nil
		} else {
			defer w.close()
			go w.run(ctx)
		}
	}

	var wg sync.WaitGroup
	errs := make([]error, len(t.paths))
	for i, p := range t.paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if p == Stdin {
				errs[i] = t.readStream(ctx, Stdin, "stdin:"+processNonce(), t.o.stdin, out)
				return
			}
			f := &follower{t: t, path: p, out: out}
			if w != nil {
				f.wake = w.subscribe(p)
			}
			errs[i] = f.run(ctx)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return errors.Join(errs...)
}

// emitter batches lines for one source.
type emitter struct {
	source string
	stream string
	seq    uint64
	num    int64
	batch  []logline.Line
	limit  int
	out    chan<- logline.Batch
}

func (e *emitter) add(l rawLine) {
	e.seq++
	e.num++
	e.batch = append(e.batch, logline.Line{
		Source: e.source, Stream: e.stream,
		Offset: l.offset, End: l.end, Number: e.num, Seq: e.seq,
		Text: string(l.text), Truncated: l.truncated,
	})
}

func (e *emitter) full() bool { return len(e.batch) >= e.limit }

// flush sends the pending batch; false when ctx ended first.
func (e *emitter) flush(ctx context.Context) bool {
	if len(e.batch) == 0 {
		return true
	}
	select {
	case e.out <- logline.Batch{Lines: e.batch}:
		e.batch = make([]logline.Line, 0, e.limit)
		return true
	case <-ctx.Done():
		return false
	}
}

// readStream reads a non-seekable stream such as stdin to its end.
func (t *Tailer) readStream(ctx context.Context, source, stream string, r io.Reader, out chan<- logline.Batch) error {
	e := &emitter{source: source, stream: stream, limit: t.o.batchLines, out: out}
	lr := newLineReader(r, 0, t.o.maxLineBytes)
	for {
		l, err := lr.next(true)
		if err == errNoLine {
			// A pipe returns EOF only when the writer closed it.
			e.flush(ctx)
			return nil
		}
		if err != nil {
			e.flush(ctx)
			return fmt.Errorf("read %s: %w", source, err)
		}
		e.add(l)
		if e.full() && !e.flush(ctx) {
			return nil
		}
	}
}

// processNonce distinguishes one run's stdin stream from another's, so
// that diagnosis ids of different streams never collide.
func processNonce() string {
	return fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())
}

// watcher fans inotify events on the directories of followed files out to
// the followers, as wake-ups: a follower always re-reads the file itself,
// so a lost or coalesced event costs latency, never data.
type watcher struct {
	fs   *fsnotify.Watcher
	log  zerolog.Logger
	mu   sync.Mutex
	subs map[string][]chan struct{} // by cleaned absolute path
	dirs map[string]bool
}

func newWatcher(log zerolog.Logger) (*watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	return &watcher{fs: fw, log: log, subs: make(map[string][]chan struct{}), dirs: make(map[string]bool)}, nil
}

func (w *watcher) subscribe(path string) <-chan struct{} {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = filepath.Clean(path)
	}
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.subs[abs] = append(w.subs[abs], ch)
	dir := filepath.Dir(abs)
	if !w.dirs[dir] {
		if err := w.fs.Add(dir); err != nil {
			w.log.Warn().Err(err).Str("dir", dir).Msg("cannot watch directory; relying on the one-second check")
		} else {
			w.dirs[dir] = true
		}
	}
	return ch
}

func (w *watcher) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.fs.Events:
			if !ok {
				return
			}
			w.mu.Lock()
			for _, ch := range w.subs[ev.Name] {
				select {
				case ch <- struct{}{}:
				default:
				}
			}
			w.mu.Unlock()
		case err, ok := <-w.fs.Errors:
			if !ok {
				return
			}
			// An overflow loses events, not data: followers also check
			// on a timer.
			w.log.Warn().Err(err).Msg("inotify error")
		}
	}
}

func (w *watcher) close() { _ = w.fs.Close() }
