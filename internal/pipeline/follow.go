package pipeline

import (
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/mqttdiag/mqttdiag/signatures"
	"github.com/mqttdiag/mqttdiag/sink"
	"github.com/mqttdiag/mqttdiag/tailer"
)

// DefaultMaxOpen bounds the open incidents (a fault whose signature has
// ends_when and whose ending line has not come) and, separately, the
// pending expectations (a line whose signature expects another within a
// time). It is sink.DefaultMaxActive: an open incident is an alert the
// Alertmanager sink keeps firing, so there is no point in tracking more
// than that sink keeps. Both are keyed by source, signature and the
// captures shared with the following line (a bridge name, a client id),
// which the broker's configuration bounds, not its clients, so the cap
// is reached only by a misconfigured signature or a flood of sources.
const DefaultMaxOpen = sink.DefaultMaxActive

// FollowStats is the use of the bounds on open incidents (ends_when) and
// pending expectations (expects), for metrics.
type FollowStats struct {
	// Open and Pending are held now, each of Max.
	Open, Pending, Max int
	// Dropped counts incidents not held open and expectations not watched
	// because Max were.
	Dropped int64
}

// FollowStats returns the counts as of the last batch or deadline; safe
// while Run runs.
func (p *Pipeline) FollowStats() FollowStats {
	return FollowStats{Open: int(p.followN.open.Load()), Pending: int(p.followN.pending.Load()), Max: p.follow.max, Dropped: p.followN.dropped.Load()}
}

// followCounters mirror follows' counts for readers outside Run.
type followCounters struct {
	open, pending, dropped atomic.Int64
}

func (c *followCounters) store(f *follows) {
	c.open.Store(int64(f.open))
	c.pending.Store(int64(f.pending))
	c.dropped.Store(f.dropped)
}

// follows tracks what later lines of a source must or will bring: the
// incidents their ending line will close (ends_when), and the lines
// whose absence past a deadline is a fault (expects). It is used by
// Run's goroutine only. Nothing is persisted: after a restart, an
// incident is open again only when its line is read again (from the
// checkpoint); until then its alert resolves at the last endsAt sent.
type follows struct {
	max     int
	res     map[string]*regexp.Regexp // compiled, by expression
	pk      *Pack
	sources map[string]*followSource
	open    int // incidents, of max
	pending int // expectations, of max
	dropped int64
}

// followSource is one source's open incidents and pending expectations,
// per signature and key (the values of the shared captures).
type followSource struct {
	open    map[*signatures.Signature]map[string]*sink.Diagnosis
	pending map[*signatures.Signature]map[string]*expectation
}

// expectation is a line seen that must be followed: the diagnosis made
// if it is not, its signature and source, by when on the clock, and by
// which log time (a later line of the source stamped past it proves the
// deadline passed, so that a log read from the beginning is judged by
// its own times). An ending travels in the same shape: its notification
// and signature.
type expectation struct {
	d        *sink.Diagnosis
	src      *sourceState
	sig      *signatures.Signature
	deadline time.Time
	logDue   time.Time // zero when the line had no time
}

func newFollows(max int) *follows {
	if max < 1 {
		max = DefaultMaxOpen
	}
	return &follows{max: max, res: map[string]*regexp.Regexp{}, sources: map[string]*followSource{}}
}

// use moves what is open and pending to pk's signatures of the same id,
// so that a reload does not lose an incident whose alert the sinks hold
// open. What pk's signature no longer ends (or expects) is dropped, and
// logged: its alert stays firing until mqttdiag stops or the same fault
// opens and ends again.
func (f *follows) use(log zerolog.Logger, pk *Pack) {
	if pk == f.pk {
		return
	}
	old := f.pk
	f.pk = pk
	if old == nil {
		return
	}
	byID := make(map[string]*signatures.Signature, len(pk.Signatures))
	for _, s := range pk.Signatures {
		byID[s.ID] = s
	}
	f.res = map[string]*regexp.Regexp{}
	f.open, f.pending = 0, 0
	for name, s := range f.sources {
		open, pending := s.open, s.pending
		s.open, s.pending = nil, nil
		for sig, byKey := range open {
			now := byID[sig.ID]
			if now == nil || now.EndsWhen == nil || !slices.Equal(now.SharedFields(now.EndsWhen), sig.SharedFields(sig.EndsWhen)) {
				log.Warn().Str("source", name).Str("signature_id", sig.ID).Int("incidents", len(byKey)).
					Msg("the reloaded pack no longer says what ends these open incidents: their alerts stay firing until mqttdiag stops")
				continue
			}
			if s.open == nil {
				s.open = map[*signatures.Signature]map[string]*sink.Diagnosis{}
			}
			s.open[now] = byKey
			f.open += len(byKey)
		}
		for sig, byKey := range pending {
			now := byID[sig.ID]
			if now == nil || now.Expects == nil || !slices.Equal(now.SharedFields(now.Expects), sig.SharedFields(sig.Expects)) {
				continue // no longer expected: nothing to diagnose
			}
			if s.pending == nil {
				s.pending = map[*signatures.Signature]map[string]*expectation{}
			}
			for _, e := range byKey {
				e.sig = now
			}
			s.pending[now] = byKey
			f.pending += len(byKey)
		}
	}
}

func (f *follows) re(expr string) *regexp.Regexp {
	re, ok := f.res[expr]
	if !ok {
		re, _ = regexp.Compile(expr) // loading checked it
		f.res[expr] = re
	}
	return re
}

// watches reports whether src has an open incident or a pending
// expectation: only then are its lines checked.
func (f *follows) watches(src string) bool {
	s := f.sources[src]
	return s != nil && (len(s.open) > 0 || len(s.pending) > 0)
}

func (f *follows) source(name string) *followSource {
	s := f.sources[name]
	if s == nil {
		s = &followSource{}
		f.sources[name] = s
	}
	return s
}

// key is the values of fields in captures, joined.
func key(fields []string, captures map[string]string) string {
	var b strings.Builder
	for _, n := range fields {
		b.WriteString(captures[n])
		b.WriteByte(0)
	}
	return b.String()
}

// submatches maps re's named captures in msg; nil when it does not match.
func submatches(re *regexp.Regexp, msg string) map[string]string {
	m := re.FindStringSubmatch(msg)
	if m == nil {
		return nil
	}
	out := map[string]string{}
	for i, n := range re.SubexpNames() {
		if n != "" && m[i] != "" {
			out[n] = m[i]
		}
	}
	return out
}

// opened records d, a diagnosis of sig, as an open incident when sig has
// ends_when, and marks it open; at the cap it stays closed (its alert
// falls back to the resolve timeout) and is counted as dropped.
func (f *follows) opened(log zerolog.Logger, src string, sig *signatures.Signature, d *sink.Diagnosis) {
	if sig == nil || sig.EndsWhen == nil {
		return
	}
	s := f.source(src)
	k := key(sig.SharedFields(sig.EndsWhen), d.Fields)
	if _, ok := s.open[sig][k]; !ok {
		if f.open >= f.max {
			f.dropped++
			log.Warn().Str("source", src).Str("signature_id", sig.ID).Int("max_open", f.max).
				Msg("too many open incidents: this one resolves after the alert resolve timeout instead of at its ending line")
			return
		}
		if s.open == nil {
			s.open = map[*signatures.Signature]map[string]*sink.Diagnosis{}
		}
		if s.open[sig] == nil {
			s.open[sig] = map[string]*sink.Diagnosis{}
		}
		f.open++
	}
	d.Open = true
	s.open[sig][k] = d
}

// expect arms sig's expectation for the line of d, seen at clock time now
// and log time logTime, unless one is pending for the same key (a bridge
// retrying step 1 every restart_timeout must not push its own deadline
// away for ever) or the fault it would diagnose is open already.
func (f *follows) expect(log zerolog.Logger, src string, st *sourceState, sig *signatures.Signature, d *sink.Diagnosis, now, logTime time.Time) {
	s := f.source(src)
	if sig.EndsWhen != nil {
		if _, open := s.open[sig][key(sig.SharedFields(sig.EndsWhen), d.Fields)]; open {
			return // diagnosed and not ended: its retries are no news
		}
	}
	k := key(sig.SharedFields(sig.Expects), d.Fields)
	if _, ok := s.pending[sig][k]; ok {
		return
	}
	if f.pending >= f.max {
		f.dropped++
		log.Warn().Str("source", src).Str("signature_id", sig.ID).Int("max_pending", f.max).
			Msg("too many pending expectations: this line's follow-up is not watched")
		return
	}
	if s.pending == nil {
		s.pending = map[*signatures.Signature]map[string]*expectation{}
	}
	if s.pending[sig] == nil {
		s.pending[sig] = map[string]*expectation{}
	}
	within := sig.Expects.WithinDuration()
	e := &expectation{d: d, sig: sig, src: st, deadline: now.Add(within)}
	if !logTime.IsZero() {
		e.logDue = logTime.Add(within)
	}
	s.pending[sig][k] = e
	f.pending++
}

// line checks one line of src against what the source waits for: it
// ends the open incidents it names (returning an ending notification for
// each), meets the expectations it satisfies, and, when its log time is
// past an expectation's, reports that expectation as unmet.
func (f *follows) line(src string, l *tailer.Line, msg string, logTime, now time.Time) (ended, unmet []*expectation) {
	s := f.sources[src]
	if s == nil {
		return nil, nil
	}
	for sig, byKey := range s.pending {
		if c := submatches(f.re(sig.Expects.Regex), msg); c != nil {
			k := key(sig.SharedFields(sig.Expects), c)
			if _, ok := byKey[k]; ok {
				delete(byKey, k)
				f.pending--
			}
		}
		if !logTime.IsZero() {
			for k, e := range byKey {
				if !e.logDue.IsZero() && logTime.After(e.logDue) {
					delete(byKey, k)
					f.pending--
					unmet = append(unmet, e)
				}
			}
		}
		if len(byKey) == 0 {
			delete(s.pending, sig)
		}
	}
	for sig, byKey := range s.open {
		c := submatches(f.re(sig.EndsWhen.Regex), msg)
		if c == nil {
			continue
		}
		k := key(sig.SharedFields(sig.EndsWhen), c)
		d, ok := byKey[k]
		if !ok {
			continue
		}
		delete(byKey, k)
		if len(byKey) == 0 {
			delete(s.open, sig)
		}
		f.open--
		ended = append(ended, &expectation{d: ending(d, l, logTime, now), sig: sig})
	}
	return ended, unmet
}

// ending is the notification that the incident of d ended at line l: d's
// labels and knowledge, the ending line, and EndedAt.
func ending(d *sink.Diagnosis, l *tailer.Line, logTime, now time.Time) *sink.Diagnosis {
	e := *d
	e.ID = DiagnosisID(l.Stream, l.Offset, d.SignatureID+"#ended")
	e.Open = false
	e.Line = strings.Clone(l.Text)
	e.Source = sink.Source{File: l.Source, Offset: l.Offset, LineNumber: l.Number}
	e.Context, e.Related = nil, nil
	e.ObservedAt = now
	at := now
	if !logTime.IsZero() {
		at = logTime
		t := logTime
		e.LogTime = &t
	} else {
		e.LogTime = nil
	}
	e.EndedAt = &at
	e.Count, e.FirstSeen, e.LastSeen, e.Clients, e.ClientCount, e.Summary = 0, nil, nil, nil, 0, ""
	return &e
}

// next is the earliest clock deadline of a pending expectation.
func (f *follows) next() (time.Time, bool) {
	var next time.Time
	for _, s := range f.sources {
		for _, byKey := range s.pending {
			for _, e := range byKey {
				if next.IsZero() || e.deadline.Before(next) {
					next = e.deadline
				}
			}
		}
	}
	return next, !next.IsZero()
}

// expire removes the expectations whose clock deadline is not after now
// and returns them, earliest first.
func (f *follows) expire(now time.Time) []*expectation {
	var due []*expectation
	for _, s := range f.sources {
		for sig, byKey := range s.pending {
			for k, e := range byKey {
				if !e.deadline.After(now) {
					delete(byKey, k)
					f.pending--
					due = append(due, e)
				}
			}
			if len(byKey) == 0 {
				delete(s.pending, sig)
			}
		}
	}
	slices.SortFunc(due, func(a, b *expectation) int {
		if c := a.deadline.Compare(b.deadline); c != 0 {
			return c
		}
		return strings.Compare(a.d.ID, b.d.ID)
	})
	return due
}
