package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/clock"
	"github.com/mqttdiag/mqttdiag/matcher"
	"github.com/mqttdiag/mqttdiag/sink"
	"github.com/mqttdiag/mqttdiag/tailer"
)

// followPack has a fault that ends (a start-up failure, ended by the
// broker's "running") and a fault of absence (a bridge's step 1 with no
// step 2 of the same bridge within 30 s), whose incident ends at step 2.
// The texts are Mosquitto 2.0.11's (src/mosquitto.c:556, src/bridge.c:244
// and 270 at v2.0.11).
func followPack(t *testing.T) *matcher.Matcher {
	t.Helper()
	return packOf(t, `[{
		"id": "bind", "signature": "port in use", "severity": "critical",
		"regex": "^Error: (?P<reason>Address already in use)$",
		"ends_when": {"regex": "^mosquitto version \\S+ running$"}
	}, {
		"id": "stuck", "signature": "bridge stuck resolving", "severity": "error",
		"regex": "^Connecting bridge \\(step 1\\) (?P<bridge>\\S+) \\((?P<host>.+):(?P<port>\\d+)\\)$",
		"expects": {"regex": "^Connecting bridge \\(step 2\\) (?P<bridge>\\S+) \\(", "within": "30s"},
		"ends_when": {"regex": "^Connecting bridge \\(step 2\\) (?P<bridge>\\S+) \\("}
	}]`)
}

// chanSink passes every diagnosis it gets to a channel.
type chanSink chan *sink.Diagnosis

func (c chanSink) Notify(_ context.Context, ds []*sink.Diagnosis) (bool, error) {
	for _, d := range ds {
		c <- d
	}
	return false, nil
}

// followRig runs a pipeline on a fake clock and feeds it lines one batch
// at a time, each dealt with before the next.
type followRig struct {
	t   *testing.T
	clk *clock.Fake
	in  chan tailer.Batch
	out chanSink
	n   int64
	run chan error
	p   *Pipeline
}

func newFollowRig(t *testing.T, opts ...Option) *followRig {
	r := &followRig{t: t, clk: clock.NewFake(time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)),
		in: make(chan tailer.Batch), out: make(chanSink, 100), run: make(chan error, 1)}
	p := New(followPack(t), []sink.Notifier{r.out}, append([]Option{Clock(r.clk), Broker("mosquitto")}, opts...)...)
	r.p = p
	go func() { r.run <- p.Run(context.Background(), r.in) }()
	t.Cleanup(func() {
		close(r.in)
		if err := waitFor(t, r.run, "Run to return"); err != nil {
			t.Error(err)
		}
	})
	return r
}

// line feeds text (a broker line, with or without its time) as a batch
// of its own and waits until it was dealt with.
func (r *followRig) line(text string) {
	r.t.Helper()
	done := make(chan struct{})
	r.in <- tailer.Batch{Lines: []tailer.Line{{Source: "m.log", Stream: "s", Offset: r.n * 100, Number: r.n + 1, Text: text}},
		Done: func() { close(done) }}
	r.n++
	waitFor(r.t, done, "the batch to be dealt with")
}

// none checks that nothing was delivered so far.
func (r *followRig) none(when string) {
	r.t.Helper()
	select {
	case d := <-r.out:
		r.t.Fatalf("%s: unexpected diagnosis %s %v (open %v, ended %v)", when, d.SignatureID, d.Fields, d.Open, d.EndedAt)
	default:
	}
}

// A bridge's step 1 with no step 2 of the same bridge within 30 s is
// diagnosed when the deadline passes on the clock, not before; another
// bridge's step 2 does not count, its own does; a retried step 1 does not
// push the deadline away; the incident stays open until its step 2.
func TestExpectsDeadline(t *testing.T) {
	r := newFollowRig(t)
	t0 := r.clk.Now()
	r.line("Connecting bridge (step 1) cloud (nonexistent.invalid:1883)")
	r.line("Connecting bridge (step 1) edge (127.0.0.1:1883)")
	r.line("Connecting bridge (step 2) edge (127.0.0.1:1883)")
	if !r.clk.AwaitAfter(30*time.Second, 10*time.Second) {
		t.Fatal("Run never waited for the 30 s deadline")
	}
	r.clk.Advance(20 * time.Second)
	r.line("Connecting bridge (step 1) cloud (nonexistent.invalid:1883)") // the retry, restart_timeout later
	r.none("20 s after step 1")
	r.clk.Advance(10 * time.Second)
	d := waitFor(t, r.out, "the diagnosis of the missing step 2")
	if d.SignatureID != "stuck" || d.Fields["bridge"] != "cloud" || d.Fields["host"] != "nonexistent.invalid" {
		t.Fatalf("diagnosis %s %v, want stuck for bridge cloud", d.SignatureID, d.Fields)
	}
	if !d.ObservedAt.Equal(t0.Add(30*time.Second)) || !d.Open || d.EndedAt != nil {
		t.Errorf("observed %v (want %v), open %v, ended %v", d.ObservedAt, t0.Add(30*time.Second), d.Open, d.EndedAt)
	}
	if d.Source.LineNumber != 1 {
		t.Errorf("line %d: want the first step 1, the one left unanswered", d.Source.LineNumber)
	}
	r.none("after the deadline")
	// The bridge retries while its fault is open: no news, no second
	// diagnosis 30 s later. Another bridge's step 1 beside it is the
	// control: it is diagnosed at that deadline.
	r.line("Connecting bridge (step 1) cloud (nonexistent.invalid:1883)")
	r.line("Connecting bridge (step 1) other (192.0.2.7:1883)")
	if !r.clk.AwaitAfter(30*time.Second, 10*time.Second) {
		t.Fatal("Run never waited for the next 30 s deadline")
	}
	r.clk.Advance(30 * time.Second)
	if d := waitFor(t, r.out, "the other bridge's diagnosis"); d.Fields["bridge"] != "other" {
		t.Errorf("diagnosed bridge %s: a retry of an open fault is no news", d.Fields["bridge"])
	}
	r.line("1796524690: Error: Address already in use") // delivered after anything the deadline sent
	if d := waitFor(t, r.out, "the start-up failure"); d.SignatureID != "bind" {
		t.Errorf("diagnosis %s %v before the start-up failure: a retry of an open fault is no news", d.SignatureID, d.Fields)
	}

	r.line("Connecting bridge (step 2) edge (127.0.0.1:1883)") // another bridge: no ending
	r.none("another bridge's step 2")
	r.line("Connecting bridge (step 2) cloud (192.0.2.1:1883)")
	e := waitFor(t, r.out, "the ending")
	if e.SignatureID != "stuck" || e.EndedAt == nil || e.Open || e.Line != "Connecting bridge (step 2) cloud (192.0.2.1:1883)" ||
		e.Fields["bridge"] != "cloud" || e.ID == d.ID {
		t.Errorf("ending %s %v line %q ended %v open %v", e.SignatureID, e.Fields, e.Line, e.EndedAt, e.Open)
	}
	if n := r.p.Stats().Diagnoses; n != 3 {
		t.Errorf("%d diagnoses counted, want 3: cloud, other, the start-up failure (an ending is none)", n)
	}
}

// A log read from the beginning is judged by its own times: a later line
// stamped past the deadline proves the step 2 did not come in time,
// without waiting on the clock.
func TestExpectsByLogTime(t *testing.T) {
	r := newFollowRig(t)
	r.line("1796524686: Connecting bridge (step 1) cloud (nonexistent.invalid:1883)")
	r.line("1796524716: mosquitto version 2.0.11 running") // 30 s later: not past
	r.none("at the deadline")
	r.line("1796524717: Bridge local.vm.edge doing local SUBSCRIBE on topic #")
	d := waitFor(t, r.out, "the diagnosis")
	if d.SignatureID != "stuck" || d.LogTime == nil || d.LogTime.Unix() != 1796524686 {
		t.Errorf("diagnosis %s at %v", d.SignatureID, d.LogTime)
	}
	if n := r.p.Stats().Diagnoses; n != 1 {
		t.Errorf("%d diagnoses counted, want 1", n)
	}
}

// A start-up failure is open until the broker's next "running", which
// ends it; the next failure opens it again. At the cap, a new incident
// is not open (its alert falls back to the resolve timeout).
func TestEndsWhen(t *testing.T) {
	r := newFollowRig(t)
	r.line("1796524686: mosquitto version 2.0.11 running") // no incident: nothing ends
	r.none("running without a fault")
	r.line("1796524690: Error: Address already in use")
	d := waitFor(t, r.out, "the start-up failure")
	if d.SignatureID != "bind" || !d.Open || d.EndedAt != nil {
		t.Fatalf("diagnosis %s open %v ended %v", d.SignatureID, d.Open, d.EndedAt)
	}
	r.line("1796524700: mosquitto version 2.0.11 starting")
	r.none("starting is not running")
	r.line("1796524700: mosquitto version 2.0.11 running")
	e := waitFor(t, r.out, "the ending")
	if e.SignatureID != "bind" || e.EndedAt == nil || e.EndedAt.Unix() != 1796524700 || e.Line != "1796524700: mosquitto version 2.0.11 running" ||
		e.Severity != "critical" || e.Source.LineNumber != 4 {
		t.Errorf("ending %s ended %v line %q severity %s line %d", e.SignatureID, e.EndedAt, e.Line, e.Severity, e.Source.LineNumber)
	}
	r.line("1796524710: mosquitto version 2.0.11 running") // ended already
	r.none("a second running")
	r.line("1796524720: Error: Address already in use")
	if d := waitFor(t, r.out, "the next failure"); !d.Open {
		t.Error("the next failure is not open")
	}
}

func TestOpenIncidentsBounded(t *testing.T) {
	r := newFollowRig(t, MaxOpen(1))
	r.line("1796524686: Connecting bridge (step 1) a (a.invalid:1883)")
	r.line("1796524686: Connecting bridge (step 1) b (b.invalid:1883)") // no room: not watched
	r.line("1796524717: Connecting bridge (step 1) c (c.invalid:1883)")
	d := waitFor(t, r.out, "a's diagnosis")
	if d.Fields["bridge"] != "a" || !d.Open {
		t.Fatalf("diagnosis for %v open %v, want a, open", d.Fields, d.Open)
	}
	r.line("1796524748: Connecting bridge (step 1) d (d.invalid:1883)")
	d = waitFor(t, r.out, "c's diagnosis")
	if d.Fields["bridge"] != "c" || d.Open {
		t.Errorf("diagnosis for %v open %v: want c, not open (one incident, a's, is open already)", d.Fields, d.Open)
	}
	r.none("b was never watched")
	if st := r.p.FollowStats(); st != (FollowStats{Open: 1, Pending: 1, Max: 1, Dropped: 2}) {
		t.Errorf("stats %+v: want a open, d pending, b and c dropped", st)
	}
}

// A reload (a new pack, new signature values of the same ids) keeps the
// open incidents: the ending line read after it still ends the fault.
func TestOpenIncidentSurvivesReload(t *testing.T) {
	r := newFollowRig(t)
	r.line("1796524690: Error: Address already in use")
	if d := waitFor(t, r.out, "the start-up failure"); !d.Open {
		t.Fatal("not open")
	}
	m := followPack(t)
	r.p.SetPack(NewPack(m, m.Signatures(), "reloaded", "h2"))
	r.line("1796524700: mosquitto version 2.0.11 running")
	if e := waitFor(t, r.out, "the ending after the reload"); e.EndedAt == nil || e.SignatureID != "bind" {
		t.Errorf("after the reload: %s ended %v", e.SignatureID, e.EndedAt)
	}
}
