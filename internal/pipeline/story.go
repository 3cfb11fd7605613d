package pipeline

import (
	"strings"
	"time"
)

// recent remembers, per source, the last diagnosis of each signature, so
// that a diagnosis can name the earlier ones it follows from.
type recent struct {
	window time.Duration
	bySig  map[string]seen
}

type seen struct {
	id string
	at time.Time
}

// related returns, for each signature that precedes sig, the id of its
// latest diagnosis seen within the window before at: the nearest cause,
// not every earlier occurrence (a burst of refused clients would otherwise
// link each to all the others).
func (r *recent) related(pk *Pack, sig string, at time.Time) []string {
	var ids []string
	for _, before := range pk.preds[sig] {
		last, ok := r.bySig[before]
		if !ok {
			continue
		}
		if d := at.Sub(last.at); d >= 0 && d <= r.window {
			ids = append(ids, last.id)
		}
	}
	return ids
}

func (r *recent) add(sig, id string, at time.Time) {
	if r.bySig == nil {
		r.bySig = map[string]seen{}
	}
	r.bySig[sig] = seen{id: id, at: at}
}

// ring keeps the last lines of a source, for a diagnosis' context.
type ring struct {
	lines []string
	next  int
	full  bool
}

func (r *ring) push(s string, n int) {
	if n <= 0 {
		return
	}
	if r.lines == nil {
		r.lines = make([]string, n)
	}
	r.lines[r.next] = s
	r.next = (r.next + 1) % n
	if r.next == 0 {
		r.full = true
	}
}

// last returns the lines, oldest first, copied: the originals share
// memory with their read batch.
func (r *ring) last() []string {
	if r.lines == nil {
		return nil
	}
	var out []string
	if r.full {
		for _, s := range r.lines[r.next:] {
			out = append(out, strings.Clone(s))
		}
	}
	for _, s := range r.lines[:r.next] {
		out = append(out, strings.Clone(s))
	}
	return out
}
