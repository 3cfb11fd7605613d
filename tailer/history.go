package tailer

import (
	"io"
	"os"
	"slices"
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
	// done holds where files let go of in this run ended, and copies read
	// to their end, by inode.
	done map[fileID]stateEntry
	// ended are the streams read to their end that no file is read as any
	// more (truncated, or finished), in this run and the last ones, oldest
	// first (see keepEnded): a file that holds one of them is a copy of
	// what was read, or the file itself found again.
	ended []stateEntry
}

func newHistory(prev *stateFile) *history {
	h := &history{prev: prev, born: make(map[string]int64), seen: make(map[fileID]bool),
		done: make(map[fileID]stateEntry)}
	if prev != nil {
		h.claimed = make([]bool, len(prev.Files))
		h.ended = prev.Ended
	}
	return h
}

// The ended streams kept: the last few of each path, and no more than a
// bound in all, so that the state file stays small. A copy or rotated
// file older than those is taken for a file never read.
const (
	endedPerPath = 8
	endedMax     = 1024
)

// keepEnded adds e to the ended streams, in place of an earlier record
// of its stream, and drops the oldest beyond the bounds.
func keepEnded(list []stateEntry, e stateEntry) []stateEntry {
	list = slices.DeleteFunc(list, func(o stateEntry) bool { return e.Stream != "" && o.Stream == e.Stream })
	list = append(list, e)
	n := 0
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].Path == e.Path {
			if n++; n > endedPerPath {
				list = slices.Delete(list, i, i+1)
			}
		}
	}
	if k := len(list) - endedMax; k > 0 {
		list = slices.Delete(list, 0, k)
	}
	return list
}

// entries returns the checkpoints of the last run.
func (h *history) entries() []stateEntry {
	if h.prev == nil {
		return nil
	}
	return h.prev.Files
}

func (h *history) markSeen(id fileID)     { h.seen[id.inode()] = true }
func (h *history) wasSeen(id fileID) bool { return h.seen[id.inode()] }

// finish records a stream read to its end, at the file where it was read
// (the file let go of, or the copy it was finished from).
func (h *history) finish(at stateEntry) {
	h.done[at.id().inode()] = at
	if at.fingerprint().known() {
		h.ended = keepEnded(h.ended, at)
	}
}

// endedIn returns the ended stream that r, size bytes long, holds.
func (h *history) endedIn(fp fingerprint, r io.ReaderAt, size int64) (stateEntry, bool) {
	for i := len(h.ended) - 1; i >= 0; i-- {
		if e := h.ended[i]; e.fingerprint() == fp && e.content().heldBy(r, size, nil) {
			return e, true
		}
	}
	return stateEntry{}, false
}

// doneWith reports whether a file let go of in this run, or a copy read
// to its end, is the file id.
func (h *history) doneWith(id fileID) bool {
	d, ok := h.done[id.inode()]
	return ok && d.id().same(id)
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
		if c.Offset <= size && c.content().heldBy(fd, size, nil) {
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
