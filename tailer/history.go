package tailer

import (
	"os"
)

// history is what a fileSet knows of content streams besides the files it
// has open: the checkpoints of the last run and which of them a file
// claimed, and the files and streams this run read and let go of. It
// answers "was this read already, and up to where?".
type history struct {
	prev    *stateFile // the state file found at start, if any
	claimed []bool     // prev entries already matched to a file
	// born holds, per input path, the birth time of the file it named
	// before, so that a catch-up knows where rotations missed start.
	born map[string]int64
	// seen holds (device, inode) of every file read in this run, copies
	// included, so that a catch-up never reads one again.
	seen map[fileID]bool
	// done holds where files let go of in this run ended, should one come
	// back under an input path (its directory renamed away and back).
	done map[fileID]stateEntry
	// ended holds the fingerprints of the content streams read in this
	// run that no file is read as any more (truncated, or finished): a
	// file that starts with one of them is a copy of what was read.
	ended map[fingerprint]bool
}

func newHistory(prev *stateFile) *history {
	h := &history{prev: prev, born: make(map[string]int64), seen: make(map[fileID]bool),
		done: make(map[fileID]stateEntry), ended: make(map[fingerprint]bool)}
	if prev != nil {
		h.claimed = make([]bool, len(prev.Files))
	}
	return h
}

// entries returns the checkpoints of the last run.
func (h *history) entries() []stateEntry {
	if h.prev == nil {
		return nil
	}
	return h.prev.Files
}

func (h *history) markSeen(id fileID)           { h.seen[id.inode()] = true }
func (h *history) wasSeen(id fileID) bool       { return h.seen[id.inode()] }
func (h *history) end(fp fingerprint)           { h.ended[fp] = true }
func (h *history) hasEnded(fp fingerprint) bool { return h.ended[fp] }

// finish records where the file id was let go of, or where a copy of a
// stream was read to.
func (h *history) finish(id fileID, at stateEntry) { h.done[id.inode()] = at }

// doneWith reports whether a file let go of in this run, or a copy read
// to its end, is the file id.
func (h *history) doneWith(id fileID) bool {
	d, ok := h.done[id.inode()]
	return ok && d.id().same(id)
}

// resumeDone returns where this run let go of the file open as fd, when it
// still holds what was read then.
func (h *history) resumeDone(id fileID, fd *os.File, size int64) (stateEntry, bool) {
	d, ok := h.done[id.inode()]
	if !ok || !d.id().same(id) || d.Offset > size {
		return stateEntry{}, false
	}
	if ok, err := d.fingerprint().matches(fd); err != nil || !ok {
		return stateEntry{}, false
	}
	return d, true
}

// inState reports whether the state file has a checkpoint for the file.
func (h *history) inState(id fileID) bool {
	for _, e := range h.entries() {
		if e.id().same(id) {
			return true
		}
	}
	return false
}

// claim finds the state entry of the file open as fd. replaced reports
// that the entry is for the same file (device and inode, birth time) but
// its content was replaced since: its fingerprint no longer matches, or
// the file is shorter than the checkpoint.
func (h *history) claim(id fileID, fd *os.File, size int64) (e *stateEntry, replaced bool) {
	es := h.entries()
	best, newest := -1, -1
	for i := range es {
		c := &es[i]
		if h.claimed[i] || !c.id().same(id) {
			continue
		}
		if newest < 0 || c.Generation > es[newest].Generation {
			newest = i
		}
		if ok, err := c.fingerprint().matches(fd); err == nil && ok && c.Offset <= size {
			if best < 0 || c.Generation > es[best].Generation {
				best = i
			}
		}
	}
	switch {
	case best >= 0:
		h.claimed[best] = true
		return &es[best], false
	case newest >= 0:
		h.claimed[newest] = true
		return &es[newest], true
	}
	return nil, false
}

// newerGeneration reports whether the state holds a later generation of
// e's file.
func (h *history) newerGeneration(e stateEntry) bool {
	for _, o := range h.entries() {
		if o.id().same(e.id()) && o.Generation > e.Generation {
			return true
		}
	}
	return false
}

// bornBefore returns the birth time of the file path named before, when
// it named another one: from this run, or from the state file.
func (h *history) bornBefore(path string) int64 {
	if b, ok := h.born[path]; ok {
		return b
	}
	var b int64
	for _, e := range h.entries() {
		if e.Path == path && e.Btime > b {
			b = e.Btime
		}
	}
	return b
}
