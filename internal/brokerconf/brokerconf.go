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
	"regexp"
	"strings"
)

// Config is the logging part of a broker's configuration.
type Config struct {
	File   string
	Broker string // "mosquitto" or "emqx"
	// LogTypes is Mosquitto's set of enabled log_type values.
	LogTypes map[string]bool
	// Level is EMQX's log level for the handler that writes the log.
	Level string
	// ConnectionMessages is Mosquitto's connection_messages (default true);
	// without it the takeover and disconnect lines are not logged.
	ConnectionMessages bool
}

// Load reads a mosquitto.conf or an emqx.conf (HOCON) and returns its
// logging settings. The broker is recognised from the file's content.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read broker config: %w", err)
	}
	return parse(path, data)
}

// parse reads the content of the broker config file path.
func parse(path string, data []byte) (*Config, error) {
	if looksLikeEMQX(data) {
		return parseEMQX(path, data)
	}
	return parseMosquitto(path, data)
}

func looksLikeEMQX(data []byte) bool {
	return bytes.Contains(data, []byte("log {")) || bytes.Contains(data, []byte("log.")) || bytes.Contains(data, []byte("node {")) || bytes.Contains(data, []byte("node."))
}

// mosquittoLogTypes are the log_type values "all" enables.
func mosquittoLogTypes() []string {
	return []string{"error", "warning", "notice", "information", "debug", "subscribe", "unsubscribe", "websockets"}
}

func parseMosquitto(path string, data []byte) (*Config, error) {
	c := &Config{File: path, Broker: "mosquitto", LogTypes: map[string]bool{}, ConnectionMessages: true}
	sawType := false
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
		switch key {
		case "log_type":
			sawType = true
			switch val {
			case "all":
				for _, t := range mosquittoLogTypes() {
					c.LogTypes[t] = true
				}
			case "none":
			default:
				known := false
				for _, t := range mosquittoLogTypes() {
					if t == val {
						known = true
					}
				}
				if !known {
					return nil, fmt.Errorf("%s:%d: log_type %q: want one of %s, all, none", path, n, val, strings.Join(mosquittoLogTypes(), ", "))
				}
				c.LogTypes[val] = true
			}
		case "connection_messages":
			c.ConnectionMessages = val != "false"
		}
	}
	if !sawType { // mosquitto's default
		for _, t := range []string{"error", "warning", "notice", "information"} {
			c.LogTypes[t] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
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
			return false, fmt.Sprintf("needs `log_type %s` (or `log_type all`) in %s", level, c.File)
		}
	case "emqx":
		if r := rank(level); r >= 0 && r < rank(c.Level) {
			return false, fmt.Sprintf("needs log level %s or lower; %s sets %s", level, c.File, c.Level)
		}
	}
	return true, ""
}
