package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mqttdiag/mqttdiag/internal/clock"
	"github.com/mqttdiag/mqttdiag/matcher"
	"github.com/mqttdiag/mqttdiag/signatures"
	"github.com/mqttdiag/mqttdiag/sink"
	"github.com/mqttdiag/mqttdiag/tailer"
)

func TestDiagnosisID(t *testing.T) {
	a := DiagnosisID("2049:17:0", 100, "sig/a")
	if a != DiagnosisID("2049:17:0", 100, "sig/a") {
		t.Error("id is not stable")
	}
	for _, other := range []string{
		DiagnosisID("2049:17:1", 100, "sig/a"), // same file after copytruncate
		DiagnosisID("2049:18:0", 100, "sig/a"), // another file
		DiagnosisID("2049:17:0", 101, "sig/a"), // another line
		DiagnosisID("2049:17:0", 100, "sig/b"), // another signature on the line
	} {
		if other == a {
			t.Errorf("ids collide: %s", a)
		}
	}
	if len(a) != 24 {
		t.Errorf("id %q: want 24 hex digits", a)
	}
}

// recorder is a Notifier that fails the first n calls.
type recorder struct {
	mu    sync.Mutex
	fail  int
	retry bool
	calls int
	got   []*sink.Diagnosis
}

func (r *recorder) Notify(_ context.Context, ds []*sink.Diagnosis) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.fail > 0 {
		r.fail--
		return r.retry, errors.New("receiver down")
	}
	r.got = append(r.got, ds...)
	return false, nil
}

func pack(t *testing.T) *matcher.Matcher {
	t.Helper()
	m := packOf(t, `[{
		"id": "takeover", "signature": "Client id takeover", "category": "protocol_error", "severity": "warning",
		"root_cause": "two clients share an id", "official_doc_url": "https://example.org/spec", "error_code": "0x8E",
		"regex": "^Client (?P<client_id>.+) already connected, closing old connection\\.$",
		"workarounds": [{"action": "low", "success_rate": 0.5}, {"action": "high", "success_rate": 0.9}],
		"dead_ends": [{"action": "restart", "why_fails": "comes back", "fail_rate": 0.9}],
		"versions": [{"version": "Mosquitto 2.0.0 - 2.0.20", "status": "active"}]
	}]`)
	return m
}

func feed(lines ...tailer.Line) <-chan tailer.Batch {
	ch := make(chan tailer.Batch, 1)
	ch <- tailer.Batch{Lines: lines}
	close(ch)
	return ch
}

func TestRunDiagnoses(t *testing.T) {
	rec := &recorder{}
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	p := New(pack(t), []sink.Notifier{rec}, Clock(clock.NewFake(now)))
	err := p.Run(context.Background(), feed(
		tailer.Line{Source: "m.log", Stream: "1:2:0", Offset: 0, Number: 1, Text: "1795320306: New client connected from 127.0.0.1:34914 as c1 (p2, c1, k60)."},
		tailer.Line{Source: "m.log", Stream: "1:2:0", Offset: 76, Number: 2, Text: "1795320306: Client c1 already connected, closing old connection."},
	))
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.got) != 1 {
		t.Fatalf("got %d diagnoses", len(rec.got))
	}
	d := rec.got[0]
	if d.SignatureID != "takeover" || d.Title != "Client id takeover" || d.Severity != "warning" || d.Category != "protocol_error" ||
		d.RootCause != "two clients share an id" || d.DocURL != "https://example.org/spec" || d.ErrorCode != "0x8E" {
		t.Errorf("knowledge: %+v", d)
	}
	if d.Fields["client_id"] != "c1" || d.Source != (sink.Source{File: "m.log", Offset: 76, LineNumber: 2}) {
		t.Errorf("line facts: %+v %+v", d.Fields, d.Source)
	}
	if d.LogTime == nil || !d.LogTime.Equal(time.Unix(1795320306, 0)) || !d.ObservedAt.Equal(now) {
		t.Errorf("times: log %v observed %v", d.LogTime, d.ObservedAt)
	}
	if d.Workarounds[0].Action != "high" || d.Workarounds[1].Action != "low" {
		t.Errorf("workarounds not ranked: %+v", d.Workarounds)
	}
	if d.ID != DiagnosisID("1:2:0", 76, "takeover") {
		t.Errorf("id %s", d.ID)
	}
	if st := p.Stats(); st.Lines != 2 || st.Diagnoses != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestRunReleasesBatches checks that Run gives every batch's slice back
// once, and that what it made from the lines does not depend on the
// slice afterwards: the tailer refills it at once.
func TestRunReleasesBatches(t *testing.T) {
	rec := &recorder{}
	p := New(pack(t), []sink.Notifier{rec})
	in := make(chan tailer.Batch, 2)
	released := 0
	scribble := func(ls []tailer.Line) {
		released++
		for i := range ls {
			ls[i] = tailer.Line{Source: "other.log", Text: "scribbled", Offset: -1}
		}
	}
	for i, id := range []string{"c1", "c2"} {
		in <- tailer.Batch{Lines: []tailer.Line{
			{Source: "m.log", Stream: "s", Offset: int64(i * 100), Number: int64(i + 1), Text: "1795320306: Client " + id + " already connected, closing old connection."},
		}}.WithRelease(scribble)
	}
	close(in)
	if err := p.Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if released != 2 {
		t.Errorf("released %d batches, want 2", released)
	}
	if len(rec.got) != 2 {
		t.Fatalf("got %d diagnoses", len(rec.got))
	}
	for i, d := range rec.got {
		id := []string{"c1", "c2"}[i]
		if d.Fields["client_id"] != id || d.Source.File != "m.log" || d.Source.Offset != int64(i*100) || !strings.Contains(d.Line, id) {
			t.Errorf("diagnosis %d changed with its released slice: %+v %+v %q", i, d.Fields, d.Source, d.Line)
		}
	}
	if st := p.Stats(); st.Lines != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestRunRetriesRecoverableFailures(t *testing.T) {
	rec := &recorder{fail: 2, retry: true}
	p := New(pack(t), []sink.Notifier{rec}, Clock(instantClock(t)))
	if err := p.Run(context.Background(), feed(tailer.Line{Text: "Client c1 already connected, closing old connection."})); err != nil {
		t.Fatal(err)
	}
	if rec.calls != 3 || len(rec.got) != 1 {
		t.Errorf("calls=%d delivered=%d, want 3 calls and 1 delivery", rec.calls, len(rec.got))
	}
	if st := p.SinkStats()[0]; st.Sent != 1 || st.Failed != 2 || st.Retried != 2 || st.Poisoned != 0 {
		t.Errorf("stats %+v", st)
	}
}

// A failure the sink calls unrecoverable (a 4xx) is not retried: it is
// logged, counted as poisoned and acknowledged, so that one bad request
// cannot stall every later diagnosis.
func TestRunPoisonIsCountedAndAcknowledged(t *testing.T) {
	rec := &recorder{fail: 1, retry: false}
	p := New(pack(t), nil, Alerting(rec), AlertBatch(1, 0))
	in := make(chan tailer.Batch, 2)
	var done int
	in <- tailer.Batch{Lines: []tailer.Line{{Text: "Client c1 already connected, closing old connection."}}, Done: func() { done++ }}
	in <- tailer.Batch{Lines: []tailer.Line{{Text: "Client c2 already connected, closing old connection."}}, Done: func() { done++ }}
	close(in)
	if err := p.Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if rec.calls != 2 || len(rec.got) != 1 || done != 2 {
		t.Errorf("calls=%d delivered=%d done=%d, want 2 calls, the second delivered, both acknowledged", rec.calls, len(rec.got), done)
	}
	if st := p.SinkStats()[0]; st.Poisoned != 1 || st.Sent != 1 || st.Retried != 0 {
		t.Errorf("stats %+v", st)
	}
}

// Done is called once per batch, after every sink accepted its diagnoses,
// and diagnoses carry the broker and version from the startup banner.
func TestRunAcknowledgesAfterDeliveryAndDetectsBroker(t *testing.T) {
	rec := &recorder{fail: 1, retry: true}
	p := New(pack(t), []sink.Notifier{rec})
	in := make(chan tailer.Batch, 2)
	var done []int
	mk := func(i int) func() {
		return func() {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.got) == 0 && i == 1 {
				t.Errorf("batch %d acknowledged before its diagnosis was delivered", i)
			}
			done = append(done, i)
		}
	}
	in <- tailer.Batch{Lines: []tailer.Line{
		{Source: "a.log", Text: "1795320305: mosquitto version 2.0.11 starting"},
		{Source: "a.log", Text: "1795320306: Client c1 already connected, closing old connection."},
	}, Done: mk(1)}
	in <- tailer.Batch{Lines: []tailer.Line{{Source: "b.log", Text: "1795320306: Client c2 already connected, closing old connection."}}, Done: mk(2)}
	in2 := make(chan tailer.Batch, 1)
	in2 <- tailer.Batch{Lines: []tailer.Line{
		{Source: "c.log", Text: "1795320305: mosquitto version 2.0.22 starting"},
		{Source: "c.log", Text: "1795320306: Client c3 already connected, closing old connection."},
	}}
	close(in2)
	rec2 := &recorder{}
	if err := New(pack(t), []sink.Notifier{rec2}).Run(context.Background(), in2); err != nil {
		t.Fatal(err)
	}
	if len(rec2.got) != 1 || !strings.Contains(rec2.got[0].VersionNote, "do not list mosquitto 2.0.22") {
		t.Errorf("2.0.22 beyond the signature's versions: %+v", rec2.got)
	}
	close(in)
	if err := p.Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if len(done) != 2 || done[0] != 1 || done[1] != 2 {
		t.Errorf("done calls = %v, want [1 2]", done)
	}
	if len(rec.got) != 2 {
		t.Fatalf("got %d diagnoses", len(rec.got))
	}
	if d := rec.got[0]; d.Broker != "mosquitto" || d.BrokerVersion != "2.0.11" {
		t.Errorf("a.log: broker %q version %q", d.Broker, d.BrokerVersion)
	}
	if d := rec.got[0]; d.VersionNote != "" {
		t.Errorf("a.log: version note %q although the signature lists 2.0.11", d.VersionNote)
	}
	if d := rec.got[1]; d.BrokerVersion != "" {
		t.Errorf("b.log has no banner, but version %q", d.BrokerVersion)
	}
}

func TestUnknownFaultLines(t *testing.T) {
	lines := []tailer.Line{
		{Source: "m.log", Offset: 0, Text: "1795320000: Client a disconnected due to protocol error."},
		{Source: "m.log", Offset: 60, Text: "1795320010: Client b disconnected due to protocol error."}, // same wording, within a minute
		{Source: "m.log", Offset: 120, Text: "1795320011: Error: Unable to open log file /x.log for writing."},
		{Source: "m.log", Offset: 180, Text: "1795320071: Client c disconnected due to protocol error."}, // a minute later
		{Source: "m.log", Offset: 240, Text: "1795320072: Client c disconnected."},                       // a normal goodbye
		{Source: "m.log", Offset: 300, Text: "1795320073: Client c already connected, closing old connection."},
	}
	rec := &recorder{}
	if err := New(pack(t), []sink.Notifier{rec}).Run(context.Background(), feed(lines...)); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range rec.got {
		got = append(got, d.SignatureID+"@"+d.Fields["shape"]+"@"+d.Severity)
	}
	want := []string{
		"unknown@Client * disconnected due to protocol error.@warning",
		"unknown@Error: Unable to open log file * for writing.@error",
		"unknown@Client * disconnected due to protocol error.@warning",
		"takeover@@warning",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	rec = &recorder{}
	if err := New(pack(t), []sink.Notifier{rec}, Unknown(false, 0)).Run(context.Background(), feed(lines...)); err != nil {
		t.Fatal(err)
	}
	if len(rec.got) != 1 {
		t.Errorf("with unknown off got %d diagnoses, want only the takeover", len(rec.got))
	}
}

// Once a source's broker is known (banner, the shape of its lines, or the
// Broker option), only signatures for that broker apply to its lines. The
// first line has no prefix, so its source's broker is not known yet; on
// b.log Mosquitto's unix-seconds prefix tells it from the first line.
func TestRunScopesSignaturesToTheBroker(t *testing.T) {
	m := packOf(t, `[
		{"id": "emqx-only", "regex": "boom", "broker": "emqx"},
		{"id": "mosquitto-only", "regex": "boom", "broker": "mosquitto"}
	]`)
	lines := []tailer.Line{
		{Source: "a.log", Offset: 0, Text: "boom"},
		{Source: "a.log", Offset: 20, Text: "1795320305: mosquitto version 2.0.11 starting"},
		{Source: "a.log", Offset: 70, Text: "1795320306: boom"},
		{Source: "b.log", Offset: 0, Text: "1795320307: boom"},
	}
	tests := []struct {
		opts []Option
		want []string // signature ids, in order
	}{
		{nil, []string{"emqx-only", "mosquitto-only", "mosquitto-only", "mosquitto-only"}},
		{[]Option{Broker("emqx")}, []string{"emqx-only", "emqx-only", "emqx-only"}},
	}
	for _, tt := range tests {
		rec := &recorder{}
		if err := New(m, []sink.Notifier{rec}, tt.opts...).Run(context.Background(), feed(lines...)); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range rec.got {
			got = append(got, d.SignatureID)
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("options %d: got %v, want %v", len(tt.opts), got, tt.want)
		}
	}
}

func storyPack(t *testing.T) *matcher.Matcher {
	t.Helper()
	m := packOf(t, `[
		{"id": "bridge-auth", "signature": "Bridge auth failed", "signature_zh": "桥接认证失败",
		 "root_cause": "wrong credentials", "root_cause_zh": "凭据错误",
		 "workarounds": [{"action": "fix the password", "success_rate": 0.9}], "workarounds_zh": ["修正密码"],
		 "regex": "^Connection Refused: not authorised$", "transition_graph": {"leads_to": ["dropped"]}},
		{"id": "dropped", "signature": "Messages dropped", "regex": "^Outgoing messages are being dropped for client (?P<client_id>.+)\\.$"}
	]`)
	return m
}

// A diagnosis carries the lines before it, links to the diagnosis of the
// signature that leads to it within the window, names its pack, and uses
// the Chinese text when asked.
func TestContextRelatedLangAndPack(t *testing.T) {
	lines := []tailer.Line{
		{Source: "a.log", Stream: "s", Offset: 0, Text: "1700000000: Connecting bridge cloud (10.0.0.1:1883)"},
		{Source: "a.log", Stream: "s", Offset: 60, Text: "1700000000: Connection Refused: not authorised"},
		{Source: "b.log", Stream: "t", Offset: 0, Text: "1700000001: Outgoing messages are being dropped for client other."},
		{Source: "a.log", Stream: "s", Offset: 120, Text: "1700000005: Outgoing messages are being dropped for client cloud."},
		{Source: "a.log", Stream: "s", Offset: 200, Text: "1700001000: Outgoing messages are being dropped for client cloud."},
	}
	rec := &recorder{}
	p := New(storyPack(t), []sink.Notifier{rec}, ContextLines(2), Related(5*time.Minute), Lang("zh"), PackInfo("v1+0", "abcdef012345"), Unknown(false, 0))
	if err := p.Run(context.Background(), feed(lines...)); err != nil {
		t.Fatal(err)
	}
	if len(rec.got) != 4 {
		t.Fatalf("got %d diagnoses", len(rec.got))
	}
	auth, other, dropped, late := rec.got[0], rec.got[1], rec.got[2], rec.got[3]
	if auth.Title != "桥接认证失败" || auth.RootCause != "凭据错误" || auth.Workarounds[0].Action != "修正密码" {
		t.Errorf("zh text not used: %+v", auth)
	}
	if dropped.Title != "Messages dropped" {
		t.Errorf("a signature without Chinese text keeps English: %q", dropped.Title)
	}
	if len(auth.Context) != 1 || auth.Context[0] != lines[0].Text {
		t.Errorf("context of the first fault: %q", auth.Context)
	}
	if len(dropped.Context) != 2 || dropped.Context[0] != lines[0].Text || dropped.Context[1] != lines[1].Text {
		t.Errorf("context is per source, oldest first: %q", dropped.Context)
	}
	if len(dropped.Related) != 1 || dropped.Related[0] != auth.ID {
		t.Errorf("dropped.related = %v, want [%s]", dropped.Related, auth.ID)
	}
	if len(other.Related) != 0 {
		t.Errorf("another source's diagnosis is related: %v", other.Related)
	}
	if len(late.Related) != 0 {
		t.Errorf("a diagnosis 16 minutes later is related: %v", late.Related)
	}
	if auth.PackVersion != "v1+0" || auth.PackHash != "abcdef012345" {
		t.Errorf("pack %q %q", auth.PackVersion, auth.PackHash)
	}
}

// SetPack swaps the signatures between batches: lines keep flowing, the
// next batch is matched with the new pack.
func TestSetPack(t *testing.T) {
	rec := &recorder{}
	p := New(pack(t), []sink.Notifier{rec}, Unknown(false, 0))
	in := make(chan tailer.Batch)
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background(), in) }()
	line := "Client c1 already connected, closing old connection."
	ack := make(chan struct{})
	in <- tailer.Batch{Lines: []tailer.Line{{Text: line}}, Done: func() { close(ack) }}
	<-ack
	p.SetPack(NewPack(storyPack(t), nil, "v2", "222222222222"))
	in <- tailer.Batch{Lines: []tailer.Line{{Text: line}, {Text: "Connection Refused: not authorised"}}}
	close(in)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range rec.got {
		got = append(got, d.SignatureID+"@"+d.PackHash)
	}
	if strings.Join(got, " ") != "takeover@ bridge-auth@222222222222" {
		t.Errorf("got %v", got)
	}
}

// After enough lines without a debug line, mqttdiag says which Mosquitto
// signatures need log_type debug; with debug lines it says nothing.
func TestLevelsSeenInTheLog(t *testing.T) {
	m := packOf(t, `[
		{"id": "m/debug", "broker": "mosquitto", "log_level": "debug", "regex": "^Sending CONNACK to (?P<a>\\S+) \\(0, 5\\)$"},
		{"id": "m/default", "broker": "mosquitto", "regex": "^Client (?P<c>.+) already connected, closing old connection\\.$"}
	]`)
	run := func(text string) string {
		var logs strings.Builder
		lines := []tailer.Line{{Source: "m.log", Text: "1700000000: mosquitto version 2.0.11 running"}}
		for i := 0; i < levelProbeLines; i++ {
			lines = append(lines, tailer.Line{Source: "m.log", Text: text})
		}
		p := New(m, []sink.Notifier{&recorder{}}, Logger(zerolog.New(&logs)), Unknown(false, 0))
		if err := p.Run(context.Background(), feed(lines...)); err != nil {
			t.Fatal(err)
		}
		return logs.String()
	}
	if out := run("1700000000: New connection from 127.0.0.1:1 on port 1883."); !strings.Contains(out, "probably cannot fire") || !strings.Contains(out, "m/debug") || strings.Contains(out, "m/default") {
		t.Errorf("no warning for the debug signature:\n%s", out)
	}
	if out := run("1700000000: Received PINGREQ from c1"); strings.Contains(out, "probably cannot fire") {
		t.Errorf("warned although debug lines are there:\n%s", out)
	}
}

// packOf is the matcher of the signatures in the JSON text js.
func packOf(t testing.TB, js string) *matcher.Matcher {
	t.Helper()
	s, err := signatures.Parse("p.json", []byte(js))
	if err != nil {
		t.Fatal(err)
	}
	m, err := matcher.New(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
