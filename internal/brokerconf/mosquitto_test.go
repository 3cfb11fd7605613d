package brokerconf_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/brokerconf"
	"github.com/mqttdiag/mqttdiag/internal/testutil/brokertest"
)

// Debian's stock layout, with settings in conf.d as Debian tells operators
// to put them: mqttdiag reads the files the real broker reads, in its
// order, so `log_type all` in conf.d makes debug signatures fire, and the
// log file of the package's mosquitto.conf is where the real broker
// writes. Following it gives no warning; following another file does.
func TestDebianLayoutAsTheBrokerReadsIt(t *testing.T) {
	d := brokertest.NewDebianTree(t)
	verbose := d.Write(t, "verbose.conf", "log_type all\n")
	// Not read by mosquitto: not ending in .conf, or nothing before it.
	d.Write(t, "verbose.conf.disabled", "this_is_not_an_option\nlog_dest none\n")
	d.Write(t, ".conf", "this_is_not_an_option\n")
	d.Write(t, "README", "this_is_not_an_option\n")
	cfg, err := brokerconf.Load(d.Conf)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{d.Conf, filepath.Join(d.ConfD, "listener.conf"), verbose}
	if !slices.Equal(cfg.Files, want) {
		t.Errorf("files read %v, want %v", cfg.Files, want)
	}
	for _, level := range []string{"debug", "subscribe", "information", "error"} {
		if ok, why := cfg.Logs(level); !ok {
			t.Errorf("log_type all in conf.d, yet Logs(%q): %s", level, why)
		}
	}
	if cfg.LogFile != d.LogPath || !cfg.LogDests["file"] || len(cfg.LogDests) != 1 {
		t.Errorf("log_dest: %v file %q, want only file %q", cfg.LogDests, cfg.LogFile, d.LogPath)
	}
	if w := cfg.InputWarnings([]string{d.LogPath}); len(w) != 0 {
		t.Errorf("warnings for the broker's own log file: %v", w)
	}
	if w := cfg.InputWarnings([]string{filepath.Dir(d.LogPath)}); len(w) != 0 {
		t.Errorf("warnings for the directory of the broker's log file: %v", w)
	}
	other := filepath.Join(d.Root, "other.log")
	if w := cfg.InputWarnings([]string{other}); len(w) != 1 || !strings.Contains(w[0], "writes its log to "+d.LogPath) || !strings.Contains(w[0], "follows "+other) {
		t.Errorf("following another file: %v", w)
	}
	// The real broker accepts the tree, reads the same files and writes
	// where we claim, with conf.d's log_type all (a debug line).
	d.Start(t)
	m := &brokertest.Mosquitto{Port: d.Port, LogPath: d.LogPath}
	m.Pub(t, "-t", "debian/layout", "-m", "x", "-q", "1")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := brokertest.WaitLog(ctx, d.LogPath, regexp.MustCompile(`Received PUBLISH from .* 'debian/layout'`)); err != nil {
		t.Errorf("no debug line in the broker's log, so conf.d's log_type all was not applied: %v", err)
	}
}

// The files of include_dir are read in the real broker's order: it says
// "Loading config file" for each on stderr, before its log file is open.
// The names test each rule of Mosquitto's comparison: case first ignored
// then deciding, a shorter name first, bytes past ASCII (signed chars)
// before ASCII, and ".conf" matched with its case.
func TestIncludeDirOrderAsMosquitto(t *testing.T) {
	d := brokertest.NewDebianTree(t)
	for _, n := range []string{"b.conf", "B.conf", "a.conf", "Ab.conf", "aa.conf", "_u.conf", "1.conf", "Z.conf", "é.conf", "a.CONF", "ab.conf", "a-b.conf"} {
		d.Write(t, n, "# "+n+"\n")
	}
	files, err := brokerconf.IncludeDirFiles(d.ConfD)
	if err != nil {
		t.Fatal(err)
	}
	stop := d.Start(t)
	stderr := stop()
	var loaded []string
	for _, m := range regexp.MustCompile(`Loading config file (.+)`).FindAllStringSubmatch(stderr, -1) {
		loaded = append(loaded, strings.TrimSpace(m[1]))
	}
	if len(loaded) != 12 || !slices.Equal(files, loaded) {
		t.Errorf("mqttdiag reads include_dir as\n%v\nmosquitto read\n%v\n(stderr: %s)", files, loaded, stderr)
	}
	cfg, err := brokerconf.Load(d.Conf)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Files[1:], loaded) {
		t.Errorf("Load read %v", cfg.Files)
	}
}

// A broker configured to log to syslog only writes nothing to a file:
// the real broker accepts the configuration and runs (its pid file
// appears), and the file mqttdiag would follow stays absent. mqttdiag
// warns for a plain file and not for a syslog file.
func TestLogDestSyslogOnly(t *testing.T) {
	d := brokertest.NewDebianTree(t)
	stock, err := os.ReadFile(d.Conf)
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.Replace(string(stock), "log_dest file "+d.LogPath, "log_dest syslog", 1)
	if conf == string(stock) {
		t.Fatal("the stock log_dest line was not found")
	}
	if err := os.WriteFile(d.Conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := brokerconf.Load(d.Conf)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.LogDests["syslog"] || len(cfg.LogDests) != 1 || cfg.LogFile != "" {
		t.Errorf("log_dest %v file %q, want syslog only", cfg.LogDests, cfg.LogFile)
	}
	w := cfg.InputWarnings([]string{d.LogPath})
	if len(w) != 1 || !strings.Contains(w[0], "logs to syslog") || !strings.Contains(w[0], d.Conf+":") {
		t.Errorf("warnings %v", w)
	}
	for _, in := range []string{"/var/log/syslog", "/var/log/messages", "-"} {
		if w := cfg.InputWarnings([]string{in}); len(w) != 0 {
			t.Errorf("warning for %s: %v", in, w)
		}
	}
	// The real broker: it starts (the pid file is written after the
	// configuration is read) and writes no log file.
	pid := filepath.Join(d.Root, "run", "mosquitto.pid")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stop, _ := d.Launch(t)
	if _, err := brokertest.WaitLog(ctx, pid, regexp.MustCompile(`^\d+$`)); err != nil {
		t.Fatalf("mosquitto with log_dest syslog did not start: %v\n%s", err, stop())
	}
	stop()
	if _, err := os.Stat(d.LogPath); !os.IsNotExist(err) {
		t.Errorf("the broker logging to syslog wrote %s: %v", d.LogPath, err)
	}
}
