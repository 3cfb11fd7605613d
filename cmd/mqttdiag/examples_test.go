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
	cmd, _, err := root.Find(inv.args[:1])
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
