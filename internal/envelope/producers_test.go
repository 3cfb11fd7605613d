package envelope

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/testutil/brokertest"
)

// The real producers: rsyslogd, systemd-journald and mosquitto, run in a
// mount and UTS namespace of their own, so that mosquitto's syslog(3)
// reaches our rsyslogd through a /dev/log of the namespace, its stderr
// reaches our journald through systemd-cat (as a unit's stderr does), and
// neither touches the machine's logs. journalctl then renders the journal
// directory in each output mode. `make envelope-captures` (go generate)
// writes what they produced to testdata/ with -capture.

var captureDir = flag.String("capture", "", "write the real producers' output to this directory (testdata)")

// zone is the time zone the producers run in: not UTC, so a time read in
// the wrong zone is hours off.
const zone = "America/New_York"

// nsScript sets up the namespace and runs the producers. It runs mosquitto
// in the background and waits for it, then stops rsyslogd and journald so
// that what they wrote is on disk when the script exits.
const nsScript = `set -e
D=$PWD
mount --make-rprivate /
hostname broker-host
old=$(mktemp -d)
mount --rbind /dev "$old"
mount -t tmpfs -o mode=755 tmpfs /dev
for f in null zero random urandom full tty; do touch /dev/$f; mount --bind "$old/$f" /dev/$f; done
umount -l "$old"; rmdir "$old"
mount -t tmpfs -o mode=755 tmpfs /run
# journald looks for the cgroup tree, which a chroot need not have.
if [ ! -d /sys/fs/cgroup ]; then
  mount -t sysfs -o ro sysfs /sys
  mount -t cgroup2 -o ro cgroup2 /sys/fs/cgroup || mount -t tmpfs -o ro tmpfs /sys/fs/cgroup
fi
mkdir -p /run/log/journal /run/systemd/journal "$D/journal"
mount --bind "$D/journal" /run/log/journal
[ -d /var/log/journal ] && mount -t tmpfs tmpfs /var/log/journal
mount --bind "$D/journald.conf" /etc/systemd/journald.conf
mount --bind "$D/machine-id" /etc/machine-id
ln -s "$D/rsyslog.sock" /dev/log
rsyslogd -n -f "$D/rsyslog.conf" -i "$D/rsyslogd.pid" &
rs=$!
"$JOURNALD" &
jd=$!
i=0
until [ -S "$D/rsyslog.sock" ] && [ -S /run/systemd/journal/stdout ]; do
  i=$((i+1)); [ $i -lt 400 ] || { echo "rsyslogd or journald did not start" >&2; exit 1; }
  sleep 0.05
done
systemd-cat -t mosquitto mosquitto -c mosquitto.conf &
m=$!
echo $m > mosquitto.pid.tmp && mv mosquitto.pid.tmp mosquitto.pid
set +e
wait $m
status=$?
# mosquitto's last line ("... terminating") may still be in /dev/log's
# buffer when it exits: let rsyslogd write it before it is stopped (a
# loaded machine once lost it), for at most 20 s.
for f in rsyslog-traditional.log rsyslog-rfc3339.log rsyslog-rfc5424.log; do
  i=0
  until grep -q ' terminating$' "$f" 2>/dev/null; do
    i=$((i+1)); [ $i -lt 400 ] || break
    sleep 0.05
  done
done
kill $rs $jd
wait $rs $jd
exit $status
`

// nsRoot runs nsScript (in $NS_SCRIPT) with private mounts. unshare is
// asked to leave propagation unchanged because it cannot make / private in
// a chroot (a fresh-machine run is one): there / is not a mount point, and
// a mount made on it would reach the machine's own namespace. So, when /
// cannot be made private, the namespace gets a root that is a mount point:
// a recursive bind of / at $NS_ROOT under the (private) /dev, and chroot.
const nsRoot = `set -e
if mount --make-rprivate / 2>/dev/null; then exec sh -c "$NS_SCRIPT"; fi
D=$PWD
mount --make-rprivate /dev
mkdir "$NS_ROOT"
mount --rbind / "$NS_ROOT"
mount --make-rprivate "$NS_ROOT"
cd /
exec chroot "$NS_ROOT" sh -c 'cd "$1" && eval "$NS_SCRIPT"' sh "$D"
`

const journaldConf = `[Journal]
Storage=volatile
ReadKMsg=no
ForwardToSyslog=no
ForwardToWall=no
ForwardToConsole=no
RateLimitIntervalSec=0
`

// rsyslog.conf: one socket, three files in the templates rsyslog
// documents (reference/templates/templates-reserved-names).
const rsyslogConf = `global(workDirectory="%[1]s")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="%[1]s/rsyslog.sock")
*.* action(type="omfile" file="%[1]s/rsyslog-traditional.log" template="RSYSLOG_TraditionalFileFormat")
*.* action(type="omfile" file="%[1]s/rsyslog-rfc3339.log" template="RSYSLOG_FileFormat")
*.* action(type="omfile" file="%[1]s/rsyslog-rfc5424.log" template="RSYSLOG_SyslogProtocol23Format")
`

// journalModes are the journalctl output modes captured, and their files.
var journalModes = []struct{ mode, file string }{
	{"short", "journal-short.txt"},
	{"short-precise", "journal-short-precise.txt"},
	{"short-iso", "journal-short-iso.txt"},
	{"short-iso-precise", "journal-short-iso-precise.txt"},
	{"short-full", "journal-short-full.txt"},
	{"short-unix", "journal-short-unix.txt"},
	{"json", "journal-json.txt"},
	{"json --output-fields=" + strings.Join(JournalFields(), ","), "journal-json-fields.txt"},
}

type producers struct {
	dir      string
	cmd      *exec.Cmd
	done     chan struct{}
	err      error
	m        *brokertest.Mosquitto
	tlsPort  int
	start    time.Time
	journald string
}

// requireProducers skips (or under CI=true fails) when the machine cannot
// run the producers: root for the namespaces, and the tools.
func requireProducers(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"unshare", "nsenter", "rsyslogd", "journalctl", "systemd-cat", "logger", "mosquitto", "mosquitto_pub", "mosquitto_passwd"} {
		brokertest.RequireTool(t, tool)
	}
	journald := "/usr/lib/systemd/systemd-journald"
	var why string
	if _, err := os.Stat(journald); err != nil {
		why = "systemd-journald is not installed (package systemd)"
	} else if os.Getuid() != 0 {
		why = "the producers need root, for a mount namespace with its own /dev/log"
	}
	if why != "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	return journald
}

// startProducers starts the namespace with rsyslogd, journald and a
// mosquitto that logs every type to syslog, stderr and a plain file, with
// a password file, an ACL, a packet size limit and a TLS listener, so that
// the scenario can provoke the faults issue 12 lists.
func startProducers(t *testing.T) *producers {
	t.Helper()
	journald := requireProducers(t)
	dir := t.TempDir()
	p := &producers{dir: dir, done: make(chan struct{}), journald: journald, tlsPort: brokertest.FreePort(t)}
	port := brokertest.FreePort(t)
	brokertest.WriteCerts(t, dir)
	if out, err := brokertest.RunClient(t, "mosquitto_passwd", "-b", "-c", filepath.Join(dir, "passwd"), "alice", "alice-secret"); err != nil {
		t.Fatalf("mosquitto_passwd: %v\n%s", err, out)
	}
	files := map[string]string{
		"journald.conf": journaldConf,
		"machine-id":    "0123456789abcdef0123456789abcdef\n",
		"rsyslog.conf":  fmt.Sprintf(rsyslogConf, dir),
		"acl":           "topic readwrite plant/#\ntopic readwrite cmd/#\ntopic readwrite big/#\ntopic read secret/#\n",
		"mosquitto.conf": strings.Join([]string{
			fmt.Sprintf("listener %d 127.0.0.1", port),
			"allow_anonymous true",
			"password_file passwd",
			"acl_file acl",
			"max_packet_size 5000",
			"log_dest syslog",
			"log_dest stderr",
			"log_dest file plain.log",
			"log_type all",
			"persistence false",
			"user root",
			fmt.Sprintf("listener %d 127.0.0.1", p.tlsPort),
			"certfile server.crt",
			"keyfile server.key",
		}, "\n") + "\n",
	}
	// A second broker, on the same port, logs to a file of its own: two
	// processes' lines may reach a file and a syslog daemon in different
	// orders, one process's never do.
	files["second.conf"] = strings.Replace(files["mosquitto.conf"], "log_dest file plain.log", "log_dest file second.log", 1)
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p.start = time.Now()
	nsroot := fmt.Sprintf("/dev/.mqttdiag-producers-%d", time.Now().UnixNano())
	t.Cleanup(func() { os.Remove(nsroot) }) // only made in a chroot; empty once the namespace is gone
	p.cmd = exec.Command("unshare", "-m", "-u", "--propagation", "unchanged", "sh", "-c", nsRoot)
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), "TZ="+zone, "JOURNALD="+journald, "NS_SCRIPT="+nsScript, "NS_ROOT="+nsroot)
	var out bytes.Buffer
	p.cmd.Stdout, p.cmd.Stderr = &out, &out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start the producers: %v", err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("producers in %s said:\n%s", dir, out.String())
		}
	})
	p.m = &brokertest.Mosquitto{Port: port, Dir: dir, LogPath: filepath.Join(dir, "plain.log"), Conf: filepath.Join(dir, "mosquitto.conf")}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() {
		select {
		case <-p.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := waitFile(ctx, p.m.LogPath); err != nil {
		t.Fatalf("mosquitto did not open its log: %v\n%s", err, out.String())
	}
	if _, err := brokertest.WaitLog(ctx, p.m.LogPath, regexpMust(`mosquitto version \S+ running`)); err != nil {
		t.Fatalf("mosquitto did not start: %v\n%s", err, out.String())
	}
	return p
}

// waitFile waits for path to exist (brokertest.WaitLog needs the file).
func waitFile(ctx context.Context, path string) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// nsenter runs a command inside the producers' namespace and waits for it.
func (p *producers) nsenter(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"-t", strconv.Itoa(p.cmd.Process.Pid), "-m", "-u", "-r", "--wd=" + p.dir, "--"}, args...)...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "TZ="+zone)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// stop ends mosquitto; the script then stops rsyslogd and journald.
func (p *producers) stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	if b, err := os.ReadFile(filepath.Join(p.dir, "mosquitto.pid")); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			_ = syscall.Kill(pid, syscall.SIGTERM)
		}
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Errorf("the producers did not stop; killing them")
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// scenario provokes, on the running broker, the faults issue 12 found
// unreported behind an envelope, with normal traffic around them, and
// lets other programs log beside it.
func (p *producers) scenario(t *testing.T) {
	m := p.m
	m.NormalTraffic(t, 6)
	m.Takeover(t, "dup-sensor")

	from := m.LogSize(t)
	if out, err := brokertest.RunClient(t, "mosquitto_pub", "-h", "127.0.0.1", "-p", strconv.Itoa(m.Port), "-i", "bad-pass", "-u", "alice", "-P", "wrong", "-t", "plant/x", "-m", "1"); err == nil {
		t.Fatalf("a wrong password was accepted: %s", out)
	}
	m.WaitLog(t, from, `disconnected, not authorised\.`)

	from = m.LogSize(t)
	m.Pub(t, "-i", "acl-probe", "-t", "secret/door", "-m", "open", "-q", "1")
	m.WaitLog(t, from, `Denied PUBLISH from acl-probe`)

	from = m.LogSize(t)
	_, _ = brokertest.RunClient(t, "mosquitto_pub", "-h", "127.0.0.1", "-p", strconv.Itoa(m.Port), "-i", "big-pub", "-t", "big/t", "-m", strings.Repeat("x", 70000))
	m.WaitLog(t, from, `Client big-pub disconnected due to oversize packet\.`)

	from = m.LogSize(t)
	_, _ = brokertest.RunClient(t, "mosquitto_pub", "-h", "127.0.0.1", "-p", strconv.Itoa(p.tlsPort), "-i", "plain-on-tls", "-t", "plant/x", "-m", "1")
	m.WaitLog(t, from, `wrong version number`)

	// Other programs write to the same syslog and journal.
	for _, args := range [][]string{
		{"logger", "-t", "systemd", "mosquitto.service: Main process exited, code=exited, status=1/FAILURE"},
		{"logger", "-t", "CRON", "-i", "(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)"},
		{"systemd-cat", "-t", "nginx", "echo", "2024/01/02 03:04:05 [error] 12#12: *1 connect() failed (111: Connection refused)"},
	} {
		if out, err := p.nsenter(t, args...); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	// The journal's own encodings: a message that is not UTF-8 (an array
	// of bytes in JSON) and one over 4096 bytes (null unless --all).
	for _, args := range [][]string{
		{"systemd-cat", "-t", "edgecase", "printf", `not utf-8: \377\376 end\n`},
		{"systemd-cat", "-t", "edgecase", "sh", "-c", `printf 'long: %05000d\n' 0`},
	} {
		if out, err := p.nsenter(t, args...); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}

	// A second broker on the same port: "Error: Address already in use".
	if out, err := p.nsenter(t, "systemd-cat", "-t", "mosquitto", "mosquitto", "-c", "second.conf"); err == nil {
		t.Fatalf("a second mosquitto on the same port started: %s", out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := brokertest.WaitLog(ctx, filepath.Join(p.dir, "second.log"), regexpMust(`Error: Address already in use`)); err != nil {
		t.Fatal(err)
	}
}

// journalctl renders the captured journal directory in mode, in zone.
func (p *producers) journalctl(t *testing.T, mode string) []byte {
	t.Helper()
	cmd := exec.Command("journalctl", append([]string{"-D", filepath.Join(p.dir, "journal"), "--no-pager", "-o"}, strings.Fields(mode)...)...)
	cmd.Env = append(os.Environ(), "TZ="+zone, "SYSTEMD_COLORS=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("journalctl -o %s: %v\n%s", mode, err, stderr.String())
	}
	return out
}

// captureMeta is testdata/capture.json: when and where the captures were
// made, for the year of year-less times and the zone of zone-less ones.
type captureMeta struct {
	Captured   time.Time `json:"captured"`
	TimeZone   string    `json:"time_zone"`
	Mosquitto  string    `json:"mosquitto"`
	Rsyslog    string    `json:"rsyslog"`
	Journalctl string    `json:"journalctl"`
	// BrokerPID is the pid of the broker that wrote plain.log; the other
	// mosquitto's lines are in second.log.
	BrokerPID string `json:"broker_pid"`
}

// TestRealProducers runs the producers, provokes the faults, and checks
// that every capture, decoded, holds the plain log's lines in order with
// the same diagnoses, and the other programs' lines as Other. With
// -capture it writes the captures for TestCaptures.
func TestRealProducers(t *testing.T) {
	p := startProducers(t)
	p.scenario(t)
	p.stop(t)
	if p.err != nil {
		var ee *exec.ExitError
		if !errorsAs(p.err, &ee) {
			t.Fatalf("producers: %v", p.err)
		}
	}
	files := map[string][]byte{}
	for _, name := range []string{"plain.log", "second.log", "rsyslog-traditional.log", "rsyslog-rfc3339.log", "rsyslog-rfc5424.log"} {
		b, err := os.ReadFile(filepath.Join(p.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = b
	}
	for _, jm := range journalModes {
		files[jm.file] = p.journalctl(t, jm.mode)
	}
	meta := captureMeta{Captured: time.Now().UTC().Truncate(time.Second), TimeZone: zone,
		Mosquitto: toolVersion("mosquitto", "-h"), Rsyslog: toolVersion("rsyslogd", "-v"), Journalctl: toolVersion("journalctl", "--version")}
	if b, err := os.ReadFile(filepath.Join(p.dir, "mosquitto.pid")); err == nil {
		meta.BrokerPID = strings.TrimSpace(string(b))
	}
	checkCaptures(t, files, meta)
	if *captureDir != "" {
		writeCaptures(t, *captureDir, files, meta)
	}
}

func toolVersion(tool string, arg string) string {
	out, _ := exec.Command(tool, arg).CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	line, _, _ = strings.Cut(line, " compiled with")
	return strings.TrimSpace(line)
}

func writeCaptures(t *testing.T, dir string, files map[string][]byte, meta captureMeta) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := json.MarshalIndent(meta, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "capture.json"), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d captures to %s", len(files), dir)
}
