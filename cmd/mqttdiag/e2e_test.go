package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/testutil/brokertest"
	"github.com/mqttdiag/mqttdiag/sink"
)

// The test binary doubles as mqttdiag: with MQTTDIAG_BE_MAIN=1 it runs main,
// so end-to-end tests exercise the real process (flags, signals, exit
// status, stdout/stderr separation) without a separate build step.
func TestMain(m *testing.M) {
	if os.Getenv("MQTTDIAG_BE_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// proc is a running mqttdiag process with its stdout decoded as diagnoses
// and its stderr as self-log records.
type proc struct {
	cmd   *exec.Cmd
	diags chan *sink.Diagnosis
	logs  chan map[string]any
	done  chan error

	mu        sync.Mutex
	badStdout []string // stdout lines that were not diagnoses
	stderr    bytes.Buffer
}

func startMqttdiag(t *testing.T, stdin io.Reader, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Stdin = stdin
	return startMqttdiagCmd(t, cmd)
}

// startMqttdiagCmd starts cmd, a test binary (with its arguments, and
// perhaps an environment or another user's credentials), as mqttdiag.
func startMqttdiagCmd(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, "MQTTDIAG_BE_MAIN=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, diags: make(chan *sink.Diagnosis, 1024), logs: make(chan map[string]any, 1024), done: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer close(p.diags)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<22)
		for sc.Scan() {
			var d sink.Diagnosis
			if err := json.Unmarshal(sc.Bytes(), &d); err != nil || d.ID == "" {
				p.mu.Lock()
				p.badStdout = append(p.badStdout, sc.Text())
				p.mu.Unlock()
				continue
			}
			p.diags <- &d
		}
	}()
	go func() {
		defer wg.Done()
		defer close(p.logs)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.Write(sc.Bytes())
			p.stderr.WriteByte('\n')
			p.mu.Unlock()
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) == nil {
				select {
				case p.logs <- rec:
				default: // nobody is waiting for self-logs now
				}
			}
		}
	}()
	go func() {
		wg.Wait() // pipes must be drained before Wait closes them
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			p.mu.Lock()
			t.Logf("mqttdiag stderr:\n%s", p.stderr.String())
			p.mu.Unlock()
		}
	})
	return p
}

// waitLog waits for a self-log record whose message is msg.
func (p *proc) waitLog(t *testing.T, msg string, timeout time.Duration) map[string]any {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case rec, ok := <-p.logs:
			if !ok {
				t.Fatalf("mqttdiag exited before logging %q", msg)
			}
			if rec["message"] == msg {
				return rec
			}
		case <-deadline:
			t.Fatalf("mqttdiag did not log %q within %v", msg, timeout)
		}
	}
}

// waitDiag returns diagnoses as they come until one satisfies ok.
func (p *proc) waitDiag(t *testing.T, timeout time.Duration, ok func(*sink.Diagnosis) bool) (match *sink.Diagnosis, before []*sink.Diagnosis) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case d, open := <-p.diags:
			if !open {
				t.Fatalf("mqttdiag stdout closed before the expected diagnosis; got %d others", len(before))
			}
			if ok(d) {
				return d, before
			}
			before = append(before, d)
		case <-deadline:
			t.Fatalf("no expected diagnosis within %v; got %d others: %v", timeout, len(before), sigIDs(before))
		}
	}
}

func (p *proc) stop(t *testing.T) error {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("mqttdiag did not exit within 10s of SIGTERM")
		return nil
	}
}

func sigIDs(ds []*sink.Diagnosis) []string {
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.SignatureID+" <- "+d.Line)
	}
	return ids
}

const takeoverID = "communication/mqtt-publish-identifier-already-in-use"

// TestRunDiagnosesTakeoverFromRealMosquitto is the walking skeleton end to
// end: a real broker writes its log, mqttdiag follows it, and a client-id
// takeover provoked by two real clients comes out as a diagnosis, while
// normal traffic before it produces none.
func TestRunDiagnosesTakeoverFromRealMosquitto(t *testing.T) {
	m := brokertest.StartMosquitto(t)
	p := startMqttdiag(t, nil, "run", "--log-level", "debug", m.LogPath)
	p.waitLog(t, "following", 60*time.Second)

	// Normal traffic at every QoS, with log_type all.
	from := m.LogSize(t)
	for q := 0; q <= 2; q++ {
		m.Sub(t, "-i", fmt.Sprintf("normal-sub-%d", q), "-t", "plant/#", "-q", fmt.Sprint(q))
	}
	for q := 0; q <= 2; q++ {
		m.WaitLog(t, from, fmt.Sprintf(`New client connected .* as normal-sub-%d `, q))
	}
	for i := 0; i < 30; i++ {
		m.Pub(t, "-i", fmt.Sprintf("normal-pub-%d", i), "-t", fmt.Sprintf("plant/line%d/temp", i%3), "-q", fmt.Sprint(i%3), "-m", fmt.Sprintf(`{"t":%d,"code":"0x02"}`, i))
	}
	m.Pub(t, "-i", "normal-retain", "-t", "plant/status", "-r", "-q", "1", "-m", "online")

	// The fault: a second connection with a connected client id.
	victim := "meter-7/ä"
	from = m.LogSize(t)
	m.Sub(t, "-i", victim, "-t", "cmd/#")
	m.WaitLog(t, from, `New client connected .* as meter-7/ä `)
	m.Sub(t, "-i", victim, "-t", "cmd/#")
	line := m.WaitLog(t, from, `already connected, closing old connection`)

	d, before := p.waitDiag(t, 10*time.Second, func(d *sink.Diagnosis) bool { return d.SignatureID == takeoverID })
	if len(before) != 0 {
		t.Errorf("normal traffic produced %d diagnoses: %v", len(before), sigIDs(before))
	}
	if got := d.Fields["client_id"]; got != victim {
		t.Errorf("client_id = %q, want %q", got, victim)
	}
	if d.Line != line {
		t.Errorf("line = %q, want %q", d.Line, line)
	}
	if d.Source.File != m.LogPath {
		t.Errorf("source.file = %q, want %q", d.Source.File, m.LogPath)
	}
	checkSourcePosition(t, m.LogPath, d)
	if d.Severity != "warning" || d.RootCause == "" || len(d.Workarounds) == 0 || len(d.DeadEnds) == 0 || d.DocURL == "" {
		t.Errorf("diagnosis lacks knowledge: %+v", d)
	}
	for i := 1; i < len(d.Workarounds); i++ {
		// known rates first, best first; then the unknown (null) ones
		a, b := d.Workarounds[i-1].SuccessRate, d.Workarounds[i].SuccessRate
		if b != nil && (a == nil || *b > *a) {
			t.Errorf("workarounds not ranked by success rate: %+v", d.Workarounds)
		}
	}
	if d.LogTime == nil || time.Until(*d.LogTime).Abs() > time.Minute {
		t.Errorf("log_time = %v, want the line's own timestamp (about now)", d.LogTime)
	}
	if len(d.ID) != 24 {
		t.Errorf("id = %q, want 24 hex digits", d.ID)
	}

	if err := p.stop(t); err != nil {
		t.Errorf("mqttdiag exit after SIGTERM: %v, want status 0", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.badStdout) > 0 {
		t.Errorf("stdout carried non-diagnosis lines: %q", p.badStdout)
	}
}

// checkSourcePosition verifies that offset and line number point at the
// diagnosed line in the file.
func checkSourcePosition(t *testing.T, path string, d *sink.Diagnosis) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if d.Source.Offset < 0 || d.Source.Offset >= int64(len(data)) {
		t.Fatalf("offset %d outside the %d-byte file", d.Source.Offset, len(data))
	}
	rest := string(data[d.Source.Offset:])
	if !strings.HasPrefix(rest, d.Line+"\n") {
		t.Errorf("offset %d does not point at the line: %q", d.Source.Offset, rest[:min(len(rest), 80)])
	}
	if n := int64(strings.Count(string(data[:d.Source.Offset]), "\n")) + 1; n != d.Source.LineNumber {
		t.Errorf("line_number = %d, want %d", d.Source.LineNumber, n)
	}
}

func TestScanStdinAndExit(t *testing.T) {
	in := strings.NewReader("1795320306: New client connected from 127.0.0.1:34914 as dup (p2, c1, k60).\n" +
		"1795320306: Client dup already connected, closing old connection.\n")
	p := startMqttdiag(t, in, "scan", "-")
	d, _ := p.waitDiag(t, 10*time.Second, func(d *sink.Diagnosis) bool { return d.SignatureID == takeoverID })
	if d.Source.File != "-" || d.Source.LineNumber != 2 || d.Source.Offset != 76 {
		t.Errorf("source = %+v, want stdin line 2 at offset 76", d.Source)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("scan exit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("scan did not exit at the end of its input")
	}
}

func TestBadSignatureFailsAtStart(t *testing.T) {
	dir := t.TempDir()
	bad := dir + "/bad.json"
	if err := os.WriteFile(bad, []byte("[\n  {\"id\": \"x/y\",\n   \"regex\": \"Client (unclosed\"}\n]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	code := execute(context.Background(), []string{"scan", "--signatures", bad, "-"}, strings.NewReader(""), io.Discard, &stderr)
	if code == 0 {
		t.Fatal("scan with a broken signature exited 0")
	}
	for _, want := range []string{bad + ":3", "x/y", "regex", "missing closing )"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("error %q does not mention %q", stderr.String(), want)
		}
	}
}
