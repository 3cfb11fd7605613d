package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// run executes the CLI in-process.
func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = execute(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestSignaturesList(t *testing.T) {
	code, out, _ := runCLI(t, "", "signatures", "list")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[0], "BROKER") || !strings.Contains(lines[0], "SEVERITY") || !strings.Contains(lines[0], "TITLE") {
		t.Errorf("header %q", lines[0])
	}
	if !strings.Contains(out, "communication/mqtt-publish-identifier-already-in-use  any        warning   Client id takeover") {
		t.Errorf("takeover row missing:\n%s", out)
	}
}

func TestSignaturesShow(t *testing.T) {
	code, out, _ := runCLI(t, "", "signatures", "show", "communication/mqtt-publish-identifier-already-in-use")
	if code != 0 || !strings.HasPrefix(out, "# Client id takeover") || !strings.Contains(out, "## Dead Ends") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	code, out, _ = runCLI(t, "", "signatures", "show", "--lang", "zh", "communication/mqtt-publish-identifier-already-in-use")
	if code != 0 || !strings.HasPrefix(out, "# 客户端 ID 被接管") || !strings.Contains(out, "## 解决方法") {
		t.Errorf("zh exit %d:\n%s", code, out)
	}
	code, _, errOut := runCLI(t, "", "signatures", "show", "no/such")
	if code == 0 || !strings.Contains(errOut, "signatures list") {
		t.Errorf("unknown id: exit %d, %q", code, errOut)
	}
}

func TestSignaturesLint(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`[
  {"id": "site/broad", "regex": "CONNACK.*returned.*identifier rejected|0x02",
   "examples": ["1700000000: Client x closed its connection."]}
]`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCLI(t, "", "signatures", "lint", bad)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{
		bad + ":2: site/broad: regex: top-level alternative \"0x02\"",
		bad + ":2: site/broad: examples: example does not match",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lint output lacks %q:\n%s", want, out)
		}
	}
	// --strict passes a clean signature and fails an unsourced rate. The
	// whole built-in pack's strict lint is signatures/lint's
	// TestBuiltinPackIsClean: here, under -race, it took 159 s.
	data, err := os.ReadFile("../../signatures/builtin/paho/connection-lost.json")
	if err != nil {
		t.Fatal(err)
	}
	var sig map[string]any
	if err := json.Unmarshal(data, &sig); err != nil {
		t.Fatal(err)
	}
	// alone, it may name no other signature
	sig["transition_graph"] = map[string]any{"leads_to": []string{}, "preceded_by": []string{}, "frequently_confused_with": []string{}}
	if data, err = json.MarshalIndent(sig, "", "  "); err != nil {
		t.Fatal(err)
	}
	clean := filepath.Join(dir, "clean.json")
	if err := os.WriteFile(clean, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runCLI(t, "", "signatures", "lint", "--strict", "--no-builtin", clean); code != 0 {
		t.Errorf("a built-in signature fails strict lint (exit %d):\n%s", code, out)
	}
	unsourced := filepath.Join(dir, "unsourced.json")
	if err := os.WriteFile(unsourced, bytes.Replace(data, []byte(`"fix_success_rate": null`), []byte(`"fix_success_rate": 0.9`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI(t, "", "signatures", "lint", "--strict", "--no-builtin", unsourced)
	if code != 1 || !strings.Contains(out, "fix_success_rate: 0.9 has no basis") {
		t.Errorf("strict lint of an unsourced rate: exit %d, want 1 naming it:\n%s", code, out)
	}
}

func TestSignaturesTestReport(t *testing.T) {
	log := "1795320305: mosquitto version 2.0.11 starting\n" +
		"1795320306: Client a already connected, closing old connection.\n" +
		"1795320306: Client b already connected, closing old connection.\n" +
		"1795320307: Client <unknown> disconnected due to cosmic rays.\n" +
		"1795320307: Client x9 disconnected due to cosmic rays.\n" +
		"1795320308: Error: Frobnicator overheated on bus /dev/fb7.\n" +
		"1795320309: Client c disconnected.\n"
	code, out, _ := runCLI(t, log, "signatures", "test", "-")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{
		"Lines: 7",
		"2        communication/mqtt-publish-identifier-already-in-use",
		"Fault-looking lines no signature explains (2 wordings):",
		"     2  Client * disconnected due to cosmic rays.",
		"     1  Error: Frobnicator overheated on bus *",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestBrokerConfigWarnsAboutUnfireableSignatures(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "mosquitto.conf")
	if err := os.WriteFile(conf, []byte("listener 1883\nlog_dest file /var/log/mosquitto/mosquitto.log\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, "", "scan", "--broker-config", conf, "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "cannot fire with the broker's logging configuration") ||
		!strings.Contains(errOut, "communication/mqtt-packet-identifier-in-use (needs `log_type debug`") ||
		strings.Contains(errOut, "communication/mqtt-publish-identifier-already-in-use (") {
		t.Errorf("stderr: %s", errOut)
	}
	// connection_messages false hides the connect, disconnect and takeover
	// lines whatever log_type says; other lines still fire.
	if err := os.WriteFile(conf, []byte("log_type all\nconnection_messages false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCLI(t, "", "scan", "--broker-config", conf, "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"communication/mqtt-publish-identifier-already-in-use (needs `connection_messages true`", "mosquitto/keepalive-timeout (needs `connection_messages true`"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q: %s", want, errOut)
		}
	}
	if strings.Contains(errOut, "communication/mqtt-packet-identifier-in-use (") || strings.Contains(errOut, "mosquitto/startup-address-in-use (") {
		t.Errorf("a signature that does not need connection messages is reported: %s", errOut)
	}
}

func TestExplainCommand(t *testing.T) {
	code, out, _ := runCLI(t, "", "explain", "1795320306: Client dup already connected, closing old connection.")
	if code != 0 || !strings.Contains(out, "MATCH communication/mqtt-publish-identifier-already-in-use") ||
		!strings.Contains(out, `client_id = "dup"`) || !strings.Contains(out, "## Workarounds") {
		t.Errorf("match: exit %d\n%s", code, out)
	}
	stdin := "Client dup already connected closing old connection.\nReceived PINGREQ from c1\n"
	code, out, _ = runCLI(t, stdin, "explain", "--no-card")
	if code != 0 {
		t.Fatal(code)
	}
	if strings.Contains(out, "words present") {
		t.Errorf("near miss says its words are present next to a missing phrase:\n%s", out)
	}
	for _, want := range []string{
		"1. closest: communication/mqtt-publish-identifier-already-in-use",
		`missing:     "already connected, closing old connection."`,
		"fails at:      already connected, closing old connection\\.",
		"No signature shares any literal text with it.",
		// Every word is there, yet a phrase is missing: the score must not
		// read as if all of the signature were present.
		"(100% of its words in the line, but only 1 of its 2 phrases as written)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("explain output lacks %q:\n%s", want, out)
		}
	}
}

// A log line's terminal control sequences (shared/repro/09_terminal_escape.sh)
// are printed as escapes, so that explain cannot retitle the window, clear
// the screen or write the clipboard; the captured field is quoted.
func TestExplainEscapesControlSequences(t *testing.T) {
	line := "1795321999: Client esc\x1b]0;PWNED-TITLE\x07\x1b[2J already connected, closing old connection."
	code, out, _ := runCLI(t, "", "explain", "--no-card", line)
	if code != 0 || !strings.Contains(out, "MATCH communication/mqtt-publish-identifier-already-in-use") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if strings.ContainsAny(out, "\x1b\x07") {
		t.Errorf("control characters printed raw:\n%q", out)
	}
	for _, want := range []string{`line:    1795321999: Client esc\x1b]0;PWNED-TITLE\x07\x1b[2J already connected`,
		`message: Client esc\x1b]0;PWNED-TITLE\x07\x1b[2J already connected`} {
		if !strings.Contains(out, want) {
			t.Errorf("explain output lacks %q:\n%s", want, out)
		}
	}
}

// Every command's --help shows examples (Go CLI conventions; shell
// completion comes from cobra).
func TestEveryCommandHasExamples(t *testing.T) {
	root := newTestRoot(strings.NewReader(""), io.Discard, io.Discard, func(string) string { return "" })
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if !c.Hidden && c.Name() != "help" && c.Parent() != nil && c.Example == "" {
			t.Errorf("mqttdiag %s has no examples in --help", c.CommandPath())
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	var shells []string
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			for _, sh := range c.Commands() {
				shells = append(shells, sh.Name())
			}
		}
	}
	if len(shells) < 3 {
		t.Errorf("completion command not in the tree, or without its shells: %v", shells)
	}
	for _, sh := range []string{"completion", "completion bash", "completion zsh", "completion fish"} {
		code, out, _ := runCLI(t, "", append(strings.Fields(sh), "--help")...)
		if code != 0 || !strings.Contains(out, "Examples:") || !strings.Contains(out, "mqttdiag completion") {
			t.Errorf("mqttdiag %s --help: exit %d, no examples:\n%s", sh, code, out)
		}
	}
	code, out, _ := runCLI(t, "", "completion", "bash")
	if code != 0 || !strings.Contains(out, "__mqttdiag") {
		t.Errorf("bash completion: exit %d", code)
	}
}
