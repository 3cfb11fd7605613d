package tailer

import (
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// checkpoints keeps, per content stream, the offset up to which every line
// was acknowledged, and writes them to the state file: at most once per
// interval while acknowledgements come in, at once when a stream starts
// (so that a stream's id is on disk before any of its diagnoses leaves),
// and on Close.
//
// Acknowledgements may arrive out of order (sinks with independent
// queues): each stream keeps its emitted batches in order and advances
// its checkpoint over the acknowledged prefix only.
type checkpoints struct {
	path   string
	inputs []string
	clock  Clock
	every  time.Duration
	log    zerolog.Logger

	mu     sync.Mutex
	tracks []*track
	ended  []stateEntry // oldest first; see end
	dirty  bool

	saveMu sync.Mutex // serialises writes of the file
	saves  int        // files written, for tests
	// lastCurrent is when the file on disk was last known to hold every
	// acknowledged position (written, or found unchanged); under mu.
	lastCurrent time.Time
	// failing is the last write error while writes fail, since when the
	// first of them failed; under mu.
	failing      error
	failingSince time.Time

	stop chan struct{}
	done chan struct{}
}

// track is the checkpoint of one content stream.
type track struct {
	cp *checkpoints
	// Set by the reading goroutine, read by the saver; under cp.mu.
	entry stateEntry // Offset and Line are the acknowledged position
	// spans are emitted batches not yet acknowledged, oldest first.
	spans   []*span
	retired bool   // no more batches will be emitted
	written string // the stream id as last written to the state file
	// journal marks the track of a journald input: entry.Path is the
	// input, cursor the journal cursor of the acknowledged position.
	journal bool
	cursor  string
	started bool // a journal track's start is known: it may be written
}

// span is one emitted batch: the position after its last line.
type span struct {
	end, line int64
	cursor    string // a journal batch's last cursor
	done      bool
}

// newCheckpoints returns the checkpoints of the state file path. Its first
// save writes the file even when no file is followed yet: the inputs in it
// tell the next start that a file found under them is new since, and is
// read from its beginning (a file written once is never a first run).
func newCheckpoints(path string, inputs []string, clock Clock, every time.Duration, log zerolog.Logger) *checkpoints {
	return &checkpoints{path: path, inputs: inputs, clock: clock, every: every, log: log, dirty: true,
		stop: make(chan struct{}), done: make(chan struct{})}
}

// setEnded sets the ended streams written with the checkpoints.
func (c *checkpoints) setEnded(ended []stateEntry) {
	c.mu.Lock()
	c.ended = slices.Clone(ended)
	c.dirty = true
	c.mu.Unlock()
}

// newTrack starts tracking a stream whose checkpoint is e.
func (c *checkpoints) newTrack(e stateEntry) *track {
	t := &track{cp: c, entry: e}
	c.mu.Lock()
	c.tracks = append(c.tracks, t)
	c.dirty = true
	c.mu.Unlock()
	return t
}

// newJournalTrack starts tracking the journald input spec, acknowledged
// up to from.
// Until started (the cursor it starts after is known, or it starts at
// the beginning), it is not written: a restart then starts it as a first
// run does.
func (c *checkpoints) newJournalTrack(spec string, from journalState, started bool) *track {
	t := &track{cp: c, journal: true, entry: stateEntry{Path: spec, Line: from.line}, cursor: from.cursor, started: started}
	c.mu.Lock()
	c.tracks = append(c.tracks, t)
	c.dirty = true
	c.mu.Unlock()
	return t
}

// setCursor sets a journal track's position when nothing was emitted
// yet: the entry it starts after.
func (t *track) setCursor(cursor string) {
	t.cp.mu.Lock()
	if len(t.spans) == 0 {
		t.cursor, t.started = cursor, true
		t.cp.dirty = true
	}
	t.cp.mu.Unlock()
}

// fix sets the id of the track's stream, and what its content is known by.
func (t *track) fix(stream string, c content) {
	t.update(func(e *stateEntry) {
		e.Stream = stream
		e.setContent(c)
	})
}

// unsaved reports whether the track's stream id is not on disk yet.
func (t *track) unsaved() bool {
	t.cp.mu.Lock()
	defer t.cp.mu.Unlock()
	return t.entry.Stream != "" && t.written != t.entry.Stream
}

// update changes a track's identity fields (path, content, stream) under
// the lock.
func (t *track) update(f func(e *stateEntry)) {
	t.cp.mu.Lock()
	f(&t.entry)
	t.cp.dirty = true
	t.cp.mu.Unlock()
}

// emitted records a batch that ends at end, after line number line, and
// returns its acknowledgement function.
func (t *track) emitted(end, line int64) func() { return t.emittedAt(end, line, "") }

// emittedAt is emitted for a batch that ends at a journal cursor.
func (t *track) emittedAt(end, line int64, cursor string) func() {
	s := &span{end: end, line: line, cursor: cursor}
	t.cp.mu.Lock()
	t.spans = append(t.spans, s)
	t.cp.mu.Unlock()
	return func() { t.ack(s) }
}

// skipped records a range that holds no line of ours (the rest of a line
// that began before the reader started), acknowledged at once.
func (t *track) skipped(end, line int64) { t.emitted(end, line)() }

func (t *track) ack(s *span) {
	t.cp.mu.Lock()
	defer t.cp.mu.Unlock()
	if s.done {
		return // Done is called exactly once by contract; be safe anyway
	}
	s.done = true
	n := 0
	for n < len(t.spans) && t.spans[n].done {
		t.entry.Offset, t.entry.Line = t.spans[n].end, t.spans[n].line
		if t.spans[n].cursor != "" {
			t.cursor = t.spans[n].cursor
		}
		n++
	}
	if n > 0 {
		t.spans = slices.Delete(t.spans, 0, n)
		t.cp.dirty = true
	}
}

// retire says no more batches of the stream will be emitted. The track is
// dropped from the state once all of them are acknowledged.
func (t *track) retire() {
	t.cp.mu.Lock()
	t.retired = true
	t.cp.dirty = true
	t.cp.mu.Unlock()
}

// acked returns the acknowledged position (tests).
func (t *track) acked() (offset, line int64) {
	t.cp.mu.Lock()
	defer t.cp.mu.Unlock()
	return t.entry.Offset, t.entry.Line
}
