package tailer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// stateVersion is the version of the state file format written.
const stateVersion = 1

// stateFile is the on-disk form of the checkpoints (README "State file").
// Like Loki's positions file it is small JSON, rewritten whole.
type stateFile struct {
	Version int `json:"version"`
	// Inputs are the PATH arguments of the run that wrote the file: a file
	// found at start under one of them but absent from Files appeared
	// while mqttdiag was down, and is read from its beginning.
	Inputs []string     `json:"inputs"`
	Files  []stateEntry `json:"files"`
	// Ended are streams read to their end (finished rotated files,
	// generations ended by a truncation), the most recent ones: a file
	// found later that holds one of them (its copy, or the file itself)
	// is read on from where it ended, under its stream, never again.
	Ended []stateEntry `json:"ended,omitempty"`
	// Journals are the checkpoints of journald inputs.
	Journals []stateJournal `json:"journals,omitempty"`
}

// stateJournal is the checkpoint of one journald input.
type stateJournal struct {
	// Input is the input's argument, "journald:UNIT".
	Input string `json:"input"`
	// Cursor is the journal cursor of the last entry acknowledged (or,
	// before any was, of the entry the input started after); empty when
	// there was none: the input then starts at the beginning.
	Cursor string `json:"cursor,omitempty"`
	// Line is the number of entries read before the cursor's.
	Line int64 `json:"line"`
}

// journal returns the checkpoint of the journald input spec.
func (s *stateFile) journal(spec string) (stateJournal, bool) {
	if s == nil {
		return stateJournal{}, false
	}
	for _, j := range s.Journals {
		if j.Input == spec {
			return j, true
		}
	}
	return stateJournal{}, false
}

// stateEntry is the checkpoint of one content stream.
type stateEntry struct {
	// Path is the name the file had when last seen.
	Path string `json:"path"`
	// Dev, Inode and Btime (birth time, ns; 0 when the filesystem has
	// none) identify the file.
	Dev   uint64 `json:"dev"`
	Inode uint64 `json:"inode"`
	Btime int64  `json:"btime,omitempty"`
	// Fingerprint is a hash of the first FingerprintBytes bytes, or of the
	// first line when shorter, over FingerprintBytes bytes; empty until the
	// file has a first line.
	Fingerprint      string `json:"fingerprint,omitempty"`
	FingerprintBytes int    `json:"fingerprint_bytes,omitempty"`
	// Prefix is the same hash over the first PrefixBytes bytes as far as
	// they were read (at most 4096), Tail over the 64 bytes (fewer at the
	// start) before TailAt, where the file was read to: with them a file
	// is told from another with the same first line.
	Prefix      string `json:"prefix,omitempty"`
	PrefixBytes int    `json:"prefix_bytes,omitempty"`
	Tail        string `json:"tail,omitempty"`
	TailAt      int64  `json:"tail_at,omitempty"`
	// Generation counts truncations of the file (copytruncate).
	Generation int `json:"generation"`
	// Stream is the stream id diagnosis ids are derived from.
	Stream string `json:"stream,omitempty"`
	// Offset is the byte offset up to which every line was acknowledged;
	// Line is the number of lines before it.
	Offset int64 `json:"offset"`
	Line   int64 `json:"line"`

	c content // the hashes decoded, once: when loaded or set
}

func (e stateEntry) id() fileID { return fileID{dev: e.Dev, ino: e.Inode, btime: e.Btime} }

func (e stateEntry) fingerprint() fingerprint { return e.c.fp }
func (e stateEntry) content() content         { return e.c }

func (e *stateEntry) setContent(c content) {
	e.c = c
	e.Fingerprint, e.FingerprintBytes = c.fp.String(), c.fp.n
	e.Prefix, e.PrefixBytes = c.prefix.String(), c.prefix.n
	e.Tail, e.TailAt = c.tail.String(), 0
	if c.tail.known() {
		e.TailAt = c.tailAt
	}
}

// decode checks the entry and decodes its hashes.
func (e *stateEntry) decode() error {
	var err1, err2, err3 error
	e.c.fp, err1 = parseFingerprint(e.Fingerprint, e.FingerprintBytes, FingerprintBytes)
	e.c.prefix, err2 = parseFingerprint(e.Prefix, e.PrefixBytes, prefixBytes)
	if e.Tail != "" || e.TailAt != 0 {
		e.c.tailAt = e.TailAt
		e.c.tail, err3 = parseFingerprint(e.Tail, int(min(e.TailAt, tailBytes)), tailBytes)
	}
	if err := errors.Join(err1, err2, err3); err != nil {
		return err
	}
	if e.Offset < 0 || e.Line < 0 || e.Generation < 0 || e.TailAt < 0 || e.Path == "" {
		return errors.New("negative offset, line, generation or tail_at, or no path")
	}
	return nil
}

// loadState reads a state file. A missing file is a first run (nil, nil).
func loadState(path string) (*stateFile, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state file %s: %w", path, err)
	}
	return parseState(path, data)
}

// parseState parses the content of the state file path.
func parseState(path string, data []byte) (*stateFile, error) {
	var s stateFile
	bad := func(err error) error {
		return fmt.Errorf("state file %s is corrupt (%w): move it aside to start over, files then start at their end as on a first run, or restore it from a backup", path, err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, bad(err)
	}
	if s.Version != stateVersion {
		return nil, bad(fmt.Errorf("version %d, this mqttdiag reads version %d", s.Version, stateVersion))
	}
	if s.Files == nil {
		// Taken for "no files", every file under the inputs would be
		// read again from its beginning.
		return nil, bad(errors.New(`"files" is null or missing; mqttdiag writes a list, [] when it follows no file`))
	}
	for i := range s.Files {
		if err := s.Files[i].decode(); err != nil {
			return nil, bad(fmt.Errorf("files[%d]: %w", i, err))
		}
	}
	for i := range s.Ended {
		if err := s.Ended[i].decode(); err != nil {
			return nil, bad(fmt.Errorf("ended[%d]: %w", i, err))
		}
	}
	for i, j := range s.Journals {
		if !IsJournal(j.Input) || j.Line < 0 {
			return nil, bad(fmt.Errorf("journals[%d]: input %q is not journald:UNIT, or line is negative", i, j.Input))
		}
		if j.Cursor != "" {
			if _, err := parseCursor(j.Cursor); err != nil {
				return nil, bad(fmt.Errorf("journals[%d]: %w", i, err))
			}
		}
	}
	return &s, nil
}

// writeFileAtomic replaces path with data so that a crash at any moment
// leaves either the old or the new content: temporary file in the same
// directory, fsync, rename, fsync of the directory.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write state file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write state file %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("fsync state file %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write state file %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace state file %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsync directory of state file %s: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory of state file %s: %w", path, err)
	}
	return nil
}

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

// written is a track's stream id in a snapshot.
type written struct {
	t      *track
	stream string
}

// snapshot returns the state to write and drops finished tracks.
func (c *checkpoints) snapshot() ([]byte, []written, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dirty {
		return nil, nil, false, nil
	}
	c.dirty = false
	s := stateFile{Version: stateVersion, Inputs: c.inputs, Files: []stateEntry{}, Ended: c.ended}
	live := c.tracks[:0]
	var ws []written
	for _, t := range c.tracks {
		if t.retired && len(t.spans) == 0 {
			continue
		}
		live = append(live, t)
		if t.journal {
			if !t.started {
				continue
			}
			s.Journals = append(s.Journals, stateJournal{Input: t.entry.Path, Cursor: t.cursor, Line: t.entry.Line})
			continue
		}
		s.Files = append(s.Files, t.entry)
		ws = append(ws, written{t, t.entry.Stream})
	}
	clear(c.tracks[len(live):])
	c.tracks = live
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		c.dirty = true
		return nil, nil, false, fmt.Errorf("encode state: %w", err)
	}
	return append(data, '\n'), ws, true, nil
}

// save writes the state file if anything changed since the last write.
func (c *checkpoints) save() error {
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	data, ws, ok, err := c.snapshot()
	if err != nil {
		return err
	}
	if ok {
		if err := writeFileAtomic(c.path, data); err != nil {
			c.mu.Lock()
			c.dirty = true // try again next time
			if c.failing == nil {
				c.failingSince = c.clock.Now()
			}
			c.failing = err
			c.mu.Unlock()
			return err
		}
		c.saves++
	}
	c.mu.Lock()
	c.lastCurrent = c.clock.Now()
	c.failing = nil
	for _, w := range ws {
		w.t.written = w.stream
	}
	c.mu.Unlock()
	return nil
}

// failure is the last write error and when writes began to fail; nil
// while they succeed.
func (c *checkpoints) failure() (time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failingSince, c.failing
}

// current is when the state file was last known current.
func (c *checkpoints) current() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastCurrent
}

// run saves at most once per interval until close.
func (c *checkpoints) run() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case <-c.clock.After(c.every):
			if err := c.save(); err != nil {
				c.log.Error().Err(err).Msg("cannot save checkpoints; will retry (lines after the last saved checkpoint would be read again after a restart)")
			}
		}
	}
}

// close stops the periodic saves and writes the final state.
func (c *checkpoints) close() error {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.done
	return c.save()
}
