package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// executeEnv runs the CLI in-process with a given environment.
func executeEnv(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newTestRoot(strings.NewReader(""), &out, &errb, func(k string) string { return env[k] })
	root.SetArgs(args)
	code := 0
	if err := root.ExecuteContext(context.Background()); err != nil {
		errb.WriteString(err.Error())
		code = 1
	}
	return code, out.String(), errb.String()
}

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mqttdiag.yaml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The precedence table: env > file > default, for a scalar and a list
// setting (flags over both: TestConfigFlagWins).
func TestConfigPrecedence(t *testing.T) {
	// config check loads the signatures: the paths must exist.
	d := t.TempDir()
	fromFile, e1, e2 := filepath.Join(d, "from-file"), filepath.Join(d, "e1"), filepath.Join(d, "e2")
	for _, p := range []string{fromFile, e1, e2} {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	file := writeConfig(t, "max-line-bytes: 3000\nsignatures: ["+fromFile+"]\nlog-format: console\n")
	tests := []struct {
		name string
		env  map[string]string
		cfg  bool
		want []string
	}{
		{"default", nil, false, []string{"max-line-bytes: 65536  # default", "signatures: []  # default"}},
		{"file", nil, true, []string{"max-line-bytes: 3000  # file " + file + ":1", "signatures: [" + fromFile + "]  # file " + file + ":2", "log-format: console  # file"}},
		{"env over file", map[string]string{"MQTTDIAG_MAX_LINE_BYTES": "2000", "MQTTDIAG_SIGNATURES": e1 + "," + e2}, true,
			[]string{"max-line-bytes: 2000  # env MQTTDIAG_MAX_LINE_BYTES", "signatures: [" + e1 + ", " + e2 + "]  # env MQTTDIAG_SIGNATURES", "log-format: console  # file"}},
		{"config file from the environment", map[string]string{"MQTTDIAG_CONFIG": file}, false, []string{"max-line-bytes: 3000  # file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"config", "check"}
			if tt.cfg {
				args = append(args, "--config", file)
			}
			code, out, errOut := executeEnv(t, tt.env, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("effective config lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// A flag on the command line beats the environment and the file: the
// command sees the flag's value.
func TestConfigFlagWins(t *testing.T) {
	file := writeConfig(t, "format: yaml\n")
	// The file sets an invalid --format; the flag overrides it, so scan runs.
	code, _, errOut := executeEnv(t, map[string]string{"MQTTDIAG_FORMAT": "xml"}, "scan", "--config", file, "--format", "json", "-")
	if code != 0 {
		t.Errorf("flag did not override env and file: %s", errOut)
	}
	code, _, errOut = executeEnv(t, map[string]string{"MQTTDIAG_FORMAT": "xml"}, "scan", "--config", file, "-")
	if code == 0 || !strings.Contains(errOut, `env MQTTDIAG_FORMAT: --format "xml"`) {
		t.Errorf("env did not override the file, or the error does not name the variable: exit %d %s", code, errOut)
	}
	code, _, errOut = executeEnv(t, nil, "scan", "--config", file, "-")
	if code == 0 || !strings.Contains(errOut, file+`:1: --format "yaml"`) {
		t.Errorf("file value not used, or the error does not name file and line: exit %d %s", code, errOut)
	}
}

// config check refuses what run or scan would refuse, with the same
// words and where the value came from; run says the same.
func TestConfigCheckValidatesValues(t *testing.T) {
	twoLineToken := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(twoLineToken, []byte("tok-1\ntok-2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		content string
		env     map[string]string
		forCmd  string
		want    string
	}{
		{"log-level: info\nlang: fr\n", nil, "run", `:2: --lang "fr": want en or zh`},
		{"webhook: [ftp://x]\n", nil, "run", `:1: --webhook: webhook URL "ftp://x": want an http:// or https:// URL`},
		{"threshold:\n  - nope=5/1m\n", nil, "run", `:2: --threshold "nope=5/1m": no loaded signature has id "nope"`},
		{"context: -4\n", nil, "run", `:1: --context -4: want 0 to 100 lines`},
		{"log-level: loud\n", nil, "run", `:1: --log-level "loud": want debug, info, warn or error`},
		{"broker: rabbitmq\n", nil, "scan", `:1: --broker "rabbitmq": want mosquitto, emqx, hivemq, vernemq, awsiot or paho`},
		{"color: sometimes\n", nil, "scan", `:1: --color "sometimes": want auto, always or never`},
		{"queue-size: 0\n", nil, "run", `:1: --queue-size 0: want 1 to 100000`},
		{"", map[string]string{"MQTTDIAG_LANG": "fr"}, "run", `env MQTTDIAG_LANG: --lang "fr": want en or zh`},
		{"", map[string]string{"MQTTDIAG_BATCH_MAX": "0"}, "scan", `env MQTTDIAG_BATCH_MAX: --batch-max 0: want 1 to 10000`},
		// Values that broke at run time (issue 13, item 9): checked in the
		// same place by run, scan and config check.
		{"queue-size: 2000000000\n", nil, "scan", `:1: --queue-size 2000000000: want 1 to 100000`},
		{"poll: 1ns\n", nil, "run", `:1: --poll 1ns: want 0 (inotify) or a duration from 100ms to 1h`},
		{"alert-resend-interval: 1ns\n", nil, "run", `:1: --alert-resend-interval 1ns: want a duration from 1s to 24h`},
		{"max-line-bytes: 1000000000\n", nil, "scan", `:1: --max-line-bytes 1000000000: want 256 to 4194304 bytes`},
		{"dedup-window: -1m\n", nil, "run", `:1: --dedup-window -1m0s: want 0 (off) or up to 24h`},
		{"", map[string]string{"MQTTDIAG_SHUTDOWN_TIMEOUT": "0"}, "run", `env MQTTDIAG_SHUTDOWN_TIMEOUT: --shutdown-timeout 0s: want a duration from 1ms to 1h`},
		{"shutdown-timeout: -5s\n", nil, "scan", `:1: --shutdown-timeout -5s: want a duration from 1ms to 1h`},
		{"webhook: [http://127.0.0.1:1/]\nwebhook-token-file: " + twoLineToken + "\n", nil, "run", `:2: --webhook-token-file: ` + twoLineToken + ` holds 2 lines; want the token alone on one line`},
	}
	for _, tt := range tests {
		file := writeConfig(t, tt.content)
		code, out, errOut := executeEnv(t, tt.env, "config", "check", "--for", tt.forCmd, "--config", file)
		want := tt.want
		if strings.HasPrefix(want, ":") {
			want = file + want
		}
		if code == 0 || !strings.Contains(errOut, want) || out != "" {
			t.Errorf("config check of %q %v: exit %d, stderr %q, want %q", tt.content, tt.env, code, errOut, want)
		}
		code, _, errOut = executeEnv(t, tt.env, tt.forCmd, "--config", file, "/nonexistent/x.log")
		if code == 0 || !strings.Contains(errOut, want) {
			t.Errorf("%s with %q %v: exit %d, stderr %q, want %q", tt.forCmd, tt.content, tt.env, code, errOut, want)
		}
	}
	// A good configuration passes.
	file := writeConfig(t, "lang: zh\ncontext: 5\nthreshold: ["+takeoverID+"=5/1m]\nwebhook: [https://hook.example/in]\n")
	if code, _, errOut := executeEnv(t, nil, "config", "check", "--config", file); code != 0 {
		t.Errorf("a good configuration fails: %s", errOut)
	}
}

func TestConfigErrorsNameFileAndLine(t *testing.T) {
	tests := []struct {
		content string
		want    []string
	}{
		{"log-format: [json\n", []string{":1: did not find expected"}},
		{"max-line-bytes: 100\nmax-lines: 3\n", []string{":2: max-lines: unknown setting"}},
		{"from-beginning: maybe\n", []string{":1: from-beginning:", "maybe"}},
		{"max-line-bytes: [1, 2]\n", []string{":1: max-line-bytes: takes one value, not a list"}},
		{"- a\n- b\n", []string{":1: the configuration must be a mapping"}},
		{"poll: 1s\npoll: 2s\n", []string{":2: poll: set twice"}},
	}
	for _, tt := range tests {
		file := writeConfig(t, tt.content)
		code, _, errOut := executeEnv(t, nil, "config", "check", "--config", file)
		if code == 0 {
			t.Errorf("%q accepted", tt.content)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(errOut, file+w) && !strings.Contains(errOut, w) {
				t.Errorf("%q: error %q lacks %q", tt.content, errOut, w)
			}
		}
		if !strings.Contains(errOut, file) {
			t.Errorf("%q: error %q does not name the file", tt.content, errOut)
		}
	}
}

// The secret-bearing settings of the real CLI: URLs with user info and
// query values, custom header values, and the token and HMAC secret in
// the environment. config check shows none of them, whether they come
// from the file or the environment; file paths are not secrets.
func TestEffectiveConfigMasksSecrets(t *testing.T) {
	secrets := []string{"s3cretpw", "abc123", "slackpathsecret", "hdrsecret", "envhdrsecret", "tok-env-9f8e", "hmac-env-1a2b", "ampw77", "gen-q-4455"}
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("tok-file-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := writeConfig(t, "webhook: ['https://user:s3cretpw@hook.example/services/T1/B2/slackpathsecret?token=abc123&team=a']\n"+
		"webhook-header: ['Authorization: Bearer hdrsecret']\n"+
		"alertmanager: ['http://am:ampw77@am.example:9093']\n"+
		"alert-generator-url: 'https://grafana.example/d?key=gen-q-4455'\n"+
		"webhook-token-file: "+tokenFile+"\n")
	env := map[string]string{
		"MQTTDIAG_WEBHOOK_TOKEN":  "tok-env-9f8e",
		"MQTTDIAG_WEBHOOK_SECRET": "hmac-env-1a2b",
	}
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"file", env, nil},
		{"env", map[string]string{"MQTTDIAG_WEBHOOK_HEADER": "X-Key: envhdrsecret", "MQTTDIAG_WEBHOOK_SECRET": "hmac-env-1a2b"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"config", "check", "--config", file}, tt.args...)
			code, out, errOut := executeEnv(t, tt.env, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, sec := range secrets {
				if strings.Contains(out+errOut, sec) {
					t.Errorf("config check prints the secret %q:\n%s", sec, out)
				}
			}
			for _, want := range map[string][]string{
				"file": {"webhook: ['https://user:****@hook.example?token=****&team=**** (path #", "webhook-header: ['Authorization: ****']",
					"alertmanager: [http://am:****@am.example:9093]", "alert-generator-url: https://grafana.example/d?key=****",
					"webhook-token-file: " + tokenFile, "# $MQTTDIAG_WEBHOOK_TOKEN: set (****), unused: webhook-token-file is set",
					"# $MQTTDIAG_WEBHOOK_SECRET: set (****)"},
				"env": {"webhook-header: ['X-Key: ****']  # env MQTTDIAG_WEBHOOK_HEADER", "# $MQTTDIAG_WEBHOOK_TOKEN: not set"},
			}[tt.name] {
				if !strings.Contains(out, want) {
					t.Errorf("effective config lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// List settings in the environment: items separated by commas or
// newlines, "\," a comma inside an item (a header value may have commas).
func TestEnvListSplitting(t *testing.T) {
	env := map[string]string{"MQTTDIAG_WEBHOOK": "https://a.example/in,https://b.example/in",
		"MQTTDIAG_WEBHOOK_HEADER": "Accept: application/json\\, text/plain\nX-Team: oncall"}
	code, out, errOut := executeEnv(t, env, "config", "check")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, w := range []string{"webhook: ['https://a.example (path #86121fea)', 'https://b.example (path #86121fea)']  # env MQTTDIAG_WEBHOOK",
		"webhook-header: ['Accept: ****', 'X-Team: ****']  # env MQTTDIAG_WEBHOOK_HEADER"} {
		if !strings.Contains(out, w) {
			t.Errorf("effective config lacks %q:\n%s", w, out)
		}
	}
}

// config check reads flags as the command given by --for would, as its
// help says: a flag of run or scan is accepted, wins over the file and the
// environment, is checked as that command checks it, and one the command
// has not is refused, naming the command.
func TestConfigCheckReadsTheCommandsFlags(t *testing.T) {
	file := writeConfig(t, "dedup-window: 2m\n")
	env := map[string]string{"MQTTDIAG_LANG": "en"}
	code, out, errOut := executeEnv(t, env, "config", "check", "--config", file, "--for", "run",
		"--dedup-window", "5m", "--webhook", "https://a.example/in", "--webhook", "https://b.example/in", "--from-beginning", "--lang", "zh")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"dedup-window", "5m0s", "https://a.example (path", "https://b.example (path", "from-beginning", "zh"} {
		if !strings.Contains(out, want) {
			t.Errorf("effective settings lack %q:\n%s", want, out)
		}
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "dedup-window") && !strings.Contains(l, "flag") {
			t.Errorf("dedup-window given as a flag, its line does not say so: %q", l)
		}
	}
	// Checked as run checks it.
	code, _, errOut = executeEnv(t, nil, "config", "check", "--dedup-window", "-1m")
	if code == 0 || !strings.Contains(errOut, "--dedup-window -1m0s: want 0 (off) or up to 24h") {
		t.Errorf("a negative --dedup-window: exit %d, stderr %q", code, errOut)
	}
	// scan's flags with --for scan; run's own flags are not scan's.
	if code, out, errOut := executeEnv(t, nil, "config", "check", "--for", "scan", "--format", "text"); code != 0 || !strings.Contains(out, "text") {
		t.Errorf("--for scan --format text: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, _, errOut = executeEnv(t, nil, "config", "check", "--for", "scan", "--state", "/tmp/x.state")
	if code == 0 || !strings.Contains(errOut, "--state") || !strings.Contains(errOut, "scan") {
		t.Errorf("--for scan --state: exit %d, stderr %q; want it refused as not a scan flag", code, errOut)
	}
}
