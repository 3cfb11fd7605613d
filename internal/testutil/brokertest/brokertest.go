// Package brokertest starts real MQTT brokers and clients for tests: a
// mosquitto on 127.0.0.1 with a free port and its own temporary directory,
// and helpers that wait for what the broker logs. Tests that claim broker
// behaviour use it instead of mocks.
package brokertest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

// RequireTool returns the path of an executable, or skips the test when it
// is missing; under CI=true a missing tool fails the test instead, so CI
// never passes by skipping. `make test` installs the tools.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	for _, dir := range []string{"", "/usr/sbin/", "/usr/local/sbin/", "/sbin/"} {
		if p, err := exec.LookPath(dir + name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed; run `make test` (it installs the test tools) or install it with apt-get", name)
	}
	t.Skipf("%s is not installed; `make test` installs it", name)
	return ""
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Mosquitto is a running mosquitto broker.
type Mosquitto struct {
	Port    int
	Dir     string // temporary directory holding config, log and data
	LogPath string
	Conf    string // path of the config file
	Version string // from the startup banner, e.g. "2.0.11"
	cmd     *exec.Cmd
	stderr  *bytes.Buffer
	rounds  int // of NormalTraffic, for unique client ids
}

// Addr is host:port of the broker's listener.
func (m *Mosquitto) Addr() string { return fmt.Sprintf("127.0.0.1:%d", m.Port) }

// StartMosquitto starts mosquitto with log_type all writing to a file, a
// listener on a free port of 127.0.0.1 and extra config lines appended. It
// returns once the broker logged that it is running; the broker is stopped
// when the test ends.
func StartMosquitto(t testing.TB, extra ...string) *Mosquitto {
	t.Helper()
	bin := RequireTool(t, "mosquitto")
	dir := t.TempDir()
	m := &Mosquitto{Port: FreePort(t), Dir: dir, LogPath: filepath.Join(dir, "mosquitto.log"), Conf: filepath.Join(dir, "mosquitto.conf")}
	conf := []string{
		fmt.Sprintf("listener %d 127.0.0.1", m.Port),
		"allow_anonymous true",
		"log_dest file " + m.LogPath,
		"log_type all",
		"persistence false",
	}
	// Started as root, mosquitto drops to the "mosquitto" user, which
	// cannot write to our temporary directory.
	if os.Getuid() == 0 {
		conf = append(conf, "user root")
	} else if u, err := user.Current(); err == nil {
		conf = append(conf, "user "+u.Username)
	}
	conf = append(conf, extra...)
	if err := os.WriteFile(m.Conf, []byte(strings.Join(conf, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m.stderr = new(bytes.Buffer)
	m.cmd = exec.Command(bin, "-c", m.Conf)
	m.cmd.Dir = dir
	m.cmd.Stderr = m.stderr
	m.cmd.Stdout = m.stderr
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("start mosquitto: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- m.cmd.Wait() }()
	t.Cleanup(func() {
		_ = m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = m.cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			if b, err := os.ReadFile(m.LogPath); err == nil {
				t.Logf("mosquitto log:\n%s", tailOf(b, 4000))
			}
			t.Logf("mosquitto stderr:\n%s", m.stderr.String())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		select {
		case err := <-exited:
			exited <- err // let Cleanup see it too
			cancel()
		case <-ctx.Done():
		}
	}()
	line, err := WaitLog(ctx, m.LogPath, regexp.MustCompile(`mosquitto version (\S+) running`))
	if err != nil {
		t.Fatalf("mosquitto did not start: %v\nstderr: %s", err, m.stderr.String())
	}
	m.Version = regexp.MustCompile(`version (\S+) running`).FindStringSubmatch(line)[1]
	return m
}

func tailOf(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// WaitLog waits until a line of the file at path matches re and returns
// it. It reads the whole file each time it changes, so it also finds lines
// written before it was called; it waits on inotify events, with a slow
// timer only as a safety net.
func WaitLog(ctx context.Context, path string, re *regexp.Regexp) (string, error) {
	return WaitLogFrom(ctx, path, 0, re)
}

// WaitLogFrom is WaitLog for lines starting at byte offset from or later.
func WaitLogFrom(ctx context.Context, path string, from int64, re *regexp.Regexp) (string, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return "", err
	}
	defer w.Close()
	if err := w.Add(filepath.Dir(path)); err != nil {
		return "", err
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		if line, ok := findLine(path, from, re); ok {
			return line, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no line matching %q in %s: %w", re, path, ctx.Err())
		case <-w.Events:
		case <-tick.C:
		}
	}
}

func findLine(path string, from int64, re *regexp.Regexp) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	if _, err := f.Seek(from, 0); err != nil {
		return "", false
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if re.MatchString(sc.Text()) {
			return sc.Text(), true
		}
	}
	return "", false
}

// Signal sends sig to the broker (SIGHUP: reload its configuration and
// reopen its log file).
func (m *Mosquitto) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := m.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// LogSize is the current size of the broker's log, to wait for lines
// written after this point with WaitLogFrom.
func (m *Mosquitto) LogSize(t testing.TB) int64 {
	t.Helper()
	fi, err := os.Stat(m.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// WaitLog waits for a line of the broker's log matching the regular
// expression expr, written at or after byte offset from.
func (m *Mosquitto) WaitLog(t testing.TB, from int64, expr string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	line, err := WaitLogFrom(ctx, m.LogPath, from, regexp.MustCompile(expr))
	if err != nil {
		t.Fatal(err)
	}
	return line
}

// Pub runs mosquitto_pub against the broker with args and waits for it.
func (m *Mosquitto) Pub(t testing.TB, args ...string) {
	t.Helper()
	bin := RequireTool(t, "mosquitto_pub")
	out, err := exec.Command(bin, append([]string{"-h", "127.0.0.1", "-p", fmt.Sprint(m.Port)}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("mosquitto_pub %v: %v\n%s", args, err, out)
	}
}

// Sub starts mosquitto_sub against the broker with args in the background.
// It is killed when the test ends.
func (m *Mosquitto) Sub(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	bin := RequireTool(t, "mosquitto_sub")
	cmd := exec.Command(bin, append([]string{"-h", "127.0.0.1", "-p", fmt.Sprint(m.Port)}, args...)...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mosquitto_sub: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	return cmd
}
