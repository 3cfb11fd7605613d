package brokertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Proc is a mosquitto started from a complete configuration written by the
// test, in a directory of its own that is also its working directory. It
// serves scenarios that need every config line under control (TLS
// listeners, bridges, persistence) and faults at start-up, where the broker
// exits and what it said went partly to stderr (everything before the log
// file is opened) and partly to the log file.
//
// Relative paths in the config resolve against Dir, so log lines that name
// files read the same from one run to the next.
type Proc struct {
	Dir     string
	LogPath string // Dir/mosquitto.log, where LogConf sends the log
	cmd     *exec.Cmd
	stderr  *notifyBuffer
	done    chan struct{}
	err     error // from Wait; valid once done is closed
}

// LogConf is the config that sends every log type to Dir/mosquitto.log and,
// when the test runs as root, keeps mosquitto from dropping to a user that
// cannot read the test's files.
func LogConf() string {
	conf := "log_dest file mosquitto.log\nlog_type all\n"
	if os.Getuid() == 0 {
		conf += "user root\n"
	}
	return conf
}

// Launch writes conf to dir/mosquitto.conf and starts `mosquitto -c
// mosquitto.conf` in dir. It does not wait for anything; the broker is
// stopped when the test ends.
func Launch(t testing.TB, dir, conf string) *Proc {
	t.Helper()
	return LaunchWith(t, dir, conf, LaunchOpts{})
}

// LaunchOpts changes how LaunchWith starts mosquitto.
type LaunchOpts struct {
	// Args replace "-c mosquitto.conf", e.g. to name a config file that
	// cannot be read. conf is still written to mosquitto.conf when it is
	// not empty.
	Args []string
	// NoFile, when positive, is the RLIMIT_NOFILE the broker runs with
	// (set by the shell's ulimit before exec, so the test process keeps
	// its own limit).
	NoFile int
}

// LaunchWith is Launch with options.
func LaunchWith(t testing.TB, dir, conf string, o LaunchOpts) *Proc {
	t.Helper()
	bin := RequireTool(t, "mosquitto")
	if conf != "" {
		if err := os.WriteFile(filepath.Join(dir, "mosquitto.conf"), []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := o.Args
	if args == nil {
		args = []string{"-c", "mosquitto.conf"}
	}
	p := &Proc{Dir: dir, LogPath: filepath.Join(dir, "mosquitto.log"), stderr: newNotifyBuffer(), done: make(chan struct{})}
	if o.NoFile > 0 {
		p.cmd = exec.Command("/bin/sh", append([]string{"-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, o.NoFile), bin}, args...)...)
	} else {
		p.cmd = exec.Command(bin, args...)
	}
	p.cmd.Dir = dir
	p.cmd.Stderr = p.stderr
	p.cmd.Stdout = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start mosquitto: %v", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("mosquitto in %s, log:\n%s\nstderr:\n%s", dir, tailOf([]byte(p.Log()), 4000), p.Stderr())
		}
	})
	return p
}

// Stop sends SIGTERM and waits for the broker to exit (SIGKILL after 5 s).
func (p *Proc) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	// A clean stop is what some provokers need (persistence is saved on
	// SIGTERM); on a loaded 2-core machine mosquitto took over 5 s to
	// leave its loop once, so give it time before killing it.
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// WaitExit waits for the broker to exit by itself and returns its exit code.
func (p *Proc) WaitExit(t testing.TB) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("mosquitto did not exit\nlog:\n%s\nstderr:\n%s", p.Log(), p.Stderr())
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatalf("mosquitto: %v", p.err)
	}
	return 0
}

// Stderr is what the broker wrote to stderr and stdout so far.
func (p *Proc) Stderr() string { return p.stderr.String() }

// Log is the content of the log file so far ("" when there is none).
func (p *Proc) Log() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

// Wait waits for a line matching expr in the log file or on stderr and
// returns it. It fails the test when the broker exits, or 15 s pass,
// without printing one. It wakes on inotify events for the log and on
// writes to stderr.
func (p *Proc) Wait(t testing.TB, expr string) string {
	t.Helper()
	line, err := p.wait(regexp.MustCompile(expr), 1, 15*time.Second)
	if err != nil {
		t.Fatalf("%v\nlog:\n%s\nstderr:\n%s", err, tailOf([]byte(p.Log()), 4000), p.Stderr())
	}
	return line
}

// WaitCount is Wait for the n-th line matching expr (counting the log
// file, then stderr).
func (p *Proc) WaitCount(t testing.TB, expr string, n int) string {
	t.Helper()
	line, err := p.wait(regexp.MustCompile(expr), n, 15*time.Second)
	if err != nil {
		t.Fatalf("%v (want %d)\nlog:\n%s\nstderr:\n%s", err, n, tailOf([]byte(p.Log()), 4000), p.Stderr())
	}
	return line
}

func (p *Proc) wait(re *regexp.Regexp, n int, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return "", err
	}
	defer w.Close()
	if err := w.Add(p.Dir); err != nil {
		return "", err
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	exited := false
	for {
		if line, ok := nthLine(p.Log()+"\n"+p.Stderr(), re, n); ok {
			return line, nil
		}
		if exited {
			return "", fmt.Errorf("mosquitto exited (%v) without a line matching %q", p.err, re)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no line matching %q: %w", re, ctx.Err())
		case <-p.done:
			exited = true // look once more: the last lines may have come with the exit
		case <-w.Events:
		case <-p.stderr.changed:
		case <-tick.C:
		}
	}
}

// nthLine returns the n-th line of text matching re.
func nthLine(text string, re *regexp.Regexp, n int) (string, bool) {
	for _, l := range strings.Split(text, "\n") {
		if re.MatchString(l) {
			if n--; n == 0 {
				return l, true
			}
		}
	}
	return "", false
}

// notifyBuffer is a bytes.Buffer safe for the exec goroutine to write while
// the test reads it, that signals each write on changed.
type notifyBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newNotifyBuffer() *notifyBuffer { return &notifyBuffer{changed: make(chan struct{}, 1)} }

func (b *notifyBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case b.changed <- struct{}{}:
	default:
	}
	return b.buf.Write(p)
}

func (b *notifyBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// RunClient runs a client tool (mosquitto_pub, mosquitto_sub, mosquitto_passwd)
// with args and returns its combined output and error; a failing client is
// often the point of a fault scenario, so it does not fail the test. It is
// killed after 20 s.
func RunClient(t testing.TB, tool string, args ...string) (string, error) {
	t.Helper()
	bin := RequireTool(t, tool)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	return string(out), err
}

// StartClient starts a client tool in the background; it is killed when the
// test ends unless it exited before. Wait on the returned channel for its
// exit.
func StartClient(t testing.TB, tool string, args ...string) (*exec.Cmd, <-chan error) {
	t.Helper()
	bin := RequireTool(t, tool)
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", tool, err)
	}
	done := make(chan error, 1)
	exited := make(chan struct{})
	go func() { done <- cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	return cmd, done
}
