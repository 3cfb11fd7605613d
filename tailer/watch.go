package tailer

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/rs/zerolog"
)

// Clock is the tailer's source of time: the safety and poll timers, the
// wait before a rotated file is let go, and the interval between state
// file writes. It names only standard types, so any clock with these two
// methods fits; mqttdiag passes its internal/clock, tests a fake one.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives the time once d has passed.
	After(d time.Duration) <-chan time.Time
}

// realClock is the system clock.
type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// watcher turns inotify events in the directories of the followed files
// into wake-ups of the reading loop. Events are hints only: the loop
// re-stats and re-reads every file itself, and also looks on a timer, so a
// lost or coalesced event (queue overflow) costs latency, never data.
// Every Tailer has its own fsnotify.Watcher, so that tailers on one file
// never steal each other's events (PITFALLS.md #20, #21).
type watcher struct {
	fs   *fsnotify.Watcher
	log  zerolog.Logger
	wake chan struct{}
	mu   sync.Mutex
	dirs map[string]bool
	// gap, when set, is the least time between two wake-ups: an event
	// within gap of the last wake-up waits for gap to end (see run).
	// streamGap takes its place while the loop says the log is a stream
	// (streaming, set after each read).
	gap, streamGap time.Duration
	streaming      atomic.Bool
	clock          Clock
	// renamed is set by any event but a write (a file created, removed,
	// renamed or changed in mode) and by an inotify error (a queue
	// overflow may have hidden one): what the files are called may have
	// changed, so the loop looks at the paths again before the safety
	// tick is due. A write only grows a file the loop already reads.
	renamed atomic.Bool
}

func newWatcher(log zerolog.Logger) (*watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	return &watcher{fs: fw, log: log, wake: make(chan struct{}, 1), dirs: make(map[string]bool)}, nil
}

// watch adds a directory; a failure is reported once and left to the timer.
func (w *watcher) watch(dir string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, tried := w.dirs[dir]; tried {
		return
	}
	if err := w.fs.Add(dir); err != nil {
		// Typically the directory does not exist yet; the timer finds it
		// and we try again then.
		w.log.Debug().Err(err).Str("dir", dir).Msg("cannot watch directory yet; checking it on the timer")
		return
	}
	w.dirs[dir] = true
}

// forget drops a directory that went away, so that watch adds it again
// when it comes back.
func (w *watcher) forget(dir string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.dirs[dir] {
		_ = w.fs.Remove(dir)
		delete(w.dirs, dir)
	}
}

// run turns events into wake-ups. With a gap, an event that comes within
// gap of the last wake-up is held until gap has passed: a file written
// line by line then costs one read a gap, not one per write, and while
// run waits it reads no event, so fsnotify stops reading inotify and the
// kernel merges the file's repeated IN_MODIFY events into one. A lone
// event still wakes the loop at once.
func (w *watcher) run(ctx context.Context) {
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.fs.Events:
			if !ok {
				return
			}
			if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
				w.forget(ev.Name) // no-op unless it was a watched directory
			}
			if ev.Op != fsnotify.Write {
				w.renamed.Store(true)
			}
			if gap := w.gapNow(); gap > 0 {
				if wait := gap - w.clock.Now().Sub(last); wait > 0 {
					select {
					case <-ctx.Done():
						return
					case <-w.clock.After(wait):
					}
				}
				last = w.clock.Now()
			}
			select {
			case w.wake <- struct{}{}:
			default:
			}
		case err, ok := <-w.fs.Errors:
			if !ok {
				return
			}
			w.log.Warn().Err(err).Msg("inotify error; files are still checked every second")
			w.renamed.Store(true)
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
	}
}

// gapNow is the least time between two wake-ups now: the stream's while
// the log is one, else the trickle's.
func (w *watcher) gapNow() time.Duration {
	if w.streaming.Load() && w.streamGap > w.gap {
		return w.streamGap
	}
	return w.gap
}

func (w *watcher) close() { _ = w.fs.Close() }
