package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/clock"
	"github.com/mqttdiag/mqttdiag/matcher"
	"github.com/mqttdiag/mqttdiag/signatures"
	"github.com/mqttdiag/mqttdiag/sink"
	"github.com/mqttdiag/mqttdiag/tailer"
)

// incidentPack has a cause, a detail that is part_of it for the same
// client on the next line within 1s, and a generic line that context
// rules classify. The lines carry no timestamp, so every time is the
// pipeline's clock: the tests move it.
func incidentPack(t *testing.T) *matcher.Matcher {
	t.Helper()
	m := packOf(t, `[
	{"id": "cause", "signature": "Refused", "severity": "warning", "regex": "^Refused (?P<client_id>\\S+) from (?P<address>\\S+)$"},
	{"id": "detail", "signature": "Gone", "severity": "warning", "regex": "^Gone (?P<client_id>\\S+) (?P<reason>\\w+)$",
	 "part_of": {"signatures": ["cause"], "within": "1s", "lines": 1, "same": ["client_id"]}},
	{"id": "tlsfail", "signature": "TLS failed", "severity": "warning", "regex": "^TLS failed$"},
	{"id": "authfail", "signature": "Not authorised", "severity": "error", "regex": "^Auth failed never$"},
	{"id": "bridge", "signature": "Bridge down", "severity": "error", "regex": "^Bridge down never$"},
	{"id": "generic", "signature": "Socket error", "severity": "warning", "regex": "^Socket error on (?P<client_id>\\S+)$",
	 "context": [
	  {"preceded_by": ["tlsfail"], "within": "1s", "lines": 1, "as_preceding": true},
	  {"preceded_by": ["cause"], "within": "1s", "lines": 1, "same": ["client_id"], "becomes": "authfail"},
	  {"fields": {"client_id": "^local\\."}, "becomes": "bridge"}]}
	]`)
	return m
}

// incidentRig runs a pipeline over batches fed one at a time, with a
// stdout-like sink and an alerting sink behind storm control.
type incidentRig struct {
	t             *testing.T
	clk           *clock.Fake
	in            chan tailer.Batch
	stdout, alert *counter
	errc          chan error
	n             int
}

func newIncidentRig(t *testing.T) *incidentRig {
	r := &incidentRig{t: t, clk: clock.NewFake(time.Unix(1_800_000_000, 0)), in: make(chan tailer.Batch), stdout: newCounter(), alert: newCounter(), errc: make(chan error, 1)}
	p := New(incidentPack(t), []sink.Notifier{r.stdout}, Alerting(r.alert), StormControl(0, nil), Clock(r.clk), Unknown(false, 0))
	go func() { r.errc <- p.Run(context.Background(), r.in) }()
	return r
}

// read feeds lines as one batch and returns what stdout recorded of it
// (want diagnoses), so that the clock moves only after they were made.
func (r *incidentRig) read(want int, texts ...string) []*sink.Diagnosis {
	r.t.Helper()
	var lines []tailer.Line
	for _, s := range texts {
		lines = append(lines, tailer.Line{Source: "m.log", Stream: "s", Offset: int64(r.n) * 100, Number: int64(r.n + 1), Text: s})
		r.n++
	}
	r.in <- tailer.Batch{Lines: lines}
	var got []*sink.Diagnosis
	for range want {
		got = append(got, waitLong(r.t, r.stdout.ch, "a recorded diagnosis"))
	}
	return got
}

// alerts ends the run and returns what the alerting sink was sent.
func (r *incidentRig) alerts() []*sink.Diagnosis {
	r.t.Helper()
	close(r.in)
	if err := <-r.errc; err != nil {
		r.t.Fatal(err)
	}
	close(r.alert.ch)
	var out []*sink.Diagnosis
	for d := range r.alert.ch {
		out = append(out, d)
	}
	return out
}

// A detail on the next line, same client, within the window: recorded at
// info with the cause's id, carried on the cause (its line and the
// captures the cause lacked), and no alert of its own.
func TestPartOfDetailJoinsItsCause(t *testing.T) {
	r := newIncidentRig(t)
	got := r.read(2, "Refused a from 10.0.0.1", "Gone a timeout")
	cause, detail := got[0], got[1]
	if detail.PartOf != cause.ID || detail.Severity != signatures.SeverityInfo {
		t.Errorf("detail: part_of %q severity %s, want %q info", detail.PartOf, detail.Severity, cause.ID)
	}
	if cause.PartOf != "" || cause.Severity != signatures.SeverityWarning {
		t.Errorf("cause: part_of %q severity %s, want none and warning", cause.PartOf, cause.Severity)
	}
	if len(cause.Details) != 1 || cause.Details[0].Line != "Gone a timeout" || cause.Details[0].SignatureID != "detail" {
		t.Errorf("cause details %+v, want the Gone line", cause.Details)
	}
	if cause.Fields["reason"] != "timeout" || cause.Fields["address"] != "10.0.0.1" {
		t.Errorf("cause fields %v: want its own address and the detail's reason", cause.Fields)
	}
	if a := r.alerts(); len(a) != 1 || a[0].ID != cause.ID {
		t.Errorf("alerting sink got %d diagnoses, want only the cause", len(a))
	}
}

// What does not follow the cause closely enough is a fault of its own:
// another client, a line in between, or too late by the clock.
func TestPartOfBounds(t *testing.T) {
	for _, tc := range []struct {
		name string
		step func(r *incidentRig) []*sink.Diagnosis
	}{
		{"another client", func(r *incidentRig) []*sink.Diagnosis {
			return r.read(2, "Refused a from 10.0.0.1", "Gone b timeout")
		}},
		{"a line between", func(r *incidentRig) []*sink.Diagnosis {
			return r.read(2, "Refused a from 10.0.0.1", "Publishing something", "Gone a timeout")
		}},
		{"after the window", func(r *incidentRig) []*sink.Diagnosis {
			got := r.read(1, "Refused a from 10.0.0.1")
			r.clk.Advance(1001 * time.Millisecond)
			return append(got, r.read(1, "Gone a timeout")...)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newIncidentRig(t)
			got := tc.step(r)
			if got[1].PartOf != "" || got[1].Severity != signatures.SeverityWarning {
				t.Errorf("second line: part_of %q severity %s, want a fault of its own", got[1].PartOf, got[1].Severity)
			}
			if a := r.alerts(); len(a) != 2 {
				t.Errorf("alerting sink got %d diagnoses, want 2", len(a))
			}
		})
	}
}

// A detail that comes in a later read, within the window, is still a
// detail, but the cause was delivered at once and is not changed after.
func TestPartOfLaterReadDoesNotHoldTheCause(t *testing.T) {
	r := newIncidentRig(t)
	cause := r.read(1, "Refused a from 10.0.0.1")[0]
	a := waitLong(t, r.alert.ch, "the cause's alert, before its detail is read")
	if a.ID != cause.ID {
		t.Fatalf("alert %s, want the cause %s", a.ID, cause.ID)
	}
	r.clk.Advance(time.Second) // the window's edge is in it
	detail := r.read(1, "Gone a timeout")[0]
	if detail.PartOf != cause.ID {
		t.Errorf("detail part_of %q, want %q", detail.PartOf, cause.ID)
	}
	if rest := r.alerts(); len(rest) != 0 {
		t.Errorf("alerting sink got %d more diagnoses, want none", len(rest))
	}
	if len(cause.Details) != 0 {
		t.Errorf("the delivered cause was changed: details %v", cause.Details)
	}
}

// Context rules: the line before, or the line's own captures, say what a
// generic line is.
func TestContextClassifies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []string
		want  string
	}{
		{"after a TLS failure it is that failure", []string{"TLS failed", "Socket error on x"}, "tlsfail"},
		{"after a refusal of the same client it is an auth failure", []string{"Refused x from 10.0.0.1", "Socket error on x"}, "authfail"},
		{"after a refusal of another client it stays generic", []string{"Refused x from 10.0.0.1", "Socket error on y"}, "generic"},
		{"a bridge's own connection", []string{"Socket error on local.br1"}, "bridge"},
		{"alone it stays generic", []string{"Socket error on x"}, "generic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newIncidentRig(t)
			got := r.read(len(tc.lines), tc.lines...)
			d := got[len(got)-1]
			if d.SignatureID != tc.want {
				t.Errorf("diagnosed as %s, want %s", d.SignatureID, tc.want)
			}
			if from := d.ClassifiedFrom; (tc.want == "generic") != (from == "") || (from != "" && from != "generic") {
				t.Errorf("classified_from %q", from)
			}
			if d.Fields["client_id"] == "" {
				t.Errorf("the line lost its own fields: %v", d.Fields)
			}
			r.alerts()
		})
	}
}

// The context window is measured on the clock too.
func TestContextWindow(t *testing.T) {
	r := newIncidentRig(t)
	r.read(1, "TLS failed")
	r.clk.Advance(2 * time.Second)
	if d := r.read(1, "Socket error on x")[0]; d.SignatureID != "generic" {
		t.Errorf("2 s after the TLS failure: diagnosed as %s, want generic", d.SignatureID)
	}
	r.alerts()
}

// waitLong waits for a value with a deadline generous enough for a loaded
// machine.
func waitLong[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(60 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}
