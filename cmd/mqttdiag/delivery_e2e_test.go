package main

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/testutil/brokertest"
	"github.com/mqttdiag/mqttdiag/sink"
)

// hook is a real HTTP receiver on 127.0.0.1 for webhook tests. Each
// request's answer is chosen by answer (nil: 200); accepted diagnoses are
// counted by id.
type hook struct {
	t      *testing.T
	addr   string
	secret []byte // when set, requests must carry a valid signature

	mu       sync.Mutex
	srv      *http.Server
	requests int
	answer   func(n int, w http.ResponseWriter, r *http.Request) bool // true: answered, not accepted
	byID     map[string]int
	accepted []*sink.Diagnosis
	notes    []string // what the receiver saw that it should not have
	// loseAnswer, when it returns true for a request, drops the
	// connection after the diagnoses were counted: the sender cannot
	// know they arrived and sends them again.
	loseAnswer func(n int) bool
	changed    chan struct{}
	headers    []http.Header
}

func newHook(t *testing.T) *hook {
	h := &hook{t: t, byID: map[string]int{}, changed: make(chan struct{}, 1)}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = l.Addr().String()
	h.serve(l)
	t.Cleanup(func() { h.down() })
	return h
}

func (h *hook) url() string { return "http://" + h.addr + "/hook" }

// sinkName is how mqttdiag names the webhook at raw in its logs and
// metrics: without the path, which may be the secret (sink.SafeURL).
func sinkName(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return "webhook " + sink.SafeURL(u)
}

func (h *hook) serve(l net.Listener) {
	srv := &http.Server{Handler: h}
	h.mu.Lock()
	h.srv = srv
	h.mu.Unlock()
	go func() { _ = srv.Serve(l) }()
}

// down closes the listener and every connection: connection refused from
// now on.
func (h *hook) down() {
	h.mu.Lock()
	srv := h.srv
	h.srv = nil
	h.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// up listens again on the same port.
func (h *hook) up() {
	var l net.Listener
	var err error
	for range 50 { // the port may linger a moment after close
		if l, err = net.Listen("tcp", h.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond) // retrying a bind, not waiting for the code under test
	}
	if err != nil {
		h.t.Errorf("listen again on %s: %v", h.addr, err)
		return
	}
	h.serve(l)
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.requests++
	n, answer := h.requests, h.answer
	h.headers = append(h.headers, r.Header.Clone())
	h.mu.Unlock()
	if answer != nil && answer(n, w, r) {
		return
	}
	if h.secret != nil {
		// What a receiver does: HMAC-SHA256 of the raw body, compared in
		// constant time with the header's hex after "sha256=".
		mac := hmac.New(sha256.New, h.secret)
		mac.Write(body)
		want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		if !hmac.Equal([]byte(want), []byte(r.Header.Get("X-Mqttdiag-Signature"))) {
			h.note("bad signature %q", r.Header.Get("X-Mqttdiag-Signature"))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
	}
	var p sink.WebhookPayload
	if err := json.Unmarshal(body, &p); err != nil || p.Version != 1 || p.SentAt.IsZero() {
		h.note("bad payload (%v): %.200s", err, body)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	for _, d := range p.Diagnoses {
		h.byID[d.ID]++
		h.accepted = append(h.accepted, d)
	}
	lose := h.loseAnswer != nil && h.loseAnswer(n)
	h.mu.Unlock()
	select {
	case h.changed <- struct{}{}:
	default:
	}
	if lose {
		panic(http.ErrAbortHandler)
	}
}

func (h *hook) note(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.notes = append(h.notes, fmt.Sprintf(format, args...))
}

// waitUntil waits until ok holds for what the receiver accepted.
func (h *hook) waitUntil(t *testing.T, timeout time.Duration, what string, ok func(accepted []*sink.Diagnosis) bool) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		h.mu.Lock()
		done := ok(h.accepted)
		n := len(h.accepted)
		h.mu.Unlock()
		if done {
			return
		}
		select {
		case <-h.changed:
		case <-deadline:
			t.Fatalf("webhook receiver: %s not within %v (accepted %d diagnoses)", what, timeout, n)
		}
	}
}

func occurrences(ds []*sink.Diagnosis) int {
	n := 0
	for _, d := range ds {
		n += d.Occurrences()
	}
	return n
}

// writeLines appends lines to the file at path in one write.
func writeLines(t testing.TB, path string, lines []string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	for _, l := range lines {
		w.WriteString(l)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

func takeovers(from, n int, client func(i int) string) []string {
	lines := make([]string, 0, n)
	for i := from; i < from+n; i++ {
		lines = append(lines, fmt.Sprintf("%d: Client %s already connected, closing old connection.", 1795320000+i/1000, client(i)))
	}
	return lines
}

// collect reads diagnoses from stdout until n occurrences came.
func (p *proc) collect(t *testing.T, n int, timeout time.Duration) []*sink.Diagnosis {
	t.Helper()
	var got []*sink.Diagnosis
	deadline := time.After(timeout)
	for occurrences(got) < n {
		select {
		case d, ok := <-p.diags:
			if !ok {
				t.Fatalf("stdout closed after %d of %d occurrences", occurrences(got), n)
			}
			got = append(got, d)
		case <-deadline:
			t.Fatalf("stdout: %d of %d occurrences within %v", occurrences(got), n, timeout)
		}
	}
	return got
}

// The receiver fails the first requests with 500, answers 429 with
// Retry-After, then is down for seconds (listener closed, then opened
// again on the same port), then recovers. Every diagnosis arrives; a
// diagnosis that arrives twice has the same id and content.
func TestWebhookFlakyReceiver(t *testing.T) {
	t.Parallel() // a subprocess and its own temp dir, ports and state: independent of the others
	h := newHook(t)
	crashed, recovered := make(chan struct{}), make(chan struct{})
	h.answer = func(n int, w http.ResponseWriter, _ *http.Request) bool {
		switch {
		case n <= 2:
			w.WriteHeader(http.StatusInternalServerError)
		case n == 3:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		case n == 4:
			// The receiver crashes while handling the request: the
			// connection drops without an answer, and the port refuses
			// connections for a few seconds.
			go func() {
				h.down()
				close(crashed)
				time.Sleep(3 * time.Second) // the outage the test is about
				h.up()
				close(recovered)
			}()
			panic(http.ErrAbortHandler)
		default:
			return false
		}
		return true
	}
	// After the outage, the first request gets through but its answer is
	// lost: a re-delivery, which must carry the same ids.
	h.loseAnswer = func(n int) bool { return n == 5 }
	dir := t.TempDir()
	log := filepath.Join(dir, "mosquitto.log")
	writeLines(t, log, takeovers(0, 30, func(i int) string { return fmt.Sprintf("dev-%d", i) }))
	p := startMqttdiag(t, nil, "run", "--from-beginning", "--webhook", h.url(), "--batch-wait", "50ms", "--batch-max", "7", log)
	stdout := p.collect(t, 30, 20*time.Second)
	select {
	case <-crashed:
	case <-time.After(20 * time.Second):
		t.Fatal("mqttdiag did not get through the 500s and the 429 to the crash")
	}
	// More faults while the receiver is down.
	writeLines(t, log, takeovers(30, 30, func(i int) string { return fmt.Sprintf("dev-%d", i) }))
	stdout = append(stdout, p.collect(t, 30, 20*time.Second)...)
	select {
	case <-recovered:
	case <-time.After(20 * time.Second):
		t.Fatal("the receiver never went down and came back")
	}
	want := map[string]*sink.Diagnosis{}
	for _, d := range stdout {
		want[d.ID] = d
	}
	if len(want) != 60 {
		t.Fatalf("stdout has %d distinct ids, want 60", len(want))
	}
	h.waitUntil(t, 30*time.Second, "all 60 diagnoses", func([]*sink.Diagnosis) bool { return len(h.byID) >= 60 })
	if err := p.stop(t); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, n := range h.byID {
		if want[id] == nil {
			t.Errorf("receiver got id %s (%d times) that stdout never had", id, n)
		}
	}
	for _, d := range h.accepted {
		if w := want[d.ID]; w != nil && (w.Line != d.Line || w.Source != d.Source) {
			t.Errorf("id %s names two diagnoses: %q and %q", d.ID, w.Line, d.Line)
		}
	}
	if h.requests < 5 {
		t.Errorf("receiver saw %d requests; the failures were not exercised", h.requests)
	}
	dups := len(h.accepted) - len(h.byID)
	if dups == 0 {
		t.Error("no re-delivery although an answer was lost")
	}
	t.Logf("%d requests, %d diagnoses accepted, %d distinct, %d re-deliveries", h.requests, len(h.accepted), len(h.byID), dups)
	if len(h.notes) > 0 {
		t.Errorf("receiver: %v", h.notes)
	}
}

// 10,000 takeover lines in a second become a handful of notifications
// whose counts add up to 10,000, while stdout keeps every one; with
// --dedup-stdout stdout is summarised too. SIGTERM flushes the open
// summaries within --shutdown-timeout and exits 0.
func TestWebhookAlertStorm(t *testing.T) {
	t.Parallel() // a subprocess and its own temp dir, ports and state: independent of the others
	for _, dedupStdout := range []bool{false, true} {
		t.Run(fmt.Sprint("dedup-stdout=", dedupStdout), func(t *testing.T) {
			h := newHook(t)
			log := filepath.Join(t.TempDir(), "mosquitto.log")
			args := []string{"run", "--from-beginning", "--webhook", h.url(), "--batch-wait", "50ms", "--shutdown-timeout", "20s", log}
			if dedupStdout {
				// A window short enough to close within the test, long
				// enough that reading the 10,000 lines (well under a second,
				// seconds on a slow machine under -race) fits in one: each
				// extra window adds two notifications per key.
				args = append(args, "--dedup-stdout", "--dedup-window", "5s")
			}
			// Most lines are one flapping device; a few others take over too.
			writeLines(t, log, takeovers(0, 10000, func(i int) string {
				if i%1000 == 999 {
					return fmt.Sprintf("other-%d", i%3)
				}
				return "flapper"
			}))
			p := startMqttdiag(t, nil, args...)
			if !dedupStdout {
				if got := p.collect(t, 10000, 60*time.Second); len(got) != 10000 {
					t.Errorf("stdout has %d diagnoses, want every one of 10000", len(got))
				}
				h.waitUntil(t, 30*time.Second, "the first notifications", func(ds []*sink.Diagnosis) bool { return len(ds) >= 4 })
				// The window (default 1m) is still open: SIGTERM must flush it.
			} else {
				// stdout is summarised like the webhook: wait for the windows
				// to close.
				p.collect(t, 10000, 60*time.Second)
			}
			start := time.Now()
			if err := p.stop(t); err != nil {
				t.Errorf("exit after SIGTERM: %v, want 0", err)
			}
			t.Logf("stopped in %v", time.Since(start).Round(time.Millisecond))
			h.mu.Lock()
			defer h.mu.Unlock()
			if n := occurrences(h.accepted); n != 10000 {
				t.Errorf("webhook counts add up to %d, want 10000", n)
			}
			t.Logf("webhook: %d notifications for 10000 occurrences", len(h.accepted))
			if len(h.accepted) > 10 {
				t.Errorf("webhook got %d notifications for a storm, want a handful", len(h.accepted))
			}
			for _, d := range h.accepted {
				if d.Count > 1 && (d.Summary != "dedup" || d.FirstSeen == nil || d.LastSeen == nil) {
					t.Errorf("summary without its fields: %+v", d)
				}
			}
			var rest []*sink.Diagnosis
			for d := range p.diags {
				rest = append(rest, d)
			}
			if len(rest) > 0 {
				t.Errorf("stdout had %d more diagnoses after the counts added up", len(rest))
			}
		})
	}
}

// Thresholds: below the count the webhook stays silent while stdout
// records each line; at the count one notification comes with the count
// and the clients.
func TestWebhookThreshold(t *testing.T) {
	h := newHook(t)
	log := filepath.Join(t.TempDir(), "mosquitto.log")
	writeLines(t, log, nil)
	p := startMqttdiag(t, nil, "run", "--log-level", "debug", "--webhook", h.url(), "--batch-wait", "10ms",
		"--threshold", takeoverID+"=5/1h", log)
	p.waitLog(t, "following", 60*time.Second)
	client := func(i int) string { return fmt.Sprintf("dev-%d", i) }
	writeLines(t, log, takeovers(0, 4, client))
	p.collect(t, 4, 10*time.Second)
	writeLines(t, log, takeovers(4, 2, client))
	p.collect(t, 2, 10*time.Second)
	h.waitUntil(t, 10*time.Second, "the threshold notification", func(ds []*sink.Diagnosis) bool { return len(ds) > 0 })
	h.mu.Lock()
	first := h.accepted[0]
	h.mu.Unlock()
	if first.Summary != "threshold" || first.Count != 5 || first.ClientCount != 5 ||
		strings.Join(first.Clients, ",") != "dev-0,dev-1,dev-2,dev-3,dev-4" {
		t.Errorf("first notification: summary %q count %d clients %v (%d)", first.Summary, first.Count, first.Clients, first.ClientCount)
	}
	if err := p.stop(t); err != nil {
		t.Errorf("exit: %v", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	// The sixth, past the threshold in the same window, is summarised when
	// the window closes, here at SIGTERM.
	if n := occurrences(h.accepted); n != 6 || len(h.accepted) != 2 {
		t.Errorf("webhook: %d notifications counting %d, want 2 counting 6", len(h.accepted), n)
	}
}

// The bearer token and HMAC secret reach the receiver, and nowhere else:
// not the self-logs (at debug level, through failures whose answers echo
// them), not stdout. The receiver verifies every signature.
func TestWebhookSecretsStayOutOfLogs(t *testing.T) {
	const token = "tok-9f8e7d6c5b4a"
	const secret = "hmac-1a2b3c4d5e6f"
	h := newHook(t)
	h.secret = []byte(secret)
	h.answer = func(n int, w http.ResponseWriter, r *http.Request) bool {
		if n > 2 {
			return false
		}
		// A debugging receiver that refuses and echoes what it got.
		w.Header().Set("Retry-After", "0")
		w.WriteHeader([]int{http.StatusServiceUnavailable, http.StatusUnauthorized}[n-1])
		fmt.Fprintf(w, "echo %s %s secret=%s", r.Header.Get("Authorization"), r.Header.Get("X-Mqttdiag-Signature"), secret)
		return true
	}
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MQTTDIAG_WEBHOOK_TOKEN", token)
	log := filepath.Join(t.TempDir(), "mosquitto.log")
	writeLines(t, log, takeovers(0, 3, func(i int) string { return fmt.Sprintf("c%d", i) }))
	p := startMqttdiag(t, nil, "run", "--log-level", "debug", "--from-beginning", "--batch-max", "1", "--batch-wait", "0s",
		"--webhook", h.url()+"?q=1", "--webhook-secret-file", secretFile, "--webhook-header", "X-Team: oncall", log)
	p.collect(t, 3, 10*time.Second)
	h.waitUntil(t, 20*time.Second, "the diagnoses after the refusals", func(ds []*sink.Diagnosis) bool { return len(h.byID) >= 2 })
	if err := p.stop(t); err != nil {
		t.Errorf("exit: %v", err)
	}
	p.mu.Lock()
	stderr := p.stderr.String()
	p.mu.Unlock()
	for _, s := range []string{token, secret} {
		if strings.Contains(stderr, s) {
			t.Errorf("self-log contains a secret %q:\n%s", s, stderr)
		}
	}
	if !strings.Contains(stderr, "401 Unauthorized") || !strings.Contains(stderr, "[redacted]") || !strings.Contains(stderr, "poisoned") {
		t.Errorf("self-log does not report the refusal (scrubbed):\n%s", stderr)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, hd := range h.headers {
		if hd.Get("Authorization") != "Bearer "+token || hd.Get("X-Team") != "oncall" {
			t.Errorf("request headers %v", hd)
		}
	}
	if len(h.notes) > 0 {
		t.Errorf("receiver: %v", h.notes)
	}
	for _, d := range h.accepted {
		b, _ := json.Marshal(d)
		if strings.Contains(string(b), token) || strings.Contains(string(b), secret) {
			t.Errorf("a diagnosis carries a secret: %s", b)
		}
	}
}

// With the receiver down, SIGTERM still ends the process within
// --shutdown-timeout, with status 0: what was not delivered stays
// unacknowledged, and the log says how much it was.
func TestShutdownTimeoutWithReceiverDown(t *testing.T) {
	h := newHook(t)
	h.down()
	log := filepath.Join(t.TempDir(), "mosquitto.log")
	writeLines(t, log, takeovers(0, 5, func(i int) string { return fmt.Sprintf("c%d", i) }))
	p := startMqttdiag(t, nil, "run", "--from-beginning", "--webhook", h.url(), "--shutdown-timeout", "1s", log)
	p.collect(t, 5, 10*time.Second)
	start := time.Now()
	if err := p.stop(t); err != nil {
		t.Errorf("exit: %v, want 0", err)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("stopped after %v with --shutdown-timeout 1s", d)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// It says how many, at which sink, and that without --state they are
	// lost, not "read again after a restart".
	for _, want := range []string{`"undelivered":5,`, `5 diagnoses not delivered within the shutdown timeout (1s): webhook http://127.0.0.1:`,
		"without --state nothing reads their lines again"} {
		if !strings.Contains(p.stderr.String(), want) {
			t.Errorf("no word of the abandoned diagnoses (%s):\n%s", want, p.stderr.String())
		}
	}
}

func TestSinkFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--webhook", "ftp://x"}, "want an http:// or https:// URL"},
		{[]string{"--webhook", "http://127.0.0.1:1/", "--webhook-header", "NoColon"}, "want 'Name: value'"},
		{[]string{"--webhook", "http://127.0.0.1:1/", "--webhook-token-file", "/nonexistent/token"}, "--webhook-token-file"},
		{[]string{"--webhook", "http://127.0.0.1:1/", "--webhook-ca", "/dev/null"}, "holds no PEM certificate"},
		{[]string{"--threshold", "nope=5/1m"}, `no loaded signature has id "nope"`},
		{[]string{"--threshold", takeoverID + "=1/1m"}, "COUNT must be a number of 2 or more"},
		{[]string{"--threshold", takeoverID + "=5/soon"}, "WINDOW must be a positive Go duration"},
		{[]string{"--alertmanager", "http://127.0.0.1:1", "--alert-resolve-timeout", "0s"}, "--alert-resolve-timeout 0s: want a duration from 1s to 24h"},
		{[]string{"--alertmanager", "http://127.0.0.1:1", "--alert-label-field", "severity"}, `label field "severity": the alert has that label already`},
	}
	for _, tt := range tests {
		var stderr strings.Builder
		code := execute(context.Background(), append(append([]string{"scan"}, tt.args...), "-"), strings.NewReader(""), io.Discard, &stderr)
		if code == 0 || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tt.args, code, stderr.String(), tt.want)
		}
	}
}

// --request-timeout bounds a request to a receiver that accepts the
// connection and never answers: the request is abandoned after the
// timeout, counted as a failed attempt and retried, and the diagnosis is
// delivered once the receiver answers again.
func TestRequestTimeoutWithHangingReceiver(t *testing.T) {
	h := newHook(t)
	var hanging atomic.Bool
	hanging.Store(true)
	hung := make(chan time.Duration, 100) // how long each hanging request lasted
	h.mu.Lock()
	h.answer = func(_ int, _ http.ResponseWriter, r *http.Request) bool {
		if !hanging.Load() {
			return false
		}
		start := time.Now()
		<-r.Context().Done() // no answer: only the sender's timeout ends it
		hung <- time.Since(start)
		return true
	}
	h.mu.Unlock()
	dir := t.TempDir()
	log := filepath.Join(dir, "mosquitto.log")
	writeLines(t, log, nil)
	addr := fmt.Sprintf("127.0.0.1:%d", brokertest.FreePort(t))
	const timeout = 300 * time.Millisecond
	p := startMqttdiag(t, nil, "run", "--log-level", "debug", "--webhook", h.url(), "--request-timeout", timeout.String(), "--metrics-addr", addr,
		"--dedup-window", "0", "--batch-wait", "0s", log)
	p.waitLog(t, "following", 60*time.Second)
	appendTo(t, log, "1795320306: Client hang-1 already connected, closing old connection.\n")
	p.waitDiag(t, 10*time.Second, func(d *sink.Diagnosis) bool { return d.Fields["client_id"] == "hang-1" })

	for i := range 2 {
		select {
		case d := <-hung:
			if d < timeout-50*time.Millisecond || d > timeout+5*time.Second {
				t.Errorf("hanging request %d lasted %v, want about --request-timeout %v", i, d, timeout)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("no request %d ended by the timeout", i)
		}
	}
	rec := p.waitLog(t, "delivery failed; retrying", 60*time.Second)
	if e := fmt.Sprint(rec["error"]); !strings.Contains(e, "Timeout") && !strings.Contains(e, "deadline exceeded") {
		t.Errorf("the failure logged is %q, want a timeout", e)
	}
	hanging.Store(false) // the receiver recovers
	h.waitUntil(t, 30*time.Second, "the diagnosis after the receiver recovered", func(acc []*sink.Diagnosis) bool {
		return len(acc) == 1 && acc[0].Fields["client_id"] == "hang-1"
	})
	name := `{sink="` + sinkName(t, h.url()) + `"}`
	m := waitMetric(t, addr, "the delivery after the timeouts", func(mm map[string]float64) bool {
		return mm["mqttdiag_sink_sent_total"+name] == 1
	})
	if m["mqttdiag_sink_failures_total"+name] < 2 || m["mqttdiag_sink_retries_total"+name] < 2 {
		t.Errorf("failures %v, retries %v: want the timed-out attempts counted (at least 2)",
			m["mqttdiag_sink_failures_total"+name], m["mqttdiag_sink_retries_total"+name])
	}
	if m["mqttdiag_sink_failing_seconds"+name] != 0 {
		t.Errorf("still failing after the delivery: %v", m["mqttdiag_sink_failing_seconds"+name])
	}
	if err := p.stop(t); err != nil {
		t.Errorf("exit: %v", err)
	}
}
