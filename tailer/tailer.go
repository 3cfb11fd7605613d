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
	"io"
	"io/fs"
	"os"
	"os/exec"
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
	bufs bufPool

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
	wakeGap       time.Duration
	streamGap     time.Duration
	journalDir    string
	journalctl    string

	// Seams for fault injection in tests.
	stat       func(string) (fs.FileInfo, error)
	open       func(string) (*os.File, error)
	newWatcher func(zerolog.Logger) (*watcher, error)
	journalCmd func(ctx context.Context, name string, args ...string) *exec.Cmd
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

// WakeGap sets the least time between two reads that inotify events
// start (default 0: a read per event). A file written line by line is
// then read once a gap, whatever its rate: the cost beside a busy broker
// is per gap, not per line, and a line waits at most the gap (plus the
// read) before it leaves. A lone event is read at once. No effect with
// Poll.
func WakeGap(d time.Duration) Option { return func(o *options) { o.wakeGap = d } }

// StreamWakeGap sets the least time between two reads while the log is
// a stream: the last read brought streamLines lines or more. Each read
// then carries more lines, and a read costs far more than its lines (the
// runtime's thread hand-offs per wake-up, issue 17), so a busy broker's
// log costs one read per d; a line of the stream waits at most d (plus
// the read) before it leaves. A line that comes alone, the reader having
// kept up with the last one, still waits only WakeGap's gap. No effect
// with Poll, or when d is not longer than WakeGap's.
func StreamWakeGap(d time.Duration) Option { return func(o *options) { o.streamGap = d } }

// streamLines is how many lines one read must bring for the next to wait
// for the stream's gap: two, so that only a reader that keeps up line by
// line (each read finds the one line written since the last) reads at
// the trickle's pace.
const streamLines = 2

// batchLines bounds the lines per batch (tests).
func batchLines(n int) Option { return func(o *options) { o.batchLines = n } }

// New returns a Tailer for paths: files, globs, directories, "-" for
// standard input, or "journald:UNIT", "journald:FIELD=VALUE" or "journald:" (every entry) for the
// systemd journal, read through journalctl (see JournalDir).
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
// stops reading rather than dropping lines, and it returns when ctx ends
// even if nobody receives.
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
	var journals []journalInput
	for _, p := range t.paths {
		if p == Stdin {
			stdin = true
			continue
		}
		if IsJournal(p) {
			j, err := parseJournalInput(p)
			if err != nil {
				return err
			}
			journals = append(journals, j)
			continue
		}
		in := parseInput(p, t.o.stat)
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
		if prev != nil {
			cp.setEnded(prev.Ended)
		}
		t.mu.Lock()
		t.cp = cp
		t.mu.Unlock()
	}
	// Journal tracks exist before the first save: a state file written
	// without one would not say where the journal starts.
	froms := make([]journalState, len(journals))
	tracks := make([]*track, len(journals))
	for i, j := range journals {
		if saved, ok := prev.journal(j.spec); ok {
			// No cursor: the journal had no entry when it was
			// followed; every entry there now came since.
			froms[i] = journalState{cursor: saved.Cursor, line: saved.Line, known: true}
		}
		if t.cp != nil {
			tracks[i] = t.cp.newJournalTrack(j.spec, froms[i], froms[i].known || t.o.fromBeginning)
		}
	}
	if t.cp != nil {
		go t.cp.run()
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
	journalErrs := make([]error, len(journals))
	for i, j := range journals {
		wg.Add(1)
		go func() {
			defer wg.Done()
			journalErrs[i] = t.readJournal(ctx, j, froms[i], tracks[i], out)
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
	return errors.Join(append([]error{stdinErr, filesErr}, journalErrs...)...)
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
