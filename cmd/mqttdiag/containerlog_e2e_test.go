package main

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// containerLog writes numbered broker lines as a container runtime writes
// a container's log, one write per record, and rotates it as the owner of
// that log format does.
type containerLog struct {
	path   string
	f      *os.File
	n      int
	record func(line string, n int) []string // one broker line's records
}

func (c *containerLog) open(t *testing.T) {
	t.Helper()
	if c.f != nil {
		c.f.Close()
	}
	f, err := os.OpenFile(c.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	c.f = f
}

// write appends k numbered lines, 20 a millisecond.
func (c *containerLog) write(t *testing.T, k int) {
	t.Helper()
	tk := time.NewTicker(time.Millisecond)
	defer tk.Stop()
	for end := c.n + k; c.n < end; c.n++ {
		if c.n%20 == 0 {
			<-tk.C
		}
		for _, r := range c.record(strings.TrimSuffix(numberedLine(c.n), "\n"), c.n) {
			if _, err := c.f.WriteString(r); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// gzipFile compresses src to dst and removes src: through tmp, renamed
// to dst at the end, as kubelet's compressLog does (<log>.tmp), or with
// tmp "" straight into dst, as Docker's compressFile does (<log>.1.gz,
// O_CREATE|O_TRUNC, daemon/logger/loggerutils/logfile.go).
func gzipFile(t *testing.T, src, tmp, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if tmp == "" {
		tmp = dst
	}
	out, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(out)
	if _, err := io.Copy(zw, in); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if tmp != dst {
		if err := os.Rename(tmp, dst); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(src); err != nil {
		t.Fatal(err)
	}
}

// The container logs kubelet and Docker keep, followed through their own
// rotation, with a clean restart from --state between: every broker line
// is diagnosed exactly once, under one id.
//
// Kubernetes (kubelet's pkg/kubelet/logs/container_log_manager.go): the
// runtime writes CRI records ("<RFC3339Nano> <stream> <P|F> <text>",
// cri-api's CRI log format; a long line as P partials ending with an F)
// to /var/log/pods/<ns>_<pod>_<uid>/<container>/0.log; rotateLatestLog
// renames it to 0.log.<20060102-150405> and has the runtime reopen 0.log;
// compressLog later gzips every rotated file but the newest, which the
// runtime may still write. mqttdiag follows /var/log/pods/*/*/*.log, or
// (kubelet-symlink) /var/log/containers/*.log: the links
// <pod>_<ns>_<container>-<id>.log kubelet keeps there to each container's
// current log (pkg/kubelet/kuberuntime legacy.go, legacyLogSymlink), which
// is rotated beside the link's target, not beside the link.
//
// Docker's json-file driver (daemon/logger/jsonfilelog, loggerutils
// LogFile.rotate): records {"log":"…\n","stream":"stderr","time":"…"} in
// <id>-json.log; past max-size it renames <id>-json.log.N to .N+1,
// <id>-json.log to .1, opens a new <id>-json.log, and with compress gzips
// .1 to .1.gz.
func TestRunContainerLogRotation(t *testing.T) {
	t.Parallel() // a subprocess and its own temp dir, ports and state: independent of the others
	start := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	stamp := func(n int) time.Time { return start.Add(time.Duration(n) * time.Millisecond) }
	kubelet := func(t *testing.T, viaLinks bool) {
		root := t.TempDir()
		podDir := filepath.Join(root, "pods", "mqtt_mosquitto-7d9f8c-x2x_0d1e", "mosquitto")
		links := filepath.Join(root, "containers")
		for _, d := range []string{podDir, links} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		log := filepath.Join(podDir, "0.log")
		if err := os.Symlink(log, filepath.Join(links, "mosquitto-7d9f8c-x2x_mqtt_mosquitto-4f5e.log")); err != nil {
			t.Fatal(err)
		}
		c := &containerLog{path: log, record: func(line string, n int) []string {
			ts := stamp(n).Format(time.RFC3339Nano)
			if n%7 == 0 { // a line the runtime split: P partials, then F
				cut := len(line) / 2
				return []string{ts + " stderr P " + line[:cut] + "\n", ts + " stderr F " + line[cut:] + "\n"}
			}
			return []string{ts + " stderr F " + line + "\n"}
		}}
		rotations := 0
		rotate := func(t *testing.T) {
			rotations++
			rotated := fmt.Sprintf("%s.%s", log, stamp(c.n).Add(time.Duration(rotations)*time.Second).Format("20060102-150405"))
			if err := os.Rename(log, rotated); err != nil {
				t.Fatal(err)
			}
			c.open(t) // ReopenContainerLog
			// compress every rotated file but the newest
			old, _ := filepath.Glob(log + ".*")
			for _, o := range old {
				if o != rotated && !strings.HasSuffix(o, ".gz") {
					gzipFile(t, o, o+".tmp", o+".gz")
				}
			}
		}
		glob := filepath.Join(root, "pods", "*", "*", "*.log")
		if viaLinks {
			glob = filepath.Join(links, "*.log")
		}
		runRotation(t, c, glob, rotate)
	}
	t.Run("kubelet", func(t *testing.T) { kubelet(t, false) })
	t.Run("kubelet-symlink", func(t *testing.T) { kubelet(t, true) })
	t.Run("docker", func(t *testing.T) {
		root := t.TempDir()
		id := "4f5e0d1e9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d"
		dir := filepath.Join(root, "containers", id)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		log := filepath.Join(dir, id+"-json.log")
		c := &containerLog{path: log, record: func(line string, n int) []string {
			b, err := json.Marshal(map[string]string{"log": line + "\n", "stream": "stderr", "time": stamp(n).Format(time.RFC3339Nano)})
			if err != nil {
				t.Fatal(err)
			}
			return []string{string(b) + "\n"}
		}}
		rotate := func(t *testing.T) {
			for k := 3; k >= 1; k-- { // max-file 4
				for _, ext := range []string{"", ".gz"} {
					from := fmt.Sprintf("%s.%d%s", log, k, ext)
					if _, err := os.Stat(from); err == nil {
						if err := os.Rename(from, fmt.Sprintf("%s.%d%s", log, k+1, ext)); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			if err := os.Rename(log, log+".1"); err != nil {
				t.Fatal(err)
			}
			c.open(t)
			gzipFile(t, log+".1", "", log+".1.gz") // compress: true
		}
		runRotation(t, c, filepath.Join(root, "containers", "*", "*-json.log"), rotate)
	})
}

// runRotation follows glob while c is written and rotated three times,
// stops mqttdiag cleanly, writes while it is down, restarts it from its
// state, rotates twice more, and checks every line was diagnosed once.
func runRotation(t *testing.T, c *containerLog, glob string, rotate func(*testing.T)) {
	c.open(t)
	t.Cleanup(func() { c.f.Close() })
	state := filepath.Join(t.TempDir(), "state.json")
	args := []string{"run", "--no-builtin", "--signatures", writePack(t), "--state", state, "--log-level", "debug", glob}
	p1 := startMqttdiag(t, nil, args...)
	p1.waitLog(t, "following", 60*time.Second)
	c1 := collectDiags(t, p1)
	for i := 0; i < 3; i++ {
		c.write(t, 1500)
		rotate(t)
	}
	c.write(t, 1000)
	c1.waitAll(t, c.n, 120*time.Second)
	if err := p1.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	<-c1.done
	c.write(t, 1000) // while it is down, in the file it was following

	p2 := startMqttdiag(t, nil, args...)
	// Docker deletes a rotated file as soon as it has compressed it, and
	// mqttdiag does not read compressed files: a rotation before the
	// restarted mqttdiag opened the file would lose its unread lines
	// (README, Where is my broker's log?). Rotate once it follows again.
	p2.waitLog(t, "following", 60*time.Second)
	c2 := collectDiags(t, p2)
	for i := 0; i < 2; i++ {
		c.write(t, 1500)
		// A restarted mqttdiag catches up within a rotation period: both
		// owners delete what they compress (kubelet every rotated file but
		// the newest, by default after 10 MiB), and compressed files are
		// not read. Before the next rotation, what was written is read.
		c2.waitAll3(t, c.n, 120*time.Second, c1)
		rotate(t)
	}
	c.write(t, 500)
	c2.waitAll3(t, c.n, 120*time.Second, c1)
	if err := p2.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	<-c2.done
	checkExactlyOnce(t, c.n, c1, c2)
	t.Logf("%d broker lines, 5 rotations, one restart", c.n)
}
