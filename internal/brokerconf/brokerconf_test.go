package brokerconf

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMosquitto(t *testing.T) {
	tests := []struct {
		conf      string
		level     string
		logs      bool
		whySubstr string
	}{
		{"listener 1883\n", "", true, ""},                     // default log types include error
		{"listener 1883\n", "debug", false, "log_type debug"}, // but not debug
		{"log_type all\n", "debug", true, ""},
		{"log_type error\nlog_type warning\n", "notice", false, "log_type notice"},
		{"log_type none\n", "error", false, ""},
		{"# log_type all\n", "information", true, ""},
	}
	for _, tt := range tests {
		c, err := Load(write(t, "mosquitto.conf", tt.conf))
		if err != nil {
			t.Fatal(err)
		}
		ok, why := c.Logs(tt.level)
		if ok != tt.logs || !strings.Contains(why, tt.whySubstr) {
			t.Errorf("%q: Logs(%q) = %v %q", tt.conf, tt.level, ok, why)
		}
	}
	c, err := Load(write(t, "m.conf", "connection_messages false\n"))
	if err != nil || c.ConnectionMessages {
		t.Errorf("connection_messages false not read: %+v %v", c, err)
	}
	if _, err := Load(write(t, "m.conf", "listener 1883\nlog_type verbose\n")); err == nil || !strings.Contains(err.Error(), "m.conf:2") {
		t.Errorf("bad log_type: %v", err)
	}
}

func TestEMQX(t *testing.T) {
	tests := []struct {
		conf  string
		level string
		logs  bool
	}{
		{"node {\n  name = \"emqx@127.0.0.1\"\n}\n", "warning", true}, // default warning
		{"node {\n  name = \"emqx@127.0.0.1\"\n}\n", "info", false},
		{"log.file.level = info\n", "info", true},
		{"log {\n  file {\n    level = debug\n  }\n}\n", "debug", true},
		{"log.console.level: error\n", "warning", false},
	}
	for _, tt := range tests {
		c, err := Load(write(t, "emqx.conf", tt.conf))
		if err != nil {
			t.Fatal(err)
		}
		if c.Broker != "emqx" {
			t.Fatalf("%q read as %s", tt.conf, c.Broker)
		}
		if ok, _ := c.Logs(tt.level); ok != tt.logs {
			t.Errorf("%q: Logs(%q) = %v", tt.conf, tt.level, ok)
		}
	}
}

// FuzzParse feeds arbitrary bytes as a broker config: no panic, and
// either a config of a known broker or an error that names the file.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"log_dest file /var/log/mosquitto/mosquitto.log\nlog_type all\n",
		"log_type error\nlog_type warning\nconnection_messages false\n",
		"log_type nonsense\n",
		"# comment only\n\n",
		"log {\n  file {\n    level = info\n  }\n}\n",
		"log.file.level = debug\nnode.name = emqx@127.0.0.1\n",
		"log.console.level: loud\n",
		"log_type \xff\xfe\n\x00",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parse("broker.conf", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "broker.conf") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if c.Broker != "mosquitto" && c.Broker != "emqx" {
			t.Fatalf("broker %q", c.Broker)
		}
		if c.Broker == "emqx" && rank(c.Level) < 0 {
			t.Fatalf("emqx level %q is not a level", c.Level)
		}
	})
}

// log_dest as Mosquitto reads it (src/conf.c:1511-1562@v2.0.11): several
// lines add up, none clears what came before, stderr without any, one
// file only.
func TestMosquittoLogDest(t *testing.T) {
	tests := []struct {
		conf  string
		dests string
		file  string
	}{
		{"listener 1883\n", "stderr", ""},
		{"log_dest syslog\nlog_dest stdout\n", "stdout syslog", ""},
		{"log_dest stderr\nlog_dest none\nlog_dest topic\n", "topic", ""},
		{"log_dest file /var/log/mosquitto/my log.log\n", "file", "/var/log/mosquitto/my log.log"},
		{"log_dest none\n", "", ""},
		{"log_type all\nlog_type none\nlog_type error\nlog_dest file  m.log\n", "file", "m.log"},
	}
	for _, tt := range tests {
		c, err := Load(write(t, "mosquitto.conf", tt.conf))
		if err != nil {
			t.Fatal(err)
		}
		var dests []string
		for d := range c.LogDests {
			dests = append(dests, d)
		}
		sort.Strings(dests)
		if strings.Join(dests, " ") != tt.dests || c.LogFile != tt.file {
			t.Errorf("%q: dests %v file %q, want %q %q", tt.conf, dests, c.LogFile, tt.dests, tt.file)
		}
	}
	c, _ := Load(write(t, "m.conf", "log_type all\nlog_type none\nlog_type error\n"))
	if len(c.LogTypes) != 1 || !c.LogTypes["error"] {
		t.Errorf("log_type none did not clear: %v", c.LogTypes)
	}
	for conf, want := range map[string]string{
		"log_dest file a.log\nlog_dest file b.log\n": "m.conf:2: a second `log_dest file` (the first is at ",
		"log_dest file\n":    "m.conf:1: `log_dest file` without a path",
		"log_dest journal\n": `m.conf:1: log_dest "journal"`,
	} {
		if _, err := Load(write(t, "m.conf", conf)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", conf, err, want)
		}
	}
}

// Warnings about the inputs: none when an input can carry the broker's
// lines, one saying where it writes otherwise.
func TestInputWarnings(t *testing.T) {
	dir := t.TempDir()
	logFile := filepath.Join(dir, "mosquitto.log")
	link := filepath.Join(dir, "link.log")
	if err := os.Symlink(logFile, link); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	fileConf, _ := Load(write(t, "a.conf", "log_dest file "+logFile+"\n"))
	relConf, _ := Load(write(t, "b.conf", "log_dest file logs/mosquitto.log\n"))
	stdConf, _ := Load(write(t, "c.conf", "listener 1883\n"))
	noneConf, _ := Load(write(t, "d.conf", "log_dest none\n"))
	both, _ := Load(write(t, "e.conf", "log_dest syslog\nlog_dest file "+logFile+"\n"))
	tests := []struct {
		c      *Config
		inputs []string
		want   string // "" for no warning
	}{
		{fileConf, []string{logFile}, ""},
		{fileConf, []string{dir}, ""},
		{fileConf, []string{filepath.Join(dir, "*.log")}, ""},
		{fileConf, []string{link}, ""},
		{fileConf, []string{"/var/log/other.log", logFile}, ""},
		{fileConf, []string{"-"}, ""},
		{fileConf, []string{"/var/log/other.log"}, "the broker writes its log to " + logFile + " (log_dest file at "},
		{relConf, []string{"/srv/broker/logs/mosquitto.log"}, ""},
		{relConf, []string{"/srv/broker/mosquitto.log"}, "writes its log to logs/mosquitto.log"},
		{stdConf, []string{"/var/lib/docker/containers/abc/abc-json.log"}, ""},
		{stdConf, []string{"/var/log/mosquitto/mosquitto.log"}, "to stderr only (by default), not to a file"},
		{noneConf, []string{logFile}, "the broker logs nothing"},
		{both, []string{"/var/log/syslog"}, ""},
		{both, []string{"/tmp/x.log"}, "logs to syslog"},
	}
	for _, tt := range tests {
		w := tt.c.InputWarnings(tt.inputs)
		switch {
		case tt.want == "" && len(w) > 0:
			t.Errorf("%s %v: unwanted warning %v", tt.c.File, tt.inputs, w)
		case tt.want != "" && !strings.Contains(strings.Join(w, "\n"), tt.want):
			t.Errorf("%s %v: %v, want %q", tt.c.File, tt.inputs, w, tt.want)
		}
	}
}
