package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mqttdiag/mqttdiag/internal/app"
	"github.com/mqttdiag/mqttdiag/internal/testutil/brokertest"
)

// invocation is one way an example runs mqttdiag.
type invocation struct {
	where string
	args  []string
	env   []string // MQTTDIAG_* names it sets
}

// checkInvocation fails when an example uses a command, flag or
// environment variable mqttdiag does not have.
func checkInvocation(t *testing.T, inv invocation) {
	t.Helper()
	root := newTestRoot(strings.NewReader(""), io.Discard, io.Discard, func(string) string { return "" })
	if len(inv.args) == 0 {
		t.Errorf("%s: no mqttdiag arguments found", inv.where)
		return
	}
	cmd, _, err := root.Find(inv.args)
	if err != nil || cmd == root {
		t.Errorf("%s: unknown command %q", inv.where, inv.args[0])
		return
	}
	cmd.InheritedFlags() // merge the persistent flags
	for i := 1; i < len(inv.args); i++ {
		a := inv.args[i]
		if !strings.HasPrefix(a, "--") {
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if name == "help" { // cobra adds it when the command runs
			continue
		}
		f := cmd.Flags().Lookup(name)
		if f == nil {
			t.Errorf("%s: mqttdiag %s has no flag --%s", inv.where, cmd.Name(), name)
			continue
		}
		if !hasValue && f.Value.Type() != "bool" {
			i++ // the value is the next argument
		}
	}
	names := allFlagNames(root)
	for _, e := range inv.env {
		flag := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(e, "MQTTDIAG_"), "_", "-"))
		if !names[flag] && e != app.EnvWebhookToken && e != app.EnvWebhookSecret {
			t.Errorf("%s: environment variable %s names no setting", inv.where, e)
		}
	}
}

func mqttdiagEnv(m map[string]string) []string {
	var out []string
	for k := range m {
		if strings.HasPrefix(k, "MQTTDIAG_") {
			out = append(out, k)
		}
	}
	return out
}

// Every YAML file in examples/ parses, and every mqttdiag invocation in the
// examples (docker-compose, Kubernetes, systemd) uses commands, flags and
// environment variables that exist.
func TestExamples(t *testing.T) {
	var invs []invocation
	var yamls []string
	err := filepath.Walk("../../examples", func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml") {
			yamls = append(yamls, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(yamls) < 3 {
		t.Fatalf("found %d YAML examples: %v", len(yamls), yamls)
	}
	for _, p := range yamls {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(data)))
		for doc := 0; ; doc++ {
			var v map[string]any
			if err := dec.Decode(&v); err == io.EOF {
				break
			} else if err != nil {
				t.Errorf("%s: document %d: %v", p, doc, err)
				break
			}
			invs = append(invs, findInvocations(p, v)...)
		}
	}
	unit, err := os.ReadFile("../../examples/systemd/mqttdiag.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(unit), "\n") {
		if rest, ok := strings.CutPrefix(l, "ExecStart="); ok {
			f := strings.Fields(rest)
			invs = append(invs, invocation{where: "examples/systemd/mqttdiag.service", args: f[1:]})
		}
	}
	if len(invs) < 3 {
		t.Fatalf("found %d mqttdiag invocations in the examples", len(invs))
	}
	for _, inv := range invs {
		checkInvocation(t, inv)
	}
}

// findInvocations finds mqttdiag in a compose file (services.*.command of
// a service built from this repository or using its image) or a
// Kubernetes object (containers named mqttdiag).
func findInvocations(file string, v map[string]any) []invocation {
	var out []invocation
	if services, ok := v["services"].(map[string]any); ok {
		for name, sv := range services {
			svc, _ := sv.(map[string]any)
			if img, _ := svc["image"].(string); !strings.HasPrefix(img, "mqttdiag") {
				continue
			}
			inv := invocation{where: file + ": services." + name, args: strs(svc["command"])}
			if env, ok := svc["environment"].(map[string]any); ok {
				m := map[string]string{}
				for k := range env {
					m[k] = ""
				}
				inv.env = mqttdiagEnv(m)
			}
			out = append(out, inv)
		}
	}
	var walk func(any)
	walk = func(n any) {
		switch x := n.(type) {
		case map[string]any:
			if cs, ok := x["containers"].([]any); ok {
				for _, c := range cs {
					cm, _ := c.(map[string]any)
					if cm["name"] != "mqttdiag" {
						continue
					}
					inv := invocation{where: file + ": container mqttdiag", args: strs(cm["args"])}
					if env, ok := cm["env"].([]any); ok {
						m := map[string]string{}
						for _, e := range env {
							if em, ok := e.(map[string]any); ok {
								m[em["name"].(string)] = ""
							}
						}
						inv.env = mqttdiagEnv(m)
					}
					out = append(out, inv)
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(v)
	return out
}

func strs(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// The Alertmanager example is a configuration Alertmanager accepts.
func TestAlertmanagerExampleConfig(t *testing.T) {
	amtool := brokertest.RequireTool(t, "amtool")
	out, err := exec.Command(amtool, "check-config", "../../examples/alertmanager/alertmanager.yml").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Errorf("amtool check-config: %v\n%s", err, out)
	}
}

// The deployment examples run mqttdiag as the broker's user because
// Mosquitto 2.0 creates its log file with mode 0600: neither its group nor
// others can read it. This pins that assumption on a real mosquitto; as
// root it lets the broker drop to its own "mosquitto" user, as the
// packages and the eclipse-mosquitto image do, and checks that user owns
// the file.
func TestMosquittoLogFileIsOwnerOnly(t *testing.T) {
	dir := t.TempDir()
	conf := fmt.Sprintf("listener %d 127.0.0.1\nlog_dest file mosquitto.log\n", brokertest.FreePort(t))
	wantUID := -1
	if os.Getuid() == 0 {
		u, err := user.Lookup("mosquitto")
		if err != nil {
			conf += "user root\n"
		} else {
			// The broker, once it is that user, creates the file in dir.
			wantUID, _ = strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			for _, d := range []string{filepath.Dir(dir), dir} {
				if err := os.Chmod(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Chown(dir, wantUID, gid); err != nil {
				t.Fatal(err)
			}
		}
	} else if u, err := user.Current(); err == nil {
		conf += "user " + u.Username + "\n"
	}
	p := brokertest.Launch(t, dir, conf)
	p.Wait(t, `mosquitto version .* running`)
	fi, err := os.Stat(p.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("mosquitto created its log with mode %v, want 0600 (the examples and README assume it)", m)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && wantUID >= 0 && int(st.Uid) != wantUID {
		t.Errorf("log owned by uid %d, want the mosquitto user's %d", st.Uid, wantUID)
	}
}

// The examples run in production without surprises (issue 13, item 12):
// no readiness gate of the broker's pod on the sidecar's sink health, a
// bounded and rotated log volume in Kubernetes and compose, and a systemd
// unit that starts without a configuration file nobody created.
func TestExamplesHoldInProduction(t *testing.T) {
	docs := yamlDocs(t, "../../examples/kubernetes/mosquitto-with-mqttdiag.yaml")
	var pod map[string]any
	for _, d := range docs {
		if d["kind"] == "Deployment" {
			pod = dig(d, "spec", "template", "spec")
		}
	}
	if pod == nil {
		t.Fatal("no Deployment in the Kubernetes example")
	}
	rotates := false
	for _, c := range pod["containers"].([]any) {
		cm := c.(map[string]any)
		if cm["name"] == "mqttdiag" && cm["readinessProbe"] != nil {
			t.Error("Kubernetes: the mqttdiag container has a readiness probe: a failing sink would take the broker out of its Service")
		}
		if strings.Contains(strings.Join(strs(cm["command"]), " "), "pkill -HUP -x mosquitto") {
			rotates = true
		}
	}
	if !rotates || pod["shareProcessNamespace"] != true {
		t.Error("Kubernetes: no container rotates the broker's log and signals it in a shared PID namespace")
	}
	for _, v := range pod["volumes"].([]any) {
		vm := v.(map[string]any)
		if vm["name"] == "log" && dig(vm, "emptyDir")["sizeLimit"] == nil {
			t.Error("Kubernetes: the log emptyDir has no sizeLimit")
		}
	}

	compose := yamlDocs(t, "../../examples/compose/docker-compose.yml")[0]
	rotates = false
	for _, sv := range dig(compose, "services") {
		svc := sv.(map[string]any)
		if svc["pid"] == "service:mosquitto" && strings.Contains(strings.Join(strs(svc["command"]), " "), "pkill -HUP -x mosquitto") &&
			strings.Contains(strings.Join(strs(svc["volumes"]), " "), "mosquitto-log:") {
			rotates = true
		}
	}
	if !rotates {
		t.Error("compose: no service rotates the broker's log volume")
	}

	unit, err := os.ReadFile("../../examples/systemd/mqttdiag.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(unit), "\n") {
		if strings.HasPrefix(l, "ExecStart=") && strings.Contains(l, "--config") {
			t.Errorf("systemd: %s reads a configuration file the install steps do not create", l)
		}
	}
}

// The rotation of the examples rests on mosquitto reopening its log file on
// SIGHUP (mosquitto.conf(5), log_dest file): renamed away, the log is
// created again and written to.
func TestMosquittoReopensItsLogOnSIGHUP(t *testing.T) {
	m := brokertest.StartMosquitto(t)
	if err := os.Rename(m.LogPath, m.LogPath+".1"); err != nil {
		t.Fatal(err)
	}
	m.Signal(t, syscall.SIGHUP)
	m.Pub(t, "-t", "rotated", "-m", "x", "-i", "after-rotation")
	m.WaitLog(t, 0, `New client connected from .* as after-rotation`)
}

func yamlDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var docs []map[string]any
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	for {
		var v map[string]any
		if err := dec.Decode(&v); err == io.EOF {
			return docs
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		docs = append(docs, v)
	}
}

// dig follows keys through nested maps; a missing key gives an empty map.
func dig(v map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		next, _ := v[k].(map[string]any)
		if next == nil {
			return map[string]any{}
		}
		v = next
	}
	return v
}
