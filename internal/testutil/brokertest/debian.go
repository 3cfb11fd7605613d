package brokertest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// DebianConf is the configuration file Debian's mosquitto package installs.
const DebianConf = "/etc/mosquitto/mosquitto.conf"

// DebianTree is a copy of Debian's stock configuration layout in a
// temporary directory: the package's real mosquitto.conf with its
// absolute paths (pid file, persistence, log file, include_dir) moved
// under Root, and a conf.d beside it.
type DebianTree struct {
	Root, Conf, ConfD, LogPath string
	Port                       int
}

// NewDebianTree copies DebianConf, as installed by the mosquitto package,
// into a temporary tree, and puts a listener on a free port of 127.0.0.1
// in conf.d/listener.conf, as an operator would. It fails the test if the
// file is missing under CI=true (make test-deps installs the package),
// else skips.
func NewDebianTree(t testing.TB) *DebianTree {
	t.Helper()
	RequireTool(t, "mosquitto")
	stock, err := os.ReadFile(DebianConf)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (installed by Debian's mosquitto package; run make test-deps): %v", DebianConf, err)
		}
		t.Skipf("%s: %v; Debian's mosquitto package installs it", DebianConf, err)
	}
	root := t.TempDir()
	d := &DebianTree{Root: root, Conf: filepath.Join(root, "mosquitto.conf"), ConfD: filepath.Join(root, "conf.d"),
		LogPath: filepath.Join(root, "log", "mosquitto.log"), Port: FreePort(t)}
	conf := string(stock)
	for from, to := range map[string]string{
		"/run/mosquitto/mosquitto.pid":     filepath.Join(root, "run", "mosquitto.pid"),
		"/var/lib/mosquitto/":              filepath.Join(root, "lib") + "/",
		"/var/log/mosquitto/mosquitto.log": d.LogPath,
		"/etc/mosquitto/conf.d":            d.ConfD,
	} {
		if !strings.Contains(conf, from) {
			t.Fatalf("%s no longer says %q; update NewDebianTree:\n%s", DebianConf, from, stock)
		}
		conf = strings.ReplaceAll(conf, from, to)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(d.ConfD, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.Conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// Started as root, mosquitto drops to the "mosquitto" user, which
	// cannot write to our temporary directory.
	who := "root"
	if os.Getuid() != 0 {
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		who = u.Username
	}
	d.Write(t, "listener.conf", fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nuser %s\n", d.Port, who))
	return d
}

// Write puts a file named name with content in conf.d.
func (d *DebianTree) Write(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(d.ConfD, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Launch runs the real mosquitto -c d.Conf until the test ends or the
// returned stop is called; stop returns what it wrote on stderr and
// stdout (what it prints before its log file is open). exited is closed
// when the broker exits.
func (d *DebianTree) Launch(t testing.TB) (stop func() string, exited <-chan struct{}) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(RequireTool(t, "mosquitto"), "-c", d.Conf)
	cmd.Dir = d.Root
	cmd.Stderr, cmd.Stdout = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mosquitto: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop = func() string {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		return out.String() // Wait has copied all of it
	}
	t.Cleanup(func() { stop() })
	return stop, done
}

// Start launches the broker and waits (up to 60 s, for a loaded machine)
// until its log file at d.LogPath says it is running.
func (d *DebianTree) Start(t testing.TB) (stop func() string) {
	t.Helper()
	stop, exited := d.Launch(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	go func() {
		select {
		case <-exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	if _, err := WaitLog(ctx, d.LogPath, regexp.MustCompile(`mosquitto version \S+ running`)); err != nil {
		t.Fatalf("mosquitto -c %s did not log that it runs to %s: %v\noutput: %s", d.Conf, d.LogPath, err, stop())
	}
	return stop
}
