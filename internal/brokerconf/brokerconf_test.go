package brokerconf

import (
	"os"
	"path/filepath"
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
