package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/testutil/brokertest"
	"github.com/mqttdiag/mqttdiag/internal/testutil/journaltest"
	"github.com/mqttdiag/mqttdiag/sink"
)

// deployExample is how a deployment example runs the broker and mqttdiag.
type deployExample struct {
	name     string
	broker   []string // the broker container's command, run by the image's entrypoint (exec "$@")
	conf     string   // the broker's mosquitto.conf as the example ships it
	mqttdiag []string // mqttdiag's arguments
	env      []string // mqttdiag's environment, literal values only
}

// deployExamples reads the compose and Kubernetes examples.
func deployExamples(t *testing.T) []deployExample {
	t.Helper()
	compose := yamlDocs(t, "../../examples/compose/docker-compose.yml")[0]
	svcs := dig(compose, "services")
	conf, err := os.ReadFile("../../examples/compose/mosquitto.conf")
	if err != nil {
		t.Fatal(err)
	}
	c := deployExample{name: "compose", conf: string(conf),
		broker: strs(dig(svcs, "mosquitto")["command"]), mqttdiag: strs(dig(svcs, "mqttdiag")["command"])}
	if !strings.Contains(strings.Join(strs(dig(svcs, "mosquitto")["volumes"]), " "), "./mosquitto.conf:/mosquitto/config/mosquitto.conf") {
		t.Fatal("compose: the broker no longer mounts ./mosquitto.conf as /mosquitto/config/mosquitto.conf; the test reads that file")
	}
	for k, v := range dig(svcs, "mqttdiag", "environment") {
		c.env = append(c.env, fmt.Sprintf("%s=%v", k, v))
	}

	k := deployExample{name: "kubernetes"}
	for _, d := range yamlDocs(t, "../../examples/kubernetes/mosquitto-with-mqttdiag.yaml") {
		switch d["kind"] {
		case "ConfigMap":
			k.conf, _ = dig(d, "data")["mosquitto.conf"].(string)
		case "Deployment":
			for _, cv := range dig(d, "spec", "template", "spec")["containers"].([]any) {
				cm := cv.(map[string]any)
				switch cm["name"] {
				case "mosquitto":
					if cm["command"] != nil {
						// command replaces the image's ENTRYPOINT, which
						// this test takes to run (it chowns /mosquitto).
						t.Error("kubernetes: the mosquitto container sets command; give args so the image's entrypoint runs")
					}
					k.broker = strs(cm["args"])
				case "mqttdiag":
					k.mqttdiag = strs(cm["args"])
					for _, ev := range cm["env"].([]any) {
						em := ev.(map[string]any)
						if v, ok := em["value"].(string); ok {
							k.env = append(k.env, em["name"].(string)+"="+v)
						}
					}
				}
			}
		}
	}
	for _, e := range []deployExample{c, k} {
		if len(e.broker) == 0 || e.conf == "" || len(e.mqttdiag) == 0 {
			t.Fatalf("%s: broker command %q, config %d bytes, mqttdiag args %q: the test cannot run the example", e.name, e.broker, len(e.conf), e.mqttdiag)
		}
	}
	return []deployExample{c, k}
}

// sandbox is one run of an example: the container paths (/mosquitto/...,
// /state, /secrets, /var/lib/mqttdiag) under root, on this host.
type sandbox struct {
	ex     deployExample
	root   string
	bin    string              // mosquitto
	am     string              // Alertmanager's URL, for --alertmanager
	hook   string              // a receiver's URL, for --webhook
	out    bytes.Buffer        // the broker's stdout (log_dest stdout)
	exited chan error          // the last broker's exit
	uid    *syscall.Credential // mqttdiag's user (the broker's), when the test runs as root
}

func newSandbox(t *testing.T, ex deployExample, am, hook string) *sandbox {
	t.Helper()
	s := &sandbox{ex: ex, root: t.TempDir(), bin: brokertest.RequireTool(t, "mosquitto"), am: am, hook: hook}
	for _, d := range []string{"mosquitto/config", "mosquitto/log", "mosquitto/data", "secrets"} {
		if err := os.MkdirAll(filepath.Join(s.root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"token", "hmac-secret"} {
		if err := os.WriteFile(filepath.Join(s.root, "secrets", f), []byte("test-"+f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// path maps a container path into the sandbox.
func (s *sandbox) path(p string) string { return s.root + p }

// writeConf writes the example's config, listening on 127.0.0.1:port,
// plus extra lines.
func (s *sandbox) writeConf(t *testing.T, port int, extra string) {
	t.Helper()
	re := regexp.MustCompile(`(?m)^listener 1883$`)
	if !re.MatchString(s.ex.conf) {
		t.Fatalf("%s: the broker's config has no `listener 1883` line to move to a test port:\n%s", s.ex.name, s.ex.conf)
	}
	conf := re.ReplaceAllString(s.ex.conf, fmt.Sprintf("listener %d 127.0.0.1", port))
	conf = strings.ReplaceAll(conf, "/mosquitto/", s.path("/mosquitto/")) + extra
	if err := os.WriteFile(s.path("/mosquitto/config/mosquitto.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
}

// own does what the image's entrypoint does as root before it runs the
// command (chown -R mosquitto:mosquitto /mosquitto,
// docker/2.0/docker-entrypoint.sh@v2.0.11), with Debian's mosquitto user
// standing in for uid 1883; mqttdiag then runs as that user, as the
// examples run it as 1883. As another user nothing changes hands and
// mosquitto keeps its user (it drops privileges only as root).
func (s *sandbox) own(t *testing.T) {
	t.Helper()
	if os.Getuid() != 0 {
		return
	}
	u, err := user.Lookup("mosquitto")
	if err != nil {
		t.Fatalf("running as root, the test needs the mosquitto user of Debian's package (the broker drops to it): %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for _, d := range []string{filepath.Dir(s.root), s.root} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	err = filepath.Walk(s.root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.uid = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// startMqttdiag runs mqttdiag with the example's arguments, container
// paths mapped into the sandbox and network endpoints to local ones, and
// waits until it waits for the inputs that do not exist yet (missing of
// them), so that it reads them from their beginning.
func (s *sandbox) startMqttdiag(t *testing.T, missing int) *proc {
	t.Helper()
	var args []string
	prev := ""
	for _, a := range s.ex.mqttdiag {
		name, val, hasVal := strings.Cut(a, "=")
		if !hasVal && !strings.HasPrefix(a, "-") {
			name, val = prev, a // the value of the flag before, or a PATH
		}
		switch {
		case name == "--alertmanager":
			val = s.am
		case name == "--webhook":
			val = s.hook
		case name == "--metrics-addr":
			val = "127.0.0.1:0"
		case strings.HasPrefix(val, "/"):
			val = s.path(val)
		}
		if name == "--state" {
			if err := os.MkdirAll(filepath.Dir(val), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		switch {
		case hasVal:
			args = append(args, name+"="+val)
		case strings.HasPrefix(a, "-"):
			args = append(args, a)
		default:
			args = append(args, val)
		}
		prev = a
	}
	s.own(t)
	bin := os.Args[0]
	if s.uid != nil {
		// The test binary's build directory is root's alone.
		bin = filepath.Join(s.root, "mqttdiag")
		data, err := os.ReadFile(os.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = s.root
	// Debug self-logs say when a file is opened; the examples' arguments
	// are unchanged.
	cmd.Env = append(append(os.Environ(), s.ex.env...), "MQTTDIAG_LOG_LEVEL=debug")
	if s.uid != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.uid}
	}
	p := startMqttdiagCmd(t, cmd)
	for i := 0; i < missing; i++ {
		p.waitLog(t, "waiting for the log file to appear", 60*time.Second)
	}
	return p
}

// startBroker runs the broker container's command as its entrypoint
// would, with container paths mapped and the image's /usr/sbin/mosquitto
// replaced by this host's.
func (s *sandbox) startBroker(t *testing.T) {
	t.Helper()
	r := strings.NewReplacer("/usr/sbin/mosquitto ", s.bin+" ", "/mosquitto/", s.path("/mosquitto/"))
	var argv []string
	for _, a := range s.ex.broker {
		argv = append(argv, r.Replace(a))
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = s.root
	cmd.Stdout = &s.out
	cmd.Stderr = &s.out // whatever the command does not redirect
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	s.exited = exited
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			exited <- err
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("%s broker output:\n%s", s.ex.name, s.out.String())
		}
	})
}

// waitBrokerFails waits for the broker to exit with a failure.
func (s *sandbox) waitBrokerFails(t *testing.T) {
	t.Helper()
	select {
	case err := <-s.exited:
		s.exited <- err
		if err == nil {
			t.Fatalf("%s: the broker exited 0 on a broken start", s.ex.name)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("%s: the broker did not exit within 60 s on a broken start", s.ex.name)
	}
}

// A broker that fails at start-up is diagnosed through each deployment
// example (compose, Kubernetes) as the example is written: the broker
// container's command and mqttdiag's arguments are read from the YAML and
// run here, a real mosquitto on 127.0.0.1 and mqttdiag as the broker's
// user (when the test runs as root), container paths mapped into a
// directory. An unknown option is printed on stderr before mosquitto opens
// its log file (src/mosquitto.c:488-513@v2.0.11: config__parse_args, then
// log__init), so only the stderr file the examples redirect to holds it;
// a port in use (listeners__start, after log__init) reaches the log file.
// A healthy start through the same path gives no warning or worse.
func TestExamplesDiagnoseStartupFaults(t *testing.T) {
	t.Parallel() // a subprocess and its own temp dir, ports and state: independent of the others
	am := brokertest.StartAlertmanager(t)
	// The examples' webhook, received here; this test asserts the
	// diagnoses on stdout, which mqttdiag prints whatever its sinks.
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	t.Cleanup(hook.Close)
	for _, ex := range deployExamples(t) {
		t.Run(ex.name+"/unknown-option", func(t *testing.T) {
			s := newSandbox(t, ex, am.URL, hook.URL+"/mqttdiag")
			s.writeConf(t, brokertest.FreePort(t), "bogus_startup_option true\n")
			p := s.startMqttdiag(t, 2)
			s.startBroker(t)
			s.waitBrokerFails(t)
			d, _ := p.waitDiag(t, 60*time.Second, func(d *sink.Diagnosis) bool {
				return d.SignatureID == "mosquitto/config-unknown-variable" && d.Fields["option"] == "bogus_startup_option"
			})
			if want := s.path("/mosquitto/log/stderr.log"); d.Source.File != want {
				t.Errorf("diagnosed from %q, want the broker's stderr file %s", d.Source.File, want)
			}
		})
		// The broker fails before mqttdiag runs (containers start in no
		// set order): mqttdiag follows the stderr file from its end, and
		// the broker's next attempt (restart: unless-stopped in compose,
		// the pod's restartPolicy Always) is diagnosed.
		t.Run(ex.name+"/unknown-option-restarted", func(t *testing.T) {
			s := newSandbox(t, ex, am.URL, hook.URL+"/mqttdiag")
			s.writeConf(t, brokertest.FreePort(t), "bogus_startup_option true\n")
			s.own(t)
			s.startBroker(t)
			s.waitBrokerFails(t)
			p := s.startMqttdiag(t, 1) // only mosquitto.log is missing
			p.waitFollowing(t, s.path("/mosquitto/log/stderr.log"))
			s.startBroker(t)
			s.waitBrokerFails(t)
			p.waitDiag(t, 60*time.Second, func(d *sink.Diagnosis) bool {
				return d.SignatureID == "mosquitto/config-unknown-variable" && d.Fields["option"] == "bogus_startup_option"
			})
		})
		t.Run(ex.name+"/address-in-use", func(t *testing.T) {
			other := brokertest.StartMosquitto(t)
			s := newSandbox(t, ex, am.URL, hook.URL+"/mqttdiag")
			s.writeConf(t, other.Port, "")
			p := s.startMqttdiag(t, 2)
			s.startBroker(t)
			s.waitBrokerFails(t)
			p.waitDiag(t, 60*time.Second, func(d *sink.Diagnosis) bool {
				return d.SignatureID == "mosquitto/startup-address-in-use"
			})
		})
		t.Run(ex.name+"/healthy", func(t *testing.T) {
			s := newSandbox(t, ex, am.URL, hook.URL+"/mqttdiag")
			port := brokertest.FreePort(t)
			s.writeConf(t, port, "")
			p := s.startMqttdiag(t, 2)
			s.startBroker(t)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if _, err := brokertest.WaitLog(ctx, s.path("/mosquitto/log/mosquitto.log"), regexp.MustCompile(`mosquitto version \S+ running`)); err != nil {
				t.Fatalf("%s: the healthy broker did not start: %v", ex.name, err)
			}
			// A client-id takeover (a warning) marks where the start-up
			// ends: what mqttdiag says before it is about the start.
			addr := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-t", "startup/probe", "-i", "startup-takeover"}
			first, _ := brokertest.StartClient(t, "mosquitto_sub", addr...)
			defer func() { _ = first.Process.Kill() }()
			if _, err := brokertest.WaitLog(ctx, s.path("/mosquitto/log/mosquitto.log"), regexp.MustCompile(`New client connected .* as startup-takeover`)); err != nil {
				t.Fatal(err)
			}
			second, _ := brokertest.StartClient(t, "mosquitto_sub", addr...)
			defer func() { _ = second.Process.Kill() }()
			_, before := p.waitDiag(t, 60*time.Second, func(d *sink.Diagnosis) bool { return d.SignatureID == takeoverID })
			for _, d := range before {
				if d.Severity != "info" {
					t.Errorf("%s: a healthy start gave a %s diagnosis: %s <- %s", ex.name, d.Severity, d.SignatureID, d.Line)
				}
			}
		})
	}
}

// waitFollowing waits for mqttdiag's debug self-log saying it follows path.
func (p *proc) waitFollowing(t *testing.T, path string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case rec, ok := <-p.logs:
			if !ok {
				t.Fatalf("mqttdiag exited before following %s", path)
			}
			if rec["message"] == "following" && rec["file"] == path {
				return
			}
		case <-deadline:
			t.Fatalf("mqttdiag did not follow %s within 30 s", path)
		}
	}
}

// The snap's recipe: snapd runs a snap's daemon as the systemd unit
// snap.<snap>.<app>.service (snapd snap/info.go: AppSecurityTag,
// AppInfo.ServiceName), so the mosquitto snap's app is
// snap.mosquitto.mosquitto.service, and its stderr is in the journal under
// that unit. Real mosquitto stderr, written to a real journal directory as
// journald writes a unit's stderr, is diagnosed through
// journald:snap.mosquitto.mosquitto.service; a line of mosquitto.service
// (another unit) is not read.
func TestRunJournaldSnapUnit(t *testing.T) {
	j := journaltest.New(t)
	at := time.Date(2026, 12, 5, 9, 10, 11, 0, time.UTC)
	var es []journaltest.Entry
	for i, l := range journaltest.Lines(mosquittoStderr(t)) {
		es = append(es, journaltest.Entry{Message: l, Unit: "snap.mosquitto.mosquitto.service", Identifier: "mosquitto.mosquitto", PID: 32470, Time: at.Add(time.Duration(i) * time.Millisecond)})
	}
	es = append(es, journaltest.Entry{Message: []byte(`Error: Unknown configuration variable "other_unit".`), Unit: "mosquitto.service", Identifier: "mosquitto", PID: 99, Time: at.Add(time.Second)})
	j.Write(t, es...)
	p := startMqttdiag(t, nil, "run", "--from-beginning", "--journal-dir", j.Dir, "journald:snap.mosquitto.mosquitto.service")
	d, _ := p.waitDiag(t, 60*time.Second, func(d *sink.Diagnosis) bool {
		return d.SignatureID == "mosquitto/config-unknown-variable"
	})
	if d.Fields["option"] != "bogus_journal_option" || d.Envelope == nil || d.Envelope.Unit != "snap.mosquitto.mosquitto.service" || d.Envelope.Program != "mosquitto.mosquitto" {
		t.Fatalf("diagnosis %v from %+v, want the snap unit's bogus_journal_option", d.Fields, d.Envelope)
	}
	if err := p.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	for d := range p.diags {
		if d.Fields["option"] == "other_unit" {
			t.Errorf("a line of another unit was diagnosed: %+v", d)
		}
	}
}
