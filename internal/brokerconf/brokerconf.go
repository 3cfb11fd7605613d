// Package brokerconf reads what a broker's configuration file says about
// its logging, so mqttdiag can tell an operator which signatures cannot
// fire: a fault logged only at debug level is invisible on a broker that
// logs at warning.
package brokerconf

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Config is the logging part of a broker's configuration.
type Config struct {
	File   string
	Broker string // "mosquitto" or "emqx"
	// Files are the files read, in the order the broker reads them: File,
	// then for Mosquitto those of its include_dir (see IncludeDirFiles).
	Files []string
	// IncludeDir is Mosquitto's include_dir, as written ("" if none).
	IncludeDir string
	// LogTypes is Mosquitto's set of enabled log_type values.
	LogTypes map[string]bool
	// LogDests is Mosquitto's log_dest values in effect: "file", "syslog",
	// "stderr", "stdout", "topic", "dlt"; empty for `log_dest none`.
	// Without a log_dest line Mosquitto logs to stderr.
	LogDests map[string]bool
	// LogFile is the path of `log_dest file`, as written, and LogFileAt
	// the file:line that sets it.
	LogFile, LogFileAt string
	// LogDestAt is the file:line of the last log_dest line, "" when the
	// destination is Mosquitto's default.
	LogDestAt string
	// Level is EMQX's log level for the handler that writes the log.
	Level string
	// ConnectionMessages is Mosquitto's connection_messages (default true);
	// without it the takeover and disconnect lines are not logged.
	ConnectionMessages bool
}

// Load reads a mosquitto.conf or an emqx.conf (HOCON) and returns its
// logging settings. The broker is recognised from the file's content. A
// mosquitto.conf's include_dir is read as Mosquitto reads it.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read broker config: %w", err)
	}
	if looksLikeEMQX(data) {
		return parseEMQX(path, data)
	}
	p := newMosquittoParser(path)
	if err := p.file(path, data, 0); err != nil {
		return nil, err
	}
	return p.done()
}

// parse reads the content of the broker config file path, without
// following include_dir.
func parse(path string, data []byte) (*Config, error) {
	if looksLikeEMQX(data) {
		return parseEMQX(path, data)
	}
	p := newMosquittoParser(path)
	p.noInclude = true
	if err := p.file(path, data, 0); err != nil {
		return nil, err
	}
	return p.done()
}

// emqxKey is a line of an emqx.conf: a log or node block or key. It is
// anchored at the line's start, so that a mosquitto.conf's
// `log_dest file /var/log/broker.log.1` is not taken for one.
var emqxKey = regexp.MustCompile(`(?m)^\s*(?:log|node)\s*[.{]`)

func looksLikeEMQX(data []byte) bool { return emqxKey.Match(data) }

// mosquittoLogTypes are the log_type values "all" enables.
func mosquittoLogTypes() []string {
	return []string{"error", "warning", "notice", "information", "debug", "subscribe", "unsubscribe", "websockets"}
}

// mosquittoParser reads a mosquitto.conf and its include_dir. Like
// Mosquitto (src/conf.c, config__read_file_core@v2.0.11), log_type and
// log_dest accumulate over all the files read, and "none" clears what
// came before.
type mosquittoParser struct {
	c                *Config
	sawType, sawDest bool
	noInclude        bool // for the fuzzer: no file system

}

func newMosquittoParser(path string) *mosquittoParser {
	return &mosquittoParser{c: &Config{File: path, Broker: "mosquitto", LogTypes: map[string]bool{}, LogDests: map[string]bool{}, ConnectionMessages: true}}
}

// file reads one file's lines. level is 0 for the main file: Mosquitto
// follows include_dir there only (src/conf.c:1319-1321@v2.0.11).
func (p *mosquittoParser) file(path string, data []byte, level int) error {
	c := p.c
	c.Files = append(c.Files, path)
	sc := bufio.NewScanner(bytes.NewReader(data))
	// The file is in memory already: let a line be as long as the file
	// rather than fail on a long comment.
	sc.Buffer(nil, len(data)+1)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, _ := strings.Cut(line, " ")
		val = strings.TrimSpace(val)
		at := fmt.Sprintf("%s:%d", path, n)
		switch key {
		case "log_type":
			p.sawType = true
			switch val {
			case "all":
				for _, t := range mosquittoLogTypes() {
					c.LogTypes[t] = true
				}
			case "none":
				clear(c.LogTypes)
			case "internal":
			default:
				if !slices.Contains(mosquittoLogTypes(), val) {
					return fmt.Errorf("%s: log_type %q: want one of %s, internal, all, none", at, val, strings.Join(mosquittoLogTypes(), ", "))
				}
				c.LogTypes[val] = true
			}
		case "log_dest":
			p.sawDest = true
			c.LogDestAt = at
			dest, rest, _ := strings.Cut(val, " ")
			switch dest {
			case "none":
				clear(c.LogDests)
			case "syslog", "stdout", "stderr", "topic", "dlt":
				c.LogDests[dest] = true
			case "file":
				if c.LogFileAt != "" {
					return fmt.Errorf("%s: a second `log_dest file` (the first is at %s): mosquitto refuses to start with two", at, c.LogFileAt)
				}
				if rest = strings.TrimSpace(rest); rest == "" {
					return fmt.Errorf("%s: `log_dest file` without a path", at)
				}
				c.LogDests["file"], c.LogFile, c.LogFileAt = true, rest, at
			default:
				return fmt.Errorf("%s: log_dest %q: want syslog, stdout, stderr, topic, dlt, file PATH or none", at, dest)
			}
		case "connection_messages":
			c.ConnectionMessages = val != "false"
		case "include_dir":
			if level > 0 || p.noInclude {
				continue // Mosquitto ignores include_dir in an included file
			}
			if val == "" {
				return fmt.Errorf("%s: include_dir without a directory", at)
			}
			c.IncludeDir = val
			files, err := IncludeDirFiles(val)
			if err != nil {
				return fmt.Errorf("%s: include_dir: %w", at, err)
			}
			for _, f := range files {
				data, err := os.ReadFile(f)
				if err != nil {
					return fmt.Errorf("%s: read a file of include_dir (mosquitto would not start either): %w", at, err)
				}
				if err := p.file(f, data, level+1); err != nil {
					return err
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func (p *mosquittoParser) done() (*Config, error) {
	c := p.c
	if !p.sawType { // mosquitto's default (src/conf.c config__init_reload@v2.0.11)
		for _, t := range []string{"error", "warning", "notice", "information"} {
			c.LogTypes[t] = true
		}
	}
	if !p.sawDest { // the same: stderr (and dlt, when built with it)
		c.LogDests["stderr"] = true
	}
	return c, nil
}

// IncludeDirFiles lists the files Mosquitto reads from include_dir dir,
// in its order: names longer than ".conf" that end in ".conf" (case
// matters), sorted by Mosquitto's scmp_p (src/conf_includedir.c:53-77 and
// 158-192@v2.0.11): at the first byte where two names differ, their
// upper-cased bytes decide, and when they differ by case alone the bytes
// themselves ("B.conf" before "b.conf", "Ab.conf" before "aa.conf").
func IncludeDirFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("mosquitto cannot open it either (\"Error: Unable to open include_dir\"): %w", err)
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); len(n) > len(".conf") && strings.HasSuffix(n, ".conf") {
			names = append(names, n)
		}
	}
	slices.SortFunc(names, mosquittoCompare)
	files := make([]string, len(names))
	for i, n := range names {
		files[i] = dir + "/" + n // as Mosquitto joins them: "%s/%s"
	}
	return files, nil
}

// mosquittoCompare is Mosquitto's scmp_p on two file names. The C code
// compares chars, signed on x86-64; glibc's toupper maps a negative char
// to its unsigned value, so a byte past ASCII sorts after every ASCII one
// (é.conf after _u.conf, as the real broker reads them), while the plain
// differences are of signed chars.
func mosquittoCompare(a, b string) int {
	i := 0
	for ; i < len(a) && i < len(b); i++ {
		if r := upper(a[i]) - upper(b[i]); r != 0 {
			return r
		}
		if r := int(int8(a[i])) - int(int8(b[i])); r != 0 {
			return r
		}
	}
	var ca, cb int
	if i < len(a) {
		ca = int(int8(a[i]))
	}
	if i < len(b) {
		cb = int(int8(b[i]))
	}
	return ca - cb
}

// upper is C's toupper in the "C" locale, which mosquitto runs in.
func upper(c byte) int {
	if c >= 'a' && c <= 'z' {
		return int(c - 'a' + 'A')
	}
	return int(c)
}

// emqxLevels lists EMQX's levels, least to most severe.
func emqxLevels() []string {
	return []string{"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"}
}

func parseEMQX(path string, data []byte) (*Config, error) {
	c := &Config{File: path, Broker: "emqx", Level: "warning"} // EMQX 5's default
	// Matches log.file.level = info, log.console.level: debug, and
	// "level = info" inside a log { file { ... } } block. HOCON has more
	// forms; these are the ones EMQX's own docs and examples use.
	re := regexp.MustCompile(`(?m)^\s*(?:log\.(?:file(?:\.default)?|console)\.)?level\s*[=:]\s*"?([a-z]+)"?`)
	found := ""
	for _, m := range re.FindAllSubmatch(data, -1) {
		lvl := string(m[1])
		if rank(lvl) < 0 {
			return nil, fmt.Errorf("%s: log level %q: want one of %s", path, lvl, strings.Join(emqxLevels(), ", "))
		}
		// With several handlers, the most verbose one decides what reaches
		// some log.
		if found == "" || rank(lvl) < rank(found) {
			found = lvl
		}
	}
	if found != "" {
		c.Level = found
	}
	return c, nil
}

func rank(level string) int {
	for i, l := range emqxLevels() {
		if l == level {
			return i
		}
	}
	return -1
}

// Logs reports whether the broker, so configured, logs lines that need
// level (a signature's log_level), and if not, why.
func (c *Config) Logs(level string) (bool, string) {
	if level == "" {
		level = map[string]string{"mosquitto": "error", "emqx": "warning"}[c.Broker]
	}
	switch c.Broker {
	case "mosquitto":
		if !c.LogTypes[level] {
			where := c.File
			if c.IncludeDir != "" {
				where += " or a file of its include_dir " + c.IncludeDir
			}
			return false, fmt.Sprintf("needs `log_type %s` (or `log_type all`) in %s", level, where)
		}
	case "emqx":
		if r := rank(level); r >= 0 && r < rank(c.Level) {
			return false, fmt.Sprintf("needs log level %s or lower; %s sets %s", level, c.File, c.Level)
		}
	}
	return true, ""
}

// InputWarnings says, for a Mosquitto configuration, why the inputs
// mqttdiag follows may not be where the broker writes its log: none of
// them is its `log_dest file`, it logs to syslog and no input is a syslog
// file, it logs to stderr or stdout only (its service manager or container
// runtime has those lines), or it logs nothing. It returns nothing when
// one input may carry the broker's lines, and nothing for stdin ("-"),
// whose origin it cannot know.
func (c *Config) InputWarnings(inputs []string) []string {
	if c.Broker != "mosquitto" || len(inputs) == 0 || slices.Contains(inputs, "-") {
		return nil
	}
	set := "by default"
	if c.LogDestAt != "" {
		set = "log_dest at " + c.LogDestAt
	}
	follows := strings.Join(inputs, ", ")
	if c.LogDests["file"] && slices.ContainsFunc(inputs, func(in string) bool { return sameFile(in, c.LogFile) }) {
		return nil
	}
	if c.LogDests["syslog"] && slices.ContainsFunc(inputs, syslogFile) {
		return nil
	}
	if (c.LogDests["stderr"] || c.LogDests["stdout"]) && slices.ContainsFunc(inputs, containerLog) {
		return nil
	}
	var out []string
	if c.LogDests["file"] {
		out = append(out, fmt.Sprintf("the broker writes its log to %s (log_dest file at %s), but mqttdiag follows %s: follow %s instead", c.LogFile, c.LogFileAt, follows, c.LogFile))
	}
	if c.LogDests["syslog"] {
		out = append(out, fmt.Sprintf("the broker logs to syslog (%s), and %s is not a syslog file: follow the file the syslog daemon writes (/var/log/syslog on Debian, /var/log/messages on Red Hat) with --envelope syslog, or pipe `journalctl -f -u mosquitto -o short-iso` into `mqttdiag run -`", set, follows))
	}
	if !c.LogDests["file"] && !c.LogDests["syslog"] {
		var std []string
		for _, d := range []string{"stderr", "stdout"} {
			if c.LogDests[d] {
				std = append(std, d)
			}
		}
		if len(std) > 0 {
			out = append(out, fmt.Sprintf("the broker writes its log to %s only (%s), not to a file: %s has its lines only if its %s is redirected there; under systemd they are in the journal (`journalctl -f -u mosquitto -o short-iso | mqttdiag run -`), in a container in the runtime's log; or add `log_dest file PATH` to %s",
				strings.Join(std, " and "), set, follows, strings.Join(std, " and "), c.File))
		} else if len(c.LogDests) == 0 {
			out = append(out, fmt.Sprintf("the broker logs nothing (log_dest none at %s): no signature can fire", c.LogDestAt))
		}
	}
	return out
}

// sameFile reports whether input, a path, glob or directory mqttdiag
// follows, takes in the broker's log file logFile. A relative logFile is
// relative to the broker's working directory, unknown here: an input that
// ends with it counts.
func sameFile(input, logFile string) bool {
	if !filepath.IsAbs(logFile) {
		in := filepath.ToSlash(filepath.Clean(input))
		lf := filepath.ToSlash(filepath.Clean(logFile))
		return in == lf || strings.HasSuffix(in, "/"+lf)
	}
	in, err := filepath.Abs(input)
	if err != nil {
		return false
	}
	lf := filepath.Clean(logFile)
	if in == lf {
		return true
	}
	if ok, _ := filepath.Match(in, lf); ok {
		return true
	}
	if fi, err := os.Stat(in); err == nil && fi.IsDir() {
		if rel, err := filepath.Rel(in, lf); err == nil && !strings.HasPrefix(rel, "..") {
			return true
		}
	}
	// The same file by another name (a symbolic link on either side).
	a, errA := filepath.EvalSymlinks(in)
	b, errB := filepath.EvalSymlinks(lf)
	return errA == nil && errB == nil && a == b
}

// syslogFile reports whether input is a file a syslog daemon writes:
// rsyslog's defaults on Debian and Red Hat, and their rotations.
func syslogFile(input string) bool {
	base := filepath.Base(input)
	for _, n := range []string{"syslog", "messages", "daemon.log", "user.log"} {
		if base == n || strings.HasPrefix(base, n+".") || strings.HasPrefix(base, n+"-") {
			return true
		}
	}
	return strings.Contains(base, "syslog")
}

// containerLog reports whether input is where a container runtime keeps
// a container's stdout and stderr (Docker's json-file, the kubelet's).
func containerLog(input string) bool {
	in, err := filepath.Abs(input)
	if err != nil {
		return false
	}
	for _, dir := range []string{"/var/lib/docker/containers/", "/var/log/containers/", "/var/log/pods/"} {
		if strings.HasPrefix(in+"/", dir) {
			return true
		}
	}
	return false
}
