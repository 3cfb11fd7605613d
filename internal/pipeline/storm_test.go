package pipeline

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/clock"
	"github.com/mqttdiag/mqttdiag/matcher"
	"github.com/mqttdiag/mqttdiag/signatures"
	"github.com/mqttdiag/mqttdiag/sink"
	"github.com/mqttdiag/mqttdiag/tailer"
)

// emitted is a notification the storm stage sent, and its acceptance.
type emitted struct {
	d      *sink.Diagnosis
	accept func()
}

type stormRig struct {
	t     *testing.T
	fc    *clock.Fake
	s     *storm
	out   []emitted
	acked map[string]bool // by occurrence id
	sigs  map[string]*signatures.Signature
}

func newStormRig(t *testing.T, window time.Duration, thresholds map[string]Threshold, sigs ...*signatures.Signature) *stormRig {
	r := &stormRig{t: t, fc: clock.NewFake(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)), acked: map[string]bool{}, sigs: map[string]*signatures.Signature{}}
	for _, s := range sigs {
		r.sigs[s.ID] = s
	}
	r.s = newStorm(window, thresholds, 0, r.fc, nil)
	r.s.emit = func(_ context.Context, d *sink.Diagnosis, then func()) error {
		r.out = append(r.out, emitted{d, then})
		return nil
	}
	return r
}

// occur feeds one occurrence of sig with fields, at the fake now.
func (r *stormRig) occur(id, sig string, fields map[string]string) {
	now := r.fc.Now()
	d := &sink.Diagnosis{ID: id, SignatureID: sig, Fields: fields, ObservedAt: now}
	if err := r.s.add(context.Background(), item{d: d, sig: r.sigs[sig], ack: newTally(1, func() { r.acked[id] = true })}); err != nil {
		r.t.Fatal(err)
	}
}

func (r *stormRig) advance(d time.Duration) {
	r.fc.Advance(d)
	if err := r.s.expire(context.Background(), r.fc.Now()); err != nil {
		r.t.Fatal(err)
	}
}

func (r *stormRig) acceptAll() {
	for _, e := range r.out {
		e.accept()
	}
}

func sig(id, regex string, th *signatures.Threshold) *signatures.Signature {
	return &signatures.Signature{ID: id, Regex: regex, Threshold: th}
}

const takeoverRe = `^Client (?P<client_id>.+) already connected`

func TestDedupWindow(t *testing.T) {
	r := newStormRig(t, time.Minute, nil, sig("takeover", takeoverRe, nil))
	for i := range 10000 {
		r.occur(fmt.Sprint("a", i), "takeover", map[string]string{"client_id": "a"})
		if i%1000 == 0 {
			r.occur(fmt.Sprint("b", i), "takeover", map[string]string{"client_id": "b"})
		}
	}
	if len(r.out) != 2 || r.out[0].d.ID != "a0" || r.out[1].d.ID != "b0" {
		t.Fatalf("within the window got %d notifications, want the first of each key", len(r.out))
	}
	r.acceptAll()
	if !r.acked["a0"] || r.acked["a1"] {
		t.Error("the first occurrence is acknowledged when sent; folded ones only with their summary")
	}
	r.advance(59 * time.Second)
	if len(r.out) != 2 {
		t.Fatal("summary before the window closed")
	}
	r.advance(time.Second)
	if len(r.out) != 4 {
		t.Fatalf("got %d notifications after the window closed, want 2 summaries more", len(r.out))
	}
	sum := map[string]int{}
	for _, e := range r.out {
		sum[e.d.Fields["client_id"]] += e.d.Occurrences()
	}
	if sum["a"] != 10000 || sum["b"] != 10 {
		t.Errorf("counts add up to %v, want a=10000 b=10", sum)
	}
	s := r.out[2].d
	if s.Summary != SummaryDedup || s.Count != 9999 || s.FirstSeen == nil || s.LastSeen == nil || s.ID == "a9999" {
		t.Errorf("summary %+v", s)
	}
	if r.acked["a9999"] {
		t.Error("acknowledged before the summary was accepted")
	}
	r.acceptAll()
	if len(r.acked) != 10010 {
		t.Errorf("acknowledged %d of 10010 after every notification was accepted", len(r.acked))
	}
	// After the window, the next occurrence is news again.
	r.occur("a-late", "takeover", map[string]string{"client_id": "a"})
	if len(r.out) != 5 || r.out[4].d.ID != "a-late" {
		t.Errorf("after the window: %d notifications", len(r.out))
	}
	// A lone occurrence needs no summary.
	r.advance(time.Minute)
	if len(r.out) != 5 {
		t.Error("empty summary sent")
	}
}

// Keys come from log content: a flood of distinct client ids opens at
// most maxKeys dedup windows; the occurrences of keys that found no room
// go out as one overflow summary per signature when its window closes,
// acknowledged only then, and the counts of every notification still add
// up to the occurrences.
func TestDedupKeysBounded(t *testing.T) {
	r := newStormRig(t, time.Minute, nil, sig("takeover", takeoverRe, nil), sig("other", `x`, nil))
	r.s = newStorm(time.Minute, nil, 3, r.fc, nil)
	r.s.emit = func(_ context.Context, d *sink.Diagnosis, then func()) error {
		r.out = append(r.out, emitted{d, then})
		return nil
	}
	for i := range 1000 {
		r.occur(fmt.Sprint("t", i), "takeover", map[string]string{"client_id": fmt.Sprint("dev-", i)})
	}
	r.occur("o1", "other", map[string]string{"client_id": "x"})
	if len(r.out) != 3 || len(r.s.groups) != 5 {
		t.Fatalf("1,001 distinct keys with room for 3: %d notifications at once and %d open windows, want 3 and 3+2 overflow", len(r.out), len(r.s.groups))
	}
	if st := r.s.counters; st.keys.Load() != 3 || st.folded.Load() != 998 {
		t.Errorf("counters: %d keys, %d folded; want 3 and 998", st.keys.Load(), st.folded.Load())
	}
	r.acceptAll()
	if len(r.acked) != 3 || r.acked["t3"] {
		t.Fatalf("acknowledged %d before the overflow summary went out", len(r.acked))
	}
	r.advance(time.Minute)
	if len(r.out) != 5 {
		t.Fatalf("after the window: %d notifications, want the 3 firsts and 2 overflow summaries", len(r.out))
	}
	total := 0
	for _, e := range r.out {
		total += e.d.Occurrences()
	}
	if total != 1001 {
		t.Errorf("counts add up to %d, want 1001", total)
	}
	var ov *sink.Diagnosis
	for _, e := range r.out[3:] {
		if e.d.SignatureID == "takeover" {
			ov = e.d
		}
	}
	if ov == nil || ov.Summary != SummaryOverflow || ov.Count != 997 || ov.ClientCount != 997 || len(ov.Clients) != sink.MaxClients {
		t.Fatalf("overflow summary %+v", ov)
	}
	if r.acked["t999"] {
		t.Error("acknowledged before the overflow summary was accepted")
	}
	r.acceptAll()
	if len(r.acked) != 1001 {
		t.Errorf("acknowledged %d of 1001", len(r.acked))
	}
	// The windows closed: room again, and a new key is news at once.
	if r.s.counters.keys.Load() != 0 {
		t.Errorf("%d keys open after every window closed", r.s.counters.keys.Load())
	}
	r.occur("late", "takeover", map[string]string{"client_id": "dev-late"})
	if len(r.out) != 6 || r.out[5].d.ID != "late" {
		t.Errorf("a new key after the windows closed was not sent at once")
	}
	// At shutdown an open overflow window is due like a dedup one.
	for i := range 5 {
		r.occur(fmt.Sprint("s", i), "takeover", map[string]string{"client_id": fmt.Sprint("new-", i)})
	}
	if err := r.s.flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if last := r.out[len(r.out)-1].d; last.Summary != SummaryOverflow || last.Count != 3 {
		t.Errorf("flush: last notification %q count %d, want an overflow summary of 3", last.Summary, last.Count)
	}
}

// The dedup key is the signature and its key fields: the address (its
// ephemeral port) does not split a reconnect storm.
func TestDedupKeyIgnoresVolatileFields(t *testing.T) {
	r := newStormRig(t, time.Minute, nil, sig("conn", `^New client connected from (?P<address>\S+) as (?P<client_id>\S+)`, nil))
	r.occur("1", "conn", map[string]string{"client_id": "a", "address": "127.0.0.1:1000"})
	r.occur("2", "conn", map[string]string{"client_id": "a", "address": "127.0.0.1:1001"})
	r.occur("3", "conn", map[string]string{"client_id": "b", "address": "127.0.0.1:1002"})
	r.occur("4", "unknown", map[string]string{"shape": "Client * disconnected due to protocol error."})
	r.occur("5", "unknown", map[string]string{"shape": "Client * disconnected due to protocol error."})
	var ids []string
	for _, e := range r.out {
		ids = append(ids, e.d.ID)
	}
	if fmt.Sprint(ids) != "[1 3 4]" {
		t.Errorf("sent %v, want [1 3 4]", ids)
	}
}

func TestThreshold(t *testing.T) {
	th := &signatures.Threshold{Count: 5, Window: "5m"}
	keepalive := sig("keepalive", `^Client (?P<client_id>\S+) has exceeded timeout`, th)
	r := newStormRig(t, time.Minute, nil, keepalive)

	// Below the threshold: silence, and the lines are acknowledged when
	// the window expires.
	for i := range 4 {
		r.occur(fmt.Sprint("q", i), "keepalive", map[string]string{"client_id": fmt.Sprint("dev", i)})
		r.advance(time.Minute)
	}
	if len(r.out) != 0 || len(r.acked) != 0 {
		t.Fatalf("below the threshold: %d notifications, %d acknowledged", len(r.out), len(r.acked))
	}
	r.advance(time.Minute)
	if len(r.out) != 0 || len(r.acked) != 4 {
		t.Fatalf("window expired below threshold: %d notifications, %d acknowledged, want 0 and 4", len(r.out), len(r.acked))
	}

	// Crossing it: one notification with the count and the clients.
	for i := range 7 {
		r.occur(fmt.Sprint("x", i), "keepalive", map[string]string{"client_id": fmt.Sprint("dev", i%6)})
	}
	if len(r.out) != 1 {
		t.Fatalf("got %d notifications, want 1 at the crossing", len(r.out))
	}
	d := r.out[0].d
	if d.Summary != SummaryThreshold || d.Count != 5 || d.ClientCount != 5 || fmt.Sprint(d.Clients) != "[dev0 dev1 dev2 dev3 dev4]" {
		t.Errorf("crossing: %+v", d)
	}
	r.advance(5 * time.Minute)
	if len(r.out) != 2 || r.out[1].d.Count != 2 || r.out[1].d.Summary != SummaryThreshold {
		t.Fatalf("the rest of the window: %d notifications", len(r.out))
	}
	r.acceptAll()
	if len(r.acked) != 11 {
		t.Errorf("acknowledged %d, want 11", len(r.acked))
	}
}

// A configured threshold overrides the signature's; Count 1 turns it off.
func TestThresholdOverride(t *testing.T) {
	th := &signatures.Threshold{Count: 50, Window: "5m"}
	r := newStormRig(t, 0, map[string]Threshold{"a": {Count: 2, Window: time.Minute}, "b": {Count: 0}},
		sig("a", `x`, th), sig("b", `y`, th))
	r.occur("a1", "a", nil)
	r.occur("b1", "b", nil)
	r.occur("a2", "a", nil)
	var got []string
	for _, e := range r.out {
		got = append(got, fmt.Sprint(e.d.SignatureID, e.d.Occurrences()))
	}
	if fmt.Sprint(got) != "[b1 a2]" {
		t.Errorf("got %v, want b passed (threshold off, dedup off) and a at its override of 2", got)
	}
}

// At shutdown, open dedup summaries go out; a window below its
// threshold is not due and stays unacknowledged, to be counted again
// after the restart.
func TestStormFlush(t *testing.T) {
	th := &signatures.Threshold{Count: 5, Window: "5m"}
	r := newStormRig(t, time.Minute, nil, sig("takeover", takeoverRe, nil), sig("keepalive", `x`, th))
	for i := range 3 {
		r.occur(fmt.Sprint("t", i), "takeover", map[string]string{"client_id": "a"})
		r.occur(fmt.Sprint("k", i), "keepalive", nil)
	}
	if err := r.s.flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(r.out) != 2 || r.out[1].d.Count != 2 {
		t.Fatalf("flush sent %d notifications", len(r.out))
	}
	r.acceptAll()
	var acked []string
	for id := range r.acked {
		acked = append(acked, id)
	}
	sort.Strings(acked)
	if fmt.Sprint(acked) != "[t0 t1 t2]" {
		t.Errorf("acknowledged %v, want the takeovers only", acked)
	}
}

// The stage's own goroutine closes windows on its clock.
func TestStormRunClosesWindowsOnTime(t *testing.T) {
	fc := clock.NewFake(time.Unix(0, 0))
	s := newStorm(time.Minute, nil, 0, fc, nil)
	out := make(chan *sink.Diagnosis, 10)
	s.emit = func(_ context.Context, d *sink.Diagnosis, then func()) error { out <- d; then(); return nil }
	in := make(chan item) // unbuffered: a send returns once the previous item was handled
	ran := make(chan error, 1)
	go func() { ran <- s.run(context.Background(), in) }()
	tk := sig("takeover", takeoverRe, nil)
	for i := range 3 {
		in <- item{d: &sink.Diagnosis{ID: fmt.Sprint(i), SignatureID: "takeover", Fields: map[string]string{"client_id": "a"}}, sig: tk, ack: newTally(1, nil)}
	}
	waitFor(t, out, "the first notification")
	// A different key, sent at once, shows that everything before it was
	// handled.
	in <- item{d: &sink.Diagnosis{ID: "other", SignatureID: "takeover", Fields: map[string]string{"client_id": "b"}}, sig: tk, ack: newTally(1, nil)}
	waitFor(t, out, "the other key")
	fc.Advance(time.Minute)
	if d := waitFor(t, out, "the summary"); d.Count != 2 {
		t.Errorf("summary count %d", d.Count)
	}
	close(in)
	if err := waitFor(t, ran, "run"); err != nil {
		t.Fatal(err)
	}
}

// Through the pipeline: 10,000 takeover lines reach stdout one by one,
// the alerting sink as two notifications whose counts add up, and every
// batch is acknowledged only once the summary that counts its lines was
// accepted (here at the end of input, which flushes open windows).
func TestPipelineStorm(t *testing.T) {
	for _, dedupStdout := range []bool{false, true} {
		t.Run(fmt.Sprint("dedup-stdout=", dedupStdout), func(t *testing.T) {
			stdout, alert := newCounter(), newCounter()
			p := New(pack(t), []sink.Notifier{stdout}, Alerting(alert), StormControl(time.Minute, nil), DedupRecords(dedupStdout))
			in := make(chan tailer.Batch, 100)
			var acked atomic.Int64
			for b := range 40 {
				var lines []tailer.Line
				for i := range 250 {
					lines = append(lines, takeoverLine(b*250+i, "storm"))
				}
				in <- tailer.Batch{Lines: lines, Done: func() { acked.Add(1) }}
			}
			close(in)
			if err := p.Run(context.Background(), in); err != nil {
				t.Fatal(err)
			}
			count := func(c *counter) (notifications, occurrences int) {
				close(c.ch)
				for d := range c.ch {
					notifications++
					occurrences += d.Occurrences()
				}
				return
			}
			an, ao := count(alert)
			sn, so := count(stdout)
			if an != 2 || ao != 10000 {
				t.Errorf("alerting sink: %d notifications for %d occurrences, want 2 for 10000", an, ao)
			}
			wantStdout := 10000
			if dedupStdout {
				wantStdout = 2
			}
			if sn != wantStdout || so != 10000 {
				t.Errorf("stdout: %d notifications for %d occurrences, want %d for 10000", sn, so, wantStdout)
			}
			if acked.Load() != 40 {
				t.Errorf("acknowledged %d of 40 batches", acked.Load())
			}
		})
	}
}

// takeoverPack is pack's takeover signature with threshold (JSON, or
// empty for none).
func takeoverPack(t *testing.T, threshold string) *Pack {
	t.Helper()
	th := ""
	if threshold != "" {
		th = `"threshold": ` + threshold + `,`
	}
	s, err := signatures.Parse("p.json", []byte(`[{
		"id": "takeover", "signature": "Client id takeover", "category": "protocol_error", "severity": "warning", `+th+`
		"root_cause": "two clients share an id", "regex": "^Client (?P<client_id>.+) already connected, closing old connection\\.$"
	}]`))
	if err != nil {
		t.Fatal(err)
	}
	m, err := matcher.New(s)
	if err != nil {
		t.Fatal(err)
	}
	return NewPack(m, s, "v", threshold)
}

// A signature's own threshold holds back its alerts without any storm
// control flag (dedup off, no --threshold), and the policy follows the
// pack: a reload that adds a threshold applies it, one that removes it
// lets the alerts through again.
func TestSignatureThresholdWithoutStormFlags(t *testing.T) {
	none := takeoverPack(t, "")
	three := takeoverPack(t, `{"count": 3, "window": "5m"}`)
	alert := newCounter()
	p := New(none.Matcher, []sink.Notifier{newCounter()}, Alerting(alert), StormControl(0, nil), Clock(clock.NewFake(time.Unix(0, 0))))
	p.SetPack(three) // the pack loaded at start has a threshold
	in := make(chan tailer.Batch)
	ran := make(chan error, 1)
	go func() { ran <- p.Run(context.Background(), in) }()
	var sent int64
	send := func(pk *Pack, from, n int, client string) {
		// Run takes up a new pack at its next batch: the one before must
		// be matched first, with the pack it was sent under.
		for deadline := time.Now().Add(10 * time.Second); p.Stats().Lines < sent; runtime.Gosched() {
			if time.Now().After(deadline) {
				t.Fatalf("Run did not match %d lines", sent)
			}
		}
		if pk != nil {
			p.SetPack(pk)
		}
		var lines []tailer.Line
		for i := range n {
			lines = append(lines, takeoverLine(from+i, client))
		}
		in <- tailer.Batch{Lines: lines}
		sent += int64(n)
	}
	send(nil, 0, 2, "held") // below the threshold: silence
	send(none, 10, 1, "free")
	if d := waitFor(t, alert.ch, "the diagnosis after the reload that removed the threshold"); d.Fields["client_id"] != "free" || d.Summary != "" {
		t.Fatalf("got %s %s count %d: the threshold of the old pack still applied, or was ignored", d.Fields["client_id"], d.Summary, d.Count)
	}
	// A reload that brings a threshold back: the window the held lines
	// opened is still open, and they count toward it.
	send(three, 20, 3, "again")
	d := waitFor(t, alert.ch, "the threshold summary")
	if d.Summary != SummaryThreshold || d.Count != 3 {
		t.Fatalf("got %s summary %q count %d, want a threshold summary of 3", d.Fields["client_id"], d.Summary, d.Count)
	}
	close(in)
	if err := waitFor(t, ran, "Run"); err != nil {
		t.Fatal(err)
	}
	// At the end the rest of the crossed window goes out.
	close(alert.ch)
	rest := 0
	for d := range alert.ch {
		rest += d.Occurrences()
	}
	if rest != 2 {
		t.Errorf("the rest of the window counted %d, want 2", rest)
	}
}

// BenchmarkDedupKeyMemory reports what an open dedup window costs
// (B/key: live heap after a GC, divided by the keys): the figure behind
// DefaultMaxDedupKeys. The keys are takeovers of distinct client ids, as
// a flood of new clients makes them.
func BenchmarkDedupKeyMemory(b *testing.B) {
	const n = 10000
	tk := sig("takeover", takeoverRe, nil)
	for b.Loop() {
		s := newStorm(time.Minute, nil, n, clock.NewFake(time.Unix(0, 0)), nil)
		s.emit = func(context.Context, *sink.Diagnosis, func()) error { return nil }
		var ms0, ms1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms0)
		for i := range n {
			d := &sink.Diagnosis{ID: fmt.Sprint(i), SignatureID: "takeover", Fields: map[string]string{"client_id": fmt.Sprintf("dev-%07d", i)}}
			if err := s.add(context.Background(), item{d: d, sig: tk, ack: newTally(1, nil)}); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&ms1)
		b.ReportMetric(float64(ms1.HeapAlloc-ms0.HeapAlloc)/n, "B/key")
		runtime.KeepAlive(s)
	}
}

// An ending is never folded, and what the fault's dedup window holds
// goes out before it: a summary after the ending would open the alert
// again.
func TestEndingFlushesDedupWindow(t *testing.T) {
	s := sig("bind", `^Error: (?P<reason>Address already in use)$`, nil)
	r := newStormRig(t, time.Minute, nil, s)
	f := map[string]string{"reason": "Address already in use"}
	r.occur("a", "bind", f)
	r.occur("b", "bind", f) // folded
	r.occur("c", "bind", f) // folded
	now := r.fc.Now()
	end := &sink.Diagnosis{ID: "end", SignatureID: "bind", Fields: f, ObservedAt: now, EndedAt: &now}
	if err := r.s.add(context.Background(), item{d: end, sig: s, ack: newTally(1, func() { r.acked["end"] = true })}); err != nil {
		t.Fatal(err)
	}
	if len(r.out) != 3 || r.out[0].d.ID != "a" || r.out[1].d.Summary != SummaryDedup || r.out[1].d.Count != 2 || r.out[2].d != end {
		var got []string
		for _, e := range r.out {
			got = append(got, e.d.ID+"/"+e.d.Summary)
		}
		t.Fatalf("emitted %v: want a, the dedup summary of b and c, then the ending", got)
	}
	r.advance(time.Minute) // the window was closed: nothing more
	if len(r.out) != 3 {
		t.Errorf("%d emitted after the window", len(r.out))
	}
	r.occur("d", "bind", f) // the next failure is news again
	if len(r.out) != 4 || r.out[3].d.ID != "d" {
		t.Errorf("the failure after the ending was not sent at once")
	}
}
