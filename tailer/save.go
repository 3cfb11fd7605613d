package tailer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

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
