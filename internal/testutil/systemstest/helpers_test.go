package systemstest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/mqttdiag/mqttdiag/internal/brokerlog"
	"github.com/mqttdiag/mqttdiag/internal/testutil/brokertest"
	"github.com/mqttdiag/mqttdiag/matcher"
	"github.com/mqttdiag/mqttdiag/signatures"
)

// waitFor is how long a scenario waits for a line: generous, so that the
// suite passes beside a CPU hog.
const waitFor = 60 * time.Second

// skipOrFail skips a test that needs something missing, except under
// CI=true, where the test fails: CI never passes by skipping.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format+" (make test installs it)", args...)
	}
	t.Skipf(format+"; `make test` installs it", args...)
}

// broker is a mosquitto started by a test, which it can pause (SIGSTOP)
// to make clients miss their PINGRESP.
type broker struct {
	Port int
	Dir  string
	Log  string
	cmd  *exec.Cmd
	done chan struct{}
}

// startBroker starts mosquitto on 127.0.0.1 with a free port, its log in
// its own directory and the extra config lines, and waits until it runs.
func startBroker(t *testing.T, extra ...string) *broker {
	t.Helper()
	bin := brokertest.RequireTool(t, "mosquitto")
	dir := t.TempDir()
	b := &broker{Port: brokertest.FreePort(t), Dir: dir, Log: filepath.Join(dir, "mosquitto.log"), done: make(chan struct{})}
	conf := fmt.Sprintf("listener %d 127.0.0.1\n", b.Port) + brokertest.LogConf() + strings.Join(extra, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "mosquitto.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	b.cmd = exec.Command(bin, "-c", "mosquitto.conf")
	b.cmd.Dir = dir
	b.cmd.Stderr, b.cmd.Stdout = &stderr, &stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("start mosquitto: %v", err)
	}
	go func() { _ = b.cmd.Wait(); close(b.done) }()
	t.Cleanup(func() {
		_ = b.cmd.Process.Signal(syscall.SIGCONT)
		_ = b.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-b.done:
		case <-time.After(20 * time.Second):
			_ = b.cmd.Process.Kill()
			<-b.done
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if _, err := brokertest.WaitLog(ctx, b.Log, regexp.MustCompile(`mosquitto version \S+ running`)); err != nil {
		t.Fatalf("mosquitto did not start: %v\n%s", err, stderr.String())
	}
	return b
}

// pause stops the broker's process (SIGSTOP) until resume: connections stay
// open but nothing answers, as with a hung broker or a black-holed path.
func (b *broker) pause(t *testing.T) {
	t.Helper()
	if err := b.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
}

func (b *broker) resume(t *testing.T) {
	t.Helper()
	if err := b.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
}

// client is a Paho client process whose log the test reads.
type client struct {
	Log  string
	cmd  *exec.Cmd
	done chan struct{}
}

// start runs cmd with its output (the Paho C trace and the program's
// printf) appended to logPath; the client is stopped when the test ends.
func start(t *testing.T, cmd *exec.Cmd, logPath string) *client {
	t.Helper()
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	c := &client{Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); out.Close(); close(c.done) }()
	t.Cleanup(c.stop)
	return c
}

// stop asks the client to end (SIGTERM) and waits for it.
func (c *client) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// wait blocks until the client exited.
func (c *client) wait(t *testing.T) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(waitFor):
		t.Fatalf("%s did not exit within %v", c.cmd.Path, waitFor)
	}
}

// waitLines waits until at least n lines of the file at path match expr,
// on inotify events (with a slow timer as a safety net), and returns the
// last of them.
func waitLines(t *testing.T, path, expr string, n int) string {
	t.Helper()
	re := regexp.MustCompile(expr)
	w, err := fsnotify.NewWatcher()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Add(filepath.Dir(path)); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(waitFor)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		if got, last := countLines(path, re); got >= n {
			return last
		}
		select {
		case <-deadline:
			b, _ := os.ReadFile(path)
			t.Fatalf("%d lines matching %q in %s after %v, want %d; it holds:\n%s", func() int { c, _ := countLines(path, re); return c }(), expr, path, waitFor, n, tail(b, 3000))
		case <-w.Events:
		case <-tick.C:
		}
	}
}

func countLines(path string, re *regexp.Regexp) (n int, last string) {
	f, err := os.Open(path)
	if err != nil {
		return 0, ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if re.MatchString(sc.Text()) {
			n, last = n+1, sc.Text()
		}
	}
	return n, last
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// builtinMatcher is the real matcher over the built-in pack.
func builtinMatcher(t testing.TB) *matcher.Matcher {
	t.Helper()
	sigs, err := signatures.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	m, err := matcher.New(sigs)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// hit is one diagnosis the real path made of a log line.
type hit struct {
	id     string
	fields map[string]string
	line   string
}

// diagnose runs every line of a log through the path a source takes in
// the pipeline: brokerlog.Split, the system told by Detect (the first line
// that shows it), the matcher scoped to that system. It returns the hits
// and the system detected.
func diagnose(t testing.TB, m *matcher.Matcher, path string) (hits []hit, system string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		msg, _, _ := brokerlog.Split(line)
		if system == "" {
			if b, _, ok := brokerlog.Banner(msg); ok {
				system = b
			} else if s, ok := brokerlog.Detect(line, msg); ok {
				system = s
			}
		}
		for _, h := range m.MatchBroker(system, msg) {
			hits = append(hits, hit{id: h.Signature.ID, fields: h.Fields, line: line})
		}
	}
	return hits, system
}

// want is a diagnosis a scenario must produce: the signature, and fields
// the hit must carry with these values (others may be present).
type want struct {
	id     string
	fields map[string]string
}

// ids are the signatures that satisfy a want: its id, or alternatives
// joined by "|" for a fault whose client-side trace depends on a race.
func (w want) ids() []string { return strings.Split(w.id, "|") }

// checkHits fails unless every want is among the hits, and unless every
// hit's signature is wanted or allowed.
func checkHits(t *testing.T, hits []hit, wants []want, allowed ...string) {
	t.Helper()
	ok := map[string]bool{}
	for _, w := range wants {
		for _, id := range w.ids() {
			ok[id] = true
		}
	}
	for _, a := range allowed {
		ok[a] = true
	}
	for _, w := range wants {
		found := false
		for _, h := range hits {
			if slices.Contains(w.ids(), h.id) && fieldsHave(h.fields, w.fields) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no %s diagnosis with fields %v; hits: %s", strings.ReplaceAll(w.id, "|", " or "), w.fields, describe(hits))
		}
	}
	for _, h := range hits {
		if !ok[h.id] {
			t.Errorf("unexpected %s %v on %q", h.id, h.fields, h.line)
		}
	}
}

func fieldsHave(got, want map[string]string) bool {
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

func describe(hits []hit) string {
	var b strings.Builder
	for _, h := range hits {
		fmt.Fprintf(&b, "\n  %s %v  %q", h.id, h.fields, h.line)
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// captures collects what the clients logged, per capture file, for
// -capture.
type captures struct {
	mu    sync.Mutex
	files map[string]*bytes.Buffer
}

func (c *captures) add(t *testing.T, file, scenario, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.files == nil {
		c.files = map[string]*bytes.Buffer{}
	}
	b := c.files[file]
	if b == nil {
		b = new(bytes.Buffer)
		c.files[file] = b
	}
	_ = scenario
	b.Write(data)
}
